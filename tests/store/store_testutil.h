/*
 * store_testutil.h - helpers for the log store tests: scratch
 * directories, opening stores, and reading back every record of a
 * directory through the public reader.
 */
#ifndef STORE_TESTUTIL_H
#define STORE_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logshare.h"

/* Scale for sanitizer builds (LOGSHARE_SANITIZED=1): same behaviour,
 * fewer records. */
static inline long tu_scale(long normal, long sanitized)
{
    const char *s = getenv("LOGSHARE_SANITIZED");
    return s && *s == '1' ? sanitized : normal;
}

static inline char *tu_tmpdir(const char *tag)
{
    char tmpl[256];
    snprintf(tmpl, sizeof tmpl, "/tmp/logshare-%s-XXXXXX", tag);
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static inline void tu_rmrf(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

static inline char *tu_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* A fresh key pair, as text (caller frees both). */
static inline void tu_keys(char **pub, char **sec)
{
    assert_int_equal(logshare_keygen(pub, sec), 0);
}

/* Options for dir with pub (NULL = plaintext) and the given streams
 * (NULL-terminated list, or NULL for the default). */
static inline logshare_options *tu_options(const char *dir, const char *pub, const char **streams)
{
    logshare_options *o = logshare_options_new();
    assert_non_null(o);
    assert_int_equal(logshare_options_set_dir(o, dir), 0);
    if (pub)
        assert_int_equal(logshare_options_set_public_key(o, pub), 0);
    else
        assert_int_equal(logshare_options_set_plaintext(o, 1), 0);
    for (const char **s = streams; s && *s; s++)
        assert_int_equal(logshare_options_add_stream(o, *s), 0);
    return o;
}

static inline logshare *tu_open(logshare_options *o)
{
    logshare *ls = NULL;
    assert_int_equal(logshare_open(o, &ls), 0);
    assert_non_null(ls);
    return ls;
}

/* A fresh directory (*dir, caller frees) with a plaintext store of the
 * default stream open on it; min_level < 0 keeps the default level. */
static inline logshare *tu_open_plain(const char *name, int min_level, char **dir)
{
    *dir = tu_tmpdir(name);
    logshare_options *o = tu_options(*dir, NULL, NULL);
    if (min_level >= 0)
        assert_int_equal(logshare_options_set_min_level(o, (logshare_level)min_level), 0);
    logshare *ls = tu_open(o);
    logshare_options_free(o);
    return ls;
}

/* Every record of every log file in dir, in file (seq) order then
 * record order, as one callback each. Returns the sum of the per-file
 * outcomes: counts files that ended with a torn tail in *torn, and fails
 * the test on any other error. */
typedef void (*tu_record_fn)(const logshare_record *rec, void *ctx);

static inline size_t tu_read_dir(const char *dir, const char *sec, tu_record_fn fn, void *ctx,
                                 int *torn)
{
    logshare_support_file *files = NULL;
    size_t n = 0, records = 0;
    assert_int_equal(logshare_list_support_files(dir, &files, &n), 0);
    if (torn)
        *torn = 0;
    for (size_t i = 0; i < n; i++) {
        logshare_reader *r = NULL;
        int rc = logshare_reader_open(files[i].path, sec, &r);
        if (rc == LOGSHARE_ETRUNCATED && torn) {
            (*torn)++;
            continue;
        }
        assert_int_equal(rc, 0);
        logshare_record rec;
        while ((rc = logshare_reader_next(r, &rec)) == 1) {
            records++;
            if (fn)
                fn(&rec, ctx);
        }
        if (rc == LOGSHARE_ETRUNCATED && torn)
            (*torn)++;
        else
            assert_int_equal(rc, 0);
        logshare_reader_close(r);
    }
    logshare_support_files_free(files, n);
    return records;
}

/* Total bytes of the log files in dir (what the quota counts). */
static inline uint64_t tu_log_bytes(const char *dir, size_t *nfiles)
{
    logshare_support_file *files = NULL;
    size_t n = 0;
    uint64_t total = 0;
    assert_int_equal(logshare_list_support_files(dir, &files, &n), 0);
    for (size_t i = 0; i < n; i++)
        total += files[i].size;
    if (nfiles)
        *nfiles = n;
    logshare_support_files_free(files, n);
    return total;
}

#endif
