/*
 * dashboard_login.c - POST /dashboard/login, POST /dashboard/logout and
 * GET /dashboard/session.
 *
 * Login order matters: the rate limit is charged before the password
 * hash is computed (so a flood cannot burn the CPU on Argon2), and an
 * unknown user name costs the same hash as a known one (so response
 * times do not tell which names exist). Only support and admin logins
 * open the dashboard. A new session is made on every login, never
 * reused, so a session id planted before login is worthless.
 *
 * The hash (Argon2id: 64 MiB and some 60 ms of a core) is computed on a
 * worker thread, never on an HTTP thread, which serves many connections
 * at once: a stream of logins from many addresses (each within its own
 * limit) kept both HTTP threads of a 2-core server busy hashing and
 * stalled every upload and download they carried. At most
 * LOGIN_CHECKS_MAX hashes run at once in the process, which bounds their
 * memory (the worker pool is larger); past that a login is answered 503
 * with Retry-After before anything else (no bucket charged, no hash).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/api.h"
#include "dashboard_internal.h"
#include "http/ratelimit.h"
#include "logshare.h"
#include "ls_time.h"
#include "ticket_store.h"

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char *dummy_hash;

#define LOGIN_CHECKS_MAX 2
static _Atomic int login_checks;

static void make_dummy_hash(void)
{
    auth_password_hash("logshare-timing-equaliser", &dummy_hash);
}

/* The Set-Cookie value; max_age 0 deletes the cookie. */
static void format_cookie(const struct dashboard *d, const char *token, int64_t max_age, char *buf,
                          size_t cap)
{
    snprintf(buf, cap, "%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s", DASHBOARD_COOKIE,
             token, (long long)max_age, d->secure_cookie ? "; Secure" : "");
}

/* Device cookies (OWASP's defence against lockout): a browser that has
 * logged in as a user gets "EXPIRY.MAC", a keyed BLAKE2b of the user
 * name and the expiry. Its later logins as that user are counted in a
 * bucket of their own, so a stranger's wrong guesses, which empty the
 * name's ordinary bucket, cannot keep the agent out. It proves only that
 * this browser once knew the password; it opens nothing by itself. */
#define DEVICE_COOKIE "logshare_device"
#define DEVICE_TTL_S (30 * 86400)
#define DEVICE_MAC_LEN 32

static void device_mac(const struct dashboard *d, const char *user, long long expiry,
                       char hex[2 * DEVICE_MAC_LEN + 1])
{
    crypto_generichash_state st;
    unsigned char mac[DEVICE_MAC_LEN];
    char when[24];
    int n = snprintf(when, sizeof when, "%lld", expiry);
    crypto_generichash_init(&st, d->device_key, sizeof d->device_key, sizeof mac);
    crypto_generichash_update(&st, (const unsigned char *)user, strlen(user) + 1); /* with NUL */
    crypto_generichash_update(&st, (const unsigned char *)when, (size_t)n);
    crypto_generichash_final(&st, mac, sizeof mac);
    sodium_bin2hex(hex, 2 * DEVICE_MAC_LEN + 1, mac, sizeof mac);
}

/* 1 when the request carries a device cookie of user that has not
 * expired, else 0. */
static int device_trusted(const struct dashboard *d, http_request *req, const char *user,
                          int64_t now_s)
{
    const char *v = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, DEVICE_COOKIE);
    char *dot = NULL;
    long long expiry = v ? strtoll(v, &dot, 10) : 0;
    if (!v || dot == v || *dot != '.' || strlen(dot + 1) != 2 * DEVICE_MAC_LEN || expiry <= now_s)
        return 0;
    char want[2 * DEVICE_MAC_LEN + 1];
    device_mac(d, user, expiry, want);
    return sodium_memcmp(want, dot + 1, 2 * DEVICE_MAC_LEN) == 0;
}

static void format_device_cookie(const struct dashboard *d, const char *user, int64_t now_s,
                                 char *buf, size_t cap)
{
    char mac[2 * DEVICE_MAC_LEN + 1];
    long long expiry = (long long)now_s + DEVICE_TTL_S;
    device_mac(d, user, expiry, mac);
    snprintf(buf, cap, "%s=%lld.%s; Path=/dashboard/login; Max-Age=%d; HttpOnly; SameSite=Strict%s",
             DEVICE_COOKIE, expiry, mac, DEVICE_TTL_S, d->secure_cookie ? "; Secure" : "");
}

