/*
 * pg_tickets.c - tickets, attachments, notes, idempotency keys and users
 * in the PostgreSQL ticket store (contract in ticket_store.h; the same
 * behaviour as sqlite_tickets.c, which the shared tests check).
 *
 * Idempotency under concurrency: two retries with one key can both find
 * no key and both insert; the unique key (user_id, key) makes the second
 * INSERT wait for the first transaction and then fail. That failure
 * rolls back the second ticket entirely, and the key, now committed,
 * names the first ticket, which is returned as a replay.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logshare.h"
#include "ls_time.h"
#include "pg_store.h"
#include "ticket_store_impl.h"

#define TICKET_COLUMNS                                                                             \
    "id, status, created_at, updated_at, user_id, description, customer_name,"                     \
    " customer_email, app_version, platform, source, log_request_id, assignee, tracker_url"
#define ATTACHMENT_COLUMNS "id, ticket_id, name, size, sha256, content_type, blob_key, created_at"

void pg_fmt_i64(char buf[24], long long v)
{
    snprintf(buf, 24, "%lld", v);
}

static int load_attachment_row(const PGresult *res, int row, struct ticket_attachment *a)
{
    int rc = 0;
    a->id = pg_dup(res, row, 0, &rc);
    a->ticket_id = pg_dup(res, row, 1, &rc);
    a->name = pg_dup(res, row, 2, &rc);
    a->size = (uint64_t)pg_int(res, row, 3);
    snprintf(a->sha256, sizeof a->sha256, "%s", PQgetvalue(res, row, 4));
    a->content_type = pg_dup(res, row, 5, &rc);
    a->blob_key = pg_dup(res, row, 6, &rc);
    a->created_at = pg_int(res, row, 7);
    return rc;
}

int pg_load_ticket(struct pg_conn *c, const char *id, struct ticket **out)
{
    const char *p[] = {id};
    int rc;
    PGresult *res = pg_query(c, "SELECT " TICKET_COLUMNS " FROM tickets WHERE id = $1", 1, p, &rc);
    if (rc == 0 && PQntuples(res) != 1)
        rc = LOGSHARE_ENOENT;
    if (rc != 0) {
        PQclear(res);
        return rc;
    }
    struct ticket *t = calloc(1, sizeof *t);
    if (!t) {
        PQclear(res);
        return LOGSHARE_ENOMEM;
    }
    t->id = pg_dup(res, 0, 0, &rc);
    t->status = (enum ticket_status)pg_int(res, 0, 1);
    t->created_at = pg_int(res, 0, 2);
    t->updated_at = pg_int(res, 0, 3);
    t->user_id = pg_dup(res, 0, 4, &rc);
    t->description = pg_dup(res, 0, 5, &rc);
    t->customer_name = pg_dup(res, 0, 6, &rc);
    t->customer_email = pg_dup(res, 0, 7, &rc);
    t->app_version = pg_dup(res, 0, 8, &rc);
    t->platform = pg_dup(res, 0, 9, &rc);
    t->source = pg_dup(res, 0, 10, &rc);
    t->log_request_id = pg_dup(res, 0, 11, &rc);
    t->assignee = pg_dup(res, 0, 12, &rc);
    t->tracker_url = pg_dup(res, 0, 13, &rc);
    PQclear(res);
    if (rc == 0)
        rc = pg_handoff_status(c, id, &t->tracker_status);

    int n;
    if (rc == 0) {
        res = pg_query(c,
                       "SELECT call_id FROM ticket_call_ids WHERE ticket_id = $1"
                       " ORDER BY position",
                       1, p, &rc);
        if (rc == 0 && (n = PQntuples(res)) > 0) {
            if (!(t->call_ids = calloc((size_t)n, sizeof *t->call_ids)))
                rc = LOGSHARE_ENOMEM;
            for (int i = 0; rc == 0 && i < n; i++)
                if ((t->call_ids[i] = pg_dup(res, i, 0, &rc)))
                    t->n_call_ids++;
        }
        PQclear(res);
    }
    if (rc == 0) {
        res = pg_query(c,
                       "SELECT author, text, created_at FROM ticket_notes"
                       " WHERE ticket_id = $1 ORDER BY seq",
                       1, p, &rc);
        if (rc == 0 && (n = PQntuples(res)) > 0) {
            if (!(t->notes = calloc((size_t)n, sizeof *t->notes)))
                rc = LOGSHARE_ENOMEM;
            for (int i = 0; rc == 0 && i < n; i++) {
                t->notes[i].author = pg_dup(res, i, 0, &rc);
                t->notes[i].text = pg_dup(res, i, 1, &rc);
                t->notes[i].created_at = pg_int(res, i, 2);
                t->n_notes++;
            }
        }
        PQclear(res);
    }
    if (rc == 0) {
        res = pg_query(c,
                       "SELECT " ATTACHMENT_COLUMNS " FROM attachments"
                       " WHERE ticket_id = $1 ORDER BY seq",
                       1, p, &rc);
        if (rc == 0 && (n = PQntuples(res)) > 0) {
            if (!(t->attachments = calloc((size_t)n, sizeof *t->attachments)))
                rc = LOGSHARE_ENOMEM;
            for (int i = 0; rc == 0 && i < n; i++) {
                rc = load_attachment_row(res, i, &t->attachments[i]);
                t->n_attachments++;
            }
        }
        PQclear(res);
    }
    if (rc != 0) {
        ticket_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

static int insert_attachments(struct pg_conn *c, const char *ticket_id,
                              const struct ticket_attachment *a, size_t n, int64_t now)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char size[24], created[24];
        pg_fmt_i64(size, (long long)a[i].size);
        pg_fmt_i64(created, (long long)(a[i].created_at ? a[i].created_at : now));
        const char *p[] = {a[i].id,     ticket_id,         a[i].name,     size,
                           a[i].sha256, a[i].content_type, a[i].blob_key, created};
        PQclear(pg_query(c,
                         "INSERT INTO attachments (" ATTACHMENT_COLUMNS ")"
                         " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                         8, p, &rc));
    }
    return rc;
}

static int find_idempotent_id(struct pg_conn *c, const char *user_id, const char *key,
                              char id[TICKET_ID_MAX])
{
    const char *p[] = {user_id, key};
    int rc;
    PGresult *res = pg_query(c,
                             "SELECT ticket_id FROM idempotency_keys"
                             " WHERE user_id = $1 AND key = $2",
                             2, p, &rc);
    if (rc == 0) {
        if (PQntuples(res) == 1)
            snprintf(id, TICKET_ID_MAX, "%s", PQgetvalue(res, 0, 0));
        else
            rc = LOGSHARE_ENOENT;
    }
    PQclear(res);
    return rc;
}

/* Inserts t in the open transaction. *key_taken is set when the only
 * failure was the idempotency key's unique constraint. */
