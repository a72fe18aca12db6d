/*
 * response.c - the ways a handler answers (http.h): JSON documents,
 * errors in the one shape SPEC.md fixes ({"error":{"code","message"}}),
 * 429 with Retry-After, and prepared MHD responses (streams). Every
 * response carries the request id, so a user's report and the server's
 * log line can be matched.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "http/server_internal.h"
#include "logshare.h"

unsigned http_status_for_error(int err)
{
    switch (err) {
    case LOGSHARE_EINVAL:
    case LOGSHARE_EFORMAT:
    case LOGSHARE_EKEY:
        return MHD_HTTP_BAD_REQUEST;
    case LOGSHARE_EAUTH:
        return MHD_HTTP_UNAUTHORIZED;
    case LOGSHARE_EPERM:
        return MHD_HTTP_FORBIDDEN;
    case LOGSHARE_ENOENT:
        return MHD_HTTP_NOT_FOUND;
    case LOGSHARE_EEXIST:
    case LOGSHARE_ECONFLICT:
        return MHD_HTTP_CONFLICT;
    case LOGSHARE_ETOOLARGE:
        return MHD_HTTP_CONTENT_TOO_LARGE;
    case LOGSHARE_EUNSUPPORTED:
        return MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
    case LOGSHARE_ERATELIMIT:
        return MHD_HTTP_TOO_MANY_REQUESTS;
    case LOGSHARE_EUNAVAILABLE:
    case LOGSHARE_EBUSY:
    case LOGSHARE_ENOSPC:
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    case LOGSHARE_ETIMEDOUT:
        return MHD_HTTP_REQUEST_TIMEOUT;
    default:
        return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

int http_respond(http_request *req, unsigned status, struct MHD_Response *r)
{
    if (!r)
        return LOGSHARE_ENOMEM;
    if (req->status) { /* a second answer is a handler bug; keep the first */
        MHD_destroy_response(r);
        return LOGSHARE_EINTERNAL;
    }
    MHD_add_response_header(r, "X-Request-Id", req->id);
    /* What this server answers is private: tickets, users' log files
     * (signed-link downloads carry no Authorization a shared cache would
     * respect), metrics. A cache in front must keep no copy unless the
     * answer says otherwise itself (the dashboard's pages: no-cache). */
    if (!MHD_get_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL))
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (http_server_stopping(req->server) || req->close_after)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    /* Held, not queued: in a worker, the HTTP thread queues it once the
     * connection resumes; on the first call of the access handler,
     * request.c queues it then or on the last call (keep-alive). */
    if (req->in_worker || req->in_begin) {
        req->held_response = r;
        req->status = status;
        return 0;
    }
    enum MHD_Result ok = MHD_queue_response(req->conn, status, r);
    MHD_destroy_response(r);
    if (ok != MHD_YES)
        return LOGSHARE_EINTERNAL;
    req->status = status;
    return 0;
}

/* An extra header for an error response (Allow on a 405, Content-Range
 * on a 416); name NULL for none. */
struct extra_header {
    const char *name, *value;
};

static int respond_text(http_request *req, unsigned status, char *text, size_t len,
                        const char *type, int retry_after, struct extra_header extra)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return LOGSHARE_ENOMEM;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    /* JSON is never a page: a browser sent here (an agent's session
     * cookie goes with it) must not sniff it, run it, or frame it. */
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'none'; frame-ancestors 'none'");
    if (status == MHD_HTTP_UNAUTHORIZED) /* RFC 6750 section 3 */
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"logshare\"");
    if (retry_after > 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    if (extra.name)
        MHD_add_response_header(r, extra.name, extra.value);
    req->bytes_out = len;
    return http_respond(req, status, r);
}

int http_respond_json(http_request *req, unsigned status, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        return http_respond_error(req, LOGSHARE_ENOMEM, 500, "out of memory");
    size_t len = strlen(text);
    char *with_nl = realloc(text, len + 2);
    if (!with_nl) {
        free(text);
        return LOGSHARE_ENOMEM;
    }
    with_nl[len] = '\n';
    with_nl[len + 1] = '\0';
    return respond_text(req, status, with_nl, len + 1, "application/json", 0,
                        (struct extra_header){NULL, NULL});
}

/* Messages may quote client bytes (a field name); JSON needs UTF-8, so
 * anything that is not printable ASCII becomes '?'. */
static void ascii_only(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 32 || (unsigned char)*s > 126)
            *s = '?';
}

static int respond_error_v(http_request *req, const char *code, unsigned status, int retry_after,
                           struct extra_header extra, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    ascii_only(msg);
    size_t ml = strlen(msg);
    if (ml >= sizeof req->fail_message)
        ml = sizeof req->fail_message - 1;
    memcpy(req->fail_message, msg, ml);
    req->fail_message[ml] = '\0';
    json_t *doc = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(doc);
    if (!text) /* out of memory: a fixed body still tells the client what happened */
        text = strdup("{\"error\":{\"code\":\"internal_error\",\"message\":\"out of memory\"}}");
    if (!text)
        return LOGSHARE_ENOMEM;
    size_t len = strlen(text);
    return respond_text(req, status, text, len, "application/json", retry_after, extra);
}

int http_respond_error(http_request *req, int err, unsigned status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc =
        respond_error_v(req, logshare_error_name(err), status ? status : http_status_for_error(err),
                        0, (struct extra_header){NULL, NULL}, fmt, ap);
    va_end(ap);
    return rc;
}

int http_respond_error_code(http_request *req, unsigned status, const char *code,
                            const char *header, const char *value, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = respond_error_v(req, code, status, 0,
                             (struct extra_header){header, header ? value : NULL}, fmt, ap);
    va_end(ap);
    return rc;
}

static int respond_error_retry(http_request *req, int retry_after, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int respond_error_retry(http_request *req, int retry_after, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc =
        respond_error_v(req, logshare_error_name(LOGSHARE_ERATELIMIT), MHD_HTTP_TOO_MANY_REQUESTS,
                        retry_after, (struct extra_header){NULL, NULL}, fmt, ap);
    va_end(ap);
    return rc;
}

int http_respond_rate_limited(http_request *req, int retry_after_s)
{
    http_metrics_rate_limited(http_server_metrics(req->server));
    return respond_error_retry(req, retry_after_s, "too many requests; retry in %d s",
                               retry_after_s);
}
