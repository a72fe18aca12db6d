/*
 * session.c - the session table behind session.h, in a SQLite file of
 * its own (<data_dir>/sessions.db) that every server on the data dir
 * opens, so a session made by one server is known to all of them, a
 * logout through one ends it for all at once, and a restart keeps it.
 *
 * A row holds BLAKE2b-256(token), never the token; the CSRF token is not
 * stored either but derived from the token (a keyed BLAKE2b of a fixed
 * label), so the file holds nothing a reader could replay. A row is
 * found through the digest's index; the index walk may take a time that
 * depends on the digest, which tells an attacker nothing useful (they
 * would need a preimage), and the found digest is compared again in
 * constant time.
 *
 * Each process has one connection behind one mutex: dashboard requests
 * are few, and every statement is a single indexed row (a login also
 * sweeps expired rows and enforces the cap, in one transaction).
 */
#include "session.h"

#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logshare.h"
#include "ls_hex.h"
#include "sessions_db.h"

#define DIGEST_LEN 32
/* The most last_used may lag behind the truth: a lookup writes it only
 * when it moved by more than this, so a busy page is not a write per
 * request (sessions with a short idle time use a sixteenth of it). */
#define TOUCH_EVERY_MAX_S 60

struct session_store {
    pthread_mutex_t lock;
    sqlite3 *db;
    int64_t idle_ttl_s, absolute_ttl_s, touch_every_s;
    size_t max_sessions;
};

static const char SCHEMA[] = "CREATE TABLE IF NOT EXISTS sessions ("
                             " seq INTEGER PRIMARY KEY," /* creation order, for the cap */
                             " digest BLOB NOT NULL UNIQUE,"
                             " user TEXT NOT NULL,"
                             " role TEXT NOT NULL,"
                             " created_at INTEGER NOT NULL,"
                             " created_us INTEGER NOT NULL,"
                             " last_used INTEGER NOT NULL)";

static int exec(struct session_store *ss, const char *sql)
{
    return sessions_db_error(sqlite3_exec(ss->db, sql, NULL, NULL, NULL));
}

static int prepare(struct session_store *ss, const char *sql, sqlite3_stmt **st)
{
    return sessions_db_error(sqlite3_prepare_v2(ss->db, sql, -1, st, NULL));
}

/* Runs a statement that returns no rows, with digest (if not NULL) as
 * ?1 and then the n_args int64s. *changes (may be NULL): rows changed. */
static int run(struct session_store *ss, const char *sql, const unsigned char *digest,
               const int64_t *args, int n_args, int *changes)
{
    sqlite3_stmt *st;
    int rc = prepare(ss, sql, &st);
    if (rc)
        return rc;
    int i = 1;
    if (digest)
        sqlite3_bind_blob(st, i++, digest, DIGEST_LEN, SQLITE_STATIC);
    for (int a = 0; a < n_args; a++)
        sqlite3_bind_int64(st, i++, args[a]);
    rc = sessions_db_error(sqlite3_step(st));
    sqlite3_finalize(st);
    if (!rc && changes)
        *changes = sqlite3_changes(ss->db);
    return rc;
}

static int digest_token(const char *token, unsigned char out[DIGEST_LEN])
{
    if (!token || strlen(token) != SESSION_TOKEN_LEN)
        return LOGSHARE_EAUTH;
    unsigned char raw[SESSION_TOKEN_LEN / 2];
    if (ls_hex_decode(token, raw, sizeof raw) != 0)
        return LOGSHARE_EAUTH;
    crypto_generichash(out, DIGEST_LEN, raw, sizeof raw, NULL, 0);
    sodium_memzero(raw, sizeof raw);
    return 0;
}

/* The CSRF token of a session: BLAKE2b keyed with the raw token, of a
 * label no digest is made of, so it reveals neither the token nor the
 * stored digest, and every server derives the same one. */
static void csrf_of(const char *token, char csrf[SESSION_CSRF_LEN + 1])
{
    static const char label[] = "logshare dashboard csrf token";
    unsigned char raw[SESSION_TOKEN_LEN / 2], mac[SESSION_CSRF_LEN / 2];
    ls_hex_decode(token, raw, sizeof raw); /* checked by digest_token */
    crypto_generichash(mac, sizeof mac, (const unsigned char *)label, sizeof label - 1, raw,
                       sizeof raw);
    ls_hex_encode(mac, sizeof mac, csrf);
    sodium_memzero(raw, sizeof raw);
}

/* synchronous=FULL: a logout that answered 200 must not come back to
 * life after a power loss. */
static int open_db(struct session_store *ss, const char *path)
{
    return sessions_db_open(path, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL", SCHEMA,
                            &ss->db);
}

