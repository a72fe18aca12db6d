/*
 * blob_store.c - the generic half of blob_store.h: key rules and the
 * wrappers that dispatch to an implementation's ops. Implementations
 * (blob_fs.c, later cloud stores) only provide the ops.
 */
#include "blob_store.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "logshare.h"

static int key_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

int blob_key_valid(const char *key)
{
    if (!key)
        return 0;
    size_t len = strnlen(key, BLOB_KEY_MAX + 1);
    if (len == 0 || len > BLOB_KEY_MAX)
        return 0;
    /* Walk segment by segment: a segment is non-empty and never starts
     * with '.', which rules out ".", "..", hidden and temporary names. */
    int at_segment_start = 1;
    for (size_t i = 0; i < len; i++) {
        char c = key[i];
        if (c == '/') {
            if (at_segment_start)
                return 0;
            at_segment_start = 1;
            continue;
        }
        if (!key_char_ok(c))
            return 0;
        if (at_segment_start && c == '.')
            return 0;
        at_segment_start = 0;
    }
    return !at_segment_start;
}

/* The UTC day, "YYYYMMDD", of an id "<prefix>_<12 hex digits of
 * milliseconds since 1970>..." (ticket_store.h). 0, or -1 when the id
 * carries no such time. */
static int day_of_id(const char *id, char day[9])
{
    const char *us = strchr(id, '_');
    if (!us)
        return -1;
    uint64_t ms = 0;
    for (int i = 1; i <= 12; i++) {
        char c = us[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return -1;
        ms = ms << 4 | (uint64_t)v;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999)
        return -1;
    /* strftime: the year is known to be four digits, which snprintf's
     * truncation check cannot see. */
    return strftime(day, 9, "%Y%m%d", &tm) == 8 ? 0 : -1;
}

int blob_key_for_attachment(const char *ticket_id, const char *attachment_id, char *buf, size_t cap)
{
    char day[9];
    /* The ticket id is not in the key any more, but a caller passing one
     * that could not have been a key segment has a bug worth reporting. */
    if (!ticket_id || !attachment_id || !buf || !blob_key_valid(ticket_id) ||
        strchr(ticket_id, '/') || strchr(attachment_id, '/') || day_of_id(attachment_id, day) != 0)
        return LOGSHARE_EINVAL;
    int n = snprintf(buf, cap, "a/%s/%s", day, attachment_id);
    if (n < 0 || (size_t)n >= cap || !blob_key_valid(buf))
        return LOGSHARE_EINVAL;
    return 0;
}

int blob_key_is_attachment(const char *key)
{
    return key && (strncmp(key, "a/", 2) == 0 || strncmp(key, "t/", 2) == 0);
}

int blob_store_put_open(struct blob_store *bs, const char *key, struct blob_writer **out)
{
    if (!bs || !out)
        return LOGSHARE_EINVAL;
    *out = NULL;
    if (!blob_key_valid(key))
        return LOGSHARE_EINVAL;
    int rc = bs->ops->put_open(bs, key, out);
    if (rc == 0) {
        (*out)->ops = bs->ops;
        (*out)->bytes_written = 0;
    }
    return rc;
}

int blob_writer_write(struct blob_writer *w, const void *data, size_t len)
{
    if (!w || (!data && len))
        return LOGSHARE_EINVAL;
    if (len == 0)
        return 0;
    int rc = w->ops->write(w, data, len);
    if (rc == 0)
        w->bytes_written += len;
    return rc;
}

void blob_writer_end(struct blob_writer *w)
{
    if (w && w->ops->end)
        w->ops->end(w);
}

int blob_writer_commit(struct blob_writer *w)
{
    if (!w)
        return LOGSHARE_EINVAL;
    return w->ops->commit(w);
}

void blob_writer_abort(struct blob_writer *w)
{
    if (w)
        w->ops->abort(w);
}

int blob_store_get_open(struct blob_store *bs, const char *key, uint64_t offset, uint64_t length,
                        struct blob_reader **out, uint64_t *total_size)
{
    if (!bs || !out)
        return LOGSHARE_EINVAL;
    *out = NULL;
    uint64_t ignored;
    if (!total_size)
        total_size = &ignored;
    *total_size = 0;
    if (!blob_key_valid(key))
        return LOGSHARE_EINVAL;
    int rc = bs->ops->get_open(bs, key, offset, length, out, total_size);
    if (rc == 0)
        (*out)->ops = bs->ops;
    return rc;
}

int blob_reader_read(struct blob_reader *r, void *buf, size_t cap, size_t *got)
{
    if (!r || !got || (!buf && cap))
        return LOGSHARE_EINVAL;
    *got = 0;
    return r->ops->read(r, buf, cap, got);
}

void blob_reader_close(struct blob_reader *r)
{
    if (r)
        r->ops->close(r);
}

int blob_store_remove(struct blob_store *bs, const char *key)
{
    if (!bs)
        return LOGSHARE_EINVAL;
    if (!blob_key_valid(key))
        return LOGSHARE_EINVAL;
    return bs->ops->remove(bs, key);
}

int blob_store_list(struct blob_store *bs, blob_list_fn fn, void *arg)
{
    if (!bs || !fn)
        return LOGSHARE_EINVAL;
    if (!bs->ops->list)
        return LOGSHARE_EUNSUPPORTED;
    return bs->ops->list(bs, fn, arg);
}

int blob_store_sweep_uploads(struct blob_store *bs, int64_t older_than_unix_s,
                             const atomic_int *stop, struct blob_upload_sweep *res)
{
    if (!res)
        return LOGSHARE_EINVAL;
    memset(res, 0, sizeof *res);
    if (!bs)
        return LOGSHARE_EINVAL;
    if (!bs->ops->sweep_uploads)
        return 0;
    return bs->ops->sweep_uploads(bs, older_than_unix_s, stop, res);
}

int blob_store_check(struct blob_store *bs)
{
    if (!bs)
        return LOGSHARE_EINVAL;
    return bs->ops->check(bs);
}

int blob_store_open_fd(struct blob_store *bs, const char *key, int *fd)
{
    if (!bs || !fd)
        return LOGSHARE_EINVAL;
    *fd = -1;
    if (!blob_key_valid(key))
        return LOGSHARE_EINVAL;
    if (!bs->ops->open_fd)
        return LOGSHARE_EUNSUPPORTED;
    return bs->ops->open_fd(bs, key, fd);
}

int blob_store_signed_url(struct blob_store *bs, const char *key, int64_t expires_unix_s,
                          char **url)
{
    if (!bs || !url)
        return LOGSHARE_EINVAL;
    *url = NULL;
    if (!blob_key_valid(key))
        return LOGSHARE_EINVAL;
    if (!bs->ops->signed_url)
        return LOGSHARE_EUNSUPPORTED;
    return bs->ops->signed_url(bs, key, expires_unix_s, url);
}

void blob_store_destroy(struct blob_store *bs)
{
    if (bs)
        bs->ops->destroy(bs);
}
