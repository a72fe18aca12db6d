/*
 * sqlite_tickets.c - tickets, attachments, notes, idempotency keys and
 * users in the SQLite ticket store (contract in ticket_store.h).
 *
 * Every write is one BEGIN IMMEDIATE ... COMMIT on one borrowed
 * connection; any error rolls the whole transaction back, so a failed
 * request leaves nothing half-done. Reads load a ticket with four small
 * indexed queries (row, call ids, notes, attachments).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logshare.h"
#include "ls_time.h"
#include "sqlite_store.h"

#define TICKET_COLUMNS                                                                             \
    "id, status, created_at, updated_at, user_id, description, customer_name,"                     \
    " customer_email, app_version, platform, source, log_request_id, assignee, tracker_url"

static const char SQL_GET_TICKET[] = "SELECT " TICKET_COLUMNS " FROM tickets WHERE id = ?1";
static const char SQL_GET_CALL_IDS[] =
    "SELECT call_id FROM ticket_call_ids WHERE ticket_id = ?1 ORDER BY position";
static const char SQL_GET_NOTES[] =
    "SELECT author, text, created_at FROM ticket_notes WHERE ticket_id = ?1 ORDER BY seq";
#define ATTACHMENT_COLUMNS "id, ticket_id, name, size, sha256, content_type, blob_key, created_at"
static const char SQL_GET_ATTACHMENTS[] =
    "SELECT " ATTACHMENT_COLUMNS " FROM attachments WHERE ticket_id = ?1 ORDER BY rowid";
static const char SQL_GET_ATTACHMENT[] =
    "SELECT " ATTACHMENT_COLUMNS " FROM attachments WHERE id = ?1 AND ticket_id = ?2";
static const char SQL_BLOB_REFERENCED[] = "SELECT 1 FROM attachments WHERE blob_key = ?1 LIMIT 1";
static const char SQL_INSERT_TICKET[] =
    "INSERT INTO tickets (" TICKET_COLUMNS ")"
    " VALUES (?1, 0, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, NULL)";
static const char SQL_INSERT_CALL_ID[] =
    "INSERT INTO ticket_call_ids (ticket_id, position, call_id) VALUES (?1, ?2, ?3)";
static const char SQL_INSERT_ATTACHMENT[] =
    "INSERT INTO attachments (" ATTACHMENT_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char SQL_FIND_IDEMPOTENT[] =
    "SELECT ticket_id FROM idempotency_keys WHERE user_id = ?1 AND key = ?2";
static const char SQL_INSERT_IDEMPOTENT[] =
    "INSERT INTO idempotency_keys (user_id, key, ticket_id, created_at) VALUES (?1, ?2, ?3, ?4)";
static const char SQL_TICKET_EXISTS[] = "SELECT 1 FROM tickets WHERE id = ?1";
static const char SQL_UPDATE_TICKET[] =
    "UPDATE tickets SET status = coalesce(?2, status),"
    " assignee = CASE WHEN ?3 IS NULL THEN assignee WHEN ?3 = '' THEN NULL ELSE ?3 END,"
    " tracker_url = coalesce(?4, tracker_url), updated_at = ?5 WHERE id = ?1";
static const char SQL_INSERT_NOTE[] =
    "INSERT INTO ticket_notes (ticket_id, author, text, created_at) VALUES (?1, ?2, ?3, ?4)";
static const char SQL_CLAIM_PATCH_KEY[] =
    "INSERT OR IGNORE INTO patch_keys (user_id, ticket_id, key,"
    " created_at) VALUES (?1, ?2, ?3, ?4)";
static const char SQL_TOUCH_TICKET[] = "UPDATE tickets SET updated_at = ?2 WHERE id = ?1";
static const char SQL_INSERT_USER[] =
    "INSERT INTO users (name, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)";
static const char SQL_GET_USER[] =
    "SELECT name, role, password_hash, created_at FROM users WHERE name = ?1";

/* Steps a statement that returns no rows, then resets it. */
static int step_done(sqlite3_stmt *st)
{
    int r = sqlite3_step(st);
    sqlite3_reset(st);
    return r == SQLITE_DONE ? 0 : sq_error(r);
}

