/*
 * dashboard.c - the dashboard's state, its security headers and the
 * two ways a browser request is tied to an agent: the session cookie
 * (with the CSRF rules) or, for scripts, the bearer token.
 */
#include "dashboard_internal.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "api/api.h"
#include "logshare.h"
#include "ls_fs.h"
#include "ticket_store.h"

/* The dashboard needs nothing but its own origin: no inline code, no
 * plugins, no framing (clickjacking), no <base> games, forms only to
 * ourselves. */
#define DASHBOARD_CSP                                                                              \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "                    \
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; form-action 'self'; "               \
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

void dashboard_add_security_headers(struct MHD_Response *r)
{
    MHD_add_response_header(r, "Content-Security-Policy", DASHBOARD_CSP);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    /* Signed links and ticket ids must not leak to other sites. */
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
}

int dashboard_new(const struct dashboard_config *cfg, struct ticket_store *ts,
                  struct blob_store *bs, const struct auth *auth, struct dashboard **out)
{
    if (!cfg || !out)
        return LOGSHARE_EINVAL;
    *out = NULL;
    struct dashboard *d = calloc(1, sizeof *d);
    if (!d)
        return LOGSHARE_ENOMEM;
    d->ts = ts;
    d->bs = bs;
    d->auth = auth;
    d->secure_cookie = cfg->secure_cookie;
    d->session_max_ttl_s =
        cfg->session_max_ttl_s > 0 ? cfg->session_max_ttl_s : SESSION_DEFAULT_ABSOLUTE_TTL_S;
    int rc = 0;
    struct session_store_config sc = {cfg->session_idle_ttl_s, d->session_max_ttl_s, 0,
                                      cfg->sessions_db};
    /* The login limits share the sessions' file: one limit for all the
     * servers on the data dir, and one device-cookie key. */
    struct login_limit_config lc = {.path = cfg->sessions_db};
    if ((rc = session_store_new(&sc, &d->sessions)) != 0 ||
        (rc = login_limit_new(&lc, &d->login_limit)) != 0 ||
        (rc = login_limit_device_key(d->login_limit, d->device_key)) != 0)
        goto fail;
    d->tmp_dir = strdup(cfg->tmp_dir && *cfg->tmp_dir ? cfg->tmp_dir : "/tmp");
    if (!d->tmp_dir) {
        rc = LOGSHARE_ENOMEM;
        goto fail;
    }
    if (cfg->support_secret_key_file && *cfg->support_secret_key_file) {
        size_t len = 0;
        char *data = NULL;
        rc = ls_fs_read_file(cfg->support_secret_key_file, 64 * 1024, &data, &len);
        if (rc != 0 || len == 0 || memchr(data, '\0', len)) {
            free(data);
            rc = LOGSHARE_EKEY;
            goto fail;
        }
        d->secret_key = data; /* ls_fs_read_file NUL-terminates */
    }
    *out = d;
    return 0;
fail:
    dashboard_free(d);
    return rc;
}

void dashboard_free(struct dashboard *d)
{
    if (!d)
        return;
    sodium_memzero(d->device_key, sizeof d->device_key);
    session_store_free(d->sessions);
    login_limit_free(d->login_limit);
    if (d->secret_key) {
        memset(d->secret_key, 0, strlen(d->secret_key));
        free(d->secret_key);
    }
    free(d->tmp_dir);
    free(d);
}

int dashboard_respond_json(http_request *req, unsigned status, json_t *doc, const char *set_cookie,
                           const char *set_cookie2)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        return http_respond_error(req, LOGSHARE_ENOMEM, 500, "out of memory");
    size_t len = strlen(text);
    char *grown = realloc(text, len + 2);
    if (!grown) {
        free(text);
        return http_respond_error(req, LOGSHARE_ENOMEM, 500, "out of memory");
    }
    text = grown;
    text[len++] = '\n';
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return http_respond_error(req, LOGSHARE_ENOMEM, 500, "out of memory");
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    dashboard_add_security_headers(r);
    if (set_cookie)
        MHD_add_response_header(r, "Set-Cookie", set_cookie);
    if (set_cookie2)
        MHD_add_response_header(r, "Set-Cookie", set_cookie2);
    return http_respond(req, status, r);
}

int dashboard_respond_error(http_request *req, unsigned status, const char *code,
                            const char *message)
{
    json_t *doc = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
    return dashboard_respond_json(req, status, doc, NULL, NULL);
}

int dashboard_respond_errno(http_request *req, int err, const char *message)
{
    return dashboard_respond_error(req, http_status_for_error(err), logshare_error_name(err),
                                   message ? message : logshare_strerror(err));
}

int dashboard_cookie_token(http_request *req, char *buf, size_t cap)
{
    /* MHD parses the Cookie header into name/value pairs for us. */
    const char *v = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, DASHBOARD_COOKIE);
    if (!v || !*v || strlen(v) >= cap)
        return LOGSHARE_ENOENT;
    strcpy(buf, v);
    return 0;
}

