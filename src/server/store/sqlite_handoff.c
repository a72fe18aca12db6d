/*
 * sqlite_handoff.c - the tracker_handoffs table of the SQLite ticket
 * store (contract in ticket_store.h, "tracker hand-offs").
 *
 * A row is written by the ticket's own create transaction
 * (sqlite_batch.c), so it exists exactly when the ticket does. Claims
 * run in BEGIN IMMEDIATE, which holds the database's one write lock
 * from the read to the write: two processes on one file cannot both
 * claim a row. A claim's lease_until is its name: a result is recorded
 * only while the row still carries it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logshare.h"
#include "sqlite_store.h"
#include "ticket_store_impl.h"

static const char SQL_INSERT[] =
    "INSERT INTO tracker_handoffs (ticket_id, tracker, delivery_id, next_attempt_at, created_at)"
    " VALUES (?1, ?2, ?3, ?4, ?4)";
static const char SQL_STATUS[] = "SELECT status FROM tracker_handoffs WHERE ticket_id = ?1";
static const char SQL_DUE[] =
    "SELECT ticket_id, delivery_id, attempts FROM tracker_handoffs"
    " WHERE status = 'pending' AND next_attempt_at <= ?1 AND lease_until <= ?1"
    " ORDER BY next_attempt_at LIMIT 1";
static const char SQL_CLAIM[] = "UPDATE tracker_handoffs SET lease_until = ?2 WHERE ticket_id = ?1";
static const char SQL_NEXT_DUE[] =
    "SELECT min(max(next_attempt_at, lease_until)) FROM tracker_handoffs WHERE status = 'pending'";
static const char SQL_RECORD[] =
    "UPDATE tracker_handoffs SET status = ?3, attempts = attempts + 1, last_http_status = ?4,"
    " last_error = ?5, next_attempt_at = ?6, lease_until = 0,"
    " finished_at = CASE WHEN ?3 = 'pending' THEN NULL ELSE ?7 END"
    " WHERE ticket_id = ?1 AND status = 'pending' AND lease_until = ?2";
static const char SQL_SET_URL[] =
    "UPDATE tickets SET tracker_url = ?2, updated_at = max(updated_at, ?3) WHERE id = ?1";
static const char SQL_RELEASE[] =
    "UPDATE tracker_handoffs SET lease_until = 0 WHERE ticket_id = ?1 AND lease_until = ?2";
static const char SQL_COUNTS[] = "SELECT status, count(*) FROM tracker_handoffs GROUP BY status";

static int step_done(sqlite3_stmt *st)
{
    int r = sqlite3_step(st);
    sqlite3_reset(st);
    return r == SQLITE_DONE ? 0 : sq_error(r);
}

int sq_handoff_insert(struct sq_conn *c, const char *ticket_id, const char *tracker, int64_t now)
{
    char delivery[TICKET_ID_MAX];
    int rc = ticket_id_new(TICKET_HANDOFF_ID_PREFIX, delivery);
    sqlite3_stmt *st = rc == 0 ? sq_prepare(c, SQL_INSERT, &rc) : NULL;
    if (!st)
        return rc;
    sq_bind_text(st, 1, ticket_id);
    sq_bind_text(st, 2, tracker);
    sq_bind_text(st, 3, delivery);
    sqlite3_bind_int64(st, 4, now);
    return step_done(st);
}

int sq_handoff_status(struct sq_conn *c, const char *ticket_id, char **status)
{
    int rc = 0;
    *status = NULL;
    sqlite3_stmt *st = sq_prepare(c, SQL_STATUS, &rc);
    if (!st)
        return rc;
    sq_bind_text(st, 1, ticket_id);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        *status = sq_column_dup(st, 0, &rc);
    else if (r != SQLITE_DONE)
        rc = sq_error(r);
    sqlite3_reset(st);
    return rc;
}

/* The row due first into *out (ENOENT: none). */
static int find_due(struct sq_conn *c, int64_t now, struct ticket_handoff *out)
{
    int rc = 0;
    sqlite3_stmt *st = sq_prepare(c, SQL_DUE, &rc);
    if (!st)
        return rc;
    sqlite3_bind_int64(st, 1, now);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        snprintf(out->ticket_id, sizeof out->ticket_id, "%s", sqlite3_column_text(st, 0));
        snprintf(out->delivery_id, sizeof out->delivery_id, "%s", sqlite3_column_text(st, 1));
        out->attempts = sqlite3_column_int(st, 2);
    }
    sqlite3_reset(st);
    return r == SQLITE_ROW ? 0 : r == SQLITE_DONE ? LOGSHARE_ENOENT : sq_error(r);
}

