/*
 * blob_fs_dirs.c - open target directories of the directory blob store,
 * created once and fsynced in groups (the protocol is in blob_fs_dirs.h).
 *
 * One mutex guards the cache and every directory's counters; it is held
 * for list walks and counter updates only, except while a directory is
 * created (mkdir + parent fsync, once per directory and day), which is
 * rare and never happens on an HTTP thread (commits run on the worker
 * pool).
 *
 * The syncer thread: a commit renames, then needs both its file's
 * fdatasync and a directory fsync that started after the rename. They
 * are independent writes (different inodes and blocks; no journal orders
 * them), so blob_fs_dir_sync_start hands the directory to this thread
 * and the commit syncs its file meanwhile; blob_fs_dir_sync_wait then
 * finds the directory fsync done or running. One directory is handed
 * over at a time: a commit whose directory the thread is not taking
 * (another one is queued: only at a day boundary) syncs it itself in
 * _wait, as it did before the thread existed.
 */
#include "blob_fs_dirs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logshare.h"
#include "ls_fs.h"

/* Unreferenced directories kept open: today, yesterday and a few more. */
#define DIRS_KEEP 8

struct blob_fs_dir {
    struct blob_fs_dir *next;
    char *path;
    int fd;
    unsigned refs;
    int evicted;      /* out of the list: closed when refs drops to 0 */
    uint64_t renamed; /* tickets handed out, one per completed rename */
    uint64_t synced;  /* every ticket <= synced is durable */
    int syncing;      /* an fsync is running */
    int failed_rc;    /* an fsync failed: tickets > synced never will be */
    pthread_cond_t done;
};

struct blob_fs_dirs {
    int root_fd;
    pthread_mutex_t lock;
    struct blob_fs_dir *head; /* most recently used first */
    uint64_t fsyncs, shared;
    uint64_t parent_fsyncs; /* make_dirs's, for tests */
    /* the syncer thread (see the top of this file) */
    pthread_t syncer;
    int syncer_running;
    int syncer_quit;
    struct blob_fs_dir *handed; /* a reference, for the syncer to fsync */
    pthread_cond_t syncer_wake;
};

static void *syncer_main(void *arg);

int blob_fs_dirs_new(int root_fd, struct blob_fs_dirs **out)
{
    struct blob_fs_dirs *ds = calloc(1, sizeof *ds);
    if (!ds)
        return LOGSHARE_ENOMEM;
    ds->root_fd = root_fd;
    pthread_mutex_init(&ds->lock, NULL);
    pthread_cond_init(&ds->syncer_wake, NULL);
    /* Without the thread every commit syncs its directory itself after
     * its file, as _wait does for a directory not handed over: slower,
     * still correct. */
    ds->syncer_running = pthread_create(&ds->syncer, NULL, syncer_main, ds) == 0;
    *out = ds;
    return 0;
}

static void dir_free(struct blob_fs_dir *d)
{
    close(d->fd);
    pthread_cond_destroy(&d->done);
    free(d->path);
    free(d);
}

void blob_fs_dirs_free(struct blob_fs_dirs *ds)
{
    if (!ds)
        return;
    if (ds->syncer_running) {
        pthread_mutex_lock(&ds->lock);
        ds->syncer_quit = 1;
        pthread_cond_signal(&ds->syncer_wake);
        pthread_mutex_unlock(&ds->lock);
        pthread_join(ds->syncer, NULL);
    }
    pthread_cond_destroy(&ds->syncer_wake);
    while (ds->head) {
        struct blob_fs_dir *d = ds->head;
        ds->head = d->next;
        dir_free(d);
    }
    pthread_mutex_destroy(&ds->lock);
    free(ds);
}

static void unlink_from_list(struct blob_fs_dirs *ds, struct blob_fs_dir *d)
{
    for (struct blob_fs_dir **p = &ds->head; *p; p = &(*p)->next)
        if (*p == d) {
            *p = d->next;
            break;
        }
    d->next = NULL;
    d->evicted = 1;
}