static int load_attachment_row(sqlite3_stmt *st, struct ticket_attachment *a)
{
    int rc = 0;
    a->id = sq_column_dup(st, 0, &rc);
    a->ticket_id = sq_column_dup(st, 1, &rc);
    a->name = sq_column_dup(st, 2, &rc);
    a->size = (uint64_t)sqlite3_column_int64(st, 3);
    const unsigned char *sha = sqlite3_column_text(st, 4);
    snprintf(a->sha256, sizeof a->sha256, "%s", sha ? (const char *)sha : "");
    a->content_type = sq_column_dup(st, 5, &rc);
    a->blob_key = sq_column_dup(st, 6, &rc);
    a->created_at = sqlite3_column_int64(st, 7);
    return rc;
}

/* Grows an array of elem-sized items to hold one more. */
static int grow(void **items, size_t count, size_t elem)
{
    if ((count & (count - 1)) != 0 && count != 0)
        return 0; /* capacity is the next power of two >= count */
    size_t cap = count ? count * 2 : 4;
    void *n = realloc(*items, cap * elem);
    if (!n)
        return LOGSHARE_ENOMEM;
    *items = n;
    return 0;
}

/* Loads ticket id with everything it links to. ENOENT. */
int sq_load_ticket(struct sq_conn *c, const char *id, struct ticket **out)
{
    int rc = 0;
    struct ticket *t = calloc(1, sizeof *t);
    if (!t)
        return LOGSHARE_ENOMEM;
    sqlite3_stmt *st = sq_prepare(c, SQL_GET_TICKET, &rc);
    if (!st)
        goto fail;
    sq_bind_text(st, 1, id);
    int r = sqlite3_step(st);
    if (r != SQLITE_ROW) {
        rc = r == SQLITE_DONE ? LOGSHARE_ENOENT : sq_error(r);
        sqlite3_reset(st);
        goto fail;
    }
    t->id = sq_column_dup(st, 0, &rc);
    t->status = (enum ticket_status)sqlite3_column_int(st, 1);
    t->created_at = sqlite3_column_int64(st, 2);
    t->updated_at = sqlite3_column_int64(st, 3);
    t->user_id = sq_column_dup(st, 4, &rc);
    t->description = sq_column_dup(st, 5, &rc);
    t->customer_name = sq_column_dup(st, 6, &rc);
    t->customer_email = sq_column_dup(st, 7, &rc);
    t->app_version = sq_column_dup(st, 8, &rc);
    t->platform = sq_column_dup(st, 9, &rc);
    t->source = sq_column_dup(st, 10, &rc);
    t->log_request_id = sq_column_dup(st, 11, &rc);
    t->assignee = sq_column_dup(st, 12, &rc);
    t->tracker_url = sq_column_dup(st, 13, &rc);
    sqlite3_reset(st);
    if (rc == 0)
        rc = sq_handoff_status(c, id, &t->tracker_status);
    if (rc != 0)
        goto fail;

    if (!(st = sq_prepare(c, SQL_GET_CALL_IDS, &rc)))
        goto fail;
    sq_bind_text(st, 1, id);
    while (rc == 0 && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if ((rc = grow((void **)&t->call_ids, t->n_call_ids, sizeof *t->call_ids)) != 0)
            break;
        char *cid = sq_column_dup(st, 0, &rc);
        if (cid)
            t->call_ids[t->n_call_ids++] = cid;
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = sq_error(r);
    sqlite3_reset(st);
    if (rc != 0)
        goto fail;

    if (!(st = sq_prepare(c, SQL_GET_NOTES, &rc)))
        goto fail;
    sq_bind_text(st, 1, id);
    while (rc == 0 && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if ((rc = grow((void **)&t->notes, t->n_notes, sizeof *t->notes)) != 0)
            break;
        struct ticket_note *n = &t->notes[t->n_notes++];
        memset(n, 0, sizeof *n);
        n->author = sq_column_dup(st, 0, &rc);
        n->text = sq_column_dup(st, 1, &rc);
        n->created_at = sqlite3_column_int64(st, 2);
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = sq_error(r);
    sqlite3_reset(st);
    if (rc != 0)
        goto fail;

    if (!(st = sq_prepare(c, SQL_GET_ATTACHMENTS, &rc)))
        goto fail;
    sq_bind_text(st, 1, id);
    while (rc == 0 && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if ((rc = grow((void **)&t->attachments, t->n_attachments, sizeof *t->attachments)) != 0)
            break;
        struct ticket_attachment *a = &t->attachments[t->n_attachments++];
        memset(a, 0, sizeof *a);
        rc = load_attachment_row(st, a);
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = sq_error(r);
    sqlite3_reset(st);
    if (rc != 0)
        goto fail;
    *out = t;
    return 0;
fail:
    ticket_free(t);
    return rc;
}

static int insert_attachments(struct sq_conn *c, const char *ticket_id,
                              const struct ticket_attachment *a, size_t n, int64_t now)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sqlite3_stmt *st = sq_prepare(c, SQL_INSERT_ATTACHMENT, &rc);
        if (!st)
            break;
        sq_bind_text(st, 1, a[i].id);
        sq_bind_text(st, 2, ticket_id);
        sq_bind_text(st, 3, a[i].name);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)a[i].size);
        sq_bind_text(st, 5, a[i].sha256);
        sq_bind_text(st, 6, a[i].content_type);
        sq_bind_text(st, 7, a[i].blob_key);
        sqlite3_bind_int64(st, 8, a[i].created_at ? a[i].created_at : now);
        rc = step_done(st);
    }
    return rc;
}

