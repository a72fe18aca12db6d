/*
 * pg_store.c - the PostgreSQL ticket store's connection pool, error
 * mapping, schema migrations and ops table (contract in ticket_store.h).
 *
 * Several logshared processes may share one database, so migrations
 * hold a transaction-scoped advisory lock while they re-read
 * schema_version and apply what is missing: each step runs exactly once
 * however many servers start together.
 */
#include "pg_store.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "logshare.h"
#include "ls_time.h"

/* An arbitrary constant naming our migration lock ("logshare" in hex). */
#define PG_MIGRATION_LOCK "7452624397553968485"

/* How long we wait for the server, connecting or for an answer, when
 * the conninfo sets no connect_timeout (libpq's own default is to wait
 * forever: a server that stopped answering then held every worker, and
 * logshared, for good, SIGTERM included). */
#define PG_DEFAULT_TIMEOUT_S "30"

/* Gives up on the connection: libpq sees its end at once and reports it
 * as broken (CONNECTION_BAD), which the pool resets on next use. */
static void pg_cut(struct pg_conn *c)
{
    shutdown(PQsocket(c->db), SHUT_RDWR);
}

/* Waits, up to the connection's answer time in all, until the query is
 * sent (the connection is non-blocking: a server that stopped reading
 * cannot hold us in send either) and libpq holds a whole result
 * (PQgetResult will not block). A server that does not answer in time is
 * cut off (pg_cut); its results are then errors. */
static void pg_wait(struct pg_conn *c, int64_t deadline_ns)
{
    for (;;) {
        int unsent = PQflush(c->db);
        if (unsent < 0 || (!unsent && !PQisBusy(c->db)))
            return; /* a failed send: PQgetResult reports it */
        int64_t left_ms = (deadline_ns - ls_time_mono_ns()) / 1000000;
        if (left_ms <= 0) {
            pg_cut(c);
            return;
        }
        struct pollfd p = {.fd = PQsocket(c->db), .events = POLLIN | (unsent ? POLLOUT : 0)};
        int n = poll(&p, 1, left_ms > 1000 ? 1000 : (int)left_ms);
        if (n < 0 && errno != EINTR)
            return;
        if (n > 0 && (p.revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(c->db))
            return;
    }
}

static int64_t pg_deadline(const struct pg_conn *c)
{
    return ls_time_mono_ns() + (int64_t)c->timeout_s * 1000000000LL;
}

static int pg_ok(const PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* The results of what was sent, as PQexec gives them: the first failed
 * one, else the last (NULL when there is none). */
static PGresult *pg_results(struct pg_conn *c)
{
    int64_t deadline = pg_deadline(c);
    PGresult *keep = NULL, *res;
    for (;;) {
        pg_wait(c, deadline);
        if (!(res = PQgetResult(c->db)))
            break;
        if (keep && !pg_ok(keep)) {
            PQclear(res); /* an earlier failure stands */
            continue;
        }
        PQclear(keep);
        keep = res;
    }
    return keep;
}

int pg_error(struct pg_conn *c, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!state || PQstatus(c->db) == CONNECTION_BAD)
        return LOGSHARE_EUNAVAILABLE;
    if (!strcmp(state, "23505"))
        return LOGSHARE_EEXIST;
    if (!strcmp(state, "23503"))
        return LOGSHARE_ENOENT;
    if (!strncmp(state, "23", 2) || !strncmp(state, "22", 2))
        return LOGSHARE_EINVAL;
    if (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03"))
        return LOGSHARE_EBUSY;
    if (!strcmp(state, "53100"))
        return LOGSHARE_ENOSPC;
    if (!strncmp(state, "08", 2) || !strncmp(state, "53", 2) || !strncmp(state, "57", 2))
        return LOGSHARE_EUNAVAILABLE;
    if (!strcmp(state, "42501"))
        return LOGSHARE_EPERM;
    return LOGSHARE_EIO;
}

int pg_is_unique_violation(const PGresult *res, const char *constraint)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *name = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
    return state && !strcmp(state, "23505") && name && !strcmp(name, constraint);
}

PGresult *pg_query(struct pg_conn *c, const char *sql, int n, const char *const *params, int *rc)
{
    PGresult *res =
        PQsendQueryParams(c->db, sql, n, NULL, params, NULL, NULL, 0) ? pg_results(c) : NULL;
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    *rc = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? 0 : pg_error(c, res);
    return res;
}

int pg_command(struct pg_conn *c, const char *sql)
{
    /* PQexec, unlike PQexecParams, runs several statements: migrations. */
    PGresult *res = PQsendQuery(c->db, sql) ? pg_results(c) : NULL;
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int rc = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? 0 : pg_error(c, res);
    PQclear(res);
    return rc;
}

int pg_commit(struct pg_conn *c)
{
    /* Nothing can have reached the server: it rolls back a transaction
     * whose connection is gone. */
    if (PQstatus(c->db) != CONNECTION_OK)
        return LOGSHARE_EUNAVAILABLE;
    if (!PQsendQuery(c->db, "COMMIT")) /* some of it may have been sent */
        return TICKET_STORE_EUNKNOWN;
    /* Results one by one: a CommandComplete for COMMIT means committed,
     * even when the connection breaks before ReadyForQuery (PQexec
     * would return that later error instead). */
    int committed = 0, refused = 0;
    int64_t deadline = pg_deadline(c);
    PGresult *res;
    for (;;) {
        pg_wait(c, deadline); /* no answer in time: cut off, and unknown */
        if (!(res = PQgetResult(c->db)))
            break;
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COMMAND_OK && !strcmp(PQcmdStatus(res), "COMMIT"))
            committed = 1;
        else if (st == PGRES_COMMAND_OK) /* "ROLLBACK": the transaction had failed */
            refused = LOGSHARE_EIO;
        else if (!refused && PQresultErrorField(res, PG_DIAG_SQLSTATE))
            refused = pg_error(c, res);
        PQclear(res);
    }
    if (committed)
        return 0;
    /* The server answered with a refusal and is still there: rolled
     * back. Otherwise (no answer, the connection lost, the backend
     * terminated while committing) it may have committed. */
    if (refused && PQstatus(c->db) == CONNECTION_OK)
        return refused;
    return TICKET_STORE_EUNKNOWN;
}

