/*
 * pg_store.h - private to the PostgreSQL ticket store: its state, its
 * connection pool and the helpers its files share.
 *
 * A thread borrows one PGconn for one operation, like the SQLite store.
 * Statements go through PQsendQueryParams with every value as a text
 * parameter: nothing from a request is ever spliced into SQL text. No
 * wait for the server is unbounded: connecting and every answer take at
 * most the conninfo's connect_timeout (30 s when it sets none), after
 * which the connection is cut off and the operation fails.
 */
#ifndef LOGSHARED_PG_STORE_H
#define LOGSHARED_PG_STORE_H

#include <libpq-fe.h>
#include <pthread.h>

#include "ticket_store.h"

struct pg_conn {
    PGconn *db;
    int timeout_s; /* the longest wait for an answer: connect_timeout */
    struct pg_conn *next_idle;
};

struct pg_store {
    struct ticket_store base;
    char *conninfo;
    int max_connections;
    pthread_mutex_t lock;
    pthread_cond_t idle_available;
    struct pg_conn *idle;
    int open_connections;
};

int pg_acquire(struct pg_store *s, struct pg_conn **out);
void pg_release(struct pg_store *s, struct pg_conn *c);

/* Runs sql with n text parameters (NULL entries are SQL NULL). Returns
 * the result (caller PQclear()s it) and sets *rc: 0 for a command or
 * rows, else the LOGSHARE_E* of the failure (see pg_error). */
PGresult *pg_query(struct pg_conn *c, const char *sql, int n, const char *const *params, int *rc);
/* Runs sql without parameters or rows. */
int pg_command(struct pg_conn *c, const char *sql);
/* COMMITs the open transaction: 0 once the server said COMMIT, its
 * error when it refused (rolled back), TICKET_STORE_EUNKNOWN when the
 * connection broke with the COMMIT sent and no answer back. */
int pg_commit(struct pg_conn *c);
/* The LOGSHARE_E* for a failed result (SQLSTATE based). */
int pg_error(struct pg_conn *c, const PGresult *res);
/* True when res failed on a unique violation of the named constraint. */
int pg_is_unique_violation(const PGresult *res, const char *constraint);
/* A copy of a text value, NULL for SQL NULL; sets *rc on ENOMEM. */
char *pg_dup(const PGresult *res, int row, int col, int *rc);
long long pg_int(const PGresult *res, int row, int col);

/* Decimal text of v into buf, for text parameters. */
void pg_fmt_i64(char buf[24], long long v);
/* Loads ticket id with call ids, notes and attachments. ENOENT. */
int pg_load_ticket(struct pg_conn *c, const char *id, struct ticket **out);

int pg_migrate(struct ticket_store *ts, int *schema_version);
int pg_create(struct ticket_store *ts, const struct ticket *t, const char *idempotency_key,
              struct ticket **out, int *replayed);
int pg_find_idempotent(struct ticket_store *ts, const char *user_id, const char *key,
                       struct ticket **out);
int pg_get(struct ticket_store *ts, const char *id, struct ticket **out);
int pg_list(struct ticket_store *ts, const struct ticket_filter *f, struct ticket_list *out);
int pg_update(struct ticket_store *ts, const char *id, const struct ticket_update *u,
              struct ticket **out);
int pg_add_attachments(struct ticket_store *ts, const char *ticket_id,
                       const struct ticket_attachment *a, size_t n, struct ticket **out);
int pg_blob_referenced(struct ticket_store *ts, const char *blob_key, int *referenced);
int pg_get_attachment(struct ticket_store *ts, const char *ticket_id, const char *attachment_id,
                      struct ticket_attachment **out);
int pg_user_create(struct ticket_store *ts, const char *name, const char *role,
                   const char *password_hash);
int pg_user_get(struct ticket_store *ts, const char *name, struct ticket_user **out);
int pg_user_update(struct ticket_store *ts, const char *name, const char *role,
                   const char *password_hash);
int pg_user_delete(struct ticket_store *ts, const char *name);

/* Tracker hand-offs (pg_handoff.c). */
int pg_handoff_insert(struct pg_conn *c, const char *ticket_id, const char *tracker,
                      const char *now);
int pg_handoff_status(struct pg_conn *c, const char *ticket_id, char **status);
int pg_handoff_claim(struct ticket_store *ts, int64_t now, int64_t lease_until,
                     struct ticket_handoff *out, int64_t *next_due);
int pg_handoff_record(struct ticket_store *ts, const struct ticket_handoff *h,
                      const struct ticket_handoff_result *r);
int pg_handoff_release(struct ticket_store *ts, const struct ticket_handoff *h);
int pg_handoff_counts(struct ticket_store *ts, struct ticket_handoff_counts *out);

#endif
