/*
 * api_attachments.c - an attachment's bytes, and signed links to them.
 *
 * GET /api/v1/tickets/{id}/attachments/{aid} is allowed to the owner and
 * support (bearer token) or to anyone holding a valid signed link
 * (?expires=&sig=, auth.h). The body is streamed from the blob reader in
 * 64 KiB blocks, never loaded whole; a single "bytes=" Range is honoured
 * (206, or 416 when unsatisfiable), under If-Range when it still names
 * the file; several ranges, or two Range fields, get the whole file,
 * which RFC 9110 allows.
 *
 * POST .../link (owner or support) mints such a link: optional JSON
 * {"expires_in": seconds} up to link_max_ttl_s; answers {"url",
 * "expires_at"}.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "logshare.h"
#include "ls_time.h"

#define STREAM_BLOCK (64 * 1024)

/* Reads 1*DIGIT at *p (RFC 9110 is that strict: no sign, no blanks),
 * saturating at UINT64_MAX (a last-pos past the end means the end, a
 * first-pos past it is unsatisfiable either way). 0 when there is no
 * digit. */
static int parse_digits(const char **p, uint64_t *v)
{
    const char *s = *p;
    uint64_t n = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        n = n > (UINT64_MAX - 9) / 10 ? UINT64_MAX : n * 10 + (uint64_t)(*s - '0');
    if (s == *p)
        return 0;
    *p = s;
    *v = n;
    return 1;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* The one range of a ranges list, without the empty elements and the
 * white space around elements that RFC 9110 5.6.1.2 has recipients
 * ignore ("bytes=0-3," is one range): copied into buf; 0 when the list
 * has no range, several, or one too long to be a range. */
static int single_range_spec(const char *list, char *buf, size_t cap)
{
    int found = 0;
    for (const char *e = list; *e;) {
        const char *end = strchr(e, ',');
        if (!end)
            end = e + strlen(e);
        const char *a = e, *b = end;
        while (a < b && is_ows(*a))
            a++;
        while (b > a && is_ows(b[-1]))
            b--;
        if (a < b) {
            if (found++ || (size_t)(b - a) >= cap)
                return 0;
            memcpy(buf, a, (size_t)(b - a));
            buf[b - a] = '\0';
        }
        e = *end ? end + 1 : end;
    }
    return found == 1;
}

/* Declared in api.h (so fuzz/fuzz_strings.c reaches it). */
int api_parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
    char spec[64]; /* two 20-digit numbers and a dash fit */
    if (!h || strncasecmp(h, "bytes=", 6) != 0 || !single_range_spec(h + 6, spec, sizeof spec))
        return 0;
    const char *s = spec;
    uint64_t a = 0, b = UINT64_MAX;
    if (*s == '-') { /* suffix: the last n bytes */
        s++;
        if (!parse_digits(&s, &b) || *s)
            return 0;
        if (b == 0 || size == 0)
            return -1;
        *len = b < size ? b : size;
        *off = size - *len;
        return 1;
    }
    if (!parse_digits(&s, &a) || *s++ != '-')
        return 0;
    if (*s && (!parse_digits(&s, &b) || *s || b < a))
        return 0;
    if (a >= size)
        return -1;
    if (b >= size)
        b = size - 1;
    *off = a;
    *len = b - a + 1;
    return 1;
}

/* If-Range (RFC 9110 13.1.5): the range applies only while the client's
 * validator still names this file. Ours is the strong ETag; a weak one
 * or a date (there is no Last-Modified to compare it with) never
 * matches, and the whole file is sent instead of a piece of something
 * else. */
static int if_range_holds(const char *v, const char *sha256)
{
    if (!v)
        return 1;
    size_t n = strlen(sha256);
    return strlen(v) == n + 2 && v[0] == '"' && strncmp(v + 1, sha256, n) == 0 && v[n + 1] == '"';
}

/* The stream's state: the reader, and the request's bytes_out, so the
 * log line counts what was sent, not what was promised (a download cut
 * short or aborted logged the whole size). The request outlives every
 * read: libmicrohttpd reads no more once it reports the request done. */
struct download {
    struct blob_reader *reader;
    uint64_t *sent;
};

static ssize_t read_block(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct download *d = cls;
    size_t got = 0;
    if (blob_reader_read(d->reader, buf, max, &got))
        return MHD_CONTENT_READER_END_WITH_ERROR;
    *d->sent += got;
    return got ? (ssize_t)got : MHD_CONTENT_READER_END_OF_STREAM;
}

static void close_reader(void *cls)
{
    struct download *d = cls;
    blob_reader_close(d->reader);
    free(d);
}

