/*
 * dashboard_log.c - GET /api/v1/tickets/{id}/attachments/{aid}/log: one
 * page of an attachment's log records, decrypted on the server with the
 * support secret key (dashboard_config.support_secret_key_file).
 *
 * Query: offset (index of the first record to consider, from 0), limit
 * (1..1000, default 200), level (minimum: trace..fatal), stream, q
 * (case-insensitive substring of the message), since / until (RFC 3339).
 * Answer: {"records": [{"index","time","level","stream","message"}],
 * "offset", "next_offset" (null at the end), "scanned_to", "stream",
 * "torn_tail", "corrupt"}.
 *
 * Never whole in memory: the directory store hands over the blob's file
 * itself (blob_store_open_fd), which the reader reads through a window
 * when it is large (logfmt_reader_open_fd), so a page costs a window's
 * memory whatever the file's size; stores without local files stream the blob into a private
 * temporary file first. The reader walks it record by record; only the
 * page being answered is kept. A request stops after
 * SCAN_BUDGET records or PAGE_BYTES of messages, answering a shorter page
 * with next_offset where it stopped, so one request's cost is bounded
 * however selective the filter. Log files are encrypted streams without
 * an index, so reaching offset N means decoding the N records before it:
 * paging deep into a huge file costs a decode of its head (seconds for
 * hundreds of MB), never memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "blob_store.h"
#include "dashboard_internal.h"
#include "logfmt.h"
#include "logshare.h"
#include "ls_fs.h"
#include "ls_time.h"
#include "ls_utf8.h"
#include "ticket_store.h"

#define DEFAULT_LIMIT 200
#define MAX_LIMIT 1000
#define SCAN_BUDGET 200000
#define PAGE_BYTES (4u << 20)

struct log_query {
    uint64_t offset;
    size_t limit;
    int min_level; /* -1: any */
    const char *stream, *q;
    int64_t since_us, until_us; /* INT64_MIN / INT64_MAX: open */
};

static int parse_u64(const char *text, uint64_t max, uint64_t *out)
{
    if (!text || !*text)
        return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end || text[0] == '-' || v > max)
        return LOGSHARE_EINVAL;
    *out = v;
    return 0;
}

static int parse_query(http_request *req, struct log_query *lq, const char **what, char *msg,
                       size_t cap)
{
    static const char *const params[] = {"offset", "limit",  "since", "until",
                                         "level",  "stream", "q",     NULL};
    if (api_query_problem(req, params, msg, cap))
        return *what = msg, LOGSHARE_EINVAL;
    memset(lq, 0, sizeof *lq);
    lq->limit = DEFAULT_LIMIT;
    lq->min_level = -1;
    lq->since_us = INT64_MIN;
    lq->until_us = INT64_MAX;
    uint64_t limit = DEFAULT_LIMIT;
    if (parse_u64(http_query(req, "offset"), UINT64_MAX / 2, &lq->offset) != 0)
        return *what = "offset must be a record index (0 or more)", LOGSHARE_EINVAL;
    if (parse_u64(http_query(req, "limit"), MAX_LIMIT, &limit) != 0 || limit == 0)
        return *what = "limit must be 1 to 1000", LOGSHARE_EINVAL;
    lq->limit = (size_t)limit;
    const char *level = http_query(req, "level");
    if (level && *level) {
        logshare_level l;
        if (logshare_level_parse(level, &l) != 0)
            return *what = "level must be trace, debug, info, warn, error or fatal",
                   LOGSHARE_EINVAL;
        lq->min_level = (int)l;
    }
    const char *s = http_query(req, "stream");
    lq->stream = s && *s ? s : NULL;
    const char *q = http_query(req, "q");
    lq->q = q && *q ? q : NULL;
    const char *since = http_query(req, "since"), *until = http_query(req, "until");
    if (since && *since && ls_time_parse_rfc3339(since, &lq->since_us) != 0)
        return *what = "since must be an RFC 3339 time", LOGSHARE_EINVAL;
    if (until && *until && ls_time_parse_rfc3339(until, &lq->until_us) != 0)
        return *what = "until must be an RFC 3339 time", LOGSHARE_EINVAL;
    if (lq->since_us > lq->until_us) /* swapped, not "nothing" */
        return *what = "since is later than until", LOGSHARE_EINVAL;
    return 0;
}

