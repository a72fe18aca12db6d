/*
 * push_db_log_requests.c - the log_requests table: create (with its
 * webhook delivery in the same transaction), lazy expiry, list, decline
 * and fulfil. The state machine (SPEC): pending -> fulfilled | declined
 * | expired; every transition is one conditional UPDATE, so two racing
 * answers cannot both win.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log_request_json.h"
#include "logshare.h"
#include "push_db_internal.h"

static const char *const status_names[] = {"pending", "fulfilled", "declined", "expired"};

const char *log_request_status_name(enum log_request_status s)
{
    return (unsigned)s < 4 ? status_names[s] : "unknown";
}

int log_request_status_parse(const char *name, enum log_request_status *s)
{
    for (int i = 0; name && i < 4; i++)
        if (strcmp(name, status_names[i]) == 0) {
            *s = (enum log_request_status)i;
            return 0;
        }
    return LOGSHARE_EINVAL;
}

void log_request_clear(struct log_request *r)
{
    if (!r)
        return;
    free(r->user_id);
    free(r->reason);
    free(r->ticket_id);
    free(r->created_by);
    free(r->fulfilled_ticket_id);
    memset(r, 0, sizeof *r);
}

void log_request_list_clear(struct log_request_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        log_request_clear(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

#define COLUMNS                                                                                    \
    "seq, id, user_id, reason, ticket_id, created_by, status, created_at, expires_at, "            \
    "updated_at, fulfilled_ticket_id"

static int read_row(sqlite3_stmt *st, struct log_request *r)
{
    memset(r, 0, sizeof *r);
    int oom = 0;
    r->seq = sqlite3_column_int64(st, 0);
    const unsigned char *id = sqlite3_column_text(st, 1);
    snprintf(r->id, sizeof r->id, "%s", id ? (const char *)id : "");
    r->user_id = push_db_column_strdup(st, 2, &oom);
    r->reason = push_db_column_strdup(st, 3, &oom);
    r->ticket_id = push_db_column_strdup(st, 4, &oom);
    r->created_by = push_db_column_strdup(st, 5, &oom);
    enum log_request_status s = LOG_REQUEST_PENDING;
    log_request_status_parse((const char *)sqlite3_column_text(st, 6), &s);
    r->status = s;
    r->created_at = sqlite3_column_int64(st, 7);
    r->expires_at = sqlite3_column_int64(st, 8);
    r->updated_at = sqlite3_column_int64(st, 9);
    r->fulfilled_ticket_id = push_db_column_strdup(st, 10, &oom);
    if (oom) {
        log_request_clear(r);
        return LOGSHARE_ENOMEM;
    }
    return 0;
}

static int expire_locked(struct push_db *db, int64_t now, int *count)
{
    return push_db_exec_at(db,
                           "UPDATE log_requests SET status = 'expired', updated_at = ?1"
                           " WHERE status = 'pending' AND expires_at <= ?1",
                           now, count);
}

static int get_locked(struct push_db *db, const char *id, struct log_request *out)
{
    sqlite3_stmt *st;
    int rc = push_db_prepare(db, "SELECT " COLUMNS " FROM log_requests WHERE id = ?", &st);
    if (rc)
        return rc;
    push_db_bind_text(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        rc = read_row(st, out);
    else
        rc = rc == SQLITE_DONE ? LOGSHARE_ENOENT : push_db_error(rc);
    sqlite3_finalize(st);
    return rc;
}

static int insert_delivery_locked(struct push_db *db, const struct log_request *r, const char *url,
                                  int64_t now)
{
    char did[PUSH_ID_MAX];
    int rc = push_id_new("wh", did);
    if (rc)
        return rc;
    json_t *body = json_object();
    json_t *lr = log_request_json(r);
    if (!body || !lr) {
        json_decref(body);
        json_decref(lr);
        return LOGSHARE_ENOMEM;
    }
    json_object_set_new(body, "event", json_string("log_request.created"));
    json_object_set_new(body, "delivery_id", json_string(did));
    json_object_set_new(body, "user_id", json_string(r->user_id));
    json_object_set_new(body, "log_request", lr);
    char *payload = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!payload)
        return LOGSHARE_ENOMEM;
    sqlite3_stmt *st;
    rc = push_db_prepare(db,
                         "INSERT INTO webhook_deliveries (id, event, url, payload, status,"
                         " created_at, next_attempt_at, log_request_id) VALUES (?,"
                         " 'log_request.created', ?, ?, 'pending', ?, ?, ?)",
                         &st);
    if (!rc) {
        push_db_bind_text(st, 1, did);
        push_db_bind_text(st, 2, url);
        push_db_bind_text(st, 3, payload);
        sqlite3_bind_int64(st, 4, now);
        sqlite3_bind_int64(st, 5, now);
        push_db_bind_text(st, 6, r->id);
        rc = push_db_error(sqlite3_step(st));
        sqlite3_finalize(st);
    }
    free(payload);
    return rc;
}

int push_db_log_request_create(struct push_db *db, const struct log_request_new *in,
                               const struct push_db_webhook *hook, int64_t now,
                               struct log_request *out)
{
    memset(out, 0, sizeof *out);
    if (!in->user_id || !*in->user_id || !in->reason || !in->created_by || in->expires_in_s < 1 ||
        in->expires_in_s > LOG_REQUEST_MAX_EXPIRES_S)
        return LOGSHARE_EINVAL;
    char id[PUSH_ID_MAX];
    int rc = push_id_new("lr", id);
    if (rc)
        return rc;
    pthread_mutex_lock(&db->lock);
    if ((rc = push_db_exec(db, "BEGIN IMMEDIATE")))
        goto out;
    sqlite3_stmt *st;
    rc = push_db_prepare(db,
                         "INSERT INTO log_requests (id, user_id, reason, ticket_id, created_by,"
                         " status, created_at, expires_at, updated_at)"
                         " VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
                         &st);
    if (!rc) {
        push_db_bind_text(st, 1, id);
        push_db_bind_text(st, 2, in->user_id);
        push_db_bind_text(st, 3, in->reason);
        push_db_bind_text(st, 4, in->ticket_id);
        push_db_bind_text(st, 5, in->created_by);
        sqlite3_bind_int64(st, 6, now);
        sqlite3_bind_int64(st, 7, now + in->expires_in_s * 1000000);
        sqlite3_bind_int64(st, 8, now);
        rc = push_db_error(sqlite3_step(st));
        sqlite3_finalize(st);
    }
    if (!rc)
        rc = get_locked(db, id, out);
    if (!rc && hook && hook->url)
        rc = insert_delivery_locked(db, out, hook->url, now);
    if (!rc)
        rc = push_db_exec(db, "COMMIT");
    if (rc) {
        push_db_exec(db, "ROLLBACK");
        log_request_clear(out);
    }
out:
    pthread_mutex_unlock(&db->lock);
    return rc;
}

int push_db_log_requests_expire(struct push_db *db, int64_t now, int *count)
{
    pthread_mutex_lock(&db->lock);
    int rc = expire_locked(db, now, count);
    pthread_mutex_unlock(&db->lock);
    return rc;
}

int push_db_log_request_get(struct push_db *db, const char *id, int64_t now,
                            struct log_request *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&db->lock);
    int rc = expire_locked(db, now, NULL);
    if (!rc)
        rc = get_locked(db, id, out);
    pthread_mutex_unlock(&db->lock);
    return rc;
}

/* Every row st yields into the empty list out (grown as needed), then
 * finalizes st. On an error out is cleared. */
