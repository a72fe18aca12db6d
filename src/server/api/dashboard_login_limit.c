/*
 * dashboard_login_limit.c - the token buckets behind
 * dashboard_login_limit.h, in a table of the sessions file
 * (<data_dir>/sessions.db) that every server on the data dir shares, so
 * N servers behind one address still allow 5 guesses a minute per name,
 * not 5 N. Logins are rare and each one costs an Argon2 hash, so one
 * short write transaction per allowed attempt is far below the cost of
 * the attempt itself; a refused attempt writes nothing.
 *
 * A bucket is kept as (tokens, updated_us) and refilled on reading; a
 * row untouched for longer than a bucket takes to fill is the same as
 * no row (a full bucket), so such rows are swept when a new one is
 * added, and past max_keys rows the stalest go too.
 */
#include "dashboard_login_limit.h"

#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logshare.h"
#include "sessions_db.h"

#define KEY_MAX 160

struct bucket {
    char key[KEY_MAX]; /* "a:<address>", "u:<user name>" or "d:<user name>" */
    double tokens;
    int64_t updated_us;
    int stored; /* there is a row */
};

struct login_limit {
    pthread_mutex_t lock;
    sqlite3 *db;
    double user_burst, user_rate, addr_burst, addr_rate; /* rates in tokens per µs */
    int64_t full_after_us;                               /* the longest a bucket takes to fill */
    size_t n;
};

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS login_buckets ("
    " key TEXT PRIMARY KEY, tokens REAL NOT NULL, updated_us INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS login_buckets_updated ON login_buckets (updated_us);"
    "CREATE TABLE IF NOT EXISTS login_keys (name TEXT PRIMARY KEY, key BLOB NOT NULL)";

static int exec(struct login_limit *l, const char *sql)
{
    return sessions_db_error(sqlite3_exec(l->db, sql, NULL, NULL, NULL));
}

/* The sessions store has usually made the file already (and switched it
 * to WAL). synchronous=NORMAL: a power loss may forget a few attempts,
 * never a login. */
static int open_db(struct login_limit *l, const char *path)
{
    return sessions_db_open(path, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", SCHEMA,
                            &l->db);
}

int login_limit_new(const struct login_limit_config *cfg, struct login_limit **out)
{
    if (!out)
        return LOGSHARE_EINVAL;
    *out = NULL;
    if (sodium_init() < 0)
        return LOGSHARE_EIO; /* the device key is random */
    struct login_limit *l = calloc(1, sizeof *l);
    if (!l)
        return LOGSHARE_ENOMEM;
    l->user_burst = cfg && cfg->per_user_burst > 0 ? cfg->per_user_burst : 5;
    l->addr_burst = cfg && cfg->per_addr_burst > 0 ? cfg->per_addr_burst : 20;
    l->user_rate = (cfg && cfg->per_user_per_minute > 0 ? cfg->per_user_per_minute : 5) / 60e6;
    l->addr_rate = (cfg && cfg->per_addr_per_minute > 0 ? cfg->per_addr_per_minute : 20) / 60e6;
    l->n = cfg && cfg->max_keys >= 16 ? cfg->max_keys : 4096;
    double user_full = l->user_burst / l->user_rate, addr_full = l->addr_burst / l->addr_rate;
    l->full_after_us = (int64_t)(user_full > addr_full ? user_full : addr_full) + 1;
    pthread_mutex_init(&l->lock, NULL);
    int rc = open_db(l, cfg ? cfg->path : NULL);
    if (rc) {
        login_limit_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

void login_limit_free(struct login_limit *l)
{
    if (!l)
        return;
    sqlite3_close_v2(l->db);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

/* Reads the bucket for (kind, value) and refills it up to now; no row
 * is a full bucket. Keys longer than KEY_MAX are cut: two names sharing
 * 150 bytes share a bucket, which only makes the limit stricter. Caller
 * holds the lock, inside a transaction. */
static int bucket_read(struct login_limit *l, char kind, const char *value, double burst,
                       double rate, int64_t now_us, struct bucket *b)
{
    memset(b, 0, sizeof *b);
    b->key[0] = kind;
    b->key[1] = ':';
    size_t len = strlen(value);
    if (len > KEY_MAX - 3)
        len = KEY_MAX - 3;
    memcpy(b->key + 2, value, len);
    b->tokens = burst;
    b->updated_us = now_us;
    sqlite3_stmt *st;
    int rc = sessions_db_error(sqlite3_prepare_v2(
        l->db, "SELECT tokens, updated_us FROM login_buckets WHERE key = ?1", -1, &st, NULL));
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, b->key, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        b->stored = 1;
        b->tokens = sqlite3_column_double(st, 0);
        int64_t then = sqlite3_column_int64(st, 1);
        if (now_us > then) {
            b->tokens += (double)(now_us - then) * rate;
            if (b->tokens > burst)
                b->tokens = burst;
        } else {
            b->updated_us = then; /* another server's clock read a little later */
        }
    }
    sqlite3_finalize(st);
    return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : sessions_db_error(step);
}

static int bucket_write(struct login_limit *l, const struct bucket *b)
{
    sqlite3_stmt *st;
    int rc = sessions_db_error(
        sqlite3_prepare_v2(l->db,
                           "INSERT INTO login_buckets (key, tokens, updated_us)"
                           " VALUES (?1, ?2, ?3) ON CONFLICT (key) DO UPDATE SET"
                           " tokens = excluded.tokens, updated_us = excluded.updated_us",
                           -1, &st, NULL));
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, b->key, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, b->tokens);
    sqlite3_bind_int64(st, 3, b->updated_us);
    rc = sessions_db_error(sqlite3_step(st));
    sqlite3_finalize(st);
    return rc;
}

/* Before a new row: drops the rows that are full by now anyway, then
 * the stalest ones past max_keys. */
static int make_room(struct login_limit *l, int64_t now_us)
{
    sqlite3_stmt *st;
    int rc = sessions_db_error(sqlite3_prepare_v2(
        l->db, "DELETE FROM login_buckets WHERE updated_us < ?1", -1, &st, NULL));
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, now_us - l->full_after_us);
    rc = sessions_db_error(sqlite3_step(st));
    sqlite3_finalize(st);
    if (rc)
        return rc;
    rc = sessions_db_error(sqlite3_prepare_v2(
        l->db,
        "DELETE FROM login_buckets WHERE key IN (SELECT key FROM login_buckets"
        " ORDER BY updated_us LIMIT max(0, (SELECT count(*) FROM login_buckets) - ?1 + 2))",
        -1, &st, NULL));
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)l->n);
    rc = sessions_db_error(sqlite3_step(st));
    sqlite3_finalize(st);
    return rc;
}

