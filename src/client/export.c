/*
 * export.c - writes a sharing archive: the support files plus
 * manifest.json, as zip (default) or tar.zst, through libarchive.
 *
 * Streamed: each file is read in 64 KiB pieces straight into the
 * archive writer, so memory use does not grow with the logs. Each file
 * is opened just before its entry (one descriptor at a time, whatever
 * the number of files) and read only up to the size recorded when the
 * list was made; a log rotated away before its turn is left out. The
 * manifest is built from the files actually written, so a log that
 * grows or rotates while we work cannot make the archive disagree with
 * its manifest. The hash
 * is computed on the same bytes as they go into the archive, and the
 * manifest is written last (docs/export-format.md).
 *
 * The archive appears at out_path only when complete: it is written to a
 * temporary file beside it, fsynced, then renamed.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export.h"
#include "ls_fs.h"
#include "ls_hex.h"
#include "ls_time.h"

/* Why libarchive failed, as a LOGSHARE_E* code: the errno it saw (a
 * full disk must say so, not "input/output error"), else EIO. */
static int archive_error(struct archive *a)
{
    int e = archive_errno(a);
    return e > 0 ? ls_fs_errno_to_error(e) : LOGSHARE_EIO;
}

static int entry_header(struct archive *a, const char *name, uint64_t size, time_t mtime)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return LOGSHARE_ENOMEM;
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)size);
    archive_entry_set_mtime(e, mtime, 0);
    int rc = archive_write_header(a, e) == ARCHIVE_OK ? 0 : LOGSHARE_EIO;
    archive_entry_free(e);
    return rc;
}

static int write_data(struct archive *a, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        la_ssize_t n = archive_write_data(a, p, len);
        if (n <= 0)
            return LOGSHARE_EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

struct export_progress {
    logshare_progress_fn fn;
    void *user;
    uint64_t done, total;
    const int *sink_err; /* the output's first write error (struct export_sink) */
};

/* Where the archive goes. libarchive is told every write worked: once a
 * write fails it enters its fatal state, and freeing it then never ends
 * the current zip entry's deflate stream (5,952 bytes leaked per export
 * to a full disk, libarchive 3.6). The first error is kept here instead;
 * the copy stops on it and the archive is closed normally. */
struct export_sink {
    int fd;
    int err;
};

static la_ssize_t sink_write(struct archive *a, void *cls, const void *buf, size_t len)
{
    (void)a;
    struct export_sink *s = cls;
    if (s->err == 0)
        s->err = ls_fs_write_all(s->fd, buf, len);
    return (la_ssize_t)len;
}

/* Copies exactly f->size bytes of fd into the current entry, hashing
 * them into f->sha256. */
static int copy_file(struct archive *a, int fd, share_file *f, struct export_progress *pr)
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char buf[65536];
    uint64_t done = 0;
    while (done < f->size) {
        size_t want = f->size - done < sizeof buf ? (size_t)(f->size - done) : sizeof buf;
        ssize_t n = pread(fd, buf, want, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return LOGSHARE_EIO;
        if (n == 0)
            return LOGSHARE_ETRUNCATED; /* the file shrank under us */
        crypto_hash_sha256_update(&st, buf, (size_t)n);
        if (write_data(a, buf, (size_t)n) != 0)
            return archive_error(a);
        if (*pr->sink_err)
            return *pr->sink_err;
        done += (uint64_t)n;
        pr->done += (uint64_t)n;
        if (pr->fn && pr->fn(pr->user, pr->done, pr->total) != 0)
            return LOGSHARE_ECANCELED;
    }
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, digest);
    ls_hex_encode(digest, sizeof digest, f->sha256);
    return 0;
}

static int configure_format(struct archive *a, logshare_export_format format)
{
    switch (format) {
    case LOGSHARE_EXPORT_ZIP:
        return archive_write_set_format_zip(a) == ARCHIVE_OK ? 0 : LOGSHARE_EUNSUPPORTED;
    case LOGSHARE_EXPORT_TAR_ZSTD:
        if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
            archive_write_add_filter_zstd(a) != ARCHIVE_OK)
            return LOGSHARE_EUNSUPPORTED;
        return 0;
    }
    return LOGSHARE_EINVAL;
}

/* Sets the zip compression of the entries that follow (libarchive
 * allows it between entries only through these two calls); a no-op for
 * tar.zst, where zstd covers the whole stream. */
static int zip_method(struct archive *a, logshare_export_format format, int store)
{
    if (format != LOGSHARE_EXPORT_ZIP)
        return 0;
    int r = store ? archive_write_zip_set_compression_store(a)
                  : archive_write_zip_set_compression_deflate(a);
    return r == ARCHIVE_OK ? 0 : LOGSHARE_EUNSUPPORTED;
}

/* Sizes the app's attachments (size 0 in the list: ship them as they
 * are now) before anything is written, so the progress total is known
 * and a missing one fails the export at once. */
static int size_attachments(share_file_list *files)
{
    for (size_t i = 0; i < files->count; i++) {
        share_file *f = &files->items[i];
        if (f->size != 0 || strcmp(f->stream, "attachment") != 0)
            continue;
        struct stat st;
        if (stat(f->path, &st) != 0)
            return ls_fs_errno_to_error(errno);
        f->size = (uint64_t)st.st_size;
    }
    return 0;
}

