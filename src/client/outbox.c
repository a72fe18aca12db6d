/*
 * outbox.c - the durable outbox: queueing, loading, listing and removing
 * ticket requests (layout and crash rules in outbox.h; sending is in
 * outbox_send.c).
 *
 * Why copy the files in: the store rotates and deletes old log files by
 * quota and age, and keeps appending to the newest. A queued report must
 * upload exactly what the user reported, even days later, so each file's
 * first <size> bytes (the snapshot taken when the report was made) are
 * copied into the item, hashed on the way for the manifest.
 */
#include "outbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ls_buf.h"
#include "ls_fs.h"
#include "ls_hex.h"
#include "ls_time.h"
#include "outbox_json.h"

char *outbox_dir(const char *store_dir)
{
    ls_buf b = LS_BUF_INIT;
    if (ls_buf_printf(&b, "%s/outbox", store_dir)) {
        ls_buf_free(&b);
        return NULL;
    }
    return ls_buf_steal(&b);
}

static char *path_join(const char *a, const char *b)
{
    ls_buf buf = LS_BUF_INIT;
    if (ls_buf_printf(&buf, "%s/%s", a, b)) {
        ls_buf_free(&buf);
        return NULL;
    }
    return ls_buf_steal(&buf);
}

void outbox_item_free(outbox_item *item)
{
    if (!item)
        return;
    free(item->id);
    free(item->dir);
    free(item->idempotency_key);
    share_fields_clear(&item->fields);
    share_file_list_clear(&item->files);
    free(item->state.error_code);
    free(item->state.error_message);
    free(item->state.ticket_id);
    free(item->state.refused_token);
    free(item);
}

void outbox_token_fingerprint(const char *token, char out[33])
{
    unsigned char h[16];
    crypto_generichash(h, sizeof h, (const unsigned char *)token, strlen(token), NULL, 0);
    ls_hex_encode(h, sizeof h, out);
}

int outbox_token_refused(const outbox_item *item, const char *token)
{
    if (!item->state.refused_token || !token)
        return 0;
    char fp[33];
    outbox_token_fingerprint(token, fp);
    return strcmp(fp, item->state.refused_token) == 0;
}

void outbox_items_free(outbox_item **items, size_t count)
{
    for (size_t i = 0; i < count; i++)
        outbox_item_free(items[i]);
    free(items);
}

/* Removes a directory tree (the outbox holds two levels at most, but
 * this does not rely on it). */
static int remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? 0 : ls_fs_errno_to_error(errno);
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *child = path_join(path, e->d_name);
        if (!child) {
            rc = LOGSHARE_ENOMEM;
            break;
        }
        struct stat st;
        if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
            rc = remove_tree(child);
        else if (unlink(child) != 0 && errno != ENOENT)
            rc = ls_fs_errno_to_error(errno);
        free(child);
        if (rc)
            break;
    }
    closedir(d);
    if (rc == 0 && rmdir(path) != 0 && errno != ENOENT)
        rc = ls_fs_errno_to_error(errno);
    return rc;
}

/* Opens a file to queue. A log file rotated away (or deleted by the
 * store's quota) between the listing and now is not shippable, and the
 * manifest must not claim it: returns 1 and it is left out, as export.c
 * does. An app's own file must exist. */
static int open_source(const share_file *f, int *fd)
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

/* Copies the first size bytes of the open file in into a new file dst,
 * durably, and hashes them. */
static int copy_prefix(int in, const char *dst, uint64_t size, char sha_hex[65])
{
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0)
        return ls_fs_errno_to_error(errno);
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char buf[65536];
    uint64_t done = 0;
    int rc = 0;
    while (rc == 0 && done < size) {
        size_t want = size - done < sizeof buf ? (size_t)(size - done) : sizeof buf;
        ssize_t n = read(in, buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = LOGSHARE_EIO;
        else if (n == 0)
            rc = LOGSHARE_ETRUNCATED;
        else {
            crypto_hash_sha256_update(&st, buf, (size_t)n);
            rc = ls_fs_write_all(out, buf, (size_t)n);
            done += (uint64_t)n;
        }
    }
    if (rc == 0 && fsync(out) != 0)
        rc = ls_fs_errno_to_error(errno);
    if (close(out) != 0 && rc == 0)
        rc = LOGSHARE_EIO;
    if (rc == 0) {
        unsigned char digest[crypto_hash_sha256_BYTES];
        crypto_hash_sha256_final(&st, digest);
        ls_hex_encode(digest, sizeof digest, sha_hex);
    }
    return rc;
}