static int read_rows(sqlite3_stmt *st, struct log_request_list *out)
{
    size_t cap = 0;
    int rc = 0;
    for (;;) {
        int s = sqlite3_step(st);
        if (s != SQLITE_ROW) {
            rc = s == SQLITE_DONE ? 0 : push_db_error(s);
            break;
        }
        if (out->count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct log_request *n = realloc(out->items, ncap * sizeof *n);
            if (!n) {
                rc = LOGSHARE_ENOMEM;
                break;
            }
            out->items = n;
            cap = ncap;
        }
        if ((rc = read_row(st, &out->items[out->count])))
            break;
        out->count++;
    }
    sqlite3_finalize(st);
    if (rc)
        log_request_list_clear(out);
    return rc;
}

/* The two list orders share everything but their SQL: ?1 is the cursor
 * (after_seq ascending, before_seq descending, 0 = from the start). */
static int list_query(struct push_db *db, const char *sql, const char *user_id, int status,
                      int64_t cursor, size_t limit, int64_t now, struct log_request_list *out)
{
    memset(out, 0, sizeof *out);
    if (limit < 1 || limit > 1000 || cursor < 0)
        return LOGSHARE_EINVAL;
    pthread_mutex_lock(&db->lock);
    int rc = expire_locked(db, now, NULL);
    sqlite3_stmt *st = NULL;
    if (!rc)
        rc = push_db_prepare(db, sql, &st);
    if (!rc) {
        sqlite3_bind_int64(st, 1, cursor);
        push_db_bind_text(st, 2, user_id);
        push_db_bind_text(
            st, 3, status >= 0 ? log_request_status_name((enum log_request_status)status) : NULL);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)limit);
        rc = read_rows(st, out);
    }
    pthread_mutex_unlock(&db->lock);
    return rc;
}

