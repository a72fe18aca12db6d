/*
 * pg_handoff.c - the tracker_handoffs table of the PostgreSQL ticket
 * store (contract in ticket_store.h; the same behaviour as
 * sqlite_handoff.c).
 *
 * Several servers share the table. A claim is one UPDATE whose
 * subquery picks the row due first with FOR UPDATE SKIP LOCKED: two
 * servers claiming at once take different rows (or one finds none)
 * instead of queueing on the same one, and the outer conditions are
 * checked again on the locked row, so a row claimed and committed by
 * another server meanwhile is not taken twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logshare.h"
#include "pg_store.h"
#include "ticket_store_impl.h"

int pg_handoff_insert(struct pg_conn *c, const char *ticket_id, const char *tracker,
                      const char *now)
{
    char delivery[TICKET_ID_MAX];
    int rc = ticket_id_new(TICKET_HANDOFF_ID_PREFIX, delivery);
    if (rc != 0)
        return rc;
    const char *p[] = {ticket_id, tracker, delivery, now};
    PQclear(pg_query(c,
                     "INSERT INTO tracker_handoffs (ticket_id, tracker, delivery_id,"
                     " next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $4)",
                     4, p, &rc));
    return rc;
}

int pg_handoff_status(struct pg_conn *c, const char *ticket_id, char **status)
{
    const char *p[] = {ticket_id};
    int rc;
    *status = NULL;
    PGresult *res =
        pg_query(c, "SELECT status FROM tracker_handoffs WHERE ticket_id = $1", 1, p, &rc);
    if (rc == 0 && PQntuples(res) == 1)
        *status = pg_dup(res, 0, 0, &rc);
    PQclear(res);
    return rc;
}

/* When the next pending hand-off falls due (0: none pending). */
static int64_t next_due_time(struct pg_conn *c)
{
    int rc;
    PGresult *res = pg_query(c,
                             "SELECT min(greatest(next_attempt_at, lease_until))"
                             " FROM tracker_handoffs WHERE status = 'pending'",
                             0, NULL, &rc);
    int64_t due = rc == 0 && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ? pg_int(res, 0, 0) : 0;
    PQclear(res);
    return due;
}

int pg_handoff_claim(struct ticket_store *ts, int64_t now, int64_t lease_until,
                     struct ticket_handoff *out, int64_t *next_due)
{
    struct pg_store *s = ts->state;
    struct pg_conn *c;
    int rc = pg_acquire(s, &c);
    if (rc != 0)
        return rc;
    char nowbuf[24], leasebuf[24];
    pg_fmt_i64(nowbuf, (long long)now);
    pg_fmt_i64(leasebuf, (long long)lease_until);
    const char *p[] = {nowbuf, leasebuf};
    PGresult *res = pg_query(c,
                             "UPDATE tracker_handoffs SET lease_until = $2"
                             " WHERE ticket_id = (SELECT ticket_id FROM tracker_handoffs"
                             "  WHERE status = 'pending' AND next_attempt_at <= $1"
                             "  AND lease_until <= $1 ORDER BY next_attempt_at LIMIT 1"
                             "  FOR UPDATE SKIP LOCKED)"
                             " AND status = 'pending' AND lease_until <= $1"
                             " RETURNING ticket_id, delivery_id, attempts",
                             2, p, &rc);
    if (rc == 0 && PQntuples(res) == 1) {
        memset(out, 0, sizeof *out);
        snprintf(out->ticket_id, sizeof out->ticket_id, "%s", PQgetvalue(res, 0, 0));
        snprintf(out->delivery_id, sizeof out->delivery_id, "%s", PQgetvalue(res, 0, 1));
        out->attempts = (int)pg_int(res, 0, 2);
        out->lease_until = lease_until;
    } else if (rc == 0) {
        rc = LOGSHARE_ENOENT;
        if (next_due)
            *next_due = next_due_time(c);
    }
    PQclear(res);
    pg_release(s, c);
    return rc;
}

int pg_handoff_record(struct ticket_store *ts, const struct ticket_handoff *h,
                      const struct ticket_handoff_result *r)
{
    struct pg_store *s = ts->state;
    struct pg_conn *c;
    int rc = pg_acquire(s, &c);
    if (rc != 0)
        return rc;
    char lease[24], http[24], next[24], now[24];
    pg_fmt_i64(lease, (long long)h->lease_until);
    pg_fmt_i64(http, (long long)r->http_status);
    pg_fmt_i64(next, (long long)(r->next_attempt_at ? r->next_attempt_at : r->now));
    pg_fmt_i64(now, (long long)r->now);
    const char *p[] = {h->ticket_id,
                       lease,
                       ticket_handoff_status_after(r),
                       r->http_status ? http : NULL,
                       r->delivered ? NULL : r->error,
                       next,
                       now};
    if ((rc = pg_command(c, "BEGIN")) == 0) {
        PGresult *res = pg_query(c,
                                 "UPDATE tracker_handoffs SET status = $3,"
                                 " attempts = attempts + 1, last_http_status = $4::integer,"
                                 " last_error = $5, next_attempt_at = $6, lease_until = 0,"
                                 " finished_at = CASE WHEN $3 = 'pending' THEN NULL ELSE"
                                 " $7::bigint END"
                                 " WHERE ticket_id = $1 AND status = 'pending'"
                                 " AND lease_until = $2",
                                 7, p, &rc);
        if (rc == 0 && strcmp(PQcmdTuples(res), "1") != 0)
            rc = LOGSHARE_ENOENT; /* the claim ran out: another server holds it */
        PQclear(res);
        if (rc == 0 && r->delivered && r->tracker_url) {
            const char *up[] = {h->ticket_id, r->tracker_url, now};
            PQclear(pg_query(c,
                             "UPDATE tickets SET tracker_url = $2,"
                             " updated_at = greatest(updated_at, $3::bigint) WHERE id = $1",
                             3, up, &rc));
        }
        if (rc == 0)
            rc = pg_commit(c) == 0 ? 0 : LOGSHARE_EIO;
        else
            pg_command(c, "ROLLBACK");
    }
    pg_release(s, c);
    return rc;
}

int pg_handoff_release(struct ticket_store *ts, const struct ticket_handoff *h)
{
    struct pg_store *s = ts->state;
    struct pg_conn *c;
    int rc = pg_acquire(s, &c);
    if (rc != 0)
        return rc;
    char lease[24];
    pg_fmt_i64(lease, (long long)h->lease_until);
    const char *p[] = {h->ticket_id, lease};
    PQclear(pg_query(c,
                     "UPDATE tracker_handoffs SET lease_until = 0"
                     " WHERE ticket_id = $1 AND lease_until = $2",
                     2, p, &rc));
    pg_release(s, c);
    return rc;
}

int pg_handoff_counts(struct ticket_store *ts, struct ticket_handoff_counts *out)
{
    struct pg_store *s = ts->state;
    struct pg_conn *c;
    int rc = pg_acquire(s, &c);
    if (rc != 0)
        return rc;
    PGresult *res =
        pg_query(c, "SELECT status, count(*) FROM tracker_handoffs GROUP BY status", 0, NULL, &rc);
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        const char *name = PQgetvalue(res, i, 0);
        int64_t n = pg_int(res, i, 1);
        if (!strcmp(name, "pending"))
            out->pending = n;
        else if (!strcmp(name, "delivered"))
            out->delivered = n;
        else
            out->failed = n;
    }
    PQclear(res);
    pg_release(s, c);
    return rc;
}