static int matches(const struct log_query *lq, const logshare_record *rec)
{
    if (lq->min_level >= 0 && (int)rec->level < lq->min_level)
        return 0;
    if (rec->time_us < lq->since_us || rec->time_us > lq->until_us)
        return 0;
    if (lq->stream && (!rec->stream || strcmp(lq->stream, rec->stream) != 0))
        return 0;
    if (lq->q && !strcasestr(rec->message ? rec->message : "", lq->q))
        return 0;
    return 1;
}

/* Streams the blob into a temporary file in dir and returns it in *fd,
 * at offset 0. The name is unlinked at once, before a byte is copied:
 * a server that dies mid-copy (or mid-page) leaves nothing behind, as
 * the file goes with its last descriptor. */
static int copy_blob_to_tmp(struct blob_store *bs, const char *key, const char *dir, int *fd)
{
    char path[4096];
    *fd = -1;
    if ((size_t)snprintf(path, sizeof path, "%s/.dashboard-log-XXXXXX", dir) >= sizeof path)
        return LOGSHARE_EINVAL;
    int f = mkostemp(path, O_CLOEXEC);
    if (f < 0)
        return ls_fs_errno_to_error(errno);
    unlink(path);
    struct blob_reader *r = NULL;
    int rc = blob_store_get_open(bs, key, 0, BLOB_TO_END, &r, NULL);
    char buf[64 * 1024];
    size_t got = 0;
    while (rc == 0 && (rc = blob_reader_read(r, buf, sizeof buf, &got)) == 0 && got > 0)
        rc = ls_fs_write_all(f, buf, got);
    blob_reader_close(r);
    if (rc == 0 && lseek(f, 0, SEEK_SET) != 0)
        rc = ls_fs_errno_to_error(errno);
    if (rc != 0) {
        close(f);
        return rc;
    }
    *fd = f;
    return 0;
}

/* The message as a JSON string. Apps may log any bytes, and one that is
 * not UTF-8 made the encoder fail and the whole page answer 500 (an app
 * could hide its logs from support that way): such bytes become U+FFFD. */
static json_t *message_json(const char *msg, size_t len)
{
    json_t *s = json_stringn(msg, len);
    if (s)
        return s;
    size_t n;
    char *clean = ls_utf8_sanitize(msg, len, 0, &n);
    if (!clean)
        return NULL;
    s = json_stringn_nocheck(clean, n);
    free(clean);
    return s;
}

static json_t *record_json(uint64_t index, const logshare_record *rec)
{
    char when[40];
    ls_time_format_rfc3339(rec->time_us, 1, when);
    json_t *msg = message_json(rec->message ? rec->message : "", rec->message_len);
    return json_pack("{s:I,s:s,s:s,s:s,s:o}", "index", (json_int_t)index, "time", when, "level",
                     logshare_level_name(rec->level), "stream", rec->stream ? rec->stream : "",
                     "message", msg);
}

static int open_error(http_request *req, int rc)
{
    switch (rc) {
    case LOGSHARE_EKEY:
        return dashboard_respond_error(req, 422, "bad_key",
                                       "this file is encrypted for another support key");
    case LOGSHARE_EFORMAT:
        return dashboard_respond_error(req, 422, "bad_format",
                                       "this attachment is not a logshare log file");
    case LOGSHARE_ECORRUPT:
        return dashboard_respond_error(
            req, 422, "corrupt", "the file's header failed authentication (tampered or damaged)");
    case LOGSHARE_ETRUNCATED:
        return dashboard_respond_error(req, 422, "truncated", "the file ends inside its header");
    default:
        return dashboard_respond_errno(req, rc, "the log file could not be read");
    }
}