int push_db_log_request_list(struct push_db *db, const char *user_id, int status, int64_t after_seq,
                             size_t limit, int64_t now, struct log_request_list *out)
{
    return list_query(db,
                      "SELECT " COLUMNS " FROM log_requests WHERE seq > ?1"
                      " AND (?2 IS NULL OR user_id = ?2) AND (?3 IS NULL OR status = ?3)"
                      " ORDER BY seq LIMIT ?4",
                      user_id, status, after_seq, limit, now, out);
}

int push_db_log_request_list_newest(struct push_db *db, const char *user_id, int status,
                                    int64_t before_seq, size_t limit, int64_t now,
                                    struct log_request_list *out)
{
    return list_query(db,
                      "SELECT " COLUMNS " FROM log_requests WHERE (?1 = 0 OR seq < ?1)"
                      " AND (?2 IS NULL OR user_id = ?2) AND (?3 IS NULL OR status = ?3)"
                      " ORDER BY seq DESC LIMIT ?4",
                      user_id, status, before_seq, limit, now, out);
}

int push_db_log_request_last_seq(struct push_db *db, int64_t *seq)
{
    *seq = 0;
    pthread_mutex_lock(&db->lock);
    sqlite3_stmt *st;
    /* AUTOINCREMENT records the highest seq ever used, deleted rows too. */
    int rc =
        push_db_prepare(db, "SELECT seq FROM sqlite_sequence WHERE name = 'log_requests'", &st);
    if (!rc) {
        int s = sqlite3_step(st);
        if (s == SQLITE_ROW)
            *seq = sqlite3_column_int64(st, 0);
        rc = s == SQLITE_ROW || s == SQLITE_DONE ? 0 : push_db_error(s);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&db->lock);
    return rc;
}

int push_db_log_requests_expired_between(struct push_db *db, int64_t after, int64_t upto,
                                         struct log_request_list *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&db->lock);
    sqlite3_stmt *st;
    int rc = push_db_prepare(db,
                             "SELECT " COLUMNS " FROM log_requests WHERE status = 'expired'"
                             " AND expires_at > ?1 AND expires_at <= ?2 ORDER BY seq",
                             &st);
    if (!rc) {
        sqlite3_bind_int64(st, 1, after);
        sqlite3_bind_int64(st, 2, upto);
        rc = read_rows(st, out);
    }
    pthread_mutex_unlock(&db->lock);
    return rc;
}

/* Moves id from one of the states in from_sql to new_status, for the
 * owner only. Returns ENOENT / EPERM / ECONFLICT as push_db.h says. */
static int transition(struct push_db *db, const char *id, const char *user_id, const char *from_sql,
                      const char *new_status, const char *ticket_id, int64_t now,
                      struct log_request *out)
{
    struct log_request cur;
    pthread_mutex_lock(&db->lock);
    int rc = expire_locked(db, now, NULL);
    if (!rc)
        rc = get_locked(db, id, &cur);
    if (rc)
        goto out;
    if (strcmp(cur.user_id, user_id) != 0) {
        rc = LOGSHARE_EPERM;
        log_request_clear(&cur);
        goto out;
    }
    log_request_clear(&cur);
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE log_requests SET status = ?1, updated_at = ?2,"
             " fulfilled_ticket_id = COALESCE(?3, fulfilled_ticket_id)"
             " WHERE id = ?4 AND status IN (%s)",
             from_sql);
    sqlite3_stmt *st;
    if ((rc = push_db_prepare(db, sql, &st)))
        goto out;
    push_db_bind_text(st, 1, new_status);
    sqlite3_bind_int64(st, 2, now);
    push_db_bind_text(st, 3, ticket_id);
    push_db_bind_text(st, 4, id);
    rc = push_db_error(sqlite3_step(st));
    sqlite3_finalize(st);
    if (!rc && sqlite3_changes(db->conn) == 0)
        rc = LOGSHARE_ECONFLICT;
    if (out && (!rc || rc == LOGSHARE_ECONFLICT)) {
        int grc = get_locked(db, id, out);
        if (grc)
            rc = grc;
    }