static int insert_ticket(struct pg_conn *c, const struct ticket *t, const char *idem, int64_t now,
                         int *key_taken)
{
    char created[24], nowbuf[24];
    pg_fmt_i64(created, (long long)(t->created_at ? t->created_at : now));
    pg_fmt_i64(nowbuf, (long long)now);
    const char *p[] = {
        t->id,          t->description, t->user_id, t->customer_name,  t->customer_email,
        t->app_version, t->platform,    t->source,  t->log_request_id, created};
    int rc;
    PQclear(pg_query(c,
                     "INSERT INTO tickets (" TICKET_COLUMNS ") VALUES"
                     " ($1, 0, $10, $10, $3, $2, $4, $5, $6, $7, $8, $9, NULL, NULL)",
                     10, p, &rc));
    for (size_t i = 0; rc == 0 && i < t->n_call_ids; i++) {
        char pos[24];
        pg_fmt_i64(pos, (long long)i);
        const char *cp[] = {t->id, pos, t->call_ids[i]};
        PQclear(pg_query(c,
                         "INSERT INTO ticket_call_ids (ticket_id, position, call_id)"
                         " VALUES ($1, $2, $3)",
                         3, cp, &rc));
    }
    if (rc == 0)
        rc = insert_attachments(c, t->id, t->attachments, t->n_attachments, now);
    if (rc == 0 && idem) {
        const char *ip[] = {t->user_id, idem, t->id, nowbuf};
        PGresult *res = pg_query(c,
                                 "INSERT INTO idempotency_keys (user_id, key, ticket_id,"
                                 " created_at) VALUES ($1, $2, $3, $4)",
                                 4, ip, &rc);
        if (rc != 0 && pg_is_unique_violation(res, "idempotency_keys_pkey"))
            *key_taken = 1;
        PQclear(res);
    }
    return rc;
}

