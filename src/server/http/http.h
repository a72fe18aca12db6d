/*
 * http.h - logshared's HTTP layer over libmicrohttpd: the daemon, the
 * router, the request object handlers see, and the responses they send.
 *
 * A request goes through a route's ops in this order:
 *
 *   begin(req)            headers are in; nothing of the body read yet.
 *                         Authenticate, check limits, and either answer
 *                         now (http_respond_*: a 401/413/429 before the
 *                         body) or return 0 to receive the body. (An
 *                         answer to a request without a body goes out
 *                         after MHD's last call: keep-alive.)
 *   body(req, data, len)  each piece of the body as it arrives (never the
 *                         whole body). An error return puts the request in
 *                         "failed" state: the rest of the body is drained
 *                         and discarded, then the error is the answer.
 *   end(req)              the body is complete: answer (must respond).
 *   cleanup(req, ok)      always, last: ok is 1 when the response was sent
 *                         in full; 0 after a disconnect, a cut or a failed
 *                         request. Frees the handler's state and undoes
 *                         anything half-done (partial blobs).
 *
 * Routes with HTTP_ROUTE_JSON_BODY get the body buffered (up to
 * max_json_bytes) into req->body before end; routes without a body flag
 * refuse a body with 413 unless they have a body op.
 *
 * Limits the layer applies before any handler runs: %00 in the request
 * target (400), Transfer-Encoding other than exactly chunked (501/400,
 * then close), duplicate Content-Length (400), Content-Length over the
 * route's limit (413 before the body is read), per-address token bucket
 * (429 + Retry-After), and while the body arrives: a chunked body
 * crossing the limit is CUT (the connection is closed without a
 * response, PITFALLS), a body slower than min_body_rate after the grace
 * period (from the end of the headers) is cut too, data or not.
 *
 * Threads: handlers run on the daemon's worker threads (a pool sized to
 * the cores, epoll). One request is only ever handled by one thread at a
 * time. The daemon is started with MHD_ALLOW_SUSPEND_RESUME so later
 * streaming routes (server-sent events) can suspend their connection.
 */
#ifndef LOGSHARED_HTTP_H
#define LOGSHARED_HTTP_H

#include <jansson.h>
#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

#include "config/server_config.h"

struct http_server;
struct http_metrics;
struct conn_track;
typedef struct http_request http_request;

#define HTTP_MAX_PARAMS 4

/* Route flags. */
#define HTTP_ROUTE_JSON_BODY 0x1 /* buffer a JSON body (max_json_bytes) before end */
#define HTTP_ROUTE_UPLOAD 0x2    /* a streamed upload: limit max_body_bytes */
#define HTTP_ROUTE_NO_HEAD 0x4   /* a GET route that does not answer HEAD (a stream) */

typedef struct http_route_ops {
    int (*begin)(http_request *req);
    int (*body)(http_request *req, const char *data, size_t len);
    int (*end)(http_request *req);
    void (*cleanup)(http_request *req, int ok);
} http_route_ops;

typedef struct http_route {
    const char *method;  /* "GET", "POST", ... */
    const char *pattern; /* "/api/v1/tickets/{id}"; a {x} matches one non-empty segment,
                            a final {*x} the rest of the path */
    const char *name;    /* for logs and metrics: "tickets_get" */
    unsigned flags;
    http_route_ops ops;
} http_route;