/* The ticket id a (user, key) pair names: 0 and id, ENOENT, or error. */
int sq_find_idempotent_id(struct sq_conn *c, const char *user_id, const char *key,
                          char id[TICKET_ID_MAX])
{
    int rc = 0;
    sqlite3_stmt *st = sq_prepare(c, SQL_FIND_IDEMPOTENT, &rc);
    if (!st)
        return rc;
    sq_bind_text(st, 1, user_id);
    sq_bind_text(st, 2, key);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        snprintf(id, TICKET_ID_MAX, "%s", (const char *)sqlite3_column_text(st, 0));
    else
        rc = r == SQLITE_DONE ? LOGSHARE_ENOENT : sq_error(r);
    sqlite3_reset(st);
    return rc;
}

int sq_insert_ticket(struct sq_conn *c, const struct ticket *t, const char *idem, int64_t now)
{
    int rc = 0;
    int64_t created = t->created_at ? t->created_at : now;
    sqlite3_stmt *st = sq_prepare(c, SQL_INSERT_TICKET, &rc);
    if (!st)
        return rc;
    sq_bind_text(st, 1, t->id);
    sqlite3_bind_int64(st, 2, created);
    sq_bind_text(st, 3, t->user_id);
    sq_bind_text(st, 4, t->description);
    sq_bind_text(st, 5, t->customer_name);
    sq_bind_text(st, 6, t->customer_email);
    sq_bind_text(st, 7, t->app_version);
    sq_bind_text(st, 8, t->platform);
    sq_bind_text(st, 9, t->source);
    sq_bind_text(st, 10, t->log_request_id);
    if ((rc = step_done(st)) != 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < t->n_call_ids; i++) {
        if (!(st = sq_prepare(c, SQL_INSERT_CALL_ID, &rc)))
            return rc;
        sq_bind_text(st, 1, t->id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
        sq_bind_text(st, 3, t->call_ids[i]);
        rc = step_done(st);
    }
    if (rc == 0)
        rc = insert_attachments(c, t->id, t->attachments, t->n_attachments, now);
    if (rc == 0 && idem) {
        if (!(st = sq_prepare(c, SQL_INSERT_IDEMPOTENT, &rc)))
            return rc;
        sq_bind_text(st, 1, t->user_id);
        sq_bind_text(st, 2, idem);
        sq_bind_text(st, 3, t->id);
        sqlite3_bind_int64(st, 4, now);
        rc = step_done(st);
    }
    return rc;
}

/* COMMIT on success, ROLLBACK on failure; returns the first error
 * (TICKET_STORE_EUNKNOWN: see sq_commit). */
static int finish(struct sq_conn *c, int rc)
{
    if (rc == 0)
        return sq_commit(c);
    sq_exec(c, "ROLLBACK");
    return rc;
}

int sq_find_idempotent(struct ticket_store *ts, const char *user_id, const char *key,
                       struct ticket **out)
{
    struct sq_store *s = ts->state;
    struct sq_conn *c;
    int rc = sq_acquire(s, &c);
    if (rc != 0)
        return rc;
    char id[TICKET_ID_MAX];
    rc = sq_find_idempotent_id(c, user_id, key, id);
    if (rc == 0)
        rc = sq_load_ticket(c, id, out);
    sq_release(s, c);
    return rc;
}

int sq_get(struct ticket_store *ts, const char *id, struct ticket **out)
{
    struct sq_store *s = ts->state;
    struct sq_conn *c;
    int rc = sq_acquire(s, &c);
    if (rc != 0)
        return rc;
    rc = sq_load_ticket(c, id, out);
    sq_release(s, c);
    return rc;
}

static int ticket_exists(struct sq_conn *c, const char *id)
{
    int rc = 0;
    sqlite3_stmt *st = sq_prepare(c, SQL_TICKET_EXISTS, &rc);
    if (!st)
        return rc;
    sq_bind_text(st, 1, id);
    int r = sqlite3_step(st);
    rc = r == SQLITE_ROW ? 0 : r == SQLITE_DONE ? LOGSHARE_ENOENT : sq_error(r);
    sqlite3_reset(st);
    return rc;
}

/* Records u's Idempotency-Key for the ticket; *replay 1 when it was
 * recorded before (the update is then a retry, to apply nothing). */
static int claim_patch_key(struct sq_conn *c, const char *id, const struct ticket_update *u,
                           int64_t now, int *replay)
{
    *replay = 0;
    if (!u->idempotency_key)
        return 0;
    int rc = 0;
    sqlite3_stmt *st = sq_prepare(c, SQL_CLAIM_PATCH_KEY, &rc);
    if (!st)
        return rc;
    sq_bind_text(st, 1, u->key_user);
    sq_bind_text(st, 2, id);
    sq_bind_text(st, 3, u->idempotency_key);
    sqlite3_bind_int64(st, 4, now);
    if ((rc = step_done(st)) == 0)
        *replay = sqlite3_changes(c->db) == 0;
    return rc;
}

int sq_update(struct ticket_store *ts, const char *id, const struct ticket_update *u,
              struct ticket **out)
{
    struct sq_store *s = ts->state;
    struct sq_conn *c;
    int rc = sq_acquire(s, &c);
    if (rc != 0)
        return rc;
    if ((rc = sq_exec(c, "BEGIN IMMEDIATE")) == 0) {
        /* the time once the write lock is ours: read before it, a change
         * that waited for the lock was stamped earlier than the one it
         * waited for, and updated_at and notes went back in time */
        int64_t now = ls_time_now_us();
        rc = ticket_exists(c, id);
        int replay = 0;
        if (rc == 0)
            rc = claim_patch_key(c, id, u, now, &replay);
        sqlite3_stmt *st = rc == 0 && !replay ? sq_prepare(c, SQL_UPDATE_TICKET, &rc) : NULL;
        if (st) {
            sq_bind_text(st, 1, id);
            if (u->status >= 0)
                sqlite3_bind_int(st, 2, u->status);
            sq_bind_text(st, 3, u->assignee);
            sq_bind_text(st, 4, u->tracker_url);
            sqlite3_bind_int64(st, 5, now);
            rc = step_done(st);
        }
        if (rc == 0 && !replay && u->note && (st = sq_prepare(c, SQL_INSERT_NOTE, &rc))) {
            sq_bind_text(st, 1, id);
            sq_bind_text(st, 2, u->note_author);
            sq_bind_text(st, 3, u->note);
            sqlite3_bind_int64(st, 4, now);
            rc = step_done(st);
        }
        rc = finish(c, rc);
    }
    if (rc == TICKET_STORE_EUNKNOWN) /* for create and add_attachments only */
        rc = LOGSHARE_EUNAVAILABLE;
    if (rc == 0 && out)
        rc = sq_load_ticket(c, id, out);
    sq_release(s, c);
    return rc;
}

int sq_add_attachments(struct ticket_store *ts, const char *ticket_id,
                       const struct ticket_attachment *a, size_t n, struct ticket **out)
{
    struct sq_store *s = ts->state;
    struct sq_conn *c;
    int rc = sq_acquire(s, &c);
    if (rc != 0)
        return rc;
    if ((rc = sq_exec(c, "BEGIN IMMEDIATE")) == 0) {
        int64_t now = ls_time_now_us(); /* under the write lock, as in sq_update */
        rc = ticket_exists(c, ticket_id);
        if (rc == 0)
            rc = insert_attachments(c, ticket_id, a, n, now);
        sqlite3_stmt *st = rc == 0 ? sq_prepare(c, SQL_TOUCH_TICKET, &rc) : NULL;
        if (st) {
            sq_bind_text(st, 1, ticket_id);
            sqlite3_bind_int64(st, 2, now);
            rc = step_done(st);
        }
        /* The answer is read inside the transaction: once COMMIT has
         * succeeded nothing may fail, or the caller would remove the
         * blobs the committed rows name. */
        if (rc == 0 && out)
            rc = sq_load_ticket(c, ticket_id, out);
        rc = finish(c, rc);
    }
    if (rc != 0 && out) {
        ticket_free(*out);
        *out = NULL;
    }
    sq_release(s, c);
    return rc;
}

int sq_get_attachment(struct ticket_store *ts, const char *ticket_id, const char *attachment_id,
                      struct ticket_attachment **out)
{
    struct sq_store *s = ts->state;
    struct sq_conn *c;
    int rc = sq_acquire(s, &c);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = sq_prepare(c, SQL_GET_ATTACHMENT, &rc);
    if (st) {
        sq_bind_text(st, 1, attachment_id);
        sq_bind_text(st, 2, ticket_id);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            struct ticket_attachment *a = calloc(1, sizeof *a);
            if (!a)
                rc = LOGSHARE_ENOMEM;
            else if ((rc = load_attachment_row(st, a)) != 0)
                ticket_attachment_free(a);
            else
                *out = a;
        } else {
            rc = r == SQLITE_DONE ? LOGSHARE_ENOENT : sq_error(r);
        }
        sqlite3_reset(st);
    }
    sq_release(s, c);
    return rc;
}