static int seconds_until_token(const struct bucket *b, double rate)
{
    double wait_s = (1.0 - b->tokens) / rate / 1e6;
    int s = (int)wait_s;
    if ((double)s < wait_s)
        s++; /* round up: Retry-After must not invite a too-early retry */
    return s < 1 ? 1 : s;
}

/* Decides on (a, u) and, when allowed, takes a token from both. Caller
 * holds the lock, inside a write transaction. */
static int take_locked(struct login_limit *l, const char *addr, char user_kind, const char *user,
                       int64_t now_us, int *wait)
{
    struct bucket a, u;
    int rc = bucket_read(l, 'a', addr, l->addr_burst, l->addr_rate, now_us, &a);
    if (!rc)
        rc = bucket_read(l, user_kind, user, l->user_burst, l->user_rate, now_us, &u);
    if (rc)
        return rc;
    if (a.tokens < 1.0) {
        *wait = seconds_until_token(&a, l->addr_rate);
        rc = LOGSHARE_ERATELIMIT;
    }
    if (u.tokens < 1.0) {
        int w = seconds_until_token(&u, l->user_rate);
        if (w > *wait)
            *wait = w;
        rc = LOGSHARE_ERATELIMIT;
    }
    if (rc)
        return rc;
    a.tokens -= 1.0;
    u.tokens -= 1.0;
    if ((!a.stored || !u.stored) && (rc = make_room(l, now_us)) != 0)
        return rc;
    rc = bucket_write(l, &a);
    return rc ? rc : bucket_write(l, &u);
}