static void pct_encode(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s && o + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~", c))
            out[o++] = (char)c;
        else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
}

int api_attachment_get(http_request *req)
{
    struct api_app *app = req->app;
    const char *tid = req->params[0], *aid = req->params[1];
    /* before the link is verified: a second sig or expires would leave
     * it open which of the two was checked */
    static const char *const params[] = {AUTH_LINK_PARAM_EXPIRES, AUTH_LINK_PARAM_SIG, NULL};
    if (api_query_check(req, params))
        return 0;
    const char *expires = http_query(req, AUTH_LINK_PARAM_EXPIRES);
    const char *sig = http_query(req, AUTH_LINK_PARAM_SIG);
    struct auth_identity who;
    int by_link = 0;
    if (expires || sig) {
        const char *reason = NULL;
        if (!expires || !sig ||
            auth_link_verify(app->auth, tid, aid, expires, sig, ls_time_now_us() / 1000000,
                             &reason))
            return http_respond_error(req, LOGSHARE_EAUTH, 401, "%s",
                                      reason ? reason : "incomplete signed link");
        by_link = 1;
        snprintf(req->user_id, sizeof req->user_id, "(signed link)");
    } else if (api_authenticate(req, &who)) {
        return 0;
    }
    if (!ticket_id_valid(tid) || !ticket_id_valid(aid))
        return http_respond_error(req, LOGSHARE_ENOENT, 404, "no such attachment");
    if (!by_link && !api_is_support(&who)) {
        struct ticket *t = NULL;
        int rc = ticket_store_get(app->tickets, tid, &t);
        if (rc == LOGSHARE_ENOENT)
            return http_respond_error(req, rc, 404, "no such attachment");
        if (rc)
            return http_respond_error(req, LOGSHARE_EUNAVAILABLE, 503, "database: %s",
                                      logshare_strerror(rc));
        int mine = strcmp(t->user_id, who.user_id) == 0;
        ticket_free(t);
        if (!mine)
            return http_respond_error(req, LOGSHARE_EPERM, 403, "not your ticket");
    }
    struct ticket_attachment *a = NULL;
    int rc = ticket_store_get_attachment(app->tickets, tid, aid, &a);
    if (rc == LOGSHARE_ENOENT)
        return http_respond_error(req, rc, 404, "no such attachment");
    if (rc)
        return http_respond_error(req, LOGSHARE_EUNAVAILABLE, 503, "database: %s",
                                  logshare_strerror(rc));
    uint64_t off = 0, len = a->size;
    const char *range = http_header(req, MHD_HTTP_HEADER_RANGE);
    if (range && http_header_count(req, MHD_HTTP_HEADER_RANGE) > 1)
        range = NULL; /* which one a cache in between saw is unknown: the whole file */
    if (range && !if_range_holds(http_header(req, MHD_HTTP_HEADER_IF_RANGE), a->sha256))
        range = NULL;
    int ranged = api_parse_range(range, a->size, &off, &len);
    char cr[96];
    if (ranged < 0) {
        snprintf(cr, sizeof cr, "bytes */%" PRIu64, a->size);
        uint64_t size = a->size;
        ticket_attachment_free(a);
        return http_respond_error_code(req, MHD_HTTP_RANGE_NOT_SATISFIABLE, "range_not_satisfiable",
                                       MHD_HTTP_HEADER_CONTENT_RANGE, cr,
                                       "the range is outside the attachment's %" PRIu64 " bytes",
                                       size);
    }
    struct blob_reader *reader = NULL;
    uint64_t total = 0;
    rc = blob_store_get_open(app->blobs, a->blob_key, off, len, &reader, &total);
    if (rc) {
        ticket_attachment_free(a);
        if (rc == LOGSHARE_ENOENT)
            return http_respond_error(req, rc, 404, "attachment bytes missing");
        return http_respond_error(req, LOGSHARE_EUNAVAILABLE, 503, "blob store: %s",
                                  logshare_strerror(rc));
    }
    struct download *d = malloc(sizeof *d);
    struct MHD_Response *r =
        d ? MHD_create_response_from_callback(len, STREAM_BLOCK, read_block, d, close_reader)
          : NULL;
    if (!r) {
        free(d);
        blob_reader_close(reader);
        ticket_attachment_free(a);
        return LOGSHARE_ENOMEM;
    }
    *d = (struct download){reader, &req->bytes_out};
    char safe[256], ascii[256], pct[800], cd[1200], etag[80];
    api_filename_safe(a->name ? a->name : "file", safe, sizeof safe, ascii, sizeof ascii);
    pct_encode(safe, pct, sizeof pct);
    snprintf(cd, sizeof cd, "attachment; filename=\"%s\"; filename*=UTF-8''%s", ascii, pct);
    snprintf(etag, sizeof etag, "\"%s\"", a->sha256);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            a->content_type ? a->content_type : "application/octet-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, cd);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
    MHD_add_response_header(r, "Content-Security-Policy", "sandbox");
    if (ranged > 0) {
        snprintf(cr, sizeof cr, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, off, off + len - 1,
                 a->size);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
    }
    ticket_attachment_free(a);
    req->bytes_out = 0; /* counted as read_block hands bytes over */
    return http_respond(req, ranged > 0 ? MHD_HTTP_PARTIAL_CONTENT : MHD_HTTP_OK, r);
}

