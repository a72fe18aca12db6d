/*
 * push_db_schema.c - the push tables' migrations: numbered steps, each
 * applied once in its own transaction and recorded in
 * push_schema_version. New steps are only ever appended; a database
 * migrated by a newer logshared (a version above the last step here) is
 * refused with LOGSHARE_EFORMAT rather than guessed at.
 */
#include "push_db_internal.h"

#include "logshare.h"

static const char *const steps[] = {
    /* 1: log requests (SPEC: pending -> fulfilled | declined | expired).
     * seq is the SSE event id: AUTOINCREMENT so an id is never reused,
     * even after the newest row is deleted, or Last-Event-ID resumes
     * would skip requests. */
    "CREATE TABLE log_requests ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  id TEXT NOT NULL UNIQUE,"
    "  user_id TEXT NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  ticket_id TEXT,"
    "  created_by TEXT NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('pending','fulfilled','declined','expired')),"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  fulfilled_ticket_id TEXT);"
    "CREATE INDEX log_requests_by_user ON log_requests (user_id, seq);"
    "CREATE INDEX log_requests_by_status ON log_requests (status, expires_at);",

    /* 2: webhook deliveries: the durable queue the deliverer drains. */
    "CREATE TABLE webhook_deliveries ("
    "  row INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  id TEXT NOT NULL UNIQUE,"
    "  event TEXT NOT NULL,"
    "  url TEXT NOT NULL,"
    "  payload TEXT NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('pending','delivered','failed')),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  next_attempt_at INTEGER NOT NULL,"
    "  last_http_status INTEGER,"
    "  last_error TEXT,"
    "  finished_at INTEGER);"
    "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);",

    /* 3: end-of-call surveys, one row per rated category and per issue so
     * the stats are plain GROUP BYs. */
    "CREATE TABLE surveys ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  id TEXT NOT NULL UNIQUE,"
    "  user_id TEXT NOT NULL,"
    "  call_id TEXT NOT NULL,"
    "  more_info TEXT,"
    "  report_issue INTEGER NOT NULL,"
    "  ticket_id TEXT,"
    "  idempotency_key TEXT,"
    "  created_at INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX surveys_idempotency ON surveys (user_id, idempotency_key)"
    "  WHERE idempotency_key IS NOT NULL;"
    "CREATE INDEX surveys_by_time ON surveys (created_at);"
    "CREATE TABLE survey_ratings ("
    "  survey_id TEXT NOT NULL REFERENCES surveys (id),"
    "  category TEXT NOT NULL,"
    "  score INTEGER NOT NULL,"
    "  scale_lower INTEGER NOT NULL,"
    "  scale_upper INTEGER NOT NULL,"
    "  low_threshold INTEGER NOT NULL,"
    "  is_low INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (survey_id, category));"
    "CREATE TABLE survey_issues ("
    "  survey_id TEXT NOT NULL REFERENCES surveys (id),"
    "  category TEXT NOT NULL,"
    "  issue TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (survey_id, category, issue));",

    /* 4: a delivery names the request it announces, so the deliverer can
     * drop it once the request is answered or expired (status 'dropped')
     * and retry a live one for as long as the request can be answered.
     * SQLite cannot widen a CHECK in place: the table is rebuilt, the
     * request id of existing rows read from their payload. */
    "CREATE TABLE webhook_deliveries_v4 ("
    "  row INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  id TEXT NOT NULL UNIQUE,"
    "  event TEXT NOT NULL,"
    "  url TEXT NOT NULL,"
    "  payload TEXT NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('pending','delivered','failed','dropped')),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  next_attempt_at INTEGER NOT NULL,"
    "  last_http_status INTEGER,"
    "  last_error TEXT,"
    "  finished_at INTEGER,"
    "  log_request_id TEXT);"
    "INSERT INTO webhook_deliveries_v4 SELECT row, id, event, url, payload, status, attempts,"
    "  created_at, next_attempt_at, last_http_status, last_error, finished_at,"
    "  json_extract(payload, '$.log_request.id') FROM webhook_deliveries;"
    "DROP TABLE webhook_deliveries;"
    "ALTER TABLE webhook_deliveries_v4 RENAME TO webhook_deliveries;"
    "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);",

    /* 5: every ticket made by a survey names it (survey_id in the ticket
     * JSON), looked up per ticket, also for each one in a list. */
    "CREATE INDEX surveys_by_ticket ON surveys (ticket_id);",

    /* 6: the log-request event feed. Several servers share this file and
     * each publishes to its own streams only, so every change a stream
     * carries (a request made; declined or fulfilled) is appended here
     * by a trigger, in the transaction of the change, whoever made it
     * (an older statement or another process included). Each server
     * reads the rows above the last it saw (push_service.c). seq is
     * AUTOINCREMENT so pruning the table never lets an id come back; as
     * SQLite has one writer at a time, seq order is commit order and a
     * reader never finds a lower seq appear later. Expiries are not
     * here: each server's sweeper announces them by expires_at. */
    "CREATE TABLE log_request_events ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  log_request_seq INTEGER NOT NULL,"
    "  kind TEXT NOT NULL CHECK (kind IN ('created','answered')),"
    "  created_at INTEGER NOT NULL);"
    "CREATE TRIGGER log_request_events_created AFTER INSERT ON log_requests BEGIN"
    "  INSERT INTO log_request_events (log_request_seq, kind, created_at)"
    "  VALUES (NEW.seq, 'created', NEW.created_at);"
    " END;"
    "CREATE TRIGGER log_request_events_answered AFTER UPDATE OF status ON log_requests"
    "  WHEN NEW.status IN ('fulfilled','declined') AND NEW.status IS NOT OLD.status BEGIN"
    "  INSERT INTO log_request_events (log_request_seq, kind, created_at)"
    "  VALUES (NEW.seq, 'answered', NEW.updated_at);"
    " END;",

    /* 7: a delivery is claimed before it is sent (lease_until, unix us):
     * several servers drain one queue, and without a claim a due
     * delivery was sent by each of them. */
    "ALTER TABLE webhook_deliveries ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;",
};