/* Whether origin ("scheme://host[:port]") is the scheme and authority
 * of public_url (which may go on with a path). */
static int origin_is_public_url(const char *origin, const char *public_url)
{
    const char *sep = public_url ? strstr(public_url, "://") : NULL;
    if (!sep)
        return 0;
    size_t n = (size_t)(strcspn(sep + 3, "/?#") + (size_t)(sep + 3 - public_url));
    return strlen(origin) == n && strncasecmp(origin, public_url, n) == 0;
}

int dashboard_origin_ok(http_request *req)
{
    const char *origin = http_header(req, "Origin");
    if (!origin)
        return 1; /* same-origin fetches from older browsers; the CSRF token still holds */
    const char *host = http_header(req, "Host");
    if (!host)
        return 0;
    const char *p = NULL;
    if (strncasecmp(origin, "http://", 7) == 0)
        p = origin + 7;
    else if (strncasecmp(origin, "https://", 8) == 0)
        p = origin + 8;
    if (p && strcasecmp(p, host) == 0)
        return 1;
    /* Behind a reverse proxy that sends its own Host (127.0.0.1:8080),
     * the browser's origin is the public one, which public_url names. */
    const struct api_app *app = req->app;
    return app && app->cfg && origin_is_public_url(origin, app->cfg->public_url);
}

static int method_is_safe(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0;
}

int dashboard_session_account(struct dashboard *d, const char *token, struct session_info *info)
{
    if (!d->ts)
        return 0;
    struct ticket_user *u = NULL;
    int rc = ticket_store_user_get(d->ts, info->user, &u);
    if (rc != 0 && rc != LOGSHARE_ENOENT)
        return rc;
    enum auth_role role = AUTH_ROLE_USER;
    /* Re-added after the login: a new password, so older sessions (maybe
     * the very reason for the reset) must not survive it. In
     * microseconds: a login in the same second as the reset, checked
     * against the old password, kept its session. */
    int ok = u && auth_role_parse(u->role, &role) == 0 && role != AUTH_ROLE_USER &&
             u->created_at <= info->created_us;
    ticket_user_free(u);
    if (!ok) {
        session_revoke(d->sessions, token);
        return LOGSHARE_EAUTH;
    }
    snprintf(info->role, sizeof info->role, "%s", auth_role_name(role));
    return 0;
}

int dashboard_session_identity(struct dashboard *d, http_request *req, struct auth_identity *id,
                               const char **reason)
{
    char token[SESSION_TOKEN_LEN + 8];
    const char *why = NULL;
    int rc = 0;
    if (dashboard_cookie_token(req, token, sizeof token) != 0)
        return LOGSHARE_ENOENT;
    struct session_info info;
    const char *refresh = http_header(req, DASHBOARD_REFRESH_HEADER);
    int (*find)(struct session_store *, const char *, int64_t, struct session_info *) =
        refresh && strcmp(refresh, "1") == 0 ? session_lookup_passive : session_lookup;
    if (!d || (rc = find(d->sessions, token, (int64_t)time(NULL), &info)) != 0) {
        /* Fail closed, but do not tell an agent whose session is fine
         * that it ended. */
        int unknown = d && rc != LOGSHARE_EAUTH; /* the file failed, not the session */
        why = unknown ? "the session database is unavailable" : "session expired or logged out";
        rc = unknown ? LOGSHARE_EUNAVAILABLE : LOGSHARE_EAUTH;
    } else if ((rc = dashboard_session_account(d, token, &info)) != 0) {
        int unknown = rc != LOGSHARE_EAUTH;
        why = unknown ? "the user database is unavailable"
                      : "the account was removed or changed since the login";
        rc = unknown ? LOGSHARE_EUNAVAILABLE : LOGSHARE_EAUTH;
    } else if (!method_is_safe(req->method) &&
               !session_csrf_matches(&info, http_header(req, DASHBOARD_CSRF_HEADER))) {
        why = "missing or wrong CSRF token";
        rc = LOGSHARE_EAUTH;
    } else if (!method_is_safe(req->method) && !dashboard_origin_ok(req)) {
        why = "cross-origin request refused";
        rc = LOGSHARE_EAUTH;
    } else if (id) {
        memset(id, 0, sizeof *id);
        snprintf(id->user_id, sizeof id->user_id, "%s", info.user);
        if (auth_role_parse(info.role, &id->role) != 0)
            id->role = AUTH_ROLE_USER;
        id->expires_at = info.expires_at;
    }
    memset(token, 0, sizeof token);
    if (reason)
        *reason = why;
    return rc;
}

int dashboard_require_caller(struct dashboard *d, http_request *req, struct auth_identity *id)
{
    (void)d;
    int rc = api_authenticate(req, id);
    if (rc == 0)
        snprintf(req->user_id, sizeof req->user_id, "%s", id->user_id);
    return rc;
}

struct dashboard *dashboard_of(http_request *req)
{
    return ((struct api_app *)req->app)->dashboard;
}
