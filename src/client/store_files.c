/*
 * store_files.c - logshare_get_support_files and friends: the list of
 * log files a support request should carry, with stream, size and time
 * range read from the files' clear (but authenticated) frame headers,
 * so listing needs no key; and support key generation.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logfmt_scan.h"
#include "ls_fs.h"
#include "store.h"

void logshare_support_files_free(logshare_support_file *files, size_t count)
{
    if (!files)
        return;
    for (size_t i = 0; i < count; i++) {
        free(files[i].path);
        free(files[i].stream);
    }
    free(files);
}

int logshare_list_support_files(const char *dir, logshare_support_file **files, size_t *count)
{
    if (files)
        *files = NULL;
    if (count)
        *count = 0;
    if (!dir || !files || !count)
        return LOGSHARE_EINVAL;
    struct store_dir d;
    memset(&d, 0, sizeof d);
    d.dir = strdup(dir);
    if (!d.dir)
        return LOGSHARE_ENOMEM;
    int rc = store_dir_scan(&d);
    logshare_support_file *out = NULL;
    size_t n = 0;
    if (rc == 0 && d.n > 0) {
        out = calloc(d.n, sizeof *out);
        if (!out)
            rc = LOGSHARE_ENOMEM;
    }
    for (size_t i = 0; rc == 0 && i < d.n; i++) {
        logfmt_scan_result sr;
        int src = logfmt_scan_file(d.files[i].path, &sr);
        if (src == LOGSHARE_ENOENT)
            continue; /* deleted by the quota since the scan */
        logshare_support_file *f = &out[n];
        f->path = strdup(d.files[i].path);
        /* A file whose header is damaged is still listed (support may
         * want it); its stream then comes from its name. */
        f->stream = strdup(src == 0 ? sr.header.stream : d.files[i].stream);
        if (!f->path || !f->stream) {
            free(f->path);
            free(f->stream);
            rc = LOGSHARE_ENOMEM;
            break;
        }
        f->seq = d.files[i].seq;
        f->size = src == 0 ? sr.size : d.files[i].size;
        f->first_time_us = src == 0 ? sr.first_us : 0;
        f->last_time_us = src == 0 ? sr.last_us : 0;
        n++;
    }
    store_dir_destroy(&d);
    if (rc != 0) {
        logshare_support_files_free(out, n);
        return rc;
    }
    if (n == 0) {
        free(out);
        out = NULL;
    }
    *files = out;
    *count = n;
    return 0;
}

int logshare_get_support_files(logshare *ls, logshare_support_file **files, size_t *count)
{
    if (files)
        *files = NULL;
    if (count)
        *count = 0;
    if (!ls || !files || !count)
        return LOGSHARE_EINVAL;
    uint64_t next_seq = UINT64_MAX;
    int rc = store_flush(ls, 0, 1, &next_seq);
    if (rc == LOGSHARE_ECLOSED || rc == LOGSHARE_EINVAL)
        return rc;
    /* A write error is reported by logshare_last_error; what did reach
     * the disk is still worth listing. */
    logshare_support_file *all = NULL;
    size_t n = 0;
    rc = logshare_list_support_files(ls->dir.dir, &all, &n);
    if (rc != 0)
        return rc;
    /* Files started since the rotation (records logged meanwhile) are
     * still being written: they belong to the next request. */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (all[i].seq >= next_seq) {
            free(all[i].path);
            free(all[i].stream);
        } else {
            all[kept++] = all[i];
        }
    }
    if (kept == 0) {
        free(all);
        all = NULL;
    }
    *files = all;
    *count = kept;
    return 0;
}

void logshare_string_free(char *s)
{
    free(s);
}

int logshare_keygen(char **public_key_text, char **secret_key_text)
{
    /* "On error both outs are NULL": also the one given when the other
     * is missing, so a caller that frees both on error frees nothing. */
    if (public_key_text)
        *public_key_text = NULL;
    if (secret_key_text)
        *secret_key_text = NULL;
    if (!public_key_text || !secret_key_text)
        return LOGSHARE_EINVAL;
    if (sodium_init() < 0)
        return LOGSHARE_EINTERNAL;
    unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
    crypto_box_keypair(pk, sk);
    *public_key_text = logfmt_public_key_text(pk);
    *secret_key_text = logfmt_secret_key_text(sk);
    sodium_memzero(sk, sizeof sk);
    if (!*public_key_text || !*secret_key_text) {
        free(*public_key_text);
        free(*secret_key_text);
        *public_key_text = *secret_key_text = NULL;
        return LOGSHARE_ENOMEM;
    }
    return 0;
}

static char *path_with(const char *prefix, const char *suffix)
{
    size_t n = strlen(prefix) + strlen(suffix) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s", prefix, suffix);
    return p;
}

/* Creates path with data, durably, failing with LOGSHARE_EEXIST if it
 * exists, even if another process creates it at the same moment: the
 * data goes to a private temporary file first, and link() puts it in
 * place only if the name is free (rename would replace). */
static int write_new_file(const char *path, const char *data, mode_t mode)
{
    char *tmp = path_with(path, ".tmp-XXXXXX");
    if (!tmp)
        return LOGSHARE_ENOMEM;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int rc = ls_fs_errno_to_error(errno);
        free(tmp);
        return rc;
    }
    int rc = fchmod(fd, mode) == 0 ? 0 : ls_fs_errno_to_error(errno);
    if (rc == 0)
        rc = ls_fs_write_all(fd, data, strlen(data));
    if (rc == 0 && fsync(fd) != 0)
        rc = ls_fs_errno_to_error(errno);
    if (close(fd) != 0 && rc == 0)
        rc = ls_fs_errno_to_error(errno);
    if (rc == 0 && link(tmp, path) != 0)
        rc = ls_fs_errno_to_error(errno);
    unlink(tmp);
    if (rc == 0) {
        char *dir = ls_fs_dirname(path);
        rc = dir ? ls_fs_fsync_dir(dir) : LOGSHARE_ENOMEM;
        free(dir);
    }
    free(tmp);
    return rc;
}

int logshare_keygen_files(const char *prefix, char **public_key_text)
{
    if (public_key_text)
        *public_key_text = NULL;
    if (!prefix || !*prefix)
        return LOGSHARE_EINVAL;
    char *kp = path_with(prefix, ".key"), *pp = path_with(prefix, ".pub");
    char *pub = NULL, *sec = NULL;
    int rc = (!kp || !pp) ? LOGSHARE_ENOMEM : 0;
    struct stat st;
    /* Only a quick refusal: write_new_file is what never overwrites. */
    if (rc == 0 && (lstat(kp, &st) == 0 || lstat(pp, &st) == 0))
        rc = LOGSHARE_EEXIST;
    if (rc == 0)
        rc = logshare_keygen(&pub, &sec);
    /* The secret first: a public key with no secret would be a trap.
     * Whoever creates PREFIX.key owns the pair; if PREFIX.pub is taken
     * meanwhile, the secret is removed again (it was ours). */
    if (rc == 0)
        rc = write_new_file(kp, sec, 0600);
    if (rc == 0 && (rc = write_new_file(pp, pub, 0644)) != 0)
        unlink(kp);
    if (rc == 0 && public_key_text) {
        *public_key_text = pub;
        pub = NULL;
    }
    if (sec)
        sodium_memzero(sec, strlen(sec));
    free(sec);
    free(pub);
    free(kp);
    free(pp);
    return rc;
}
