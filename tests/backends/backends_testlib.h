/*
 * backends_testlib.h - small helpers for the back-end unit tests: a
 * private temporary directory per test, removed afterwards, and whether
 * we run under the sanitizers (to scale down counts, not behaviour).
 */
#ifndef BACKENDS_TESTLIB_H
#define BACKENDS_TESTLIB_H

#include <stddef.h>

/* A new empty directory under $TMPDIR (or /tmp). Caller frees the
 * string after tmpdir_remove. */
char *tmpdir_new(void);
/* Removes dir and everything in it. */
void tmpdir_remove(const char *dir);
/* Number of regular files anywhere under dir. */
int tmpdir_count_files(const char *dir);
/* "dir/name" in a new string. */
char *path_join(const char *dir, const char *name);
/* 1 when LOGSHARE_SANITIZED=1 is set. */
int sanitized(void);

#endif