#define STEP_COUNT ((int)(sizeof steps / sizeof steps[0]))

static int current_version(struct push_db *db, int *version)
{
    sqlite3_stmt *st;
    int rc = push_db_prepare(db, "SELECT COALESCE(MAX(version), 0) FROM push_schema_version", &st);
    if (rc)
        return rc;
    rc = sqlite3_step(st);
    *version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    rc = rc == SQLITE_ROW ? 0 : push_db_error(rc);
    sqlite3_finalize(st);
    return rc;
}

int push_db_migrate(struct push_db *db)
{
    int rc = push_db_exec(db, "CREATE TABLE IF NOT EXISTS push_schema_version ("
                              " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    if (rc)
        return rc;
    for (;;) {
        /* BEGIN IMMEDIATE: two servers starting on one file must not both
         * apply a step; the second sees the first's version and skips. */
        if ((rc = push_db_exec(db, "BEGIN IMMEDIATE")))
            return rc;
        int version;
        if ((rc = current_version(db, &version)))
            goto rollback;
        if (version > STEP_COUNT) {
            rc = LOGSHARE_EFORMAT;
            goto rollback;
        }
        if (version == STEP_COUNT) {
            db->schema_version = version;
            return push_db_exec(db, "COMMIT");
        }
        if ((rc = push_db_exec(db, steps[version])))
            goto rollback;
        sqlite3_stmt *st;
        if ((rc = push_db_prepare(db,
                                  "INSERT INTO push_schema_version VALUES (?, "
                                  "CAST(strftime('%s','now') AS INTEGER) * 1000000)",
                                  &st)))
            goto rollback;
        sqlite3_bind_int(st, 1, version + 1);
        rc = push_db_error(sqlite3_step(st));
        sqlite3_finalize(st);
        if (rc)
            goto rollback;
        if ((rc = push_db_exec(db, "COMMIT")))
            goto rollback;
    }
rollback:
    push_db_exec(db, "ROLLBACK");
    return rc;
}
