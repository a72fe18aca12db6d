/*
 * blob_fs.c - the directory blob store: each blob is one file under
 * <data-dir>/blobs, at the path its key names (see blob_store.h).
 *
 * Durability (PITFALLS): a blob is written to a hidden temporary file in
 * the staging directory .incoming, fdatasync'ed, renamed into its
 * final directory without replacing anything (renameat2
 * RENAME_NOREPLACE, or link+unlink where the file system lacks it) and
 * that directory fsynced before commit returns. Directories on the way
 * are created by the first commit that needs them, under the directory
 * cache's mutex, and their parents fsynced before any writer may rename
 * into them, so a commit never depends on a directory entry that is not
 * yet durable (blob_fs_dirs.c, which also shares one directory fsync
 * among concurrent commits).
 *
 * Why the staging directory: put_open runs on an HTTP thread, which must
 * never wait for the disk; with the temporary file in the target
 * directory, the first upload of a day (formerly: of every ticket) had
 * to mkdir and fsync there. Now put_open only creates one file, and all
 * directory work happens in commit, on a worker thread. The cross-
 * directory rename needs no extra fsync: the inode's data is already
 * synced and only the new entry must be durable; a stale entry left in
 * .incoming by a crash is a ".tmp-" name that open and
 * blob_store_sweep_uploads remove.
 *
 * Why a writer holds a shared flock on its temporary file: its
 * modification time alone cannot tell a live upload from a dead one.
 * A request's earlier files stay untouched, open and uncommitted while
 * its later files arrive, which at limits.min_body_rate may take days.
 * The lock dies with the process that held it, so "nobody holds it" is
 * exactly "its upload is gone", in this server or in another sharing the
 * directory: such a file goes when the store opens (after a crash) or a
 * minute after it was last written, not after the sweep's age limit
 * (sweep_one). That age limit stays, for
 * file systems without working flock (the lock call's failure is then
 * ignored, as before the lock).
 *
 * Every path is resolved relative to the root directory's descriptor
 * with *at() calls and O_NOFOLLOW, after the key passed blob_key_valid,
 * so no key can reach outside the root.
 */
#include "blob_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "logshare.h"
#include "ls_fs.h"
#include "ls_hex.h"
#include "blob_fs_dirs.h"

#define BLOB_FS_TMP_PREFIX ".tmp-"
/* Uploads in progress, in one directory no key can name (keys never
 * start a segment with '.'). */
#define BLOB_FS_STAGING ".incoming"
/* Where the old layout kept one directory per ticket. */
#define BLOB_FS_LEGACY_DIR "t"

struct fs_store {
    struct blob_store base;
    char *root;
    int root_fd;
    int staging_fd; /* BLOB_FS_STAGING: where uploads in progress live */
    struct blob_fs_dirs *dirs;
};

struct fs_writer {
    struct blob_writer base;
    struct fs_store *store;
    int fd;
    char *tmp_name;   /* basename inside the staging directory */
    char *dir;        /* the key's directory, relative to the root ("" for none) */
    char *final_name; /* basename inside dir */
    uint64_t written; /* bytes written so far */
    uint64_t kicked;  /* bytes already handed to writeback */
};

/* How often a writer starts writeback of what it has written so far.
 * Without it the kernel starts writing only at commit's fsync, so every
 * upload pays for its whole file at the end; with it the disk works
 * while the body is still arriving and fsync only waits for the tail.
 * The first MiB goes in quarters, so a 1 MiB file has three of them on
 * their way before its body ends (measured at concurrency 1: its
 * fdatasync then took ~100 us instead of ~250 us longer than SQLite's
 * fdatasync of a few WAL pages); after that in whole MiBs, because every
 * call submits I/O from the HTTP thread and can block there once the
 * device queue is full: with 256 KiB throughout, 16 MiB uploads at
 * concurrency 8 fell from ~370 to ~200 MB/s. */
#define FS_WRITEBACK_FIRST (256u << 10)
#define FS_WRITEBACK_CHUNK (1u << 20)

struct fs_reader {
    struct blob_reader base;
    int fd;
    uint64_t pos;
    uint64_t end;
};