int session_store_new(const struct session_store_config *cfg, struct session_store **out)
{
    if (!out)
        return LOGSHARE_EINVAL;
    *out = NULL;
    if (sodium_init() < 0)
        return LOGSHARE_EIO;
    struct session_store *ss = calloc(1, sizeof *ss);
    if (!ss)
        return LOGSHARE_ENOMEM;
    ss->idle_ttl_s = cfg && cfg->idle_ttl_s > 0 ? cfg->idle_ttl_s : SESSION_DEFAULT_IDLE_TTL_S;
    ss->absolute_ttl_s =
        cfg && cfg->absolute_ttl_s > 0 ? cfg->absolute_ttl_s : SESSION_DEFAULT_ABSOLUTE_TTL_S;
    ss->max_sessions = cfg && cfg->max_sessions > 0 ? cfg->max_sessions : SESSION_DEFAULT_MAX;
    ss->touch_every_s =
        ss->idle_ttl_s / 16 < TOUCH_EVERY_MAX_S ? ss->idle_ttl_s / 16 : TOUCH_EVERY_MAX_S;
    pthread_mutex_init(&ss->lock, NULL);
    int rc = open_db(ss, cfg ? cfg->path : NULL);
    if (rc) {
        session_store_free(ss);
        return rc;
    }
    *out = ss;
    return 0;
}

void session_store_free(struct session_store *ss)
{
    if (!ss)
        return;
    sqlite3_close_v2(ss->db);
    pthread_mutex_destroy(&ss->lock);
    free(ss);
}

static int64_t expiry_of(const struct session_store *ss, int64_t created_at, int64_t last_used)
{
    int64_t idle = last_used + ss->idle_ttl_s;
    int64_t absolute = created_at + ss->absolute_ttl_s;
    return idle < absolute ? idle : absolute;
}

/* Drops expired rows, then the oldest ones until one more fits. Caller
 * holds the lock, inside a write transaction. */
static int make_room(struct session_store *ss, int64_t now_s)
{
    int64_t cut[2] = {now_s - ss->idle_ttl_s, now_s - ss->absolute_ttl_s};
    int rc = run(ss, "DELETE FROM sessions WHERE last_used <= ?1 OR created_at <= ?2", NULL, cut, 2,
                 NULL);
    sqlite3_stmt *st;
    if (rc || (rc = prepare(ss, "SELECT count(*) FROM sessions", &st)))
        return rc;
    int step = sqlite3_step(st);
    int64_t n = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (step != SQLITE_ROW)
        return step == SQLITE_DONE ? LOGSHARE_EIO : sessions_db_error(step);
    if (n < (int64_t)ss->max_sessions)
        return 0;
    int64_t extra = n - (int64_t)ss->max_sessions + 1;
    return run(ss,
               "DELETE FROM sessions WHERE seq IN (SELECT seq FROM sessions ORDER BY seq LIMIT ?1)",
               NULL, &extra, 1, NULL);
}

static int insert(struct session_store *ss, const unsigned char digest[DIGEST_LEN],
                  const struct session_info *info)
{
    sqlite3_stmt *st;
    int rc = prepare(ss,
                     "INSERT INTO sessions (digest, user, role, created_at, created_us, last_used)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?4)",
                     &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, digest, DIGEST_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, info->user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, info->role, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, info->created_at);
    sqlite3_bind_int64(st, 5, info->created_us);
    rc = sessions_db_error(sqlite3_step(st));
    sqlite3_finalize(st);
    return rc;
}

int session_create(struct session_store *ss, const char *user, const char *role, int64_t now_s,
                   char token[SESSION_TOKEN_LEN + 1], struct session_info *info)
{
    return session_create_us(ss, user, role, now_s * 1000000, token, info);
}

int session_create_us(struct session_store *ss, const char *user, const char *role, int64_t now_us,
                      char token[SESSION_TOKEN_LEN + 1], struct session_info *info)
{
    if (!ss || !user || !role || !token || !*user || strlen(user) > SESSION_USER_MAX ||
        strlen(role) > SESSION_ROLE_MAX)
        return LOGSHARE_EINVAL;
    struct session_info made = {0};
    unsigned char raw[SESSION_TOKEN_LEN / 2], digest[DIGEST_LEN];
    randombytes_buf(raw, sizeof raw);
    ls_hex_encode(raw, sizeof raw, token);
    sodium_memzero(raw, sizeof raw);
    digest_token(token, digest);
    csrf_of(token, made.csrf);
    strcpy(made.user, user);
    strcpy(made.role, role);
    int64_t now_s = now_us / 1000000;
    made.created_at = now_s;
    made.created_us = now_us;
    made.expires_at = expiry_of(ss, now_s, now_s);

    pthread_mutex_lock(&ss->lock);
    /* IMMEDIATE: the count and the insert must see one state, however
     * many servers log agents in at once. */
    int rc = exec(ss, "BEGIN IMMEDIATE");
    if (!rc && !(rc = make_room(ss, now_s)) && !(rc = insert(ss, digest, &made)))
        rc = exec(ss, "COMMIT");
    if (rc && !sqlite3_get_autocommit(ss->db))
        exec(ss, "ROLLBACK");
    pthread_mutex_unlock(&ss->lock);
    if (rc) {
        sodium_memzero(token, SESSION_TOKEN_LEN + 1);
        return rc;
    }
    if (info)
        *info = made;
    return 0;
}