/* Bytes and items already queued (complete items only). */
static int outbox_usage(const char *store_dir, uint64_t *bytes, unsigned *items)
{
    outbox_item **list = NULL;
    size_t n = 0;
    int rc = outbox_scan(store_dir, &list, &n);
    if (rc)
        return rc;
    *bytes = 0;
    for (size_t i = 0; i < n; i++)
        *bytes += list[i]->bytes;
    *items = (unsigned)n;
    outbox_items_free(list, n);
    return 0;
}

static int new_ids(char id[64], char key[33])
{
    unsigned char rnd[4], k[16];
    randombytes_buf(rnd, sizeof rnd);
    randombytes_buf(k, sizeof k);
    char hex[9];
    ls_hex_encode(rnd, sizeof rnd, hex);
    /* zero-padded microseconds sort as text in creation order */
    snprintf(id, 64, "%016lld-%s", (long long)ls_time_now_us(), hex);
    ls_hex_encode(k, sizeof k, key);
    return 0;
}

static int build_item(const char *tmp_dir, const char *id, const char *key,
                      const share_fields *fields, const share_file_list *files,
                      int64_t not_before_us)
{
    char *files_dir = path_join(tmp_dir, "files");
    if (!files_dir)
        return LOGSHARE_ENOMEM;
    int rc = ls_fs_mkdir_p(files_dir, 0700);
    share_file_list copied = {0};
    for (size_t i = 0; rc == 0 && i < files->count; i++) {
        const share_file *f = &files->items[i];
        int in = -1;
        rc = open_source(f, &in);
        if (rc == 1) {
            rc = 0;
            continue;
        }
        rc = rc ? rc
                : share_file_list_add(&copied, f->path, f->name, f->stream, f->size, f->first_us,
                                      f->last_us);
        if (rc) {
            if (in >= 0)
                close(in);
            break;
        }
        share_file *c = &copied.items[copied.count - 1];
        char *dst = path_join(files_dir, c->name);
        if (!dst)
            rc = LOGSHARE_ENOMEM;
        if (rc == 0 && c->size == 0 && strcmp(c->stream, "attachment") == 0) {
            struct stat st; /* an app attachment: its size now */
            if (fstat(in, &st) != 0)
                rc = ls_fs_errno_to_error(errno);
            else
                c->size = (uint64_t)st.st_size;
        }
        rc = rc ? rc : copy_prefix(in, dst, c->size, c->sha256);
        close(in);
        free(c->path);
        c->path = dst;
    }
    /* what the item holds, without the files left out above */
    uint64_t total = 0;
    for (size_t i = 0; i < copied.count; i++)
        total += copied.items[i].size;
    /* manifest.json rides along as one more part, for support's tools */
    char *manifest = NULL;
    if (rc == 0)
        rc = share_manifest_build(fields, &copied, ls_time_now_us(), &manifest);
    if (rc == 0) {
        char *mpath = path_join(files_dir, "manifest.json");
        rc = mpath ? ls_fs_write_atomic(mpath, manifest, strlen(manifest), 0600) : LOGSHARE_ENOMEM;
        free(mpath);
    }
    free(manifest);
    rc = rc ? rc : ls_fs_fsync_dir(files_dir);
    char *request = NULL;
    if (rc == 0)
        rc = outbox_json_request(id, key, ls_time_now_us(), total, fields, &copied, &request);
    if (rc == 0) {
        char *p = path_join(tmp_dir, "request.json");
        rc = p ? ls_fs_write_atomic(p, request, strlen(request), 0600) : LOGSHARE_ENOMEM;
        free(p);
    }
    free(request);
    if (rc == 0) {
        outbox_state st = {0};
        st.next_attempt_us = not_before_us;
        char *text = NULL;
        rc = outbox_json_state(&st, &text);
        char *p = rc ? NULL : path_join(tmp_dir, "state.json");
        rc = rc ? rc : (p ? ls_fs_write_atomic(p, text, strlen(text), 0600) : LOGSHARE_ENOMEM);
        free(p);
        free(text);
    }
    rc = rc ? rc : ls_fs_fsync_dir(tmp_dir);
    share_file_list_clear(&copied);
    free(files_dir);
    return rc;
}

