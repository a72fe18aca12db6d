/*
 * blob_fs_dirs.h - the directory store's cache of target directories and
 * their shared ("group") fsync. Internal to blob_fs.c.
 *
 * Blobs land in a few long-lived directories (one per day, see
 * blob_key_for_attachment), so the store keeps each one open once:
 * blob_fs_dirs_get creates a directory on first use (its parent fsynced
 * before anyone may rename into it) and afterwards only looks it up.
 *
 * Group fsync: every commit must fsync the directory it renamed into,
 * but one fsync that STARTS after my rename makes my entry durable too.
 * So each directory counts renames (a ticket per rename) and remembers
 * the ticket count at the start of the last completed fsync; a commit
 * whose ticket is covered returns without its own fsync, otherwise it
 * waits for the running one or becomes the syncer. N concurrent commits
 * into one directory cost 1 or 2 fsyncs instead of N. A syncer thread
 * starts the fsync as soon as a commit has renamed
 * (blob_fs_dir_sync_start), so it runs while the commit syncs its file.
 *
 * A failed directory fsync poisons that cache entry (after fsyncgate, a
 * later successful fsync proves nothing about the entries it dropped):
 * every commit it had not covered fails, the entry leaves the cache, and
 * the next commit reopens the directory afresh.
 *
 * Thread safety: all calls may be made from many threads at once.
 */
#ifndef LOGSHARED_BLOB_FS_DIRS_H
#define LOGSHARED_BLOB_FS_DIRS_H

#include <stdint.h>

struct blob_fs_dirs;
struct blob_fs_dir;

/* A cache of directories under root_fd (borrowed; must outlive it).
 * *out is the caller's: blob_fs_dirs_free it. */
int blob_fs_dirs_new(int root_fd, struct blob_fs_dirs **out);

/* Frees the cache; every directory got must have been put back. */
void blob_fs_dirs_free(struct blob_fs_dirs *ds);

/* The directory "path" (relative to the root; "" for the root itself),
 * created with its missing parents if create is set (each new entry's
 * parent fsynced before this returns). *out is a reference: give it back
 * with blob_fs_dirs_put. LOGSHARE_ENOENT when it is missing and create
 * is 0. */
int blob_fs_dirs_get(struct blob_fs_dirs *ds, const char *path, int create,
                     struct blob_fs_dir **out);

/* The directory's descriptor, valid until the reference is put back. */
int blob_fs_dir_fd(const struct blob_fs_dir *d);

/* Call after a rename (or unlink) in d has completed: returns once a
 * directory fsync that started after it has succeeded (0), or with the
 * error of the fsync that should have covered it. */
int blob_fs_dir_sync(struct blob_fs_dirs *ds, struct blob_fs_dir *d);

/* The same in two halves, so the caller can sync its file meanwhile:
 * _start counts the rename and hands d to the store's syncer thread,
 * which fsyncs it at once; _wait (with what _start returned) returns as
 * blob_fs_dir_sync does, running the fsync itself if no one else has.
 * A caller that gives up after _start (its file failed to sync) may skip
 * _wait: the fsync then covers nothing anyone waits for, harmlessly. */
uint64_t blob_fs_dir_sync_start(struct blob_fs_dirs *ds, struct blob_fs_dir *d);
int blob_fs_dir_sync_wait(struct blob_fs_dirs *ds, struct blob_fs_dir *d, uint64_t ticket);

/* Removes d from the disk if it is empty, and from the cache, so a later
 * get creates it afresh. A commit already holding d then fails rather
 * than rename into a deleted directory. For the old per-ticket layout. */
void blob_fs_dirs_remove_if_empty(struct blob_fs_dirs *ds, struct blob_fs_dir *d);

/* 1 when d was removed from the disk behind the cache's back (someone
 * deleted an empty directory): renames into it fail with ENOENT. It is
 * then dropped from the cache, so the next blob_fs_dirs_get creates it
 * afresh; the caller's reference stays valid until put back. */
int blob_fs_dirs_forget_if_gone(struct blob_fs_dirs *ds, struct blob_fs_dir *d);

/* Gives back a reference from blob_fs_dirs_get. NULL is a no-op. */
void blob_fs_dirs_put(struct blob_fs_dirs *ds, struct blob_fs_dir *d);

/* Statistics for tests: directory fsyncs issued, and renames an fsync
 * covered besides the first (fsyncs + shared = renames made durable);
 * parent_fsyncs (may be NULL): fsyncs of the parents of the directories
 * made or found on the way to a target directory. */
void blob_fs_dirs_stats(struct blob_fs_dirs *ds, uint64_t *fsyncs, uint64_t *shared,
                        uint64_t *parent_fsyncs);

#endif