static int err_from_errno(void)
{
    return ls_fs_errno_to_error(errno);
}

/* Splits key into its directory part ("" for a top-level key) and base
 * name, both new strings. */
static int split_key(const char *key, char **dir, char **base)
{
    const char *slash = strrchr(key, '/');
    *dir = slash ? strndup(key, (size_t)(slash - key)) : strdup("");
    *base = strdup(slash ? slash + 1 : key);
    if (!*base || !*dir) {
        free(*dir);
        free(*base);
        return LOGSHARE_ENOMEM;
    }
    return 0;
}

/* Takes the shared lock on a temporary file just created; 0 when a sweep
 * got there first (the startup sweep takes unheld files of any age):
 * it holds the file's exclusive lock to unlink it, or already did. A
 * lock call that fails otherwise (no working flock here) is ignored:
 * the sweep then goes by age alone. Never waits. */
static int lock_new_tmp(int fd)
{
    if (flock(fd, LOCK_SH | LOCK_NB) != 0)
        return errno != EWOULDBLOCK;
    struct stat st;
    return fstat(fd, &st) != 0 || st.st_nlink > 0;
}

/* Runs on an HTTP thread (the first file part of a request): creates one
 * temporary file in the staging directory and nothing else; no mkdir, no
 * fsync, no lock. The target directory is only needed at commit. */
