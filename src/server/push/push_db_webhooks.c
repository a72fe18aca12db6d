/*
 * push_db_webhooks.c - the webhook_deliveries table: the durable queue
 * the deliverer (webhook_deliverer.c) drains. A row is written in the
 * same transaction as the event it announces, and leaves "pending" only
 * when a receiver answered 2xx, the attempts ran out (when capped), or
 * the log request it announces is no longer pending ("dropped": nobody
 * needs to be woken for a request that was answered or expired), so a
 * crash or a restart never loses one; at worst a delivery is sent twice,
 * which is why it carries an id receivers can dedupe on.
 *
 * Several servers may drain the queue (one push.db per host): a server
 * claims a due delivery (push_db_delivery_claim, one conditional
 * UPDATE, so two servers cannot both win) for as long as an attempt can
 * take, and the others pass over it until it is recorded or its lease
 * runs out (its server died mid-attempt). The lease's end is also the
 * claim's name: a server records or releases a delivery only while it
 * still holds the claim it made. One paused past its lease (a suspended
 * host) finds another server's claim there; clearing that one let a
 * third attempt start while the second was still waiting for its
 * answer, so its late result is dropped instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logshare.h"
#include "push_db_internal.h"

void webhook_delivery_clear(struct webhook_delivery *d)
{
    if (!d)
        return;
    free(d->event);
    free(d->url);
    free(d->payload);
    memset(d, 0, sizeof *d);
}

/* Drops the pending deliveries whose request was answered or is past
 * its expiry (checked against now, not the sweeper's last run). */
static int drop_stale_locked(struct push_db *db, int64_t now)
{
    return push_db_exec_at(
        db,
        "UPDATE webhook_deliveries SET status = 'dropped', finished_at = ?1,"
        " last_error = 'the log request is no longer pending'"
        " WHERE status = 'pending' AND log_request_id IS NOT NULL AND EXISTS ("
        "  SELECT 1 FROM log_requests r WHERE r.id = webhook_deliveries.log_request_id"
        "  AND (r.status <> 'pending' OR r.expires_at <= ?1))",
        now, NULL);
}

