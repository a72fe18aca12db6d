/*
 * session.h - dashboard sessions, kept on the server.
 *
 * An agent who logs in (POST /dashboard/login) gets a session: a random
 * 256-bit token sent only as an HttpOnly cookie, and a separate random
 * CSRF token the page sends back in X-CSRF-Token on every change. The
 * server holds the state, so logout and expiry really revoke: a copied
 * cookie stops working the moment the session is gone.
 *
 * Only a hash of each token is kept (BLAKE2b-256); the CSRF token is
 * not kept at all but derived from the token (a keyed BLAKE2b), so the
 * table holds nothing a copy of it could replay. A row is found by its
 * digest and the digests are compared again in constant time.
 *
 * Expiry: idle_ttl_s after the last use, and never later than
 * absolute_ttl_s after login. The last use is written only when it
 * moved by more than a minute (a sixteenth of idle_ttl_s if that is
 * shorter), so a busy page is not a write per request; expires_at is
 * computed from the stored value, so it may be that much early, never
 * late.
 *
 * Storage: a SQLite file of its own (cfg->path, normally
 * <data_dir>/SESSION_DB_FILENAME, WAL, mode 0600) that every server on
 * the data dir opens: a session made by one server works on all, a
 * revoke through one ends it on all at once (every lookup reads the
 * file), and a restart keeps it. WAL needs every process on one host.
 * NULL path: a private in-memory table (tests).
 *
 * Thread safety: every call may be made from many threads at once (one
 * connection behind one mutex; every statement is one indexed row, but
 * a login also sweeps expired rows and, at the cap, drops the oldest).
 *
 * Errors: 0 or a negative LOGSHARE_E*: EAUTH (unknown, revoked or
 * expired token), EINVAL, ENOMEM, and the database's EIO, EBUSY (another
 * server held the write lock for 5 s), ENOSPC or EPERM: a caller must
 * not take those for a logged-out session, nor a failed revoke for done.
 */
#ifndef LOGSHARED_SESSION_H
#define LOGSHARED_SESSION_H

#include <stddef.h>
#include <stdint.h>

#define SESSION_TOKEN_LEN 64 /* hex digits of a session token */
#define SESSION_CSRF_LEN 64  /* hex digits of a CSRF token */
#define SESSION_USER_MAX 255 /* longest user name, bytes */
#define SESSION_ROLE_MAX 15
#define SESSION_DEFAULT_IDLE_TTL_S (8 * 3600)
#define SESSION_DEFAULT_ABSOLUTE_TTL_S (24 * 3600)
#define SESSION_DEFAULT_MAX 10000
#define SESSION_DB_FILENAME "sessions.db" /* in the data dir */

struct session_store_config {
    int64_t idle_ttl_s;     /* 0: SESSION_DEFAULT_IDLE_TTL_S */
    int64_t absolute_ttl_s; /* 0: SESSION_DEFAULT_ABSOLUTE_TTL_S */
    size_t max_sessions;    /* 0: SESSION_DEFAULT_MAX; when full the oldest goes */
    const char *path;       /* the SQLite file; NULL: in memory, this store only */
};

/* What a valid session says about its holder (a copy; the caller's). */
struct session_info {
    char user[SESSION_USER_MAX + 1];
    char role[SESSION_ROLE_MAX + 1];
    char csrf[SESSION_CSRF_LEN + 1];
    int64_t created_at; /* unix seconds */
    int64_t created_us; /* the same in microseconds: orders the login against account changes */
    int64_t expires_at; /* unix seconds: the earlier of idle and absolute expiry */
};

struct session_store;

/* cfg may be NULL for the defaults (in memory). Opens or creates
 * cfg->path; when several servers may start at once, call it under
 * their startup lock (SQLite's switch to WAL can fail on a race). *out
 * is the caller's: session_store_free it. */
int session_store_new(const struct session_store_config *cfg, struct session_store **out);
/* Frees every session. NULL is a no-op. */
void session_store_free(struct session_store *ss);

/* Starts a session for user with role at now_s. token receives the
 * cookie value (SESSION_TOKEN_LEN hex digits and a NUL); *info (may be
 * NULL) the session, with its CSRF token. */
int session_create(struct session_store *ss, const char *user, const char *role, int64_t now_s,
                   char token[SESSION_TOKEN_LEN + 1], struct session_info *info);
/* The same at now_us (unix microseconds): the server's logins, whose
 * time must be finer than a second to tell them from a password change
 * made in the same second. */
int session_create_us(struct session_store *ss, const char *user, const char *role, int64_t now_us,
                      char token[SESSION_TOKEN_LEN + 1], struct session_info *info);

/* Finds the session of a cookie value at now_s and extends its idle
 * expiry. 0 and *info, or LOGSHARE_EAUTH (malformed, unknown, revoked
 * or expired; an expired session is removed), or the database's error. */
int session_lookup(struct session_store *ss, const char *token, int64_t now_s,
                   struct session_info *info);

/* The same without extending the idle expiry: for requests a page makes
 * by itself (a list refreshing every few seconds), which must not keep
 * an unattended session alive until its absolute expiry. */
int session_lookup_passive(struct session_store *ss, const char *token, int64_t now_s,
                           struct session_info *info);

/* Ends the session of a cookie value, for every server on the file.
 * 0, LOGSHARE_EAUTH if there was none, or the database's error (the
 * session may still live). */
int session_revoke(struct session_store *ss, const char *token);

/* 1 when csrf_header matches the session's CSRF token (constant time),
 * else 0. NULL header: 0. */
int session_csrf_matches(const struct session_info *info, const char *csrf_header);

/* Sessions held now (expired ones may still count until touched or
 * swept by a login); 0 when the database cannot be read. */
size_t session_count(struct session_store *ss);

#endif