int sq_blob_referenced(struct ticket_store *ts, const char *blob_key, int *referenced)
{
    struct sq_store *s = ts->state;
    struct sq_conn *c;
    int rc = sq_acquire(s, &c);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = sq_prepare(c, SQL_BLOB_REFERENCED, &rc);
    if (st) {
        sq_bind_text(st, 1, blob_key);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW)
            *referenced = 1;
        else if (r != SQLITE_DONE)
            rc = sq_error(r);
        sqlite3_reset(st);
    }
    sq_release(s, c);
    return rc;
}

/* Runs one of the users statements, whose parameters are always ?1 name
 * and, when it has them, ?2 role, ?3 password hash, ?4 now. With
 * must_change, a statement that touched no row is ENOENT. */
static int user_write(struct ticket_store *ts, const char *sql, const char *name, const char *role,
                      const char *password_hash, int must_change)
{
    struct sq_store *s = ts->state;
    struct sq_conn *c;
    int rc = sq_acquire(s, &c);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = sq_prepare(c, sql, &rc);
    if (st) {
        sq_bind_text(st, 1, name);
        if (sqlite3_bind_parameter_count(st) >= 4) {
            sq_bind_text(st, 2, role);
            sq_bind_text(st, 3, password_hash);
            sqlite3_bind_int64(st, 4, ls_time_now_us());
        }
        rc = step_done(st);
        if (rc == 0 && must_change && sqlite3_changes(c->db) == 0)
            rc = LOGSHARE_ENOENT;
    }
    sq_release(s, c);
    return rc;
}