char *pg_dup(const PGresult *res, int row, int col, int *rc)
{
    if (PQgetisnull(res, row, col))
        return NULL;
    char *copy = strdup(PQgetvalue(res, row, col));
    if (!copy)
        *rc = LOGSHARE_ENOMEM;
    return copy;
}

long long pg_int(const PGresult *res, int row, int col)
{
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* The connection's connect_timeout, which also bounds every wait for an
 * answer (libpq takes values under 2 as 2, and so do we). */
static int conn_timeout_s(PGconn *db)
{
    long t = atol(PG_DEFAULT_TIMEOUT_S);
    PQconninfoOption *opts = PQconninfo(db);
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (!strcmp(o->keyword, "connect_timeout") && o->val)
            t = atol(o->val);
    PQconninfoFree(opts);
    return t < 2 ? 2 : t > 86400 ? 86400 : (int)t;
}

static int conn_open(struct pg_store *s, struct pg_conn **out)
{
    struct pg_conn *c = calloc(1, sizeof *c);
    if (!c)
        return LOGSHARE_ENOMEM;
    /* Our connect_timeout first: one in the conninfo (expanded from
     * dbname, later) overrides it. */
    const char *const keys[] = {"connect_timeout", "dbname", NULL};
    const char *const values[] = {PG_DEFAULT_TIMEOUT_S, s->conninfo, NULL};
    c->db = PQconnectdbParams(keys, values, 1);
    if (!c->db || PQstatus(c->db) != CONNECTION_OK) {
        PQfinish(c->db);
        free(c);
        return LOGSHARE_EUNAVAILABLE;
    }
    c->timeout_s = conn_timeout_s(c->db);
    PQsetnonblocking(c->db, 1); /* sending waits in pg_wait, with its deadline */
    PQsetNoticeProcessor(c->db, ignore_notice, NULL);
    *out = c;
    return 0;
}

int pg_acquire(struct pg_store *s, struct pg_conn **out)
{
    pthread_mutex_lock(&s->lock);
    for (;;) {
        if (s->idle) {
            struct pg_conn *c = s->idle;
            s->idle = c->next_idle;
            pthread_mutex_unlock(&s->lock);
            /* The server restarted or the network dropped: reconnect
             * rather than fail every request on this connection. */
            if (PQstatus(c->db) != CONNECTION_OK) {
                PQreset(c->db);
                if (PQstatus(c->db) != CONNECTION_OK) {
                    pg_release(s, c);
                    return LOGSHARE_EUNAVAILABLE;
                }
                PQsetnonblocking(c->db, 1);
            }
            *out = c;
            return 0;
        }
        if (s->open_connections < s->max_connections) {
            s->open_connections++;
            pthread_mutex_unlock(&s->lock);
            int rc = conn_open(s, out);
            if (rc != 0) {
                pthread_mutex_lock(&s->lock);
                s->open_connections--;
                pthread_cond_signal(&s->idle_available);
                pthread_mutex_unlock(&s->lock);
            }
            return rc;
        }
        pthread_cond_wait(&s->idle_available, &s->lock);
    }
}

void pg_release(struct pg_store *s, struct pg_conn *c)
{
    /* Never hand on a connection inside a transaction. */
    if (PQtransactionStatus(c->db) != PQTRANS_IDLE && PQstatus(c->db) == CONNECTION_OK)
        pg_command(c, "ROLLBACK");
    pthread_mutex_lock(&s->lock);
    c->next_idle = s->idle;
    s->idle = c;
    pthread_cond_signal(&s->idle_available);
    pthread_mutex_unlock(&s->lock);
}

struct pg_migration {
    int version;
    const char *sql;
};

/* Mirrors the SQLite schema (sqlite_schema.c); seq columns keep
 * insertion order, which SQLite gets from rowid. */
static const struct pg_migration migrations[] = {
    {1, "CREATE TABLE tickets ("
        " id TEXT PRIMARY KEY,"
        " status SMALLINT NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2)),"
        " created_at BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL,"
        " user_id TEXT NOT NULL,"
        " description TEXT NOT NULL,"
        " customer_name TEXT, customer_email TEXT, app_version TEXT, platform TEXT,"
        " source TEXT, log_request_id TEXT, assignee TEXT, tracker_url TEXT);"
        "CREATE INDEX tickets_by_time ON tickets (created_at, id);"
        "CREATE INDEX tickets_by_user ON tickets (user_id, created_at, id);"
        "CREATE INDEX tickets_by_status ON tickets (status, created_at, id);"
        "CREATE TABLE ticket_call_ids ("
        " ticket_id TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,"
        " position INTEGER NOT NULL,"
        " call_id TEXT NOT NULL,"
        " PRIMARY KEY (ticket_id, position));"
        "CREATE INDEX ticket_call_ids_by_call ON ticket_call_ids (call_id);"
        "CREATE TABLE attachments ("
        " seq BIGSERIAL UNIQUE,"
        " id TEXT PRIMARY KEY,"
        " ticket_id TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,"
        " name TEXT NOT NULL,"
        " size BIGINT NOT NULL CHECK (size >= 0),"
        " sha256 TEXT NOT NULL,"
        " content_type TEXT,"
        " blob_key TEXT NOT NULL UNIQUE,"
        " created_at BIGINT NOT NULL);"
        "CREATE INDEX attachments_by_ticket ON attachments (ticket_id, seq);"
        "CREATE TABLE ticket_notes ("
        " seq BIGSERIAL PRIMARY KEY,"
        " ticket_id TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,"
        " author TEXT,"
        " text TEXT NOT NULL,"
        " created_at BIGINT NOT NULL);"
        "CREATE INDEX ticket_notes_by_ticket ON ticket_notes (ticket_id, seq);"
        "CREATE TABLE idempotency_keys ("
        " user_id TEXT NOT NULL,"
        " key TEXT NOT NULL,"
        " ticket_id TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,"
        " created_at BIGINT NOT NULL,"
        " CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, key));"
        "CREATE TABLE users ("
        " name TEXT PRIMARY KEY,"
        " role TEXT NOT NULL CHECK (role IN ('user', 'support', 'admin')),"
        " password_hash TEXT NOT NULL,"
        " created_at BIGINT NOT NULL);"},
    {2, "CREATE TABLE patch_keys ("
        " user_id TEXT NOT NULL,"
        " ticket_id TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,"
        " key TEXT NOT NULL,"
        " created_at BIGINT NOT NULL,"
        " PRIMARY KEY (user_id, ticket_id, key));"},
    {3, "CREATE TABLE tracker_handoffs ("
        " ticket_id TEXT PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,"
        " tracker TEXT NOT NULL,"
        " delivery_id TEXT NOT NULL UNIQUE,"
        " status TEXT NOT NULL DEFAULT 'pending'"
        "  CHECK (status IN ('pending', 'delivered', 'failed')),"
        " attempts INTEGER NOT NULL DEFAULT 0,"
        " next_attempt_at BIGINT NOT NULL,"
        " lease_until BIGINT NOT NULL DEFAULT 0,"
        " last_http_status INTEGER, last_error TEXT,"
        " created_at BIGINT NOT NULL, finished_at BIGINT);"
        "CREATE INDEX tracker_handoffs_due ON tracker_handoffs (next_attempt_at)"
        " WHERE status = 'pending';"},
};

#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])

static int current_version(struct pg_conn *c, int *version)
{
    int rc;
    PGresult *res =
        pg_query(c, "SELECT coalesce(max(version), 0) FROM schema_version", 0, NULL, &rc);
    if (rc == 0)
        *version = (int)pg_int(res, 0, 0);
    PQclear(res);
    return rc;
}

int pg_migrate(struct ticket_store *ts, int *schema_version)
{
    struct pg_store *s = ts->state;
    struct pg_conn *c;
    int rc = pg_acquire(s, &c);
    if (rc != 0)
        return rc;
    int version = 0;
    for (size_t i = 0; rc == 0 && i < N_MIGRATIONS; i++) {
        if ((rc = pg_command(c, "BEGIN")) != 0)
            break;
        rc = pg_command(c, "SELECT pg_advisory_xact_lock(" PG_MIGRATION_LOCK ")");
        if (rc == 0)
            rc = pg_command(c, "CREATE TABLE IF NOT EXISTS schema_version ("
                               " version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
        if (rc == 0)
            rc = current_version(c, &version);
        if (rc == 0 && version < migrations[i].version) {
            rc = pg_command(c, migrations[i].sql);
            char v[16], at[24];
            snprintf(v, sizeof v, "%d", migrations[i].version);
            snprintf(at, sizeof at, "%lld", (long long)ls_time_now_us());
            const char *params[] = {v, at};
            if (rc == 0)
                PQclear(pg_query(c,
                                 "INSERT INTO schema_version (version, applied_at)"
                                 " VALUES ($1, $2)",
                                 2, params, &rc));
            if (rc == 0)
                version = migrations[i].version;
        }
        if (rc == 0)
            rc = pg_command(c, "COMMIT");
        else
            pg_command(c, "ROLLBACK");
    }
    if (rc == 0 && (rc = current_version(c, &version)) == 0 &&
        version > migrations[N_MIGRATIONS - 1].version)
        rc = LOGSHARE_EFORMAT;
    pg_release(s, c);
    if (rc == 0 && schema_version)
        *schema_version = version;
    return rc;
}

static int pg_check(struct ticket_store *ts)
{
    struct pg_store *s = ts->state;
    struct pg_conn *c;
    int rc = pg_acquire(s, &c);
    if (rc != 0)
        return LOGSHARE_EUNAVAILABLE;
    rc = pg_command(c, "SELECT count(*) FROM schema_version");
    pg_release(s, c);
    return rc == 0 ? 0 : LOGSHARE_EUNAVAILABLE;
}

static int pg_identity(struct ticket_store *ts, char out[TICKET_STORE_IDENTITY_MAX])
{
    struct pg_store *s = ts->state;
    struct pg_conn *c;
    int rc = pg_acquire(s, &c);
    if (rc != 0)
        return rc;
    PGresult *res =
        pg_query(c, "SELECT applied_at FROM schema_version WHERE version = 1", 0, NULL, &rc);
    if (rc == 0 && PQntuples(res) != 1)
        rc = LOGSHARE_ENOENT;
    if (rc == 0)
        snprintf(out, TICKET_STORE_IDENTITY_MAX, "postgres:%lld", pg_int(res, 0, 0));
    PQclear(res);
    pg_release(s, c);
    return rc;
}

static void pg_destroy(struct ticket_store *ts)
{
    struct pg_store *s = ts->state;
    while (s->idle) {
        struct pg_conn *c = s->idle;
        s->idle = c->next_idle;
        PQfinish(c->db);
        free(c);
    }
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->idle_available);
    free(s->conninfo);
    free(s);
}

static const struct ticket_store_ops pg_ops = {
    .name = "postgres",
    .migrate = pg_migrate,
    .create = pg_create,
    .find_idempotent = pg_find_idempotent,
    .get = pg_get,
    .list = pg_list,
    .update = pg_update,
    .add_attachments = pg_add_attachments,
    .get_attachment = pg_get_attachment,
    .blob_referenced = pg_blob_referenced,
    .user_create = pg_user_create,
    .user_get = pg_user_get,
    .user_update = pg_user_update,
    .user_delete = pg_user_delete,
    .check = pg_check,
    .identity = pg_identity,
    .handoff_claim = pg_handoff_claim,
    .handoff_record = pg_handoff_record,
    .handoff_release = pg_handoff_release,
    .handoff_counts = pg_handoff_counts,
    .destroy = pg_destroy,
};

int ticket_store_pg_open(const char *conninfo, int max_connections, struct ticket_store **out)
{
    if (!conninfo || !out)
        return LOGSHARE_EINVAL;
    *out = NULL;
    struct pg_store *s = calloc(1, sizeof *s);
    if (!s || !(s->conninfo = strdup(conninfo))) {
        free(s);
        return LOGSHARE_ENOMEM;
    }
    s->max_connections = max_connections > 0 ? max_connections : 16;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->idle_available, NULL);
    s->base.ops = &pg_ops;
    s->base.state = s;
    struct pg_conn *c;
    int rc = pg_acquire(s, &c);
    if (rc != 0) {
        pg_destroy(&s->base);
        return rc;
    }
    pg_release(s, c);
    *out = &s->base;
    return 0;
}
