/*
 * request.c - the life of one request inside the HTTP layer (http.h):
 * the access handler libmicrohttpd calls for headers, body pieces and the
 * end, the completed callback, the checks made before any handler runs,
 * the client address (X-Forwarded-For from trusted proxies only), the
 * request id and the one structured log line per request.
 *
 * MHD calls the access handler first with the headers, then once per
 * piece of body, then once with *upload_data_size == 0. A response can be
 * queued only on the first or the last of these (PITFALLS), so:
 *  - everything decidable from the headers (route, Content-Length limit,
 *    duplicate Content-Length, rate limits, auth) is answered on the
 *    first call, before any body byte is read;
 *  - a body error (malformed multipart, a file over the limit) marks the
 *    request failed; the rest of the body is drained (bounded by the
 *    body limit) and the error is answered on the last call;
 *  - a chunked body that crosses the body limit, or a body slower than
 *    min_body_rate, is cut: return MHD_NO, the connection closes with no
 *    status. The log line says status=0 and why.
 * The completed callback runs for every request, finished or not, and
 * is where cleanup (abort partial uploads), the log line and metrics
 * happen.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "http/http.h"
#include "http/ratelimit.h"
#include "http/router.h"
#include "http/server_internal.h"
#include "logshare.h"
#include "ls_hex.h"
#include "ls_time.h"

/* ---- small helpers ------------------------------------------------- */

const char *http_header(http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_query(http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

int http_rate_limit_user(http_request *req, const char *user_id, int *retry_after_s)
{
    snprintf(req->user_id, sizeof req->user_id, "%.*s", (int)sizeof req->user_id - 1, user_id);
    return ratelimit_take(req->server->rl_user, user_id, ls_time_mono_ns(), retry_after_s);
}

struct header_count {
    const char *name;
    int n;
    int chunked;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    struct header_count *hc = cls;
    if (strcasecmp(key, hc->name) == 0)
        hc->n++;
    if (strcasecmp(key, "Transfer-Encoding") == 0 && value && strcasestr(value, "chunked"))
        hc->chunked = 1;
    return MHD_YES;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

static int addr_to_text(const struct sockaddr *sa, char *out, size_t cap)
{
    if (!sa)
        return -1;
    if (sa->sa_family == AF_INET)
        return inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap)
                   ? 0
                   : -1;
    if (sa->sa_family == AF_INET6)
        return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
                         (socklen_t)cap)
                   ? 0
                   : -1;
    return -1;
}

static int is_trusted_proxy(const struct http_server *s, const char *addr)
{
    for (size_t i = 0; i < s->n_proxies; i++)
        if (strcmp(s->proxies[i], addr) == 0)
            return 1;
    return 0;
}

int http_valid_ip(const char *text)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, text, buf) == 1 || inet_pton(AF_INET6, text, buf) == 1;
}

/* X-Forwarded-For as the proxies sent it: every header line in order,
 * joined with ",". A proxy may append its hop to the client's own line or
 * add a line of its own, so only the whole list in order can be read from
 * the right. */
#define XFF_MAX_BYTES 8192 /* more than any honest proxy chain */

struct xff_join {
    char buf[XFF_MAX_BYTES + 1];
    size_t len;
    int oversized;
};

static enum MHD_Result join_xff(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    (void)kind;
    struct xff_join *j = cls;
    if (strcasecmp(key, "X-Forwarded-For") != 0 || j->oversized)
        return MHD_YES;
    size_t n = value ? strlen(value) : 0;
    size_t need = n + (j->len ? 1 : 0);
    if (need > XFF_MAX_BYTES - j->len) {
        j->oversized = 1; /* never cut: the right end is the part to trust */
        return MHD_YES;
    }
    if (j->len)
        j->buf[j->len++] = ',';
    memcpy(j->buf + j->len, value ? value : "", n);
    j->len += n;
    j->buf[j->len] = '\0';
    return MHD_YES;
}

/* The client address: the peer, unless the peer is a trusted proxy; then
 * the rightmost X-Forwarded-For entry that is not itself a trusted proxy
 * (entries further left are the client's own claims). A list too long or
 * with an entry that is not an address (empty, a port, garbage) between
 * the right end and the client leaves the peer: nothing in it can be
 * trusted once it is known to be mangled. */
