/*
 * dashboard_internal.h - what the dashboard_*.c files share: the
 * dashboard's state and the response helpers that put the security
 * headers (and cookies) on every answer. Not for use outside them.
 */
#ifndef LOGSHARED_DASHBOARD_INTERNAL_H
#define LOGSHARED_DASHBOARD_INTERNAL_H

#include <jansson.h>

#include "dashboard.h"
#include "dashboard_login_limit.h"
#include "session.h"

struct dashboard {
    struct ticket_store *ts; /* borrowed */
    struct blob_store *bs;   /* borrowed */
    const struct auth *auth; /* borrowed */
    struct session_store *sessions;
    struct login_limit *login_limit;
    char *secret_key; /* support secret key text, or NULL */
    char *tmp_dir;
    int secure_cookie;
    int64_t session_max_ttl_s;
    /* Signs device cookies (dashboard_login.c); made once and kept in
     * the sessions file, so every server on the data dir honours them. */
    unsigned char device_key[LOGIN_LIMIT_KEY_LEN];
};

/* Answers with doc (stolen) and the security headers; set_cookie and
 * set_cookie2 (either may be NULL) become Set-Cookie headers. */
int dashboard_respond_json(http_request *req, unsigned status, json_t *doc, const char *set_cookie,
                           const char *set_cookie2);
/* Answers {"error":{"code","message"}} with the security headers. */
int dashboard_respond_error(http_request *req, unsigned status, const char *code,
                            const char *message);
/* The same for a LOGSHARE_E* (status and code from the server's table). */
int dashboard_respond_errno(http_request *req, int err, const char *message);

/* Copies the session cookie's value into buf (cap bytes). 0, or
 * LOGSHARE_ENOENT when there is no such cookie (or it does not fit). */
int dashboard_cookie_token(http_request *req, char *buf, size_t cap);

/* Checks a valid session (of cookie value token) against its account
 * in the database, on every request: an agent removed, made a "user",
 * or removed and added again (a new password) since the login loses the
 * session at once (it is revoked: LOGSHARE_EAUTH). 0 with info->role set
 * to the account's role now, or the store's error (the caller refuses). */
int dashboard_session_account(struct dashboard *d, const char *token, struct session_info *info);

/* Who is calling: the session cookie (see dashboard_session_identity),
 * else the bearer token, through the API's own authentication step (so
 * rate limits apply alike). 0 and *id, or the request has been answered
 * (401 or 429) and a negative error is returned; the caller just returns. */
int dashboard_require_caller(struct dashboard *d, http_request *req, struct auth_identity *id);

/* 1 when a state-changing request's Origin header (if present) names
 * this server (its Host), else 0. */
int dashboard_origin_ok(http_request *req);

#endif