/* Opens one file just before its entry is written: one descriptor at a
 * time, so an export of thousands of files does not run into the
 * process's descriptor limit (256 on iOS). A log file that no longer
 * exists (rotated away since the listing) returns 1: it is not
 * shippable, and since the manifest is written last from the files
 * kept, it does not claim it either. An app's own file must exist. */
static int open_entry(const share_file *f, int *fd)
{
    *fd = open(f->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (*fd >= 0 && fstat(*fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* A directory named as a file is a bad argument, not a failing
         * disk (its read said EIO). */
        close(*fd);
        *fd = -1;
        return LOGSHARE_EINVAL;
    }
    if (*fd >= 0)
        return 0;
    if (errno == ENOENT && strcmp(f->stream, "attachment") != 0)
        return 1;
    return ls_fs_errno_to_error(errno);
}

/* Drops item i from the list (a file rotated away), keeping order. */
static void drop_file(share_file_list *files, size_t i)
{
    share_file *f = &files->items[i];
    free(f->path);
    free(f->name);
    free(f->stream);
    memmove(f, f + 1, (files->count - i - 1) * sizeof *f);
    files->count--;
}

/* Writes each file as one entry, in list order. */
static int write_files(struct archive *a, logshare_export_format format, share_file_list *files,
                       time_t now, struct export_progress *pr)
{
    int rc = 0, dropped = 0;
    for (size_t i = 0; rc == 0 && i < files->count;) {
        share_file *f = &files->items[i];
        int fd = -1;
        rc = open_entry(f, &fd);
        if (rc == 1) {
            pr->total -= f->size;
            drop_file(files, i);
            dropped = 1;
            rc = 0;
            continue;
        }
        /* log files are compressed and encrypted already: deflating them
         * again costs time (5x for a big export) and gains nothing. The
         * app's own files may be text, so they are deflated. */
        int is_log = strcmp(f->stream, "attachment") != 0;
        rc = rc ? rc : zip_method(a, format, is_log);
        if (rc == 0 && entry_header(a, f->name, f->size, now) != 0)
            rc = archive_error(a);
        rc = rc ? rc : copy_file(a, fd, f, pr);
        if (fd >= 0)
            close(fd);
        i++;
    }
    /* the total shrank: the last call may not have said 100% yet */
    if (rc == 0 && dropped && pr->fn && pr->fn(pr->user, pr->done, pr->total) != 0)
        rc = LOGSHARE_ECANCELED;
    return rc;
}

int export_write_archive(const share_fields *fields, share_file_list *files, const char *out_path,
                         logshare_export_format format, logshare_progress_fn progress, void *user)
{
    if (!fields || !files || !out_path || !*out_path)
        return LOGSHARE_EINVAL;
    int rc = size_attachments(files);
    if (rc)
        return rc;
    struct export_sink sink = {-1, 0};
    struct export_progress pr = {progress, user, 0, 0, &sink.err};
    for (size_t i = 0; i < files->count; i++)
        pr.total += files->items[i].size;

    size_t tmp_len = strlen(out_path) + 16;
    char *tmp = malloc(tmp_len);
    struct archive *a = archive_write_new();
    int out_fd = -1;
    if (!tmp || !a)
        rc = LOGSHARE_ENOMEM;
    if (rc == 0) {
        snprintf(tmp, tmp_len, "%s.tmp-XXXXXX", out_path);
        out_fd = mkstemp(tmp);
        if (out_fd < 0)
            rc = ls_fs_errno_to_error(errno);
        else
            (void)fchmod(out_fd, 0644);
    }
    rc = rc ? rc : configure_format(a, format);
    sink.fd = out_fd;
    /* no padding after the last byte, as for any regular file */
    if (rc == 0 && (archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
                    archive_write_open(a, &sink, NULL, sink_write, NULL) != ARCHIVE_OK))
        rc = archive_error(a);
    time_t now = (time_t)(ls_time_now_us() / 1000000);
    rc = rc ? rc : write_files(a, format, files, now, &pr);
    char *manifest = NULL;
    if (rc == 0)
        rc = share_manifest_build(fields, files, ls_time_now_us(), &manifest);
    if (rc == 0) {
        size_t mlen = strlen(manifest);
        rc = zip_method(a, format, 0);
        if (rc == 0 && (entry_header(a, "manifest.json", mlen, now) != 0 ||
                        write_data(a, manifest, mlen) != 0))
            rc = archive_error(a);
    }
    free(manifest);
    if (a) {
        if (archive_write_close(a) != ARCHIVE_OK && rc == 0)
            rc = archive_error(a);
        archive_write_free(a);
    }
    if (rc == 0 && sink.err)
        rc = sink.err; /* the central directory or the last block failed */
    if (out_fd >= 0) {
        if (rc == 0 && fsync(out_fd) != 0)
            rc = ls_fs_errno_to_error(errno);
        if (close(out_fd) != 0 && rc == 0)
            rc = LOGSHARE_EIO;
        if (rc == 0 && rename(tmp, out_path) != 0)
            rc = ls_fs_errno_to_error(errno);
        if (rc == 0) {
            char *dir = ls_fs_dirname(out_path);
            rc = dir ? ls_fs_fsync_dir(dir) : LOGSHARE_ENOMEM;
            free(dir);
        } else {
            unlink(tmp);
        }
    }
    free(tmp);
    return rc;
}
