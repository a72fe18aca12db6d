/*
 * export.c - writes a sharing archive: the support files plus
 * manifest.json, as zip (default) or tar.zst, through libarchive.
 *
 * Streamed: each file is read in 64 KiB pieces straight into the
 * archive writer, so memory use does not grow with the logs. Each file
 * is opened before anything is written and read only up to the size
 * recorded when the list was made, so a log that grows or rotates while
 * we work cannot make the archive disagree with its manifest. The hash
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
};

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
        int rc = write_data(a, buf, (size_t)n);
        if (rc)
            return rc;
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

/* Opens every file of the list, dropping log files that no longer exist
 * (removed by rotation between listing and now: they are not shippable
 * and the manifest must not claim them). fds[i] matches files->items[i]
 * after the call. */
static int open_all(share_file_list *files, int **fds_out)
{
    int *fds = calloc(files->count ? files->count : 1, sizeof *fds);
    if (!fds)
        return LOGSHARE_ENOMEM;
    size_t kept = 0;
    for (size_t i = 0; i < files->count; i++) {
        share_file *f = &files->items[i];
        int fd = open(f->path, O_RDONLY | O_CLOEXEC);
        /* a log file may have been rotated away; an app's file must exist */
        if (fd < 0 && errno == ENOENT && strcmp(f->stream, "attachment") != 0) {
            free(f->path);
            free(f->name);
            free(f->stream);
            continue;
        }
        if (fd < 0) {
            int rc = ls_fs_errno_to_error(errno);
            for (size_t j = 0; j < kept; j++)
                close(fds[j]);
            free(fds);
            /* leave the list consistent for share_file_list_clear */
            for (size_t j = i; j < files->count; j++)
                files->items[kept + j - i] = files->items[j];
            files->count = kept + files->count - i;
            return rc;
        }
        if (f->size == 0) { /* an app attachment: ship it as it is now */
            struct stat st;
            if (fstat(fd, &st) == 0)
                f->size = (uint64_t)st.st_size;
        }
        files->items[kept] = *f;
        fds[kept++] = fd;
    }
    files->count = kept;
    *fds_out = fds;
    return 0;
}

int export_write_archive(const share_fields *fields, share_file_list *files, const char *out_path,
                         logshare_export_format format, logshare_progress_fn progress, void *user)
{
    if (!fields || !files || !out_path || !*out_path)
        return LOGSHARE_EINVAL;
    int *fds = NULL;
    int rc = open_all(files, &fds);
    if (rc)
        return rc;
    struct export_progress pr = {progress, user, 0, 0};
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
    if (rc == 0 && archive_write_open_fd(a, out_fd) != ARCHIVE_OK)
        rc = LOGSHARE_EIO;
    time_t now = (time_t)(ls_time_now_us() / 1000000);
    for (size_t i = 0; rc == 0 && i < files->count; i++) {
        share_file *f = &files->items[i];
        /* log files are compressed and encrypted already: deflating them
         * again costs time (5x for a big export) and gains nothing. The
         * app's own files may be text, so they are deflated. */
        int is_log = strcmp(f->stream, "attachment") != 0;
        rc = zip_method(a, format, is_log);
        rc = rc ? rc : entry_header(a, f->name, f->size, now);
        rc = rc ? rc : copy_file(a, fds[i], f, &pr);
    }
    char *manifest = NULL;
    if (rc == 0)
        rc = share_manifest_build(fields, files, ls_time_now_us(), &manifest);
    if (rc == 0) {
        size_t mlen = strlen(manifest);
        rc = zip_method(a, format, 0);
        rc = rc ? rc : entry_header(a, "manifest.json", mlen, now);
        rc = rc ? rc : write_data(a, manifest, mlen);
    }
    free(manifest);
    if (a) {
        if (archive_write_close(a) != ARCHIVE_OK && rc == 0)
            rc = LOGSHARE_EIO;
        archive_write_free(a);
    }
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
    for (size_t i = 0; i < files->count; i++)
        close(fds[i]);
    free(fds);
    free(tmp);
    return rc;
}