static void resolve_client(http_request *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || addr_to_text(ci->client_addr, req->client_addr, sizeof req->client_addr))
        snprintf(req->client_addr, sizeof req->client_addr, "unknown");
    if (!is_trusted_proxy(req->server, req->client_addr))
        return;
    struct xff_join *j = malloc(sizeof *j);
    if (!j)
        return; /* the peer it is */
    j->len = 0;
    j->oversized = 0;
    j->buf[0] = '\0';
    int n_lines = MHD_get_connection_values(req->conn, MHD_HEADER_KIND, join_xff, j);
    if (n_lines <= 0 || j->oversized || j->len == 0) {
        free(j);
        return;
    }
    char client[sizeof req->client_addr];
    client[0] = '\0';
    char *end = j->buf + j->len;
    for (;;) {
        char *start = end;
        while (start > j->buf && start[-1] != ',')
            start--;
        char *a = start, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        size_t n = (size_t)(b - a);
        if (n == 0 || n >= sizeof client) {
            client[0] = '\0'; /* malformed: fall back to the peer */
            break;
        }
        memcpy(client, a, n);
        client[n] = '\0';
        if (!http_valid_ip(client)) {
            client[0] = '\0';
            break;
        }
        if (!is_trusted_proxy(req->server, client) || start == j->buf)
            break;
        end = start - 1; /* the comma before this entry */
    }
    free(j);
    if (client[0])
        memcpy(req->client_addr, client, strlen(client) + 1);
}

static void make_request_id(http_request *req)
{
    const char *given = http_header(req, "X-Request-Id");
    if (given) {
        size_t n = strlen(given);
        int ok = n >= 8 && n < sizeof req->id;
        for (size_t i = 0; ok && i < n; i++)
            ok = (given[i] >= '0' && given[i] <= '9') || (given[i] >= 'a' && given[i] <= 'z') ||
                 (given[i] >= 'A' && given[i] <= 'Z') || given[i] == '-' || given[i] == '_';
        if (ok) {
            memcpy(req->id, given, n + 1);
            return;
        }
    }
    unsigned char rnd[8];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        static uint64_t counter;
        uint64_t c = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
        memcpy(rnd, &c, sizeof rnd);
    }
    ls_hex_encode(rnd, sizeof rnd, req->id);
}

struct conn_track *http_track_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* ---- the log line -------------------------------------------------- */

/* Copies s into out with anything not plainly printable %-escaped, so a
 * hostile path cannot forge log lines or fields. */
static void log_safe(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; s && *s && o + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c > 32 && c < 127 && c != '"' && c != '\\' && c != '%')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
    }
    out[o] = '\0';
}

static void log_request(http_request *req, const char *outcome)
{
    char path[256], user[128], ts[LS_TIME_RFC3339_LEN], err[256];
    log_safe(req->path, path, sizeof path);
    log_safe(req->user_id[0] ? req->user_id : "-", user, sizeof user);
    ls_time_format_rfc3339(ls_time_now_us(), 1, ts);
    double ms = (double)(ls_time_mono_ns() - req->start_ns) / 1e6;
    err[0] = '\0';
    if (req->fail_message[0]) {
        char m[200];
        snprintf(m, sizeof m, "%.*s", (int)sizeof m - 1, req->fail_message);
        for (char *p = m; *p; p++)
            if (*p == '"' || (unsigned char)*p < 32)
                *p = '\'';
        snprintf(err, sizeof err, " error=\"%s\"", m);
    }
    fprintf(stderr,
            "ts=%s level=info msg=request id=%s method=%s route=%s path=%s status=%u "
            "bytes_in=%llu bytes_out=%llu duration_ms=%.2f addr=%s user=%s outcome=%s%s\n",
            ts, req->id, req->method, req->route ? req->route->name : "-", path, req->status,
            (unsigned long long)req->bytes_in, (unsigned long long)req->bytes_out, ms,
            req->client_addr, user, outcome, err);
}

/* ---- request lifecycle --------------------------------------------- */