int outbox_queue(const char *store_dir, const share_fields *fields, const share_file_list *files,
                 uint64_t max_bytes, unsigned max_items, int64_t not_before_us, char **id_out)
{
    if (!store_dir || !fields || !files || !id_out)
        return LOGSHARE_EINVAL;
    if (sodium_init() < 0)
        return LOGSHARE_EINTERNAL;
    char *dir = outbox_dir(store_dir);
    char *lock_path = dir ? path_join(dir, ".lock") : NULL;
    if (!lock_path) {
        free(dir);
        return LOGSHARE_ENOMEM;
    }
    int rc = ls_fs_mkdir_p(dir, 0700);
    int lock_fd = -1;
    if (rc == 0) {
        lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lock_fd < 0 || flock(lock_fd, LOCK_EX) != 0)
            rc = ls_fs_errno_to_error(errno);
    }
    uint64_t total = 0;
    for (size_t i = 0; i < files->count; i++) {
        uint64_t size = files->items[i].size;
        struct stat st;
        if (size == 0 && strcmp(files->items[i].stream, "attachment") == 0 &&
            stat(files->items[i].path, &st) == 0)
            size = (uint64_t)st.st_size;
        total += size;
    }
    if (rc == 0) {
        uint64_t used = 0;
        unsigned count = 0;
        rc = outbox_usage(store_dir, &used, &count);
        if (rc == 0 && (count + 1 > max_items || used + total > max_bytes))
            rc = LOGSHARE_ENOSPC;
    }
    char id[64], key[33];
    char *tmp = NULL, *final = NULL;
    if (rc == 0) {
        new_ids(id, key);
        ls_buf t = LS_BUF_INIT, f = LS_BUF_INIT;
        if (ls_buf_printf(&t, "%s/.tmp-%s", dir, id) || ls_buf_printf(&f, "%s/%s", dir, id))
            rc = LOGSHARE_ENOMEM;
        tmp = ls_buf_steal(&t);
        final = ls_buf_steal(&f);
    }
    if (rc == 0)
        rc = build_item(tmp, id, key, fields, files, not_before_us);
    if (rc == 0 && rename(tmp, final) != 0)
        rc = ls_fs_errno_to_error(errno);
    rc = rc ? rc : ls_fs_fsync_dir(dir);
    if (rc && tmp)
        remove_tree(tmp);
    if (rc == 0 && !(*id_out = strdup(id)))
        rc = LOGSHARE_ENOMEM;
    if (lock_fd >= 0)
        close(lock_fd);
    free(tmp);
    free(final);
    free(lock_path);
    free(dir);
    return rc;
}

/* state.json is missing or damaged while request.json is whole: the
 * item is still sendable, so it starts over as a fresh pending item
 * rather than vanish. Sending it again is safe: the idempotency key is
 * in request.json, so a ticket already created is returned, not made
 * twice (and a ticket id lost with the state is found again that way). */
static void reset_state(outbox_item *item)
{
    free(item->state.error_code);
    free(item->state.error_message);
    free(item->state.ticket_id);
    free(item->state.refused_token);
    memset(&item->state, 0, sizeof item->state);
    outbox_save_state(item); /* best effort: the next save writes it anyway */
}

int outbox_load(const char *store_dir, const char *id, outbox_item **out)
{
    if (!id || !*id || id[0] == '.' || strchr(id, '/'))
        return LOGSHARE_EINVAL;
    char *dir = outbox_dir(store_dir);
    char *item_dir = dir ? path_join(dir, id) : NULL;
    char *req_path = item_dir ? path_join(item_dir, "request.json") : NULL;
    char *state_path = item_dir ? path_join(item_dir, "state.json") : NULL;
    char *req = NULL, *state = NULL;
    size_t len;
    int rc = state_path ? 0 : LOGSHARE_ENOMEM;
    rc = rc ? rc : ls_fs_read_file(req_path, 16 * 1024 * 1024, &req, &len);
    int state_rc = rc ? rc : ls_fs_read_file(state_path, 1024 * 1024, &state, &len);
    outbox_item *item = NULL;
    if (rc == 0 && !(item = calloc(1, sizeof *item)))
        rc = LOGSHARE_ENOMEM;
    if (rc == 0) {
        item->dir = item_dir;
        item_dir = NULL;
        rc = outbox_json_parse_request(req, item);
    }
    if (rc == 0 && strcmp(item->id, id) != 0)
        rc = LOGSHARE_ECORRUPT;
    if (rc == 0) {
        state_rc = state_rc ? state_rc : outbox_json_parse_state(state, &item->state);
        if (state_rc == LOGSHARE_ENOMEM)
            rc = state_rc;
        else if (state_rc)
            reset_state(item);
    }
    if (rc) {
        outbox_item_free(item);
        item = NULL;
    }
    *out = item;
    free(req);
    free(state);
    free(req_path);
    free(state_path);
    free(item_dir);
    free(dir);
    return rc;
}

/* A visible item whose request.json is missing or damaged cannot be
 * sent (its fields and idempotency key are gone), but must not vanish
 * from the list either, or a user's report is lost without a word and
 * its files stay on disk for ever: it is listed as failed, with the
 * reason, so it can be seen and removed. It counts against the quota
 * as one item. *out is NULL when name is not an item directory (it was
 * removed meanwhile, or is a stray file). */