out:
    pthread_mutex_unlock(&db->lock);
    return rc;
}

int push_db_log_request_decline(struct push_db *db, const char *id, const char *user_id,
                                int64_t now, struct log_request *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    return transition(db, id, user_id, "'pending'", "declined", NULL, now, out);
}

int push_db_log_request_check_owner(struct push_db *db, const char *id, const char *user_id)
{
    struct log_request cur;
    pthread_mutex_lock(&db->lock);
    int rc = get_locked(db, id, &cur);
    pthread_mutex_unlock(&db->lock);
    if (rc)
        return rc;
    rc = strcmp(cur.user_id, user_id) == 0 ? 0 : LOGSHARE_EPERM;
    log_request_clear(&cur);
    return rc;
}

int push_db_log_request_fulfil(struct push_db *db, const char *id, const char *user_id,
                               const char *ticket_id, int64_t now, struct log_request *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    return transition(db, id, user_id, "'pending','expired'", "fulfilled", ticket_id, now, out);
}

/* ---- the event feed ------------------------------------------------- */

#define FEED_COLUMNS                                                                               \
    "r.seq, r.id, r.user_id, r.reason, r.ticket_id, r.created_by, r.status, r.created_at,"         \
    " r.expires_at, r.updated_at, r.fulfilled_ticket_id, e.seq, e.kind"

void log_request_event_list_clear(struct log_request_event_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        log_request_clear(&l->items[i].r);
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* Every row st yields (FEED_COLUMNS) into the empty list out, then
 * finalizes st. On an error out is cleared. */
static int read_events(sqlite3_stmt *st, size_t limit, struct log_request_event_list *out)
{
    int rc = 0;
    if (!(out->items = calloc(limit, sizeof *out->items)))
        rc = LOGSHARE_ENOMEM;
    while (!rc && out->count < limit) {
        int s = sqlite3_step(st);
        if (s != SQLITE_ROW) {
            rc = s == SQLITE_DONE ? 0 : push_db_error(s);
            break;
        }
        struct log_request_event *e = &out->items[out->count];
        if ((rc = read_row(st, &e->r)))
            break;
        e->seq = sqlite3_column_int64(st, 11);
        const unsigned char *kind = sqlite3_column_text(st, 12);
        e->created = kind && strcmp((const char *)kind, "created") == 0;
        out->count++;
    }
    sqlite3_finalize(st);
    if (rc)
        log_request_event_list_clear(out);
    return rc;
}

int push_db_log_request_events_after(struct push_db *db, int64_t after, size_t limit,
                                     struct log_request_event_list *out)
{
    memset(out, 0, sizeof *out);
    if (limit < 1 || limit > 1000)
        return LOGSHARE_EINVAL;
    pthread_mutex_lock(&db->lock);
    sqlite3_stmt *st;
    int rc = push_db_prepare(db,
                             "SELECT " FEED_COLUMNS " FROM log_request_events e"
                             " JOIN log_requests r ON r.seq = e.log_request_seq"
                             " WHERE e.seq > ?1 ORDER BY e.seq LIMIT ?2",
                             &st);
    if (!rc) {
        sqlite3_bind_int64(st, 1, after);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
        rc = read_events(st, limit, out);
    }
    pthread_mutex_unlock(&db->lock);
    return rc;
}

int push_db_log_request_events_last(struct push_db *db, int64_t *seq)
{
    *seq = 0;
    pthread_mutex_lock(&db->lock);
    sqlite3_stmt *st;
    /* Not MAX(seq): the table may have been pruned empty. */
    int rc = push_db_prepare(
        db, "SELECT seq FROM sqlite_sequence WHERE name = 'log_request_events'", &st);
    if (!rc) {
        int s = sqlite3_step(st);
        if (s == SQLITE_ROW)
            *seq = sqlite3_column_int64(st, 0);
        rc = s == SQLITE_ROW || s == SQLITE_DONE ? 0 : push_db_error(s);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&db->lock);
    return rc;
}

int push_db_log_request_events_prune(struct push_db *db, int64_t before)
{
    pthread_mutex_lock(&db->lock);
    int rc =
        push_db_exec_at(db, "DELETE FROM log_request_events WHERE created_at < ?1", before, NULL);
    pthread_mutex_unlock(&db->lock);
    return rc;
}