/* Runs a write transaction around take_locked or a refill. */
static int in_transaction(struct login_limit *l, int rc_of_body(struct login_limit *, void *),
                          void *arg)
{
    pthread_mutex_lock(&l->lock);
    /* IMMEDIATE: two servers must not both spend the last token. */
    int rc = exec(l, "BEGIN IMMEDIATE");
    if (!rc) {
        rc = rc_of_body(l, arg);
        int end = exec(l, rc == 0 ? "COMMIT" : "ROLLBACK");
        if (!rc)
            rc = end;
        if (end && !sqlite3_get_autocommit(l->db))
            exec(l, "ROLLBACK");
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

struct take_args {
    const char *addr, *user;
    char user_kind;
    int64_t now_us;
    int wait;
};

static int take_body(struct login_limit *l, void *arg)
{
    struct take_args *t = arg;
    return take_locked(l, t->addr, t->user_kind, t->user, t->now_us, &t->wait);
}

static int take(struct login_limit *l, const char *addr, char user_kind, const char *user,
                int64_t now_us, int *retry_after_s)
{
    if (!l || !addr || !user)
        return LOGSHARE_EINVAL;
    struct take_args t = {addr, user, user_kind, now_us, 0};
    int rc = in_transaction(l, take_body, &t);
    if (retry_after_s)
        *retry_after_s = rc == LOGSHARE_ERATELIMIT ? t.wait : 0;
    return rc;
}

int login_limit_take(struct login_limit *l, const char *addr, const char *user, int64_t now_us,
                     int *retry_after_s)
{
    return take(l, addr, 'u', user, now_us, retry_after_s);
}

int login_limit_take_device(struct login_limit *l, const char *addr, const char *user,
                            int64_t now_us, int *retry_after_s)
{
    return take(l, addr, 'd', user, now_us, retry_after_s);
}

static int refill_body(struct login_limit *l, void *arg)
{
    struct take_args *t = arg;
    struct bucket b;
    int rc = bucket_read(l, t->user_kind, t->user, l->user_burst, l->user_rate, t->now_us, &b);
    if (rc || !b.stored)
        return rc; /* no row: full already */
    b.tokens = l->user_burst;
    return bucket_write(l, &b);
}

/* A failed refill only leaves the agent's bucket lower: nothing to
 * report. */
static void refill(struct login_limit *l, char kind, const char *user, int64_t now_us)
{
    if (!l || !user)
        return;
    struct take_args t = {"", user, kind, now_us, 0};
    in_transaction(l, refill_body, &t);
}

void login_limit_success(struct login_limit *l, const char *user, int64_t now_us)
{
    refill(l, 'u', user, now_us);
}

void login_limit_success_device(struct login_limit *l, const char *user, int64_t now_us)
{
    refill(l, 'd', user, now_us);
}

int login_limit_device_key(struct login_limit *l, unsigned char key[LOGIN_LIMIT_KEY_LEN])
{
    if (!l || !key)
        return LOGSHARE_EINVAL;
    unsigned char fresh[LOGIN_LIMIT_KEY_LEN];
    randombytes_buf(fresh, sizeof fresh);
    sqlite3_stmt *ins = NULL, *sel = NULL;
    pthread_mutex_lock(&l->lock);
    /* The first server to ask makes the key; the others read it. */
    int rc = sessions_db_error(sqlite3_prepare_v2(
        l->db, "INSERT OR IGNORE INTO login_keys (name, key) VALUES ('device', ?1)", -1, &ins,
        NULL));
    if (!rc) {
        sqlite3_bind_blob(ins, 1, fresh, sizeof fresh, SQLITE_STATIC);
        rc = sessions_db_error(sqlite3_step(ins));
    }
    if (!rc)
        rc = sessions_db_error(sqlite3_prepare_v2(
            l->db, "SELECT key FROM login_keys WHERE name = 'device'", -1, &sel, NULL));
    if (!rc) {
        int step = sqlite3_step(sel);
        if (step == SQLITE_ROW && sqlite3_column_bytes(sel, 0) == LOGIN_LIMIT_KEY_LEN)
            memcpy(key, sqlite3_column_blob(sel, 0), LOGIN_LIMIT_KEY_LEN);
        else
            rc = step == SQLITE_ROW || step == SQLITE_DONE ? LOGSHARE_ECORRUPT
                                                           : sessions_db_error(step);
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(sel);
    pthread_mutex_unlock(&l->lock);
    sodium_memzero(fresh, sizeof fresh);
    return rc;
}