static int begin_request(http_request *req, const char *url)
{
    struct http_server *s = req->server;
    resolve_client(req);
    int retry = 0;
    if (ratelimit_take(s->rl_addr, req->client_addr, ls_time_mono_ns(), &retry))
        return http_respond_rate_limited(req, retry);

    struct header_count hc = {MHD_HTTP_HEADER_CONTENT_LENGTH, 0, 0};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, count_header, &hc);
    if (hc.n > 1)
        return http_respond_error(req, LOGSHARE_EINVAL, 400, "more than one Content-Length header");
    if (hc.n == 1 && hc.chunked)
        return http_respond_error(req, LOGSHARE_EINVAL, 400,
                                  "both Content-Length and Transfer-Encoding: chunked");
    req->content_length = UINT64_MAX;
    if (hc.n == 1 &&
        parse_u64(http_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH), &req->content_length))
        return http_respond_error(req, LOGSHARE_EINVAL, 400, "bad Content-Length");

    enum router_result rr =
        router_match(s->routes, s->n_routes, req->method, url, req, &req->route);
    if (rr == ROUTER_NO_PATH)
        return http_respond_error(req, LOGSHARE_ENOENT, 404, "no such endpoint: %s %s", req->method,
                                  url);
    if (rr == ROUTER_NO_METHOD) {
        char allow[128];
        router_allowed(s->routes, s->n_routes, url, req, allow, sizeof allow);
        return http_respond_error_code(
            req, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", MHD_HTTP_HEADER_ALLOW, allow,
            "method %s not allowed here (allowed: %s)", req->method, allow);
    }

    uint64_t limit = 0;
    if (req->route->flags & HTTP_ROUTE_UPLOAD)
        limit = (uint64_t)s->cfg->max_body_bytes;
    else if (req->route->flags & HTTP_ROUTE_JSON_BODY)
        limit = (uint64_t)s->cfg->max_json_bytes;
    if (req->content_length != UINT64_MAX && req->content_length > limit)
        return http_respond_error(
            req, LOGSHARE_ETOOLARGE, 413, "request body of %llu bytes is over the limit of %llu",
            (unsigned long long)req->content_length, (unsigned long long)limit);
    return req->route->ops.begin ? req->route->ops.begin(req) : 0;
}

/* Returns 0 to go on, or -1 to cut the connection. */
static int body_piece(http_request *req, const char *data, size_t len)
{
    struct http_server *s = req->server;
    const http_route *rt = req->route;
    int64_t now = ls_time_mono_ns();
    if (!req->body_start_ns)
        req->body_start_ns = now;
    req->bytes_in += len;
    http_metrics_bytes_received(s->metrics, len);
    uint64_t limit = (rt && (rt->flags & HTTP_ROUTE_UPLOAD))      ? (uint64_t)s->cfg->max_body_bytes
                     : (rt && (rt->flags & HTTP_ROUTE_JSON_BODY)) ? (uint64_t)s->cfg->max_json_bytes
                                                                  : 0;
    if (req->bytes_in > limit) {
        snprintf(req->fail_message, sizeof req->fail_message,
                 "body over the limit of %llu bytes: connection cut", (unsigned long long)limit);
        http_metrics_cut(s->metrics, "body_limit");
        return -1;
    }
    double elapsed = (double)(now - req->body_start_ns) / 1e9;
    if (s->cfg->min_body_rate > 0 && elapsed > (double)s->cfg->min_body_rate_grace_s &&
        (double)req->bytes_in < (double)s->cfg->min_body_rate * elapsed) {
        snprintf(req->fail_message, sizeof req->fail_message,
                 "body slower than %lld bytes/s: connection cut", (long long)s->cfg->min_body_rate);
        http_metrics_cut(s->metrics, "slow_body");
        return -1;
    }
    if (req->status || req->failed)
        return 0; /* draining */
    if (rt->flags & HTTP_ROUTE_JSON_BODY) {
        char *nb = realloc(req->body, req->body_len + len + 1);
        if (!nb) {
            req->failed = LOGSHARE_ENOMEM;
            return 0;
        }
        memcpy(nb + req->body_len, data, len);
        req->body = nb;
        req->body_len += len;
        req->body[req->body_len] = '\0';
        return 0;
    }
    if (!rt->ops.body) {
        req->failed = LOGSHARE_ETOOLARGE;
        snprintf(req->fail_message, sizeof req->fail_message, "this endpoint takes no body");
        return 0;
    }
    int rc = rt->ops.body(req, data, len);
    if (rc && !req->failed) {
        req->failed = rc;
        if (!req->fail_message[0])
            snprintf(req->fail_message, sizeof req->fail_message, "%.*s",
                     (int)sizeof req->fail_message - 1, logshare_strerror(rc));
    }
    return 0;
}

