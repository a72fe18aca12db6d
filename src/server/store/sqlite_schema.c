/*
 * sqlite_schema.c - the SQLite ticket store's schema and its versioned
 * migrations.
 *
 * Each step runs in its own write transaction (BEGIN IMMEDIATE) that
 * first re-reads schema_version, so two processes starting at once
 * apply each step exactly once. Steps are only ever appended: a released
 * step is never edited, a change is a new step.
 */
#include <stdio.h>
#include <stdint.h>

#include "logshare.h"
#include "ls_time.h"
#include "sqlite_store.h"

struct migration {
    int version;
    const char *sql;
};

static const struct migration migrations[] = {
    {1,
     /* Tickets; times are unix microseconds; status 0 open, 1 in
      * progress, 2 closed (enum ticket_status). The indexes serve the
      * list filters, each ending in the (created_at, id) paging order. */
     "CREATE TABLE tickets ("
     " id TEXT PRIMARY KEY,"
     " status INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2)),"
     " created_at INTEGER NOT NULL,"
     " updated_at INTEGER NOT NULL,"
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
     " id TEXT PRIMARY KEY,"
     " ticket_id TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,"
     " name TEXT NOT NULL,"
     " size INTEGER NOT NULL CHECK (size >= 0),"
     " sha256 TEXT NOT NULL,"
     " content_type TEXT,"
     " blob_key TEXT NOT NULL UNIQUE,"
     " created_at INTEGER NOT NULL);"
     "CREATE INDEX attachments_by_ticket ON attachments (ticket_id);"
     "CREATE TABLE ticket_notes ("
     " seq INTEGER PRIMARY KEY,"
     " ticket_id TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,"
     " author TEXT,"
     " text TEXT NOT NULL,"
     " created_at INTEGER NOT NULL);"
     "CREATE INDEX ticket_notes_by_ticket ON ticket_notes (ticket_id, seq);"
     /* An Idempotency-Key is scoped to its user: the same key from two
      * users names two tickets. */
     "CREATE TABLE idempotency_keys ("
     " user_id TEXT NOT NULL,"
     " key TEXT NOT NULL,"
     " ticket_id TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,"
     " created_at INTEGER NOT NULL,"
     " PRIMARY KEY (user_id, key));"
     "CREATE TABLE users ("
     " name TEXT PRIMARY KEY,"
     " role TEXT NOT NULL CHECK (role IN ('user', 'support', 'admin')),"
     " password_hash TEXT NOT NULL,"
     " created_at INTEGER NOT NULL);"},
    {2,
     /* PATCH's Idempotency-Key, per caller and ticket: a retry of a
      * PATCH whose answer was lost appends its note once. */
     "CREATE TABLE patch_keys ("
     " user_id TEXT NOT NULL,"
     " ticket_id TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,"
     " key TEXT NOT NULL,"
     " created_at INTEGER NOT NULL,"
     " PRIMARY KEY (user_id, ticket_id, key));"},
    {3,
     /* Tracker hand-offs (ticket_store.h): one row per ticket created
      * while a tracker was configured, written in the ticket's own
      * transaction. lease_until names a server's claim (0: none). */
     "CREATE TABLE tracker_handoffs ("
     " ticket_id TEXT PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,"
     " tracker TEXT NOT NULL,"
     " delivery_id TEXT NOT NULL UNIQUE,"
     " status TEXT NOT NULL DEFAULT 'pending'"
     "  CHECK (status IN ('pending', 'delivered', 'failed')),"
     " attempts INTEGER NOT NULL DEFAULT 0,"
     " next_attempt_at INTEGER NOT NULL,"
     " lease_until INTEGER NOT NULL DEFAULT 0,"
     " last_http_status INTEGER, last_error TEXT,"
     " created_at INTEGER NOT NULL, finished_at INTEGER);"
     "CREATE INDEX tracker_handoffs_due ON tracker_handoffs (next_attempt_at)"
     " WHERE status = 'pending';"},
};

#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])

static int current_version(struct sq_conn *c, int *version)
{
    int rc = 0;
    sqlite3_stmt *st = sq_prepare(c, "SELECT coalesce(max(version), 0) FROM schema_version", &rc);
    if (!st)
        return rc;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        *version = sqlite3_column_int(st, 0);
    else
        rc = sq_error(r);
    sqlite3_reset(st);
    return rc;
}

int sq_migrate(struct ticket_store *ts, int *schema_version)
{
    struct sq_store *s = ts->state;
    struct sq_conn *c;
    int rc = sq_acquire(s, &c);
    if (rc != 0)
        return rc;
    rc = sq_exec(c, "CREATE TABLE IF NOT EXISTS schema_version ("
                    " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    int version = 0;
    for (size_t i = 0; rc == 0 && i < N_MIGRATIONS; i++) {
        if ((rc = sq_exec(c, "BEGIN IMMEDIATE")) != 0)
            break;
        rc = current_version(c, &version);
        if (rc == 0 && version < migrations[i].version) {
            rc = sq_exec(c, migrations[i].sql);
            char sql[128];
            if (rc == 0) {
                snprintf(sql, sizeof sql,
                         "INSERT INTO schema_version (version, applied_at) VALUES (%d, %lld)",
                         migrations[i].version, (long long)ls_time_now_us());
                rc = sq_exec(c, sql);
            }
            if (rc == 0)
                version = migrations[i].version;
        }
        rc = rc == 0 ? sq_exec(c, "COMMIT") : (sq_exec(c, "ROLLBACK"), rc);
    }
    if (rc == 0 && (rc = current_version(c, &version)) == 0 &&
        version > migrations[N_MIGRATIONS - 1].version)
        rc = LOGSHARE_EFORMAT;
    sq_release(s, c);
    if (rc == 0 && schema_version)
        *schema_version = version;
    return rc;
}
