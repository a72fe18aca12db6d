/*
 * store_dir.c - the store's directory: which log files exist, their
 * sizes, and deleting the oldest to keep the quota and the maximum age.
 *
 * Only names of the form "<stream>.<seq>.lslog" directly in the
 * directory are log files; anything else (the "outbox/" directory of the
 * sharing code, the ".lock" file, a user's notes) is never counted,
 * listed or deleted. The quota invariant is kept by making room BEFORE
 * any byte is written, so it holds at every instant, including after a
 * kill -9 at any point.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ls_fs.h"
#include "ls_time.h"
#include "store.h"

char *store_dir_file_path(const char *dir, const char *stream, uint64_t seq)
{
    size_t dl = strlen(dir), n = dl + strlen(stream) + 40;
    char *p = malloc(n);
    if (p) /* "dir/" as given by the user: no "dir//name" */
        snprintf(p, n, "%s%s%s.%010" PRIu64 ".lslog", dir, dl && dir[dl - 1] == '/' ? "" : "/",
                 stream, seq);
    return p;
}

int store_dir_parse_name(const char *name, char stream[LOGFMT_STREAM_NAME_MAX + 1], uint64_t *seq)
{
    const char *dot = strchr(name, '.');
    if (!dot || dot == name || (size_t)(dot - name) > LOGFMT_STREAM_NAME_MAX)
        return 0;
    for (const char *c = name; c < dot; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
            return 0;
    const char *d = dot + 1;
    uint64_t v = 0;
    size_t digits = 0;
    while (*d >= '0' && *d <= '9' && digits < 19) {
        v = v * 10 + (uint64_t)(*d++ - '0');
        digits++;
    }
    /* Only the names store_dir_file_path makes (%010 digits): another
     * spelling of the same number ("main.00000000001") would be taken
     * for that file, listed twice, and never counted or deleted. */
    if (digits < 10 || (digits > 10 && dot[1] == '0') || strcmp(d, ".lslog") != 0)
        return 0;
    memcpy(stream, name, (size_t)(dot - name));
    stream[dot - name] = '\0';
    *seq = v;
    return 1;
}

static int file_cmp(const void *a, const void *b)
{
    const struct store_file *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int dir_push(struct store_dir *d, struct store_file f)
{
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 32;
        struct store_file *nf = realloc(d->files, nc * sizeof *nf);
        if (!nf)
            return LOGSHARE_ENOMEM;
        d->files = nf;
        d->cap = nc;
    }
    d->files[d->n++] = f;
    return 0;
}

int store_dir_scan(struct store_dir *d)
{
    DIR *dh = opendir(d->dir);
    if (!dh)
        return ls_fs_errno_to_error(errno);
    for (size_t i = 0; i < d->n; i++)
        free(d->files[i].path);
    d->n = 0;
    d->total = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(dh)) != NULL) {
        struct store_file f;
        memset(&f, 0, sizeof f);
        if (!store_dir_parse_name(e->d_name, f.stream, &f.seq))
            continue;
        f.path = store_dir_file_path(d->dir, f.stream, f.seq);
        if (!f.path) {
            rc = LOGSHARE_ENOMEM;
            break;
        }
        struct stat st;
        if (lstat(f.path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(f.path);
            continue;
        }
        f.size = (uint64_t)st.st_size;
        f.mtime_us = (int64_t)st.st_mtim.tv_sec * 1000000 + st.st_mtim.tv_nsec / 1000;
        if ((rc = dir_push(d, f)) != 0) {
            free(f.path);
            break;
        }
        d->total += f.size;
        if (f.seq >= d->next_seq)
            d->next_seq = f.seq + 1;
    }
    closedir(dh);
    if (d->n > 1)
        qsort(d->files, d->n, sizeof *d->files, file_cmp);
    if (d->next_seq == 0)
        d->next_seq = 1;
    return rc;
}

int store_dir_add(struct store_dir *d, const char *path, const char *stream, uint64_t seq)
{
    struct store_file f;
    memset(&f, 0, sizeof f);
    f.path = strdup(path);
    if (!f.path)
        return LOGSHARE_ENOMEM;
    snprintf(f.stream, sizeof f.stream, "%s", stream);
    f.seq = seq;
    f.current = 1;
    f.mtime_us = ls_time_now_us();
    int rc = dir_push(d, f);
    if (rc != 0)
        free(f.path);
    /* New seqs are the largest, so the list stays sorted. */
    return rc;
}

struct store_file *store_dir_find(struct store_dir *d, uint64_t seq)
{
    for (size_t i = d->n; i-- > 0;)
        if (d->files[i].seq == seq)
            return &d->files[i];
    return NULL;
}

static void dir_remove_at(struct store_dir *d, size_t i)
{
    d->total -= d->files[i].size;
    free(d->files[i].path);
    memmove(&d->files[i], &d->files[i + 1], (d->n - i - 1) * sizeof *d->files);
    d->n--;
}

int store_dir_make_room(struct store_dir *d, uint64_t need, uint64_t max_total)
{
    size_t i = 0;
    int removed = 0;
    while (d->total + need > max_total && i < d->n) {
        if (d->files[i].current) {
            i++;
            continue;
        }
        if (unlink(d->files[i].path) != 0 && errno != ENOENT) {
            i++; /* cannot delete it (permissions): try the next */
            continue;
        }
        dir_remove_at(d, i);
        removed = 1;
    }
    if (removed)
        ls_fs_fsync_dir(d->dir);
    return d->total + need <= max_total ? 0 : LOGSHARE_ENOSPC;
}

void store_dir_expire(struct store_dir *d, int64_t cutoff_us)
{
    int removed = 0;
    for (size_t i = 0; i < d->n;) {
        if (!d->files[i].current && d->files[i].mtime_us < cutoff_us &&
            (unlink(d->files[i].path) == 0 || errno == ENOENT)) {
            dir_remove_at(d, i);
            removed = 1;
        } else {
            i++;
        }
    }
    if (removed)
        ls_fs_fsync_dir(d->dir);
}

void store_dir_destroy(struct store_dir *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->files[i].path);
    free(d->files);
    free(d->dir);
    memset(d, 0, sizeof *d);
}
