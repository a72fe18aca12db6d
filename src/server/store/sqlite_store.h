/*
 * sqlite_store.h - private to the SQLite ticket store: its state, its
 * connection pool and the helpers its files share.
 *
 * One sqlite3 connection serves one thread at a time (SQLite's
 * "multi-thread" mode): a thread borrows a connection from the pool for
 * one operation and gives it back. Each connection keeps its prepared
 * statements, keyed by the address of the static SQL text.
 */
#ifndef LOGSHARED_SQLITE_STORE_H
#define LOGSHARED_SQLITE_STORE_H

#include <pthread.h>
#include <stdint.h>
#include <sqlite3.h>

#include "ticket_store.h"

#define SQ_STMT_CACHE 32

struct sq_conn {
    sqlite3 *db;
    struct sq_conn *next_idle;
    struct {
        const char *sql;
        sqlite3_stmt *stmt;
    } cache[SQ_STMT_CACHE];
};

/* One ticket waiting to be created by the group commit (sqlite_batch.c). */
struct sq_pending {
    const struct ticket *t;
    const char *tracker; /* queue a hand-off to it (ticket_store_set_tracker); NULL: none */
    const char *idempotency_key;
    int rc;
    int replayed;
    char stored_id[TICKET_ID_MAX]; /* the ticket to answer with */
    int64_t now;                   /* the batch's time: what "0 means now" became */
    int done;
    struct sq_pending *next;
};

struct sq_store {
    struct ticket_store base;
    char *path;
    int busy_timeout_ms;
    int max_connections;
    int durable;
    pthread_mutex_t lock;
    pthread_cond_t idle_available;
    struct sq_conn *idle;
    int open_connections;
    /* Group commit: creates queue here; one caller at a time leads. */
    pthread_mutex_t batch_lock;
    pthread_cond_t batch_done;
    struct sq_pending *queue_head, *queue_tail;
    int batch_leader_active;
};

/* Borrow a connection (opening one while under the pool size, else
 * waiting for one) and give it back. */
int sq_acquire(struct sq_store *s, struct sq_conn **out);
void sq_release(struct sq_store *s, struct sq_conn *c);

/* A reset, cleared statement for sql, which must be a string with static
 * storage (its address is the cache key). NULL on error (*rc set). */
sqlite3_stmt *sq_prepare(struct sq_conn *c, const char *sql, int *rc);

/* Maps a SQLite result code to LOGSHARE_E*. */
int sq_error(int sqlite_rc);
/* Runs SQL text without results. */
int sq_exec(struct sq_conn *c, const char *sql);

/* COMMITs the open transaction: 0, or the error with the transaction
 * rolled back, or TICKET_STORE_EUNKNOWN when the COMMIT failed in a way
 * that may have written it. */
int sq_commit(struct sq_conn *c);

/* Binds a string or NULL. */
int sq_bind_text(sqlite3_stmt *st, int idx, const char *text);
/* A copy of a text column, NULL for SQL NULL; sets *rc on ENOMEM. */
char *sq_column_dup(sqlite3_stmt *st, int col, int *rc);

/* Text search (sqlite_fold.c): s lower-cased character by character
 * with Unicode's mappings (bytes that are not UTF-8 kept as they are),
 * NUL-terminated, for the caller to free; *out_len (may be NULL) its
 * length. NULL when out of memory. sq_register_fold makes it the SQL
 * function ls_fold(text) on a connection. */
char *sq_fold(const char *s, size_t len, size_t *out_len);
int sq_register_fold(sqlite3 *db);

/* Schema (sqlite_schema.c). */
int sq_migrate(struct ticket_store *ts, int *schema_version);

/* Tickets (sqlite_tickets.c). */
int sq_load_ticket(struct sq_conn *c, const char *id, struct ticket **out);
int sq_find_idempotent_id(struct sq_conn *c, const char *user_id, const char *key,
                          char id[TICKET_ID_MAX]);
int sq_insert_ticket(struct sq_conn *c, const struct ticket *t, const char *idem, int64_t now);
int sq_create(struct ticket_store *ts, const struct ticket *t, const char *idempotency_key,
              struct ticket **out, int *replayed);
int sq_find_idempotent(struct ticket_store *ts, const char *user_id, const char *key,
                       struct ticket **out);
int sq_get(struct ticket_store *ts, const char *id, struct ticket **out);
int sq_list(struct ticket_store *ts, const struct ticket_filter *f, struct ticket_list *out);
int sq_update(struct ticket_store *ts, const char *id, const struct ticket_update *u,
              struct ticket **out);
int sq_add_attachments(struct ticket_store *ts, const char *ticket_id,
                       const struct ticket_attachment *a, size_t n, struct ticket **out);
int sq_get_attachment(struct ticket_store *ts, const char *ticket_id, const char *attachment_id,
                      struct ticket_attachment **out);
int sq_blob_referenced(struct ticket_store *ts, const char *blob_key, int *referenced);
int sq_user_create(struct ticket_store *ts, const char *name, const char *role,
                   const char *password_hash);
int sq_user_get(struct ticket_store *ts, const char *name, struct ticket_user **out);
int sq_user_update(struct ticket_store *ts, const char *name, const char *role,
                   const char *password_hash);
int sq_user_delete(struct ticket_store *ts, const char *name);

/* Tracker hand-offs (sqlite_handoff.c). */
int sq_handoff_insert(struct sq_conn *c, const char *ticket_id, const char *tracker, int64_t now);
int sq_handoff_status(struct sq_conn *c, const char *ticket_id, char **status);
int sq_handoff_claim(struct ticket_store *ts, int64_t now, int64_t lease_until,
                     struct ticket_handoff *out, int64_t *next_due);
int sq_handoff_record(struct ticket_store *ts, const struct ticket_handoff *h,
                      const struct ticket_handoff_result *r);
int sq_handoff_release(struct ticket_store *ts, const struct ticket_handoff *h);
int sq_handoff_counts(struct ticket_store *ts, struct ticket_handoff_counts *out);

#endif
