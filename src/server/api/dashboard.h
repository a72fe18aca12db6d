/*
 * dashboard.h - the support dashboard inside logshared: its pages,
 * logins and sessions, and the log viewer endpoint.
 *
 * Routes (in the server's table, src/server/api/api_routes.c):
 *   GET  /                      302 to /dashboard/
 *   GET  /dashboard/...         the embedded files of web/ (ETag, 304)
 *   POST /dashboard/login       {"username","password"} -> session cookie
 *   POST /dashboard/logout      ends the session (CSRF)
 *   GET  /dashboard/session     who is logged in, with the CSRF token
 *   GET  /api/v1/tickets/{id}/attachments/{aid}/log
 *                               decrypted log records, one page at a time
 *
 * The browser uses the ordinary /api/v1 endpoints too, with the session
 * cookie instead of a bearer token: the API's authentication step calls
 * dashboard_session_identity() when a request has no Authorization
 * header. State-changing requests with a cookie must carry the session's
 * CSRF token in X-CSRF-Token (and, when the browser sends Origin, come
 * from this origin); the cookie is SameSite=Strict as a second wall.
 *
 * Every dashboard response carries the security headers of
 * dashboard_add_security_headers (strict CSP, nosniff, no framing, no
 * referrer).
 *
 * Ownership: a struct dashboard borrows the stores and auth it is given
 * (they must outlive it) and owns its sessions, login limiter and the
 * support secret key. Thread safety: all calls may come from many
 * request threads at once.
 */
#ifndef LOGSHARED_DASHBOARD_H
#define LOGSHARED_DASHBOARD_H

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "http/http.h"

struct ticket_store;
struct blob_store;
struct dashboard;

#define DASHBOARD_COOKIE "logshare_session"
#define DASHBOARD_CSRF_HEADER "X-CSRF-Token"
/* "1" on the requests a page makes by itself (auto-refresh): they do not
 * count as activity for the session's idle expiry. */
#define DASHBOARD_REFRESH_HEADER "X-Dashboard-Refresh"

struct dashboard_config {
    /* The support secret key (a PREFIX.key of `logshare keygen`); NULL:
     * the log viewer answers key_not_configured. Read once at start. */
    const char *support_secret_key_file;
    int64_t session_idle_ttl_s; /* 0: 8 hours */
    int64_t session_max_ttl_s;  /* 0: 24 hours */
    int secure_cookie;          /* 1: cookies get Secure (TLS, or https behind a proxy) */
    const char *tmp_dir;        /* where blobs are copied to be decrypted (the data dir) */
    /* The sessions database every server on the data dir shares
     * (<data_dir>/sessions.db); NULL: sessions in memory, this process
     * only. Opened by dashboard_new: call it under the startup lock. */
    const char *sessions_db;
};

/* Everything borrowed. LOGSHARE_EKEY when the key file is unreadable or
 * not a secret key (the server refuses to start: a typo in the config
 * should not silently disable the log viewer). *out: dashboard_free. */
int dashboard_new(const struct dashboard_config *cfg, struct ticket_store *ts,
                  struct blob_store *bs, const struct auth *auth, struct dashboard **out);
void dashboard_free(struct dashboard *d); /* NULL is a no-op */

/* The dashboard of the server handling req (from req->app). */
struct dashboard *dashboard_of(http_request *req);

/* Route handlers for the table in api_routes.c. Each answers the request
 * and returns what http_respond* returned. */
int dashboard_root_get(http_request *req);
int dashboard_index_get(http_request *req);
int dashboard_file_get(http_request *req);
int dashboard_login_begin(http_request *req);
int dashboard_login_end(http_request *req);
int dashboard_logout_end(http_request *req);
int dashboard_session_get(http_request *req);
int dashboard_log_get(http_request *req);

/* For the API's authentication step. When req carries a session cookie:
 * 0 and *id (role from the login, expires_at the session's) if the
 * session is valid and, for a method other than GET/HEAD/OPTIONS, the
 * CSRF header matches and Origin (if any) is this server; LOGSHARE_EAUTH
 * with *reason otherwise; LOGSHARE_EUNAVAILABLE with *reason when the
 * session or the account could not be read (answer 503: the session may
 * be fine). No cookie at all: LOGSHARE_ENOENT (try the bearer token). */
int dashboard_session_identity(struct dashboard *d, http_request *req, struct auth_identity *id,
                               const char **reason);

/* Adds Content-Security-Policy, X-Content-Type-Options, X-Frame-Options,
 * Referrer-Policy and Cross-Origin-Opener-Policy to r. */
void dashboard_add_security_headers(struct MHD_Response *r);

#endif
