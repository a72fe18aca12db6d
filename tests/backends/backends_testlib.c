/*
 * backends_testlib.c - see backends_testlib.h.
 */
#include "backends_testlib.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *tmpdir_new(void)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    size_t len = strlen(base) + 32;
    char *dir = malloc(len);
    if (!dir)
        abort();
    snprintf(dir, len, "%s/lsbackends.XXXXXX", base);
    if (!mkdtemp(dir))
        abort();
    return dir;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    remove(path);
    return 0;
}

void tmpdir_remove(const char *dir)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int file_count;
static int count_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)path;
    (void)st;
    (void)ftw;
    if (type == FTW_F)
        file_count++;
    return 0;
}

int tmpdir_count_files(const char *dir)
{
    file_count = 0;
    nftw(dir, count_entry, 16, FTW_PHYS);
    return file_count;
}

char *path_join(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = malloc(len);
    if (!p)
        abort();
    snprintf(p, len, "%s/%s", dir, name);
    return p;
}

int sanitized(void)
{
    const char *s = getenv("LOGSHARE_SANITIZED");
    return s && strcmp(s, "1") == 0;
}