enum MHD_Result http_on_access(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **req_cls)
{
    (void)version;
    struct http_server *s = cls;
    http_request *req = *req_cls;
    if (!req) {
        req = calloc(1, sizeof *req);
        if (!req)
            return MHD_NO;
        *req_cls = req;
        req->conn = conn;
        req->server = s;
        req->app = s->app;
        req->method = method;
        req->path = url;
        req->start_ns = ls_time_mono_ns();
        make_request_id(req);
        http_metrics_thread_request(s->metrics);
        struct conn_track *t = http_track_of(conn);
        if (t) {
            pthread_mutex_lock(&s->conn_lock);
            t->in_request = 1;
            t->body_done = 0;
            pthread_mutex_unlock(&s->conn_lock);
        }
        int rc = begin_request(req, url);
        if (rc && !req->status && http_respond_error(req, rc, 0, "%s", logshare_strerror(rc)))
            return MHD_NO;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t len = *upload_data_size;
        *upload_data_size = 0;
        if (body_piece(req, upload_data, len)) {
            req->cut = 1;
            return MHD_NO;
        }
        return MHD_YES;
    }
    if (req->deferred) { /* resumed after http_defer: queue what the work answered */
        struct MHD_Response *r = req->held_response;
        req->held_response = NULL;
        if (r) {
            MHD_queue_response(conn, req->status, r);
            MHD_destroy_response(r);
        }
        return r ? MHD_YES : MHD_NO;
    }
    struct conn_track *t = http_track_of(conn);
    if (t) {
        pthread_mutex_lock(&s->conn_lock);
        t->body_done = 1;
        pthread_mutex_unlock(&s->conn_lock);
    }
    if (req->status)
        return MHD_YES;
    if (req->failed) {
        http_respond_error(req, req->failed, 0, "%s",
                           req->fail_message[0] ? req->fail_message
                                                : logshare_strerror(req->failed));
        return req->status ? MHD_YES : MHD_NO;
    }
    int rc = req->route->ops.end ? req->route->ops.end(req) : LOGSHARE_EINTERNAL;
    if (req->deferred)
        return MHD_YES;
    if (!req->status)
        http_respond_error(req, rc ? rc : LOGSHARE_EINTERNAL, 0, "%s",
                           logshare_strerror(rc ? rc : LOGSHARE_EINTERNAL));
    /* never leave a finished request without an answer: the client would
     * wait forever. Closing is the last resort. */
    return req->status ? MHD_YES : MHD_NO;
}

void http_on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                       enum MHD_RequestTerminationCode toe)
{
    struct http_server *s = cls;
    http_request *req = *req_cls;
    struct conn_track *t = http_track_of(conn);
    if (t) {
        pthread_mutex_lock(&s->conn_lock);
        t->in_request = 0;
        t->idle_since_ns = ls_time_mono_ns();
        pthread_mutex_unlock(&s->conn_lock);
    }
    if (!req)
        return;
    int ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && req->status && !req->failed;
    if (req->route && req->route->ops.cleanup)
        req->route->ops.cleanup(req, ok);
    const char *outcome = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK      ? "done"
                          : req->cut                                      ? "cut"
                          : toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timeout"
                          : toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ? "shutdown"
                          : toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT    ? "client_abort"
                                                                          : "error";
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && !req->cut)
        req->status = req->status ? req->status : 0;
    if (strcmp(req->method, "HEAD") == 0)
        req->bytes_out = 0; /* libmicrohttpd sent the headers alone */
    log_request(req, outcome);
    http_metrics_request(s->metrics, req->route ? req->route->name : "unmatched",
                         toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? req->status : 0);
    free(req->body);
    free(req);
    *req_cls = NULL;
}