int dashboard_log_get(http_request *req)
{
    struct dashboard *d = dashboard_of(req);
    if (!d)
        return dashboard_respond_error(req, 503, "unavailable", "the dashboard is not set up");
    struct auth_identity who;
    int rc = dashboard_require_caller(d, req, &who);
    if (rc != 0)
        return rc;
    if (who.role == AUTH_ROLE_USER)
        return dashboard_respond_error(req, 403, "permission_denied",
                                       "reading logs is for support");
    const char *tid = req->params[0], *aid = req->params[1];
    if (!ticket_id_valid(tid) || !ticket_id_valid(aid))
        return dashboard_respond_error(req, 404, "not_found", "no such attachment");
    struct log_query lq;
    const char *what = NULL;
    char msg[400];
    if (parse_query(req, &lq, &what, msg, sizeof msg) != 0)
        return dashboard_respond_error(req, 400, "invalid_argument", what);
    if (!d->secret_key)
        return dashboard_respond_error(req, 409, "key_not_configured",
                                       "this server has no support secret key; set [dashboard] "
                                       "support_secret_key_file to read logs here");
    struct ticket_attachment *att = NULL;
    rc = ticket_store_get_attachment(d->ts, tid, aid, &att);
    if (rc != 0)
        return dashboard_respond_errno(req, rc,
                                       rc == LOGSHARE_ENOENT ? "no such attachment" : NULL);

    logshare_reader *r = NULL;
    int fd = -1;
    rc = blob_store_open_fd(d->bs, att->blob_key, &fd);
    if (rc == LOGSHARE_EUNSUPPORTED)
        rc = copy_blob_to_tmp(d->bs, att->blob_key, d->tmp_dir, &fd);
    if (rc == 0) {
        rc = logfmt_reader_open_fd(fd, d->secret_key, &r);
        close(fd);
    } else {
        ticket_attachment_free(att);
        return dashboard_respond_errno(req, rc, "the attachment could not be read");
    }
    if (rc != 0) {
        ticket_attachment_free(att);
        return open_error(req, rc);
    }
    const char *file_stream = NULL;
    logshare_reader_info(r, &file_stream, NULL, NULL);

    json_t *records = json_array();
    uint64_t index = 0, scanned = 0;
    size_t bytes = 0;
    int more = 0, torn = 0, corrupt = 0;
    logshare_record rec;
    while ((rc = logshare_reader_next(r, &rec)) == 1) {
        if (index >= lq.offset) {
            if (json_array_size(records) >= lq.limit || bytes >= PAGE_BYTES ||
                scanned >= SCAN_BUDGET) {
                more = 1; /* this record starts the next page */
                break;
            }
            scanned++;
            if (matches(&lq, &rec)) {
                json_array_append_new(records, record_json(index, &rec));
                bytes += rec.message_len + 64;
            }
        }
        index++;
    }
    if (rc == LOGSHARE_ETRUNCATED)
        torn = 1;
    else if (rc < 0)
        corrupt = 1; /* nothing from the bad frame on is shown */
    json_t *doc = json_pack("{s:s,s:s,s:o,s:I,s:s?,s:b,s:b,s:I}", "attachment_id", aid, "name",
                            att->name ? att->name : "", "records", records, "offset",
                            (json_int_t)lq.offset, "stream", file_stream, "torn_tail", torn,
                            "corrupt", corrupt, "scanned_to", (json_int_t)index);
    if (doc)
        json_object_set_new(doc, "next_offset",
                            more ? json_integer((json_int_t)index) : json_null());
    logshare_reader_close(r);
    ticket_attachment_free(att);
    return dashboard_respond_json(req, 200, doc, NULL, NULL);
}