struct link_state {
    struct auth_identity who;
};

int api_attachment_link_begin(http_request *req)
{
    struct link_state *st = calloc(1, sizeof *st);
    if (!st)
        return LOGSHARE_ENOMEM;
    req->state = st;
    if (api_authenticate(req, &st->who))
        return 0;
    /* The body is optional, but one that is there must be JSON
     * (docs/api.md "Conventions"): answered 415 from the headers. */
    int has_body = (req->content_length != UINT64_MAX && req->content_length > 0) ||
                   http_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
    if (has_body &&
        !api_media_type_is(http_header(req, MHD_HTTP_HEADER_CONTENT_TYPE), "application/json"))
        return http_respond_error(req, LOGSHARE_EUNSUPPORTED, 415, "expected application/json");
    return 0;
}

int api_attachment_link_end(http_request *req)
{
    struct api_app *app = req->app;
    struct link_state *st = req->state;
    const char *tid = req->params[0], *aid = req->params[1];
    int64_t ttl = app->cfg->link_ttl_s;
    if (req->body_len) {
        json_error_t jerr;
        json_t *doc = json_loadb(req->body, req->body_len, 0, &jerr);
        json_t *e = json_is_object(doc) ? json_object_get(doc, "expires_in") : NULL;
        int bad = !json_is_object(doc) || (e && !json_is_integer(e)) ||
                  json_object_size(doc) > (e ? 1u : 0u);
        if (e && json_is_integer(e))
            ttl = json_integer_value(e);
        json_decref(doc);
        if (bad)
            return http_respond_error(req, LOGSHARE_EINVAL, 400,
                                      "body must be {\"expires_in\": seconds} or empty");
    }
    if (ttl < 1 || ttl > app->cfg->link_max_ttl_s)
        return http_respond_error(req, LOGSHARE_EINVAL, 400, "expires_in must be 1 to %lld",
                                  (long long)app->cfg->link_max_ttl_s);
    if (!ticket_id_valid(tid) || !ticket_id_valid(aid))
        return http_respond_error(req, LOGSHARE_ENOENT, 404, "no such attachment");
    struct ticket *t = NULL;
    int rc = ticket_store_get(app->tickets, tid, &t);
    if (rc == LOGSHARE_ENOENT)
        return http_respond_error(req, rc, 404, "no such attachment");
    if (rc)
        return http_respond_error(req, LOGSHARE_EUNAVAILABLE, 503, "database: %s",
                                  logshare_strerror(rc));
    int allowed = api_is_support(&st->who) || strcmp(t->user_id, st->who.user_id) == 0;
    ticket_free(t);
    if (!allowed)
        return http_respond_error(req, LOGSHARE_EPERM, 403, "not your ticket");
    struct ticket_attachment *a = NULL;
    rc = ticket_store_get_attachment(app->tickets, tid, aid, &a);
    ticket_attachment_free(a);
    if (rc == LOGSHARE_ENOENT)
        return http_respond_error(req, rc, 404, "no such attachment");
    if (rc)
        return http_respond_error(req, LOGSHARE_EUNAVAILABLE, 503, "database: %s",
                                  logshare_strerror(rc));
    int64_t expires = ls_time_now_us() / 1000000 + ttl;
    char sig[AUTH_LINK_SIG_HEX_LEN + 1];
    rc = auth_link_sign(app->auth, tid, aid, expires, sig);
    if (rc)
        return rc;
    char url[1024], when[LS_TIME_RFC3339_LEN];
    snprintf(url, sizeof url, "%s/api/v1/tickets/%s/attachments/%s?%s=%lld&%s=%s",
             app->cfg->public_url ? app->cfg->public_url : "", tid, aid, AUTH_LINK_PARAM_EXPIRES,
             (long long)expires, AUTH_LINK_PARAM_SIG, sig);
    ls_time_format_rfc3339(expires * 1000000, 0, when);
    return http_respond_json(req, 201, json_pack("{s:s,s:s}", "url", url, "expires_at", when));
}