static int fs_put_open(struct blob_store *bs, const char *key, struct blob_writer **out)
{
    struct fs_store *s = bs->state;
    struct fs_writer *w = calloc(1, sizeof *w);
    if (!w)
        return LOGSHARE_ENOMEM;
    w->fd = -1;
    int rc = split_key(key, &w->dir, &w->final_name);
    if (rc != 0) {
        free(w);
        return rc;
    }
    /* Blobs are immutable: refuse early what commit would refuse anyway. */
    if (faccessat(s->root_fd, key, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
        rc = LOGSHARE_EEXIST;
        goto fail;
    }
    size_t tlen = strlen(BLOB_FS_TMP_PREFIX) + strlen(w->final_name) + 1 + 16 + 1;
    w->tmp_name = malloc(tlen);
    if (!w->tmp_name) {
        rc = LOGSHARE_ENOMEM;
        goto fail;
    }
    for (int attempt = 0; attempt < 8; attempt++) {
        unsigned char rnd[8];
        char hex[17];
        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
            rc = LOGSHARE_EIO;
            goto fail;
        }
        ls_hex_encode(rnd, sizeof rnd, hex);
        snprintf(w->tmp_name, tlen, "%s%s-%s", BLOB_FS_TMP_PREFIX, w->final_name, hex);
        w->fd = openat(s->staging_fd, w->tmp_name,
                       O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (w->fd < 0 && errno == EEXIST)
            continue;
        if (w->fd < 0 || lock_new_tmp(w->fd))
            break;
        close(w->fd); /* a sweep took it: it is gone, or about to be */
        w->fd = -1;
        errno = EEXIST;
    }
    if (w->fd < 0) {
        rc = err_from_errno();
        goto fail;
    }
    w->store = s;
    *out = &w->base;
    return 0;
fail:
    free(w->tmp_name);
    free(w->final_name);
    free(w->dir);
    free(w);
    return rc;
}

static int fs_write(struct blob_writer *bw, const void *data, size_t len)
{
    struct fs_writer *w = (struct fs_writer *)bw;
    if (w->fd < 0)
        return LOGSHARE_ECLOSED;
    int rc = ls_fs_write_all(w->fd, data, len);
    if (rc != 0)
        return rc;
    w->written += len;
    uint64_t chunk = w->kicked < FS_WRITEBACK_CHUNK ? FS_WRITEBACK_FIRST : FS_WRITEBACK_CHUNK;
    if (w->written - w->kicked >= chunk) {
        /* Asynchronous: starts writeback, does not wait. A failure here is
         * harmless (fsync at commit still decides), so it is ignored. */
        (void)sync_file_range(w->fd, (off64_t)w->kicked, (off64_t)(w->written - w->kicked),
                              SYNC_FILE_RANGE_WRITE);
        w->kicked = w->written;
    }
    return 0;
}

/* The body part has ended; commit follows after the request is handed to
 * a worker (a few hundred microseconds): start writing the tail now
 * instead of at commit's fdatasync. */
static void fs_end(struct blob_writer *bw)
{
    struct fs_writer *w = (struct fs_writer *)bw;
    if (w->fd >= 0 && w->written > w->kicked) {
        (void)sync_file_range(w->fd, (off64_t)w->kicked, (off64_t)(w->written - w->kicked),
                              SYNC_FILE_RANGE_WRITE);
        w->kicked = w->written;
    }
}

static void writer_free(struct fs_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    free(w->tmp_name);
    free(w->dir);
    free(w->final_name);
    free(w);
}

static void fs_abort(struct blob_writer *bw)
{
    struct fs_writer *w = (struct fs_writer *)bw;
    unlinkat(w->store->staging_fd, w->tmp_name, 0);
    writer_free(w);
}

/* rename without replacing; link+unlink where renameat2 is unsupported. */
static int rename_noreplace(int from_dir, const char *from, int to_dir, const char *to)
{
    if (renameat2(from_dir, from, to_dir, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    if (linkat(from_dir, from, to_dir, to, 0) != 0)
        return -1;
    unlinkat(from_dir, from, 0);
    return 0;
}

/* Renames w's file into its key's directory (*d, a reference the
 * caller puts back). A cached directory that someone deleted (an
 * operator tidying empty directories) is made again once: without that,
 * every commit into it failed until the server restarted. */
static int rename_into_place(struct fs_store *s, struct fs_writer *w, struct blob_fs_dir **d)
{
    for (int attempt = 0;; attempt++) {
        int rc = blob_fs_dirs_get(s->dirs, w->dir, 1, d);
        if (rc != 0)
            return rc;
        if (rename_noreplace(s->staging_fd, w->tmp_name, blob_fs_dir_fd(*d), w->final_name) == 0)
            return 0;
        rc = err_from_errno();
        if (rc != LOGSHARE_ENOENT || attempt > 0 || !blob_fs_dirs_forget_if_gone(s->dirs, *d))
            return rc;
        blob_fs_dirs_put(s->dirs, *d);
        *d = NULL;
    }
}

/* Runs on a worker thread. The order is rename, then the file's
 * fdatasync and the shared directory fsync at the same time (the
 * directory goes to blob_fs_dirs' syncer thread while this one syncs the
 * file: they are independent writes, and serially the directory fsync
 * added ~0.1 ms to every commit at concurrency 1); when it returns, the
 * bytes and the entry naming them are both on disk.
 *
 * Renaming BEFORE the data is synced is safe here because a blob is
 * only ever reached through the attachment row that names its key, and
 * that row is committed only after this returns 0: a crash between the
 * rename and the syncs leaves at worst an orphan file under a key no
 * row names (as a crash between blob commit and ticket commit always
 * could), never a ticket pointing at unsynced bytes. A failure after the
 * rename unlinks the final name again. What it buys: the file's fsync
 * writes its directory entry along with its data (ext4 syncs a new
 * file's parent directory without a journal, and commits the rename in
 * the same journal transaction with one), so the directory fsync that
 * follows finds little or nothing left to write. Done the other way
 * round, the file's fsync would write the staging directory's entry,
 * which nobody needs, and the directory fsync would write the rest. */
static int fs_commit(struct blob_writer *bw)
{
    struct fs_writer *w = (struct fs_writer *)bw;
    struct fs_store *s = w->store;
    struct blob_fs_dir *d = NULL;
    int rc = w->fd < 0 ? LOGSHARE_ECLOSED : 0;
    /* The modification time becomes the commit's, before the blob can be
     * seen under its key: the orphan sweep removes only blobs older than
     * its grace period, and the bytes of a request's first file may have
     * arrived long before the request commits it. */
    if (rc == 0 && futimens(w->fd, NULL) != 0)
        rc = err_from_errno();
    if (rc == 0)
        rc = rename_into_place(s, w, &d);
    if (rc != 0) {
        unlinkat(s->staging_fd, w->tmp_name, 0);
        blob_fs_dirs_put(s->dirs, d);
        writer_free(w);
        return rc;
    }
    int fd = w->fd;
    w->fd = -1;
    uint64_t dir_ticket = blob_fs_dir_sync_start(s->dirs, d);
    if (fdatasync(fd) != 0)
        rc = err_from_errno();
    if (close(fd) != 0 && rc == 0)
        rc = err_from_errno();
    if (rc == 0)
        rc = blob_fs_dir_sync_wait(s->dirs, d, dir_ticket);
    if (rc != 0) {
        /* The blob is in place but not durable: take it back, so a
         * failed commit leaves nothing behind either. */
        unlinkat(blob_fs_dir_fd(d), w->final_name, 0);
    }
    blob_fs_dirs_put(s->dirs, d);
    writer_free(w);
    return rc;
}

static int fs_get_open(struct blob_store *bs, const char *key, uint64_t offset, uint64_t length,
                       struct blob_reader **out, uint64_t *total_size)
{
    struct fs_store *s = bs->state;
    int fd = openat(s->root_fd, key, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return err_from_errno();
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0)
        rc = err_from_errno();
    else if (!S_ISREG(st.st_mode))
        rc = LOGSHARE_ENOENT;
    if (rc != 0) {
        close(fd);
        return rc;
    }
    uint64_t size = (uint64_t)st.st_size;
    *total_size = size;
    if (offset > size) {
        close(fd);
        return LOGSHARE_EINVAL;
    }
    struct fs_reader *r = calloc(1, sizeof *r);
    if (!r) {
        close(fd);
        return LOGSHARE_ENOMEM;
    }
    r->fd = fd;
    r->pos = offset;
    r->end = (length >= size - offset) ? size : offset + length;
    posix_fadvise(fd, (off_t)offset, (off_t)(r->end - offset), POSIX_FADV_SEQUENTIAL);
    *out = &r->base;
    return 0;
}

static int fs_open_fd(struct blob_store *bs, const char *key, int *out)
{
    struct fs_store *s = bs->state;
    int fd = openat(s->root_fd, key, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return err_from_errno();
    struct stat st;
    int rc = fstat(fd, &st) != 0 ? err_from_errno() : S_ISREG(st.st_mode) ? 0 : LOGSHARE_ENOENT;
    if (rc != 0) {
        close(fd);
        return rc;
    }
    *out = fd;
    return 0;
}

static int fs_read(struct blob_reader *br, void *buf, size_t cap, size_t *got)
{
    struct fs_reader *r = (struct fs_reader *)br;
    uint64_t left = r->end - r->pos;
    size_t want = left < cap ? (size_t)left : cap;
    while (want > 0) {
        ssize_t n = pread(r->fd, buf, want, (off_t)r->pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return err_from_errno();
        if (n == 0) /* the file shrank under us: blobs are immutable, so it is damage */
            return LOGSHARE_EIO;
        r->pos += (uint64_t)n;
        *got = (size_t)n;
        break;
    }
    return 0;
}

static void fs_close(struct blob_reader *br)
{
    struct fs_reader *r = (struct fs_reader *)br;
    close(r->fd);
    free(r);
}

static int fs_remove(struct blob_store *bs, const char *key)
{
    struct fs_store *s = bs->state;
    struct stat st;
    if (fstatat(s->root_fd, key, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return err_from_errno();
    if (!S_ISREG(st.st_mode)) /* a directory on the way is not a blob */
        return LOGSHARE_ENOENT;
    char *dir, *base;
    int rc = split_key(key, &dir, &base);
    if (rc != 0)
        return rc;
    struct blob_fs_dir *d = NULL;
    if ((rc = blob_fs_dirs_get(s->dirs, dir, 0, &d)) == 0) {
        if (unlinkat(blob_fs_dir_fd(d), base, 0) != 0)
            rc = err_from_errno();
        else
            rc = blob_fs_dir_sync(s->dirs, d);
        /* The old layout (t/<ticket>/<attachment>) had a directory per
         * ticket: drop it once its last blob is gone. The server writes
         * no such keys any more. (An empty directory coming back after a
         * crash is harmless, so its parent is not fsynced.) */
        if (rc == 0 && strncmp(dir, BLOB_FS_LEGACY_DIR "/", strlen(BLOB_FS_LEGACY_DIR) + 1) == 0)
            blob_fs_dirs_remove_if_empty(s->dirs, d);
        blob_fs_dirs_put(s->dirs, d);
    }
    free(dir);
    free(base);
    return rc;
}

/* Directories nest at most this deep under the root (keys of both
 * layouts have three segments); deeper ones are not walked. */
/* A directory stream over fd, which it takes over (closed on failure,
 * with *rc set). */
static DIR *dir_stream(int fd, int *rc)
{
    DIR *dir = fdopendir(fd);
    if (!dir) {
        *rc = err_from_errno();
        close(fd);
    }
    return dir;
}

/* The next entry of dir; NULL at its end or on an error (then *rc set),
 * which readdir only tells apart through errno. */
static struct dirent *dir_next(DIR *dir, int *rc)
{
    errno = 0;
    struct dirent *e = readdir(dir);
    if (!e && errno)
        *rc = err_from_errno();
    return e;
}

#define FS_LIST_MAX_DEPTH 8

/* Lists the regular files under fd (which it takes over) whose path,
 * key[0..len) plus their name, is a valid key. Entries starting with
 * '.' are skipped: ".", "..", the staging directory and temporary files
 * are never blobs, and no key can name them. */
static int list_walk(int fd, char *key, size_t len, int depth, blob_list_fn fn, void *arg)
{
    int rc = 0;
    DIR *dir = dir_stream(fd, &rc);
    if (!dir)
        return rc;
    while (rc == 0) {
        struct dirent *e = dir_next(dir, &rc);
        if (!e)
            break;
        size_t n = strlen(e->d_name);
        size_t at = len ? len + 1 : 0;
        if (e->d_name[0] == '.' || at + n > BLOB_KEY_MAX)
            continue;
        if (len)
            key[len] = '/';
        memcpy(key + at, e->d_name, n + 1);
        struct stat st;
        if (fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT) /* gone meanwhile (removed by fn, say): not an error */
                rc = err_from_errno();
        } else if (S_ISDIR(st.st_mode) && depth < FS_LIST_MAX_DEPTH) {
            int sub =
                openat(dirfd(dir), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                rc = list_walk(sub, key, at + n, depth + 1, fn, arg);
            else if (errno != ENOENT)
                rc = err_from_errno();
        } else if (S_ISREG(st.st_mode) && blob_key_valid(key)) {
            rc = fn(arg, key, (int64_t)st.st_mtime, (uint64_t)st.st_size);
        }
        key[len] = '\0';
    }
    closedir(dir);
    return rc;
}

/* Walks the whole tree rather than the two layouts by name, so blobs of
 * the old layout (t/<ticket>/<attachment>) and of the new one
 * (a/<day>/<attachment>) are both listed, and any future one too. */
static int fs_list(struct blob_store *bs, blob_list_fn fn, void *arg)
{
    struct fs_store *s = bs->state;
    char key[BLOB_KEY_MAX + 1] = "";
    int fd = openat(s->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return err_from_errno();
    return list_walk(fd, key, 0, 1, fn, arg);
}

/* Free space below which the store is not ready: 16 MiB, or a
 * twentieth of a smaller file system. With a few KiB left every upload,
 * even one without files (the database needs pages too), failed while
 * /readyz still said ready. */
#define FS_READY_RESERVE (16u << 20)

static int fs_check(struct blob_store *bs)
{
    struct fs_store *s = bs->state;
    struct statvfs vfs;
    if (faccessat(s->root_fd, ".", W_OK, AT_EACCESS) != 0)
        return err_from_errno();
    if (fstatvfs(s->root_fd, &vfs) != 0)
        return err_from_errno();
    uint64_t unit = vfs.f_frsize ? vfs.f_frsize : vfs.f_bsize;
    uint64_t size = (uint64_t)vfs.f_blocks * unit, free_bytes = (uint64_t)vfs.f_bavail * unit;
    uint64_t reserve = size / 20 < FS_READY_RESERVE ? size / 20 : FS_READY_RESERVE;
    if (vfs.f_bavail == 0 || free_bytes < reserve)
        return LOGSHARE_ENOSPC;
    return 0;
}

static int is_tmp_name(const char *name)
{
    return strncmp(name, BLOB_FS_TMP_PREFIX, strlen(BLOB_FS_TMP_PREFIX)) == 0;
}

/* A temporary file nobody holds is a dead upload's, however young:
 * every live writer holds its lock from put_open to commit or abort.
 * Without the lock's answer a crash's leftovers waited for the caller's
 * age limit (an hour). The passes made while uploads run still leave a
 * file younger than this alone: a writer the sweep beats to its new
 * file's lock has to make another (lock_new_tmp), and servers sharing
 * the directory may disagree a little about the time. */
#define FS_UNHELD_GRACE_S 60

/* Removes name (in dirfd) if it is a regular file that no writer holds
 * and that was modified before older_than, or, when the lock says that
 * nobody holds it, before unheld_grace_s ago (0: at any age). Where
 * flock does not work (its failure is not EWOULDBLOCK) the age alone
 * decides, against older_than only. The exclusive lock is held from the
 * check to the unlink, so no writer can take the file in between. */
static void sweep_one(int dirfd, const char *name, int64_t older_than, int64_t unheld_grace_s,
                      struct blob_upload_sweep *res)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return; /* gone meanwhile (committed, aborted, another sweep) */
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        int64_t mtime = (int64_t)st.st_mtime;
        int stale = mtime < older_than;
        int past_grace = unheld_grace_s == 0 || mtime < (int64_t)time(NULL) - unheld_grace_s;
        if (stale || past_grace) {
            int unheld = flock(fd, LOCK_EX | LOCK_NB) == 0;
            if ((unheld || (stale && errno != EWOULDBLOCK)) && unlinkat(dirfd, name, 0) == 0) {
                res->removed++;
                res->bytes += (uint64_t)st.st_size;
            }
        }
    }
    close(fd);
}

/* The removals are not fsynced: one a crash undoes is removed again by
 * the next sweep. */
static int sweep_staging(struct fs_store *s, int64_t older_than, int64_t unheld_grace_s,
                         const atomic_int *stop, struct blob_upload_sweep *res)
{
    /* A description of its own: the directory's read position is not
     * shared with staging_fd or another sweep. */
    int fd = openat(s->staging_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return err_from_errno();
    int rc = 0;
    DIR *dir = dir_stream(fd, &rc);
    if (!dir)
        return rc;
    for (;;) {
        if (stop && atomic_load(stop)) {
            res->stopped = 1;
            break;
        }
        struct dirent *e = dir_next(dir, &rc);
        if (!e)
            break;
        if (is_tmp_name(e->d_name))
            sweep_one(dirfd(dir), e->d_name, older_than, unheld_grace_s, res);
    }
    closedir(dir);
    return rc;
}

static int fs_sweep_uploads(struct blob_store *bs, int64_t older_than, const atomic_int *stop,
                            struct blob_upload_sweep *res)
{
    return sweep_staging(bs->state, older_than, FS_UNHELD_GRACE_S, stop, res);
}

static void fs_destroy(struct blob_store *bs)
{
    struct fs_store *s = bs->state;
    blob_fs_dirs_free(s->dirs);
    close(s->staging_fd);
    close(s->root_fd);
    free(s->root);
    free(s);
}

static const struct blob_store_ops fs_ops = {
    .name = "fs",
    .put_open = fs_put_open,
    .write = fs_write,
    .end = fs_end,
    .commit = fs_commit,
    .abort = fs_abort,
    .get_open = fs_get_open,
    .read = fs_read,
    .close = fs_close,
    .remove = fs_remove,
    .check = fs_check,
    .list = fs_list,
    .sweep_uploads = fs_sweep_uploads,
    .open_fd = fs_open_fd,
    .signed_url = NULL,
    .destroy = fs_destroy,
};

int blob_fs_stats(struct blob_store *bs, uint64_t *dir_fsyncs, uint64_t *shared_fsyncs)
{
    if (!bs || bs->ops != &fs_ops || !dir_fsyncs || !shared_fsyncs)
        return LOGSHARE_EINVAL;
    struct fs_store *s = bs->state;
    blob_fs_dirs_stats(s->dirs, dir_fsyncs, shared_fsyncs, NULL);
    return 0;
}

int blob_fs_parent_fsyncs(struct blob_store *bs, uint64_t *n)
{
    if (!bs || bs->ops != &fs_ops || !n)
        return LOGSHARE_EINVAL;
    struct fs_store *s = bs->state;
    uint64_t fsyncs, shared;
    blob_fs_dirs_stats(s->dirs, &fsyncs, &shared, n);
    return 0;
}

/* Temporary files outside the staging directory, which versions before
 * it wrote next to their blobs; no writer holds those any more. nftw has
 * no user pointer; the threshold is recomputed per entry. */
static int sweep_legacy_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    const char *base = path + ftw->base;
    if (type == FTW_D && ftw->level == 1 && strcmp(base, BLOB_FS_STAGING) == 0)
        return FTW_SKIP_SUBTREE; /* fs_sweep_uploads' */
    if (type == FTW_F && is_tmp_name(base) && st->st_mtime < time(NULL) - BLOB_STALE_UPLOAD_S)
        unlink(path);
    return FTW_CONTINUE;
}

int blob_fs_open(const char *data_dir, struct blob_store **out)
{
    if (!data_dir || !*data_dir || !out)
        return LOGSHARE_EINVAL;
    *out = NULL;
    struct fs_store *s = calloc(1, sizeof *s);
    if (!s)
        return LOGSHARE_ENOMEM;
    s->root_fd = -1;
    s->staging_fd = -1;
    size_t len = strlen(data_dir) + 1 + strlen(BLOB_FS_DIRNAME) + 1;
    s->root = malloc(len);
    int rc = LOGSHARE_ENOMEM;
    if (!s->root)
        goto fail;
    snprintf(s->root, len, "%s/%s", data_dir, BLOB_FS_DIRNAME);
    if ((rc = ls_fs_mkdir_p(s->root, 0700)) != 0 || (rc = ls_fs_fsync_dir(data_dir)) != 0)
        goto fail;
    s->root_fd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->root_fd < 0) {
        rc = err_from_errno();
        goto fail;
    }
    if (mkdirat(s->root_fd, BLOB_FS_STAGING, 0700) == 0) {
        if (fsync(s->root_fd) != 0) {
            rc = err_from_errno();
            goto fail;
        }
    } else if (errno != EEXIST) {
        rc = err_from_errno();
        goto fail;
    }
    s->staging_fd =
        openat(s->root_fd, BLOB_FS_STAGING, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (s->staging_fd < 0) {
        rc = err_from_errno();
        goto fail;
    }
    if ((rc = blob_fs_dirs_new(s->root_fd, &s->dirs)) != 0)
        goto fail;
    s->base.ops = &fs_ops;
    s->base.state = s;
    /* At startup no grace: a writer of another server sharing the
     * directory that the sweep beats to its file's lock notices
     * (lock_new_tmp) and makes another, and this server has none yet,
     * so what a crash just left goes now, not at the next pass. */
    struct blob_upload_sweep ignored;
    sweep_staging(s, (int64_t)time(NULL) - BLOB_STALE_UPLOAD_S, 0, NULL, &ignored);
    nftw(s->root, sweep_legacy_entry, 16, FTW_PHYS | FTW_ACTIONRETVAL);
    *out = &s->base;
    return 0;
fail:
    if (s->staging_fd >= 0)
        close(s->staging_fd);
    if (s->root_fd >= 0)
        close(s->root_fd);
    free(s->root);
    free(s);
    return rc;
}