/* fsyncs the directory that holds the entry p names (relative to root_fd). */
static int fsync_parent(int root_fd, char *p)
{
    char *slash = strrchr(p, '/');
    int pfd;
    if (slash) {
        *slash = '\0';
        pfd = openat(root_fd, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        *slash = '/';
    } else {
        pfd = dup(root_fd);
    }
    int rc = pfd < 0 || fsync(pfd) != 0 ? ls_fs_errno_to_error(errno) : 0;
    if (pfd >= 0)
        close(pfd);
    return rc;
}

/* Creates every missing directory of path and fsyncs the parent of each
 * one, so a directory is durable before anyone renames into it. The
 * parent of one that already exists is fsynced too: another server on
 * the same data dir may have just made it and not yet synced its entry,
 * or a crash may have come between a mkdir and its fsync; this runs once
 * per directory and process (the cache), so it costs nothing that
 * matters. Called with the lock held: no other thread can see it half
 * made. */
static int make_dirs(int root_fd, const char *path, uint64_t *parent_fsyncs)
{
    char *p = strdup(path);
    if (!p)
        return LOGSHARE_ENOMEM;
    int rc = 0;
    for (char *c = p;; c++) {
        if (*c != '/' && *c != '\0')
            continue;
        char saved = *c;
        *c = '\0';
        if (mkdirat(root_fd, p, 0700) == 0 || errno == EEXIST) {
            rc = fsync_parent(root_fd, p);
            ++*parent_fsyncs;
        } else
            rc = ls_fs_errno_to_error(errno);
        *c = saved;
        if (rc != 0 || saved == '\0')
            break;
    }
    free(p);
    return rc;
}

/* Drops the least recently used unreferenced directories beyond
 * DIRS_KEEP. Lock held. */
static void trim(struct blob_fs_dirs *ds)
{
    unsigned n = 0;
    struct blob_fs_dir **p = &ds->head;
    while (*p) {
        struct blob_fs_dir *d = *p;
        if (++n > DIRS_KEEP && d->refs == 0) {
            *p = d->next;
            dir_free(d);
            continue;
        }
        p = &d->next;
    }
}

int blob_fs_dirs_get(struct blob_fs_dirs *ds, const char *path, int create,
                     struct blob_fs_dir **out)
{
    int rc = 0;
    pthread_mutex_lock(&ds->lock);
    struct blob_fs_dir *d = NULL, **p;
    for (p = &ds->head; *p; p = &(*p)->next)
        if (strcmp((*p)->path, path) == 0) {
            d = *p;
            *p = d->next; /* moved to the front below */
            break;
        }
    if (!d) {
        if (create && *path)
            rc = make_dirs(ds->root_fd, path, &ds->parent_fsyncs);
        d = rc ? NULL : calloc(1, sizeof *d);
        if (!rc && !d)
            rc = LOGSHARE_ENOMEM;
        if (d) {
            d->fd = *path
                        ? openat(ds->root_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
                        : dup(ds->root_fd);
            d->path = strdup(path);
            if (d->fd < 0 || !d->path) {
                rc = d->fd < 0 ? ls_fs_errno_to_error(errno) : LOGSHARE_ENOMEM;
                if (d->fd >= 0)
                    close(d->fd);
                free(d->path);
                free(d);
                d = NULL;
            } else {
                pthread_cond_init(&d->done, NULL);
            }
        }
    }
    if (d) {
        d->refs++;
        d->next = ds->head;
        ds->head = d;
        trim(ds);
    }
    pthread_mutex_unlock(&ds->lock);
    *out = d;
    return rc;
}

int blob_fs_dir_fd(const struct blob_fs_dir *d)
{
    return d->fd;
}

/* Runs one directory fsync covering every rename counted so far. Lock
 * held on entry and on return (released during the fsync); callers make
 * sure no fsync of d is running and some rename is not yet covered
 * (d->synced < d->renamed). */
static void run_fsync(struct blob_fs_dirs *ds, struct blob_fs_dir *d)
{
    d->syncing = 1;
    uint64_t start = d->renamed;
    ds->fsyncs++;
    pthread_mutex_unlock(&ds->lock);
    int r = fsync(d->fd) == 0 ? 0 : ls_fs_errno_to_error(errno);
    pthread_mutex_lock(&ds->lock);
    d->syncing = 0;
    if (r == 0) {
        ds->shared += start - d->synced - 1; /* start > synced: see the callers */
        d->synced = start;
    } else {
        d->failed_rc = r;
        if (!d->evicted)
            unlink_from_list(ds, d);
    }
    pthread_cond_broadcast(&d->done);
}

/* Drops a reference with the lock held; 1 when d must now be freed
 * (after unlocking). */
static int unref_locked(struct blob_fs_dir *d)
{
    return --d->refs == 0 && d->evicted;
}

static void *syncer_main(void *arg)
{
    struct blob_fs_dirs *ds = arg;
    pthread_mutex_lock(&ds->lock);
    for (;;) {
        while (!ds->handed && !ds->syncer_quit)
            pthread_cond_wait(&ds->syncer_wake, &ds->lock);
        struct blob_fs_dir *d = ds->handed;
        ds->handed = NULL;
        if (!d)
            break; /* quitting, nothing handed over */
        /* A running fsync may have started before the newest rename: the
         * commits it does not cover wait for the next one, so start that
         * as soon as it ends rather than leave it to them. */
        while (d->syncing)
            pthread_cond_wait(&d->done, &ds->lock);
        if (!d->failed_rc && d->synced < d->renamed)
            run_fsync(ds, d);
        else /* covered or failed meanwhile: whoever waits for us, look again */
            pthread_cond_broadcast(&d->done);
        if (unref_locked(d)) {
            pthread_mutex_unlock(&ds->lock);
            dir_free(d);
            pthread_mutex_lock(&ds->lock);
        }
    }
    pthread_mutex_unlock(&ds->lock);
    return NULL;
}

uint64_t blob_fs_dir_sync_start(struct blob_fs_dirs *ds, struct blob_fs_dir *d)
{
    pthread_mutex_lock(&ds->lock);
    uint64_t mine = ++d->renamed;
    if (ds->syncer_running && !ds->syncer_quit && !ds->handed) {
        d->refs++;
        ds->handed = d;
        pthread_cond_signal(&ds->syncer_wake);
    }
    pthread_mutex_unlock(&ds->lock);
    return mine;
}

int blob_fs_dir_sync_wait(struct blob_fs_dirs *ds, struct blob_fs_dir *d, uint64_t mine)
{
    int rc;
    pthread_mutex_lock(&ds->lock);
    for (;;) {
        if (d->failed_rc && mine > d->synced) {
            rc = d->failed_rc;
            break;
        }
        if (d->synced >= mine) {
            rc = 0;
            break;
        }
        /* running, or handed to the syncer, which starts one at once */
        if (d->syncing || ds->handed == d) {
            pthread_cond_wait(&d->done, &ds->lock);
            continue;
        }
        /* Become the syncer for every rename counted so far. */
        run_fsync(ds, d);
    }
    pthread_mutex_unlock(&ds->lock);
    return rc;
}

int blob_fs_dir_sync(struct blob_fs_dirs *ds, struct blob_fs_dir *d)
{
    return blob_fs_dir_sync_wait(ds, d, blob_fs_dir_sync_start(ds, d));
}

void blob_fs_dirs_remove_if_empty(struct blob_fs_dirs *ds, struct blob_fs_dir *d)
{
    pthread_mutex_lock(&ds->lock);
    if (!d->evicted && *d->path && unlinkat(ds->root_fd, d->path, AT_REMOVEDIR) == 0)
        unlink_from_list(ds, d);
    pthread_mutex_unlock(&ds->lock);
}

int blob_fs_dirs_forget_if_gone(struct blob_fs_dirs *ds, struct blob_fs_dir *d)
{
    struct stat st;
    /* A deleted directory keeps its open descriptor, with no links. */
    int gone = fstat(d->fd, &st) == 0 && st.st_nlink == 0;
    if (gone) {
        pthread_mutex_lock(&ds->lock);
        if (!d->evicted)
            unlink_from_list(ds, d);
        pthread_mutex_unlock(&ds->lock);
    }
    return gone;
}

void blob_fs_dirs_put(struct blob_fs_dirs *ds, struct blob_fs_dir *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&ds->lock);
    int free_it = unref_locked(d);
    pthread_mutex_unlock(&ds->lock);
    if (free_it)
        dir_free(d);
}

void blob_fs_dirs_stats(struct blob_fs_dirs *ds, uint64_t *fsyncs, uint64_t *shared,
                        uint64_t *parent_fsyncs)
{
    pthread_mutex_lock(&ds->lock);
    *fsyncs = ds->fsyncs;
    *shared = ds->shared;
    if (parent_fsyncs)
        *parent_fsyncs = ds->parent_fsyncs;
    pthread_mutex_unlock(&ds->lock);
}