/* What a failure of the sessions file (sessions.db) is to the browser:
 * the service is unavailable for a moment (another server holding its
 * write lock, a full disk), not a bad request or a forbidden one. */
static int sessions_error(int rc)
{
    return rc == LOGSHARE_ENOMEM ? rc : LOGSHARE_EUNAVAILABLE;
}

static json_t *session_json(const struct session_info *info)
{
    char expires[40];
    ls_time_format_rfc3339(info->expires_at * 1000000, 0, expires);
    return json_pack("{s:s,s:s,s:s,s:s}", "user", info->user, "role", info->role, "csrf_token",
                     info->csrf, "expires_at", expires);
}

static int json_content_type(http_request *req)
{
    const char *type = http_header(req, "Content-Type");
    return api_media_type_is(type, "application/json");
}

int dashboard_login_begin(http_request *req)
{
    /* A cross-site HTML form can only send form encodings; requiring JSON
     * (which needs a CORS preflight we never grant) stops login CSRF. */
    if (!json_content_type(req))
        return dashboard_respond_error(req, 415, "unsupported",
                                       "send the login as application/json");
    if (!dashboard_origin_ok(req))
        return dashboard_respond_error(req, 403, "permission_denied", "cross-origin login refused");
    return 0;
}

/* The password check and what follows it; on a worker thread. */
static int login_finish(http_request *req)
{
    struct dashboard *d = dashboard_of(req);
    if (!d)
        return dashboard_respond_error(req, 503, "unavailable", "the dashboard is not set up");
    json_error_t jerr;
    json_t *body = json_loadb(req->body ? req->body : "", req->body_len, 0, &jerr);
    const char *user = NULL, *password = NULL;
    if (!body || json_unpack(body, "{s:s,s:s}", "username", &user, "password", &password) != 0 ||
        !*user || !*password || strlen(user) > SESSION_USER_MAX) {
        json_decref(body);
        return dashboard_respond_error(req, 400, "invalid_argument",
                                       "username and password are required");
    }
    /* The slot first: a login turned away here has touched no bucket, so
     * a flood of cheap refusals cannot push the drained bucket of a name
     * under attack out of the (bounded) table and refill it. */
    if (atomic_fetch_add(&login_checks, 1) >= LOGIN_CHECKS_MAX) {
        atomic_fetch_sub(&login_checks, 1);
        json_decref(body);
        return http_respond_error_code(req, 503, "unavailable", "Retry-After", "1",
                                       "too many logins at once: retry in a second");
    }
    int retry = 0, rc = 0;
    int64_t now_us = ls_time_now_us();
    /* an IPv6 client by its /64, as the request rate limit counts it */
    char addr_key[RATELIMIT_ADDRESS_KEY_MAX];
    ratelimit_address_key(req->client_addr, addr_key, sizeof addr_key);
    int64_t now_s = (int64_t)time(NULL);
    int trusted = device_trusted(d, req, user, now_s);
    rc = (trusted ? login_limit_take_device : login_limit_take)(d->login_limit, addr_key, user,
                                                                now_us, &retry);
    if (rc != 0) {
        atomic_fetch_sub(&login_checks, 1);
        json_decref(body);
        /* No limit, no password check: a broken file must not open the
         * door to unlimited guessing. */
        return rc == LOGSHARE_ERATELIMIT
                   ? http_respond_rate_limited(req, retry)
                   : dashboard_respond_errno(req, sessions_error(rc),
                                             "the login limits are unavailable");
    }
    struct ticket_user *u = NULL;
    rc = ticket_store_user_get(d->ts, user, &u);
    int ok = 0;
    if (u) {
        ok = auth_password_verify(u->password_hash, password) == 0;
    } else if (rc == LOGSHARE_ENOENT) {
        pthread_once(&dummy_once, make_dummy_hash);
        if (dummy_hash)
            auth_password_verify(dummy_hash, password);
    }
    atomic_fetch_sub(&login_checks, 1);
    if (rc != 0 && rc != LOGSHARE_ENOENT) {
        json_decref(body);
        return dashboard_respond_errno(req, rc, "the user database is unavailable");
    }
    enum auth_role role = AUTH_ROLE_USER;
    if (ok && (auth_role_parse(u->role, &role) != 0 || role == AUTH_ROLE_USER))
        ok = 0; /* a "user" account exists for the API, not for the dashboard */
    if (!ok) {
        ticket_user_free(u);
        json_decref(body);
        return dashboard_respond_error(req, 401, "unauthorized", "wrong user name or password");
    }
    (trusted ? login_limit_success_device : login_limit_success)(d->login_limit, user, now_us);
    char token[SESSION_TOKEN_LEN + 1];
    struct session_info info;
    /* now_us was taken before the password was read: a reset after it
     * ends this session. */
    rc = session_create_us(d->sessions, u->name, auth_role_name(role), now_us, token, &info);
    ticket_user_free(u);
    json_decref(body);
    if (rc != 0)
        return dashboard_respond_errno(req, sessions_error(rc), "could not start a session");
    snprintf(req->user_id, sizeof req->user_id, "%s", info.user);
    char cookie[256], device[256];
    format_cookie(d, token, d->session_max_ttl_s, cookie, sizeof cookie);
    memset(token, 0, sizeof token);
    format_device_cookie(d, info.user, now_s, device, sizeof device);
    return dashboard_respond_json(req, 200, session_json(&info), cookie, device);
}

