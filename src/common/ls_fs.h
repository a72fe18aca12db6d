/*
 * ls_fs.h - file system helpers with the durability rules we rely on.
 *
 * "Durable" in logshare means: data written, the file fsynced, renamed
 * into place, and its directory fsynced (docs/durability in PITFALLS).
 * These helpers make that sequence one call so nobody forgets a step.
 * All return 0 or a negative LOGSHARE_E* code.
 */
#ifndef LS_FS_H
#define LS_FS_H

#include <stddef.h>
#include <sys/types.h>

/* Creates dir and its missing parents with mode (like mkdir -p). */
int ls_fs_mkdir_p(const char *dir, mode_t mode);

/* fsyncs a directory so that entries created, renamed or removed in it
 * survive a power loss. */
int ls_fs_fsync_dir(const char *dir);

/* Writes len bytes to path atomically and durably: a temporary file in
 * the same directory, fsync, rename, fsync of the directory. A reader
 * sees the old content or the new, never a mix. */
int ls_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Reads a whole file of at most max_len bytes into a new NUL-terminated
 * buffer (*data, caller frees; *len excludes the NUL). A larger file
 * gives LOGSHARE_ETOOLARGE. */
int ls_fs_read_file(const char *path, size_t max_len, char **data, size_t *len);

/* Writes all of len bytes to fd, retrying short writes and EINTR. */
int ls_fs_write_all(int fd, const void *data, size_t len);

/* Maps an errno value to the closest LOGSHARE_E* code. */
int ls_fs_errno_to_error(int errnum);

/* The directory part of path, in a new string (caller frees). "." when
 * path has no slash. */
char *ls_fs_dirname(const char *path);

#endif