/* COMMIT on success, ROLLBACK on failure; returns the first error
 * (TICKET_STORE_EUNKNOWN: see pg_commit). */
static int finish(struct pg_conn *c, int rc)
{
    if (rc == 0)
        return pg_commit(c);
    pg_command(c, "ROLLBACK");
    return rc;
}

int pg_create(struct ticket_store *ts, const struct ticket *t, const char *idempotency_key,
              struct ticket **out, int *replayed)
{
    struct pg_store *s = ts->state;
    struct pg_conn *c;
    int rc = pg_acquire(s, &c);
    if (rc != 0)
        return rc;
    char first[TICKET_ID_MAX] = "";
    int is_replay = 0, key_taken = 0;
    int64_t now = ls_time_now_us();
    if ((rc = pg_command(c, "BEGIN")) == 0) {
        if (idempotency_key) {
            rc = find_idempotent_id(c, t->user_id, idempotency_key, first);
            if (rc == 0)
                is_replay = 1;
            else if (rc == LOGSHARE_ENOENT)
                rc = 0;
        }
        if (rc == 0 && !is_replay)
            rc = insert_ticket(c, t, idempotency_key, now, &key_taken);
        if (rc == 0 && !is_replay && ts->tracker) {
            char nowbuf[24];
            pg_fmt_i64(nowbuf, (long long)now);
            rc = pg_handoff_insert(c, t->id, ts->tracker, nowbuf);
        }
        rc = finish(c, rc);
    }
    if (rc == TICKET_STORE_EUNKNOWN && is_replay)
        rc = LOGSHARE_EUNAVAILABLE; /* it only read: nothing of t can be stored */
    if (rc != 0 && key_taken) {
        /* A concurrent retry committed first: answer with its ticket. */
        rc = find_idempotent_id(c, t->user_id, idempotency_key, first);
        is_replay = rc == 0;
    }
    /* A new ticket is answered from what was inserted: a read after the
     * COMMIT could fail, and that must not undo an upload whose rows
     * are committed. Only a replay's ticket is read. */
    if (rc == 0 && out)
        rc = is_replay ? pg_load_ticket(c, first, out) : ticket_created_copy(ts, t, now, out);
    pg_release(s, c);
    if (rc == 0 && replayed)
        *replayed = is_replay;
    return rc;
}

int pg_find_idempotent(struct ticket_store *ts, const char *user_id, const char *key,
                       struct ticket **out)
{
    struct pg_store *s = ts->state;
    struct pg_conn *c;
    int rc = pg_acquire(s, &c);
    if (rc != 0)
        return rc;
    char id[TICKET_ID_MAX];
    rc = find_idempotent_id(c, user_id, key, id);
    if (rc == 0)
        rc = pg_load_ticket(c, id, out);
    pg_release(s, c);
    return rc;
}

int pg_get(struct ticket_store *ts, const char *id, struct ticket **out)
{
    struct pg_store *s = ts->state;
    struct pg_conn *c;
    int rc = pg_acquire(s, &c);
    if (rc != 0)
        return rc;
    rc = pg_load_ticket(c, id, out);
    pg_release(s, c);
    return rc;
}

/* Locks the ticket's row for the transaction; ENOENT when it is gone. */
static int lock_ticket(struct pg_conn *c, const char *id)
{
    const char *p[] = {id};
    int rc;
    PGresult *res = pg_query(c, "SELECT 1 FROM tickets WHERE id = $1 FOR UPDATE", 1, p, &rc);
    if (rc == 0 && PQntuples(res) != 1)
        rc = LOGSHARE_ENOENT;
    PQclear(res);
    return rc;
}

/* Records u's Idempotency-Key for the ticket; *replay 1 when it was
 * recorded before (the update is then a retry, to apply nothing). The
 * ticket's row lock, held, orders two tries with the same key. */