/* When the next pending hand-off falls due (0: none pending). */
static int64_t next_due_time(struct sq_conn *c)
{
    int rc = 0;
    int64_t due = 0;
    sqlite3_stmt *st = sq_prepare(c, SQL_NEXT_DUE, &rc);
    if (st) {
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            due = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    return due;
}

/* Inside BEGIN IMMEDIATE: the due row is looked up again (another
 * process may have claimed it since the unlocked look) and claimed. */
static int claim_locked(struct sq_conn *c, int64_t now, int64_t lease_until,
                        struct ticket_handoff *out)
{
    int rc = find_due(c, now, out);
    sqlite3_stmt *st = rc == 0 ? sq_prepare(c, SQL_CLAIM, &rc) : NULL;
    if (!st)
        return rc;
    out->lease_until = lease_until;
    sq_bind_text(st, 1, out->ticket_id);
    sqlite3_bind_int64(st, 2, lease_until);
    return step_done(st);
}

int sq_handoff_claim(struct ticket_store *ts, int64_t now, int64_t lease_until,
                     struct ticket_handoff *out, int64_t *next_due)
{
    struct sq_store *s = ts->state;
    struct sq_conn *c;
    int rc = sq_acquire(s, &c);
    if (rc != 0)
        return rc;
    /* Idle workers poll: look without the write lock first, so an empty
     * queue never contends with ticket commits. */
    rc = find_due(c, now, out);
    if (rc == 0 && (rc = sq_exec(c, "BEGIN IMMEDIATE")) == 0) {
        rc = claim_locked(c, now, lease_until, out);
        if (rc == 0)
            rc = sq_commit(c) == 0 ? 0 : LOGSHARE_EIO;
        else
            sq_exec(c, "ROLLBACK");
    }
    if (rc == LOGSHARE_ENOENT && next_due)
        *next_due = next_due_time(c);
    sq_release(s, c);
    return rc;
}

int sq_handoff_record(struct ticket_store *ts, const struct ticket_handoff *h,
                      const struct ticket_handoff_result *r)
{
    struct sq_store *s = ts->state;
    struct sq_conn *c;
    int rc = sq_acquire(s, &c);
    if (rc != 0)
        return rc;
    if ((rc = sq_exec(c, "BEGIN IMMEDIATE")) != 0) {
        sq_release(s, c);
        return rc;
    }
    sqlite3_stmt *st = sq_prepare(c, SQL_RECORD, &rc);
    if (st) {
        sq_bind_text(st, 1, h->ticket_id);
        sqlite3_bind_int64(st, 2, h->lease_until);
        sq_bind_text(st, 3, ticket_handoff_status_after(r));
        if (r->http_status)
            sqlite3_bind_int(st, 4, r->http_status);
        sq_bind_text(st, 5, r->delivered ? NULL : r->error);
        sqlite3_bind_int64(st, 6, r->next_attempt_at ? r->next_attempt_at : r->now);
        sqlite3_bind_int64(st, 7, r->now);
        rc = step_done(st);
        if (rc == 0 && sqlite3_changes(c->db) == 0)
            rc = LOGSHARE_ENOENT; /* the claim ran out: another server holds it */
    }
    if (rc == 0 && r->delivered && r->tracker_url && (st = sq_prepare(c, SQL_SET_URL, &rc))) {
        sq_bind_text(st, 1, h->ticket_id);
        sq_bind_text(st, 2, r->tracker_url);
        sqlite3_bind_int64(st, 3, r->now);
        rc = step_done(st);
    }
    if (rc == 0)
        rc = sq_commit(c) == 0 ? 0 : LOGSHARE_EIO;
    else
        sq_exec(c, "ROLLBACK");
    sq_release(s, c);
    return rc;
}

int sq_handoff_release(struct ticket_store *ts, const struct ticket_handoff *h)
{
    struct sq_store *s = ts->state;
    struct sq_conn *c;
    int rc = sq_acquire(s, &c);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = sq_prepare(c, SQL_RELEASE, &rc);
    if (st) {
        sq_bind_text(st, 1, h->ticket_id);
        sqlite3_bind_int64(st, 2, h->lease_until);
        rc = step_done(st);
    }
    sq_release(s, c);
    return rc;
}

int sq_handoff_counts(struct ticket_store *ts, struct ticket_handoff_counts *out)
{
    struct sq_store *s = ts->state;
    struct sq_conn *c;
    int rc = sq_acquire(s, &c);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = sq_prepare(c, SQL_COUNTS, &rc);
    int r = SQLITE_DONE;
    while (st && (r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int64_t n = sqlite3_column_int64(st, 1);
        if (!strcmp(name, "pending"))
            out->pending = n;
        else if (!strcmp(name, "delivered"))
            out->delivered = n;
        else
            out->failed = n;
    }
    if (st) {
        rc = r == SQLITE_DONE ? 0 : sq_error(r);
        sqlite3_reset(st);
    }
    sq_release(s, c);
    return rc;
}