int push_db_delivery_next(struct push_db *db, int64_t now, struct webhook_delivery *out)
{
    pthread_mutex_lock(&db->lock);
    sqlite3_stmt *st;
    int rc = drop_stale_locked(db, now);
    if (!rc)
        rc = push_db_prepare(db,
                             "SELECT row, id, event, url, payload, attempts,"
                             " MAX(next_attempt_at, lease_until) AS due"
                             " FROM webhook_deliveries WHERE status = 'pending'"
                             " ORDER BY due, row LIMIT 1",
                             &st);
    if (!rc) {
        int s = sqlite3_step(st);
        if (s == SQLITE_ROW) {
            struct webhook_delivery d = {0};
            int oom = 0;
            d.row = sqlite3_column_int64(st, 0);
            snprintf(d.id, sizeof d.id, "%s", (const char *)sqlite3_column_text(st, 1));
            d.event = push_db_column_strdup(st, 2, &oom);
            d.url = push_db_column_strdup(st, 3, &oom);
            d.payload = push_db_column_strdup(st, 4, &oom);
            d.attempts = sqlite3_column_int(st, 5);
            d.next_attempt_at = sqlite3_column_int64(st, 6);
            d.status = WEBHOOK_PENDING;
            if (oom) {
                webhook_delivery_clear(&d);
                rc = LOGSHARE_ENOMEM;
            } else {
                *out = d;
            }
        } else {
            rc = s == SQLITE_DONE ? LOGSHARE_ENOENT : push_db_error(s);
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&db->lock);
    return rc;
}

int push_db_delivery_record(struct push_db *db, int64_t row, int64_t lease_until, int delivered,
                            int http_status, const char *error, int64_t next_attempt_at,
                            int64_t now)
{
    const char *status = delivered ? "delivered" : next_attempt_at ? "pending" : "failed";
    pthread_mutex_lock(&db->lock);
    sqlite3_stmt *st;
    int rc = push_db_prepare(db,
                             "UPDATE webhook_deliveries SET status = ?1, attempts = attempts + 1,"
                             " last_http_status = ?2, last_error = ?3, next_attempt_at = ?4,"
                             " lease_until = 0,"
                             " finished_at = CASE WHEN ?1 = 'pending' THEN NULL ELSE ?5 END"
                             " WHERE row = ?6 AND status = 'pending' AND lease_until = ?7",
                             &st);
    if (!rc) {
        push_db_bind_text(st, 1, status);
        if (http_status)
            sqlite3_bind_int(st, 2, http_status);
        else
            sqlite3_bind_null(st, 2);
        push_db_bind_text(st, 3, error);
        sqlite3_bind_int64(st, 4, next_attempt_at ? next_attempt_at : now);
        sqlite3_bind_int64(st, 5, now);
        sqlite3_bind_int64(st, 6, row);
        sqlite3_bind_int64(st, 7, lease_until);
        rc = push_db_error(sqlite3_step(st));
        sqlite3_finalize(st);
        if (!rc && sqlite3_changes(db->conn) == 0)
            rc = LOGSHARE_ENOENT;
    }
    pthread_mutex_unlock(&db->lock);
    return rc;
}

int push_db_delivery_claim(struct push_db *db, int64_t row, int64_t now, int64_t lease_until)
{
    pthread_mutex_lock(&db->lock);
    sqlite3_stmt *st;
    int rc = push_db_prepare(db,
                             "UPDATE webhook_deliveries SET lease_until = ?1 WHERE row = ?2"
                             " AND status = 'pending' AND next_attempt_at <= ?3"
                             " AND lease_until <= ?3",
                             &st);
    if (!rc) {
        sqlite3_bind_int64(st, 1, lease_until);
        sqlite3_bind_int64(st, 2, row);
        sqlite3_bind_int64(st, 3, now);
        rc = push_db_error(sqlite3_step(st));
        sqlite3_finalize(st);
        if (!rc && sqlite3_changes(db->conn) == 0)
            rc = LOGSHARE_ECONFLICT;
    }
    pthread_mutex_unlock(&db->lock);
    return rc;
}

int push_db_delivery_release(struct push_db *db, int64_t row, int64_t lease_until)
{
    pthread_mutex_lock(&db->lock);
    sqlite3_stmt *st;
    int rc = push_db_prepare(
        db, "UPDATE webhook_deliveries SET lease_until = 0 WHERE row = ?1 AND lease_until = ?2",
        &st);
    if (!rc) {
        sqlite3_bind_int64(st, 1, row);
        sqlite3_bind_int64(st, 2, lease_until);
        rc = push_db_error(sqlite3_step(st));
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&db->lock);
    return rc;
}

int push_db_delivery_counts(struct push_db *db, int64_t *pending, int64_t *delivered,
                            int64_t *failed, int64_t *dropped)
{
    *pending = *delivered = *failed = 0;
    if (dropped)
        *dropped = 0;
    pthread_mutex_lock(&db->lock);
    sqlite3_stmt *st;
    int rc =
        push_db_prepare(db, "SELECT status, COUNT(*) FROM webhook_deliveries GROUP BY status", &st);
    if (!rc) {
        int s;
        while ((s = sqlite3_step(st)) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(st, 0);
            int64_t n = sqlite3_column_int64(st, 1);
            if (strcmp(name, "pending") == 0)
                *pending = n;
            else if (strcmp(name, "delivered") == 0)
                *delivered = n;
            else if (strcmp(name, "dropped") == 0) {
                if (dropped)
                    *dropped = n;
            } else
                *failed = n;
        }
        rc = push_db_error(s);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&db->lock);
    return rc;
}