/* Reads the row of digest into *info and *last_used. 0, LOGSHARE_EAUTH
 * (no row) or the database's error. Caller holds the lock. */
static int read_row(struct session_store *ss, const unsigned char digest[DIGEST_LEN],
                    struct session_info *info, int64_t *last_used)
{
    sqlite3_stmt *st;
    int rc = prepare(ss,
                     "SELECT digest, user, role, created_at, last_used, created_us FROM sessions"
                     " WHERE digest = ?1",
                     &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, digest, DIGEST_LEN, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const void *found = sqlite3_column_blob(st, 0);
        const char *user = (const char *)sqlite3_column_text(st, 1);
        const char *role = (const char *)sqlite3_column_text(st, 2);
        rc = found && sqlite3_column_bytes(st, 0) == DIGEST_LEN &&
                     sodium_memcmp(found, digest, DIGEST_LEN) == 0 && user &&
                     strlen(user) <= SESSION_USER_MAX && role && strlen(role) <= SESSION_ROLE_MAX
                 ? 0
                 : LOGSHARE_EAUTH;
        if (!rc) {
            strcpy(info->user, user);
            strcpy(info->role, role);
            info->created_at = sqlite3_column_int64(st, 3);
            *last_used = sqlite3_column_int64(st, 4);
            info->created_us = sqlite3_column_int64(st, 5);
        }
    } else {
        rc = step == SQLITE_DONE ? LOGSHARE_EAUTH : sessions_db_error(step);
    }
    sqlite3_finalize(st);
    return rc;
}

static int lookup(struct session_store *ss, const char *token, int64_t now_s, int touch,
                  struct session_info *info)
{
    unsigned char digest[DIGEST_LEN];
    if (!ss || digest_token(token, digest) != 0)
        return LOGSHARE_EAUTH;
    struct session_info found = {0};
    int64_t last_used = 0;
    pthread_mutex_lock(&ss->lock);
    int rc = read_row(ss, digest, &found, &last_used);
    if (!rc && now_s >= expiry_of(ss, found.created_at, last_used)) {
        run(ss, "DELETE FROM sessions WHERE digest = ?1", digest, NULL, 0, NULL);
        rc = LOGSHARE_EAUTH;
    } else if (!rc && touch && now_s - last_used > ss->touch_every_s) {
        /* A failed write (another server holding the lock for 5 s) costs
         * only idle time: the session stays valid as read. */
        if (run(ss, "UPDATE sessions SET last_used = ?2 WHERE digest = ?1 AND last_used < ?2",
                digest, &now_s, 1, NULL) == 0)
            last_used = now_s;
    }
    pthread_mutex_unlock(&ss->lock);
    if (rc)
        return rc;
    found.expires_at = expiry_of(ss, found.created_at, last_used);
    csrf_of(token, found.csrf);
    if (info)
        *info = found;
    return 0;
}

int session_lookup(struct session_store *ss, const char *token, int64_t now_s,
                   struct session_info *info)
{
    return lookup(ss, token, now_s, 1, info);
}

int session_lookup_passive(struct session_store *ss, const char *token, int64_t now_s,
                           struct session_info *info)
{
    return lookup(ss, token, now_s, 0, info);
}

int session_revoke(struct session_store *ss, const char *token)
{
    unsigned char digest[DIGEST_LEN];
    if (!ss || digest_token(token, digest) != 0)
        return LOGSHARE_EAUTH;
    int changes = 0;
    pthread_mutex_lock(&ss->lock);
    int rc = run(ss, "DELETE FROM sessions WHERE digest = ?1", digest, NULL, 0, &changes);
    pthread_mutex_unlock(&ss->lock);
    return rc ? rc : changes > 0 ? 0 : LOGSHARE_EAUTH;
}

int session_csrf_matches(const struct session_info *info, const char *csrf_header)
{
    if (!info || !csrf_header || strlen(csrf_header) != SESSION_CSRF_LEN)
        return 0;
    return sodium_memcmp(info->csrf, csrf_header, SESSION_CSRF_LEN) == 0;
}

size_t session_count(struct session_store *ss)
{
    if (!ss)
        return 0;
    sqlite3_stmt *st;
    int64_t n = 0;
    pthread_mutex_lock(&ss->lock);
    if (prepare(ss, "SELECT count(*) FROM sessions", &st) == 0) {
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&ss->lock);
    return (size_t)n;
}