struct http_request {
    struct MHD_Connection *conn;
    struct http_server *server;
    const http_route *route;
    const char *method; /* borrowed from MHD, valid for the request */
    const char *path;
    char id[33];          /* request id: X-Request-Id when sane, else random hex */
    char client_addr[64]; /* the peer, or X-Forwarded-For's client via a trusted proxy */
    char user_id[256];    /* set by handlers once authenticated, for the log line */
    const char *params[HTTP_MAX_PARAMS]; /* {x} values in pattern order, NUL-terminated */
    size_t n_params;
    int64_t start_ns;
    int64_t body_start_ns;
    uint64_t content_length; /* UINT64_MAX when not declared (chunked) */
    uint64_t bytes_in;
    uint64_t bytes_out;
    unsigned status; /* the status queued, 0 until one is */
    int failed;      /* a LOGSHARE_E* the body handling hit (drain, then answer) */
    char fail_message[200];
    int cut;    /* the connection was cut on purpose (limit, slow body) */
    char *body; /* JSON routes: the buffered body, NUL-terminated */
    size_t body_len;
    void *state; /* the handler's; freed in cleanup */
    void *app;   /* the application context given to http_server_new */
    /* deferred work (http_defer); owned by the HTTP layer */
    int (*work)(http_request *req);
    int deferred;    /* the connection is suspended for work */
    int in_worker;   /* work is running: responses are held, not queued */
    int in_begin;    /* the first call (headers): responses are held, not queued */
    int close_after; /* the answer asks the client to close (framing not trusted) */
    struct MHD_Response *held_response;
    struct conn_track *track; /* the connection's (server_internal.h), or NULL */
    const char *route_name;   /* for logs and metrics when route is NULL (405, 429) */
    http_request *next_job;
    char param_buf[512];
};

/* ---- the server ---------------------------------------------------- */

/* Starts serving on listen_fd (already bound and listening; the server
 * owns it from now on) with the routes (borrowed, must outlive the
 * server) and the config (borrowed likewise). app is put in every
 * request's req->app. TLS when cfg->tls_cert/tls_key are set. *out is
 * the caller's: http_server_stop it. */
int http_server_start(const server_config *cfg, int listen_fd, const http_route *routes,
                      size_t n_routes, void *app, struct http_server **out);

/* Closes the listen socket: new clients are refused from now on, idle
 * keep-alive connections are closed and every answer asks the client to
 * close. Requests in flight carry on. Call it first when stopping, before
 * anything that waits (ending the event streams), so that nothing new
 * starts meanwhile. NULL or a second call is a no-op. */
void http_server_stop_accepting(struct http_server *s);

/* Stops accepting (if not done yet), lets requests in flight finish for
 * up to timeout_ms, then closes everything and frees the server. NULL
 * is a no-op. */
void http_server_stop(struct http_server *s, int timeout_ms);

/* The server's metrics (owned by the server). */
struct http_metrics *http_server_metrics(struct http_server *s);

/* ---- inside handlers ----------------------------------------------- */

/* Runs work(req) on one of the server's worker threads (worker_threads:
 * a pool for blocking work such as fsync and database commits), so the
 * HTTP threads, one per core, keep serving other connections meanwhile.
 * Call only from a route's end op, as its last action, and return what
 * it returns. The connection stays suspended (MHD_suspend_connection)
 * until work returns; work answers with http_respond_* as usual and the
 * answer is queued when the connection resumes. If work answers nothing,
 * its error code is answered. */
int http_defer(http_request *req, int (*work)(http_request *req));

/* A request header (case-insensitive name) or NULL: the first line of
 * it when it was sent more than once. Borrowed. */
const char *http_header(http_request *req, const char *name);
/* How many lines of a request header (case-insensitive name) were sent. */
int http_header_count(http_request *req, const char *name);
/* A query-string argument (decoded) or NULL. Borrowed. */
const char *http_query(http_request *req, const char *name);

/* Charges one request to a user's token bucket: 0, or ERATELIMIT with
 * *retry_after_s. Handlers call it once they know who is calling. */
int http_rate_limit_user(http_request *req, const char *user_id, int *retry_after_s);

/* Answers with a JSON document (stolen: the call decrefs it). */
int http_respond_json(http_request *req, unsigned status, json_t *doc);
/* Answers {"error":{"code","message"}}; code from logshare_error_name(err)
 * and status from http_status_for_error(err) unless status != 0. */
int http_respond_error(http_request *req, int err, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same shape for the answers whose code is not a LOGSHARE_E* name
 * (405 "method_not_allowed", 416 "range_not_satisfiable"), with one
 * extra header (header NULL for none): Allow, Content-Range. */
int http_respond_error_code(http_request *req, unsigned status, const char *code,
                            const char *header, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* 429 with Retry-After. */
int http_respond_rate_limited(http_request *req, int retry_after_s);
/* Answers with a prepared MHD response (the call destroys it). */
int http_respond(http_request *req, unsigned status, struct MHD_Response *r);

/* The one table from error codes to statuses (STYLE: one vocabulary). */
unsigned http_status_for_error(int err);

#endif