static int claim_patch_key(struct pg_conn *c, const char *id, const struct ticket_update *u,
                           const char *now, int *replay)
{
    *replay = 0;
    if (!u->idempotency_key)
        return 0;
    const char *p[] = {u->key_user, id, u->idempotency_key, now};
    int rc;
    PGresult *res = pg_query(c,
                             "INSERT INTO patch_keys (user_id, ticket_id, key, created_at)"
                             " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                             4, p, &rc);
    if (rc == 0)
        *replay = strcmp(PQcmdTuples(res), "0") == 0;
    PQclear(res);
    return rc;
}

int pg_update(struct ticket_store *ts, const char *id, const struct ticket_update *u,
              struct ticket **out)
{
    struct pg_store *s = ts->state;
    struct pg_conn *c;
    int rc = pg_acquire(s, &c);
    if (rc != 0)
        return rc;
    char now[24], status[24];
    pg_fmt_i64(status, u->status);
    if ((rc = pg_command(c, "BEGIN")) == 0) {
        rc = lock_ticket(c, id);
        /* the time once the row lock is ours: read before it, a change
         * that waited for the lock was stamped earlier than the one it
         * waited for, and updated_at and notes went back in time */
        pg_fmt_i64(now, (long long)ls_time_now_us());
        int replay = 0;
        if (rc == 0)
            rc = claim_patch_key(c, id, u, now, &replay);
        const char *p[] = {id, u->status >= 0 ? status : NULL, u->assignee, u->tracker_url, now};
        if (rc == 0 && !replay)
            PQclear(pg_query(c,
                             "UPDATE tickets SET status = coalesce($2::smallint, status),"
                             " assignee = CASE WHEN $3::text IS NULL THEN assignee"
                             " WHEN $3::text = '' THEN NULL ELSE $3::text END,"
                             " tracker_url = coalesce($4::text, tracker_url),"
                             " updated_at = $5 WHERE id = $1",
                             5, p, &rc));
        if (rc == 0 && !replay && u->note) {
            const char *np[] = {id, u->note_author, u->note, now};
            PQclear(pg_query(c,
                             "INSERT INTO ticket_notes (ticket_id, author, text, created_at)"
                             " VALUES ($1, $2, $3, $4)",
                             4, np, &rc));
        }
        rc = finish(c, rc);
    }
    if (rc == TICKET_STORE_EUNKNOWN) /* for create and add_attachments only */
        rc = LOGSHARE_EUNAVAILABLE;
    if (rc == 0 && out)
        rc = pg_load_ticket(c, id, out);
    pg_release(s, c);
    return rc;
}

int pg_add_attachments(struct ticket_store *ts, const char *ticket_id,
                       const struct ticket_attachment *a, size_t n, struct ticket **out)
{
    struct pg_store *s = ts->state;
    struct pg_conn *c;
    int rc = pg_acquire(s, &c);
    if (rc != 0)
        return rc;
    if ((rc = pg_command(c, "BEGIN")) == 0) {
        rc = lock_ticket(c, ticket_id);
        int64_t now = ls_time_now_us(); /* under the row lock, as in pg_update */
        char nowbuf[24];
        pg_fmt_i64(nowbuf, (long long)now);
        if (rc == 0)
            rc = insert_attachments(c, ticket_id, a, n, now);
        const char *p[] = {ticket_id, nowbuf};
        if (rc == 0)
            PQclear(pg_query(c, "UPDATE tickets SET updated_at = $2 WHERE id = $1", 2, p, &rc));
        /* The answer is read inside the transaction: once COMMIT has
         * succeeded nothing may fail, or the caller would remove the
         * blobs the committed rows name. */
        if (rc == 0 && out)
            rc = pg_load_ticket(c, ticket_id, out);
        rc = finish(c, rc);
    }
    if (rc != 0 && out) {
        ticket_free(*out);
        *out = NULL;
    }
    pg_release(s, c);
    return rc;
}

int pg_get_attachment(struct ticket_store *ts, const char *ticket_id, const char *attachment_id,
                      struct ticket_attachment **out)
{
    struct pg_store *s = ts->state;
    struct pg_conn *c;
    int rc = pg_acquire(s, &c);
    if (rc != 0)
        return rc;
    const char *p[] = {attachment_id, ticket_id};
    PGresult *res = pg_query(c,
                             "SELECT " ATTACHMENT_COLUMNS " FROM attachments"
                             " WHERE id = $1 AND ticket_id = $2",
                             2, p, &rc);
    if (rc == 0 && PQntuples(res) != 1)
        rc = LOGSHARE_ENOENT;
    if (rc == 0) {
        struct ticket_attachment *a = calloc(1, sizeof *a);
        if (!a)
            rc = LOGSHARE_ENOMEM;
        else if ((rc = load_attachment_row(res, 0, a)) != 0)
            ticket_attachment_free(a);
        else
            *out = a;
    }
    PQclear(res);
    pg_release(s, c);
    return rc;
}

int pg_blob_referenced(struct ticket_store *ts, const char *blob_key, int *referenced)
{
    struct pg_store *s = ts->state;
    struct pg_conn *c;
    int rc = pg_acquire(s, &c);
    if (rc != 0)
        return rc;
    const char *p[] = {blob_key};
    PGresult *res = pg_query(c, "SELECT 1 FROM attachments WHERE blob_key = $1 LIMIT 1", 1, p, &rc);
    if (rc == 0 && PQntuples(res) > 0)
        *referenced = 1;
    PQclear(res);
    pg_release(s, c);
    return rc;
}

int pg_user_create(struct ticket_store *ts, const char *name, const char *role,
                   const char *password_hash)
{
    struct pg_store *s = ts->state;
    struct pg_conn *c;
    int rc = pg_acquire(s, &c);
    if (rc != 0)
        return rc;
    char now[24];
    pg_fmt_i64(now, (long long)ls_time_now_us());
    const char *p[] = {name, role, password_hash, now};
    PQclear(pg_query(c,
                     "INSERT INTO users (name, role, password_hash, created_at)"
                     " VALUES ($1, $2, $3, $4)",
                     4, p, &rc));
    pg_release(s, c);
    return rc;
}

int pg_user_get(struct ticket_store *ts, const char *name, struct ticket_user **out)
{
    struct pg_store *s = ts->state;
    struct pg_conn *c;
    int rc = pg_acquire(s, &c);
    if (rc != 0)
        return rc;
    const char *p[] = {name};
    PGresult *res = pg_query(c,
                             "SELECT name, role, password_hash, created_at FROM users"
                             " WHERE name = $1",
                             1, p, &rc);
    if (rc == 0 && PQntuples(res) != 1)
        rc = LOGSHARE_ENOENT;
    if (rc == 0) {
        struct ticket_user *u = calloc(1, sizeof *u);
        if (!u) {
            rc = LOGSHARE_ENOMEM;
        } else {
            u->name = pg_dup(res, 0, 0, &rc);
            u->role = pg_dup(res, 0, 1, &rc);
            u->password_hash = pg_dup(res, 0, 2, &rc);
            u->created_at = pg_int(res, 0, 3);
            if (rc != 0)
                ticket_user_free(u);
            else
                *out = u;
        }
    }
    PQclear(res);
    pg_release(s, c);
    return rc;
}

/* A statement on users that must touch exactly one row: ENOENT if none. */
static int pg_user_exec(struct ticket_store *ts, const char *sql, int n, const char *const *p)
{
    struct pg_store *s = ts->state;
    struct pg_conn *c;
    int rc = pg_acquire(s, &c);
    if (rc != 0)
        return rc;
    PGresult *res = pg_query(c, sql, n, p, &rc);
    if (rc == 0 && strcmp(PQcmdTuples(res), "0") == 0)
        rc = LOGSHARE_ENOENT;
    PQclear(res);
    pg_release(s, c);
    return rc;
}

int pg_user_update(struct ticket_store *ts, const char *name, const char *role,
                   const char *password_hash)
{
    char now[24];
    pg_fmt_i64(now, (long long)ls_time_now_us());
    const char *p[] = {name, role, password_hash, now};
    return pg_user_exec(ts,
                        "UPDATE users SET role = coalesce($2, role),"
                        " password_hash = coalesce($3, password_hash),"
                        " created_at = CASE WHEN $3::text IS NULL THEN created_at"
                        " ELSE $4::bigint END WHERE name = $1",
                        4, p);
}

int pg_user_delete(struct ticket_store *ts, const char *name)
{
    const char *p[] = {name};
    return pg_user_exec(ts, "DELETE FROM users WHERE name = $1", 1, p);
}