int dashboard_login_end(http_request *req)
{
    return http_defer(req, login_finish);
}

int dashboard_logout_end(http_request *req)
{
    struct dashboard *d = dashboard_of(req);
    if (!d)
        return dashboard_respond_error(req, 503, "unavailable", "the dashboard is not set up");
    const char *reason = NULL;
    int rc = dashboard_session_identity(d, req, NULL, &reason);
    if (rc == LOGSHARE_ENOENT)
        return dashboard_respond_error(req, 401, "unauthorized", "not logged in");
    if (rc == LOGSHARE_EUNAVAILABLE)
        return dashboard_respond_error(req, 503, "unavailable", reason);
    if (rc != 0)
        return dashboard_respond_error(req, 401, "unauthorized", reason);
    char token[SESSION_TOKEN_LEN + 8];
    if (dashboard_cookie_token(req, token, sizeof token) == 0)
        rc = session_revoke(d->sessions, token);
    memset(token, 0, sizeof token);
    /* The session lives on in the shared file unless the delete landed:
     * saying "logged out" then would be a lie the agent relies on. */
    if (rc != 0 && rc != LOGSHARE_EAUTH)
        return dashboard_respond_errno(req, sessions_error(rc),
                                       "the session could not be ended: try again");
    char cookie[256];
    format_cookie(d, "", 0, cookie, sizeof cookie);
    return dashboard_respond_json(req, 200, json_pack("{s:b}", "logged_out", 1), cookie, NULL);
}

int dashboard_session_get(http_request *req)
{
    struct dashboard *d = dashboard_of(req);
    if (!d)
        return dashboard_respond_error(req, 503, "unavailable", "the dashboard is not set up");
    char token[SESSION_TOKEN_LEN + 8];
    struct session_info info;
    if (dashboard_cookie_token(req, token, sizeof token) != 0)
        return dashboard_respond_error(req, 401, "unauthorized", "not logged in");
    int rc = session_lookup(d->sessions, token, (int64_t)time(NULL), &info);
    int found = rc == 0;
    if (found)
        rc = dashboard_session_account(d, token, &info);
    memset(token, 0, sizeof token);
    if (rc == LOGSHARE_EAUTH)
        return dashboard_respond_error(req, 401, "unauthorized",
                                       found ? "the account was removed or changed since the login"
                                             : "not logged in");
    if (rc != 0)
        return found ? dashboard_respond_errno(req, rc, "the user database is unavailable")
                     : dashboard_respond_errno(req, sessions_error(rc),
                                               "the session database is unavailable");
    snprintf(req->user_id, sizeof req->user_id, "%s", info.user);
    return dashboard_respond_json(req, 200, session_json(&info), NULL, NULL);
}