static int damaged_item(const char *dir, const char *name, outbox_item **out)
{
    *out = NULL;
    char *path = path_join(dir, name);
    struct stat st;
    if (!path)
        return LOGSHARE_ENOMEM;
    int is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    outbox_item *it = is_dir ? calloc(1, sizeof *it) : NULL;
    if (is_dir &&
        (!it || !(it->id = strdup(name)) || share_string_set(&it->state.error_code, "corrupt") ||
         share_string_set(&it->state.error_message,
                          "the queued request is damaged and cannot be sent"))) {
        free(path);
        outbox_item_free(it);
        return LOGSHARE_ENOMEM;
    }
    if (it) {
        it->dir = path;
        path = NULL;
        it->created_us = strtoll(name, NULL, 10); /* ids start with it */
        it->state.failed = 1;
    }
    free(path);
    *out = it;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int outbox_scan(const char *store_dir, outbox_item ***items_out, size_t *count_out)
{
    *items_out = NULL;
    *count_out = 0;
    char *dir = outbox_dir(store_dir);
    if (!dir)
        return LOGSHARE_ENOMEM;
    DIR *d = opendir(dir);
    if (!d) {
        int rc = errno == ENOENT ? 0 : ls_fs_errno_to_error(errno);
        free(dir);
        return rc;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    char *lock_path = path_join(dir, ".lock");
    int lock_fd = lock_path ? open(lock_path, O_RDWR | O_CLOEXEC) : -1;
    int quiet = lock_fd >= 0 && flock(lock_fd, LOCK_EX | LOCK_NB) == 0;
    free(lock_path);
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        const char *name = e->d_name;
        if (strncmp(name, ".del-", 5) == 0) {
            char *p = path_join(dir, name); /* a removal that was cut short */
            if (p)
                remove_tree(p);
            free(p);
            continue;
        }
        if (strncmp(name, ".tmp-", 5) == 0) {
            /* An item whose writer died before the rename. Queueing holds
             * .lock, so only while nobody queues (we got the lock) is a
             * .tmp surely abandoned; the age check guards against a
             * file system that does not honour flock. */
            char *p = path_join(dir, name);
            struct stat st;
            if (p && quiet && stat(p, &st) == 0 && st.st_mtime + 60 < time(NULL))
                remove_tree(p);
            free(p);
            continue;
        }
        if (name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **g = realloc(names, cap * sizeof *g);
            if (!g) {
                rc = LOGSHARE_ENOMEM;
                break;
            }
            names = g;
        }
        if (!(names[n] = strdup(name)))
            rc = LOGSHARE_ENOMEM;
        else
            n++;
    }
    closedir(d);
    if (lock_fd >= 0)
        close(lock_fd);
    if (n)
        qsort(names, n, sizeof *names, cmp_names);
    outbox_item **items = n ? calloc(n, sizeof *items) : NULL;
    size_t got = 0;
    if (n && !items)
        rc = LOGSHARE_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int lrc = outbox_load(store_dir, names[i], &items[got]);
        /* an item removed meanwhile (sent by another process) is skipped;
         * one whose request cannot be read is listed as damaged */
        if (lrc == LOGSHARE_ENOMEM)
            rc = lrc;
        else if (lrc)
            rc = damaged_item(dir, names[i], &items[got]);
        if (rc == 0 && items[got])
            got++;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(dir);
    if (rc) {
        outbox_items_free(items, got);
        return rc;
    }
    *items_out = items;
    *count_out = got;
    return 0;
}

int outbox_save_state(const outbox_item *item)
{
    char *text = NULL;
    int rc = outbox_json_state(&item->state, &text);
    char *p = rc ? NULL : path_join(item->dir, "state.json");
    rc = rc ? rc : (p ? ls_fs_write_atomic(p, text, strlen(text), 0600) : LOGSHARE_ENOMEM);
    free(p);
    free(text);
    return rc;
}

int outbox_remove(const char *store_dir, const char *id)
{
    if (!id || !*id || id[0] == '.' || strchr(id, '/'))
        return LOGSHARE_EINVAL;
    char *dir = outbox_dir(store_dir);
    ls_buf from = LS_BUF_INIT, to = LS_BUF_INIT;
    int rc = dir ? 0 : LOGSHARE_ENOMEM;
    if (rc == 0 &&
        (ls_buf_printf(&from, "%s/%s", dir, id) || ls_buf_printf(&to, "%s/.del-%s", dir, id)))
        rc = LOGSHARE_ENOMEM;
    /* The rename is the commit point: once it is durable the item is gone
     * for every reader, even if the tree removal below is cut short. */
    if (rc == 0 && rename(from.data, to.data) != 0)
        rc = ls_fs_errno_to_error(errno);
    rc = rc ? rc : ls_fs_fsync_dir(dir);
    if (rc == 0)
        remove_tree(to.data);
    ls_buf_free(&from);
    ls_buf_free(&to);
    free(dir);
    return rc;
}