int sq_user_create(struct ticket_store *ts, const char *name, const char *role,
                   const char *password_hash)
{
    return user_write(ts, SQL_INSERT_USER, name, role, password_hash, 0);
}

int sq_user_get(struct ticket_store *ts, const char *name, struct ticket_user **out)
{
    struct sq_store *s = ts->state;
    struct sq_conn *c;
    int rc = sq_acquire(s, &c);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = sq_prepare(c, SQL_GET_USER, &rc);
    if (st) {
        sq_bind_text(st, 1, name);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            struct ticket_user *u = calloc(1, sizeof *u);
            if (!u) {
                rc = LOGSHARE_ENOMEM;
            } else {
                u->name = sq_column_dup(st, 0, &rc);
                u->role = sq_column_dup(st, 1, &rc);
                u->password_hash = sq_column_dup(st, 2, &rc);
                u->created_at = sqlite3_column_int64(st, 3);
                if (rc != 0)
                    ticket_user_free(u);
                else
                    *out = u;
            }
        } else {
            rc = r == SQLITE_DONE ? LOGSHARE_ENOENT : sq_error(r);
        }
        sqlite3_reset(st);
    }
    sq_release(s, c);
    return rc;
}

/* coalesce keeps what a NULL parameter does not change; a new password
 * also restarts created_at (ticket_store_user_update). */
static const char SQL_UPDATE_USER[] =
    "UPDATE users SET role = coalesce(?2, role), password_hash = coalesce(?3, password_hash),"
    " created_at = CASE WHEN ?3 IS NULL THEN created_at ELSE ?4 END WHERE name = ?1";
static const char SQL_DELETE_USER[] = "DELETE FROM users WHERE name = ?1";

int sq_user_update(struct ticket_store *ts, const char *name, const char *role,
                   const char *password_hash)
{
    return user_write(ts, SQL_UPDATE_USER, name, role, password_hash, 1);
}

int sq_user_delete(struct ticket_store *ts, const char *name)
{
    return user_write(ts, SQL_DELETE_USER, name, NULL, NULL, 1);
}
