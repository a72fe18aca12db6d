/*
 * ticket_store.h - where logshared keeps tickets, attachments' metadata
 * and dashboard logins.
 *
 * A ticket store is a struct of function pointers plus an opaque state.
 * SQLite (ticket_store_sqlite_open) is the first implementation;
 * PostgreSQL, for several servers sharing the work, plugs in behind the
 * same ops. The structs below are plain data so the API layer can turn
 * them into JSON without knowing which database is underneath.
 *
 * The upload path, in the order the durability rule needs (PITFALLS):
 *
 *   ticket_id_new(TICKET_ID_PREFIX, tid);      // ids first: blob keys use them
 *   ticket_id_new(ATTACHMENT_ID_PREFIX, aid);  // one per file
 *   ...stream and commit every blob (blob_store.h)...
 *   ticket_store_create(ts, &t, idem_key, &stored, &replayed);
 *
 * create writes the ticket, its call ids, its attachments and the
 * (user_id, idempotency key) pair in ONE transaction: either all of it
 * is visible or none. When the pair already exists, nothing of t is
 * stored, *replayed is set and *out is the FIRST ticket: the API answers
 * with it and removes the blobs it just wrote for t.
 *
 * Thread safety: every ticket_store_* call may be made from many threads
 * at once. The SQLite store keeps a pool of connections (WAL mode, a busy
 * timeout, foreign keys on); callers never see a connection.
 *
 * Ownership: arguments are borrowed (read during the call only). Structs
 * returned through out-parameters belong to the caller, freed with the
 * matching *_free / *_clear.
 *
 * Errors: 0 or a negative LOGSHARE_E*: EINVAL (a field is invalid: bad
 * status, bad cursor, missing description...), ENOENT (no such ticket,
 * attachment or user), EEXIST (an id or user name already taken), EBUSY
 * (the database stayed locked past the busy timeout), EUNAVAILABLE (the
 * database server is unreachable), EIO, ENOMEM, EFORMAT (the database's
 * schema is newer than this program), and TICKET_STORE_EUNKNOWN below.
 */
#ifndef LOGSHARED_TICKET_STORE_H
#define LOGSHARED_TICKET_STORE_H

#include <stddef.h>
#include <stdint.h>

/* create and add_attachments only: the COMMIT was sent but its outcome
 * is unknown (the connection to the database broke during it, or the
 * database failed it in a way that may still have written it). The
 * rows may or may not exist: the caller must keep every blob they name
 * (an orphan sweep removes those of a transaction that did not commit)
 * and tell the client to retry with the same idempotency key. Not a
 * LOGSHARE_E* code: it never leaves the server. A failure after a
 * successful COMMIT is never reported: the answer is built from what was
 * written. */
#define TICKET_STORE_EUNKNOWN (-100)

/* ---- ids ----------------------------------------------------------- */

/* Ids are "<prefix>_<12 hex: ms since epoch><20 hex: 80 random bits>":
 * they sort by creation time as plain strings and cannot be guessed. */
#define TICKET_ID_MAX 48 /* buffer size, NUL included */
#define TICKET_ID_PREFIX "tk"
#define ATTACHMENT_ID_PREFIX "at"

/* Writes a new id into out (TICKET_ID_MAX bytes). prefix: 1..8 of
 * [a-z]. Random bits come from the kernel (getrandom). 0 or
 * LOGSHARE_EINVAL / LOGSHARE_EIO. */
int ticket_id_new(const char *prefix, char out[TICKET_ID_MAX]);

/* 1 when id looks like an id ticket_id_new makes (any prefix), else 0.
 * The API checks path parameters with it before any query. */
int ticket_id_valid(const char *id);

/* ---- data ---------------------------------------------------------- */

enum ticket_status {
    TICKET_STATUS_OPEN = 0,
    TICKET_STATUS_IN_PROGRESS = 1,
    TICKET_STATUS_CLOSED = 2
};

/* "open", "in_progress", "closed". Static storage. */
const char *ticket_status_name(enum ticket_status s);
/* 0 and *s, or LOGSHARE_EINVAL for anything else (case-sensitive). */
int ticket_status_parse(const char *name, enum ticket_status *s);

struct ticket_attachment {
    char *id;
    char *ticket_id; /* filled by the store; ignored on input */
    char *name;      /* the client's file name, stored as given (display only) */
    uint64_t size;
    char sha256[65];    /* lowercase hex, NUL-terminated */
    char *content_type; /* may be NULL */
    char *blob_key;     /* where the bytes are, see blob_store.h */
    int64_t created_at; /* unix microseconds; 0 on input means "now" */
};

struct ticket_note {
    char *author; /* may be NULL */
    char *text;
    int64_t created_at; /* unix microseconds */
};

/* Every char * may be NULL (absent) except id, user_id and description
 * on input to create. Times are unix microseconds. */
struct ticket {
    char *id;
    enum ticket_status status;
    int64_t created_at; /* 0 on input means "now" */
    int64_t updated_at;
    char *user_id;
    char *description;
    char **call_ids;
    size_t n_call_ids;
    char *customer_name;
    char *customer_email;
    char *app_version;
    char *platform;
    char *source; /* "report", "survey", "push", "share" (validated by the API) */
    char *log_request_id;
    char *assignee;
    char *tracker_url;
    /* The tracker hand-off (ticket_store_set_tracker): "pending",
     * "delivered" or "failed"; NULL when the ticket was never queued for
     * one (no tracker configured when it was created). Ignored on input. */
    char *tracker_status;
    struct ticket_note *notes; /* oldest first; ignored on input to create */
    size_t n_notes;
    struct ticket_attachment *attachments; /* oldest first */
    size_t n_attachments;
};

/* Frees what the members point to (not t itself) and zeroes t. For
 * tickets the caller assembled from malloc'd strings. NULL is a no-op. */
void ticket_clear(struct ticket *t);
/* ticket_clear and free(t): for every ticket the store returned. */
void ticket_free(struct ticket *t);
void ticket_attachment_clear(struct ticket_attachment *a);
void ticket_attachment_free(struct ticket_attachment *a);
/* A deep copy of t (every string, call id, note and attachment), for the
 * caller to ticket_free: 0, or LOGSHARE_ENOMEM with *out NULL. */
int ticket_copy(const struct ticket *t, struct ticket **out);

/* A page of tickets, newest first. */
struct ticket_list {
    struct ticket **items; /* each a full ticket (call ids, notes, attachments) */
    size_t count;
    char *next_cursor; /* NULL on the last page; opaque, URL-safe */
};
void ticket_list_clear(struct ticket_list *l);

/* Filters are ANDed; NULL / negative means "any". */
struct ticket_filter {
    const char *call_id; /* exact match on one of the ticket's call ids */
    const char *user_id; /* exact */
    int status;          /* an enum ticket_status, or -1 */
    const char *q;       /* case-insensitive substring of description, customer
                            name/email, call ids */
    const char *cursor;  /* next_cursor of the previous page, or NULL */
    size_t limit;        /* 1..TICKET_LIST_MAX_LIMIT; 0 means the default */
};
#define TICKET_LIST_DEFAULT_LIMIT 50
#define TICKET_LIST_MAX_LIMIT 500

/* A PATCH. Absent members leave the ticket as it is. */
struct ticket_update {
    int status;              /* an enum ticket_status, or -1 to keep */
    const char *assignee;    /* NULL keeps; "" clears */
    const char *note;        /* NULL or a note to append */
    const char *note_author; /* who wrote the note (the caller's user id) */
    const char *tracker_url; /* NULL keeps; set when handed to a tracker */
    /* NULL, or the caller's Idempotency-Key: the first update with a
     * (key_user, ticket, key) applies and records it; another with the
     * same three applies nothing (a retry whose answer was lost). */
    const char *idempotency_key;
    const char *key_user;
};
#define TICKET_UPDATE_INIT                                                                         \
    {                                                                                              \
        -1, NULL, NULL, NULL, NULL, NULL, NULL                                                     \
    }

/* Dashboard logins. */
struct ticket_user {
    char *name;
    char *role;          /* "user", "support", "admin" (see auth.h) */
    char *password_hash; /* crypto_pwhash_str output (see auth_password_hash) */
    int64_t created_at;
};
void ticket_user_free(struct ticket_user *u);

/* ---- tracker hand-offs --------------------------------------------- */

/* A ticket created while a tracker is configured gets a hand-off row in
 * the SAME transaction as the ticket (so a 201 always means "will be
 * handed off", even if the server dies right after answering). A
 * worker (tracker/tracker_worker.h) claims due rows with a lease, hands
 * the ticket to the tracker and records the result; several servers on
 * one database claim from the same rows, and a claim whose server died
 * is taken over when its lease ends. */
struct ticket_handoff {
    char ticket_id[TICKET_ID_MAX];
    /* Made once, when the row is written: the same on every attempt, so
     * a receiver can drop a duplicate (a crash after it answered). */
    char delivery_id[TICKET_ID_MAX];
    int attempts;        /* made before this claim */
    int64_t lease_until; /* the claim's end, and its name (see record) */
};

struct ticket_handoff_result {
    int delivered;           /* 1: the tracker took it; 0: this attempt failed */
    const char *tracker_url; /* delivered only; NULL: the tracker named none */
    int http_status;         /* 0: no answer */
    const char *error;       /* a failed attempt's one-line reason; may be NULL */
    int64_t next_attempt_at; /* a failed attempt: when to retry; 0: give up ("failed") */
    int64_t now;
};

struct ticket_handoff_counts {
    int64_t pending, delivered, failed;
};

/* ---- the interface ------------------------------------------------- */

struct ticket_store;

/* Room for ticket_store_identity's answer, NUL included. */
#define TICKET_STORE_IDENTITY_MAX 64

struct ticket_store_ops {
    const char *name; /* "sqlite", "postgres" */
    int (*migrate)(struct ticket_store *ts, int *schema_version);
    int (*create)(struct ticket_store *ts, const struct ticket *t, const char *idempotency_key,
                  struct ticket **out, int *replayed);
    int (*find_idempotent)(struct ticket_store *ts, const char *user_id, const char *key,
                           struct ticket **out);
    int (*get)(struct ticket_store *ts, const char *id, struct ticket **out);
    int (*list)(struct ticket_store *ts, const struct ticket_filter *f, struct ticket_list *out);
    int (*update)(struct ticket_store *ts, const char *id, const struct ticket_update *u,
                  struct ticket **out);
    int (*add_attachments)(struct ticket_store *ts, const char *ticket_id,
                           const struct ticket_attachment *a, size_t n, struct ticket **out);
    int (*get_attachment)(struct ticket_store *ts, const char *ticket_id, const char *attachment_id,
                          struct ticket_attachment **out);
    int (*blob_referenced)(struct ticket_store *ts, const char *blob_key, int *referenced);
    int (*user_create)(struct ticket_store *ts, const char *name, const char *role,
                       const char *password_hash);
    int (*user_get)(struct ticket_store *ts, const char *name, struct ticket_user **out);
    int (*user_update)(struct ticket_store *ts, const char *name, const char *role,
                       const char *password_hash);
    int (*user_delete)(struct ticket_store *ts, const char *name);
    int (*check)(struct ticket_store *ts);
    int (*identity)(struct ticket_store *ts, char out[TICKET_STORE_IDENTITY_MAX]);
    int (*handoff_claim)(struct ticket_store *ts, int64_t now, int64_t lease_until,
                         struct ticket_handoff *out, int64_t *next_due);
    int (*handoff_record)(struct ticket_store *ts, const struct ticket_handoff *h,
                          const struct ticket_handoff_result *r);
    int (*handoff_release)(struct ticket_store *ts, const struct ticket_handoff *h);
    int (*handoff_counts)(struct ticket_store *ts, struct ticket_handoff_counts *out);
    void (*destroy)(struct ticket_store *ts);
};

struct ticket_store {
    const struct ticket_store_ops *ops;
    void *state; /* the implementation's; opaque to callers */
    /* ticket_store_set_tracker's name (static storage), NULL: none. Set
     * once before the first create; read by every create after. */
    const char *tracker;
};

/* Brings the schema to the newest version this program knows, each step
 * in its own transaction, recorded in table schema_version. Safe to call
 * on every start (and from several processes: a step already applied is
 * skipped). Call once after opening, before anything else. The version
 * reached goes to *schema_version (may be NULL). EFORMAT when the
 * database was migrated by a newer logshared. */
int ticket_store_migrate(struct ticket_store *ts, int *schema_version);

/* Stores t (borrowed) with its call ids and attachments in one
 * transaction. t->id, t->user_id and t->description are required;
 * t->status is ignored (a new ticket is open); t->notes are ignored.
 * idempotency_key may be NULL. On success *out (may be NULL) is the
 * stored ticket, and *replayed (may be NULL) is 1 when the (user_id,
 * idempotency_key) pair existed and *out is that first ticket (nothing
 * of t was stored), else 0. EEXIST if t->id or an attachment id is taken.
 * TICKET_STORE_EUNKNOWN when the COMMIT's outcome is unknown (t may be
 * stored: keep its blobs). */
int ticket_store_create(struct ticket_store *ts, const struct ticket *t,
                        const char *idempotency_key, struct ticket **out, int *replayed);

/* The ticket a (user_id, key) pair created, so the API can answer a
 * retry before reading its body. ENOENT when the pair is unknown. */
int ticket_store_find_idempotent(struct ticket_store *ts, const char *user_id, const char *key,
                                 struct ticket **out);

/* The ticket with its call ids, notes and attachments. ENOENT. */
int ticket_store_get(struct ticket_store *ts, const char *id, struct ticket **out);

/* Newest first (created_at, then id), at most limit tickets after
 * f->cursor. *out is the caller's: ticket_list_clear it. EINVAL for a
 * cursor this store did not make or a limit over the maximum. */
int ticket_store_list(struct ticket_store *ts, const struct ticket_filter *f,
                      struct ticket_list *out);

/* Applies u in one transaction and bumps updated_at. *out (may be NULL)
 * is the ticket afterwards. With u->idempotency_key already recorded for
 * (u->key_user, id), nothing is applied and *out is the ticket as it is.
 * ENOENT, EINVAL (bad status, a key without its user). */
int ticket_store_update(struct ticket_store *ts, const char *id, const struct ticket_update *u,
                        struct ticket **out);

/* Links n more attachments (borrowed; their blobs already durable) to an
 * existing ticket in one transaction. *out (may be NULL) is the ticket
 * afterwards (read inside the transaction). ENOENT, EEXIST,
 * TICKET_STORE_EUNKNOWN (as for create). */
int ticket_store_add_attachments(struct ticket_store *ts, const char *ticket_id,
                                 const struct ticket_attachment *a, size_t n, struct ticket **out);

/* One attachment of one ticket (both ids must match). ENOENT. */
int ticket_store_get_attachment(struct ticket_store *ts, const char *ticket_id,
                                const char *attachment_id, struct ticket_attachment **out);

/* Sets *referenced to 1 when an attachment row (of any ticket) names
 * blob_key as where its bytes are, else to 0. The orphan sweep asks it
 * before removing a blob (orphan_sweep.h). One indexed lookup (blob_key
 * is UNIQUE). EINVAL for an empty key. */
int ticket_store_blob_referenced(struct ticket_store *ts, const char *blob_key, int *referenced);

/* Adds a dashboard login. EEXIST if the name is taken. */
int ticket_store_user_create(struct ticket_store *ts, const char *name, const char *role,
                             const char *password_hash);
/* A dashboard login by name. ENOENT. */
int ticket_store_user_get(struct ticket_store *ts, const char *name, struct ticket_user **out);
/* Changes a login's role and/or password hash (NULL: unchanged). A new
 * password also moves created_at to now, which ends the sessions that
 * logged in before (the dashboard refuses a session older than its
 * account). ENOENT, EINVAL (a bad role, or nothing to change). */
int ticket_store_user_update(struct ticket_store *ts, const char *name, const char *role,
                             const char *password_hash);
/* Removes a login; its sessions end at their next request. ENOENT. */
int ticket_store_user_delete(struct ticket_store *ts, const char *name);

/* Readiness for /readyz: 0 when the database answers a query now. */
int ticket_store_check(struct ticket_store *ts);

/* Names this database, the same for every server and every start that
 * reaches it, and different for another database: "<backend>:<time
 * schema step 1 was applied, in microseconds>" (recorded once per
 * database, so no schema change was needed; two databases would have to
 * be created in the same microsecond to share it). main.c binds the data
 * dir's blobs to it, so a server pointed at another database never
 * sweeps them (orphan_sweep.h). ENOENT before ticket_store_migrate. */
int ticket_store_identity(struct ticket_store *ts, char out[TICKET_STORE_IDENTITY_MAX]);

/* From now on every ticket create also queues a hand-off to tracker (a
 * name in static storage, e.g. "webhook"; NULL stops queueing). Call
 * before serving: tickets created earlier are never handed off. */
void ticket_store_set_tracker(struct ticket_store *ts, const char *tracker);

/* Claims the hand-off due first (pending, next attempt <= now, no live
 * lease) until lease_until, in one conditional write, so two servers
 * cannot both win. 0 and *out; ENOENT when none is due, with *next_due
 * (may be NULL) the time the next one falls due (its retry time or its
 * lease's end), 0 when none is pending. */
int ticket_store_handoff_claim(struct ticket_store *ts, int64_t now, int64_t lease_until,
                               struct ticket_handoff *out, int64_t *next_due);

/* Records an attempt under the claim h (ticket_id and lease_until must
 * still match: a claim that ran out belongs to another server now, and
 * its late result is dropped with ENOENT). Delivered: status
 * "delivered" and, when r->tracker_url is set, the ticket's tracker_url,
 * in one transaction. Failed: "pending" until r->next_attempt_at, or
 * "failed" when that is 0. */
int ticket_store_handoff_record(struct ticket_store *ts, const struct ticket_handoff *h,
                                const struct ticket_handoff_result *r);

/* Gives a claim back without counting an attempt (the server is
 * stopping): the hand-off is due again at once. */
int ticket_store_handoff_release(struct ticket_store *ts, const struct ticket_handoff *h);

/* How many hand-offs are pending, delivered and failed (for /metrics). */
int ticket_store_handoff_counts(struct ticket_store *ts, struct ticket_handoff_counts *out);

/* Closes every connection and frees ts. NULL is a no-op. */
void ticket_store_destroy(struct ticket_store *ts);

/* ---- SQLite -------------------------------------------------------- */

/* File name of the database inside the data dir. */
#define TICKET_STORE_SQLITE_FILENAME "logshare.db"

struct ticket_store_sqlite_options {
    int busy_timeout_ms; /* 0: 5000 */
    int max_connections; /* pool size; 0: 16 */
    /* 1: every commit is fsynced before it returns (synchronous=FULL),
     * as a 201 requires; this is what NULL options give. 0 trades
     * power-loss durability for speed (synchronous=NORMAL: a crash of
     * the process alone still loses nothing). NOTE: a zeroed struct means
     * 0, so set it explicitly. */
    int durable;
};

/* Opens (creating it with mode 0600) the SQLite database at path. opts
 * may be NULL for the defaults. Then call ticket_store_migrate. *out is
 * the caller's: ticket_store_destroy it. */
int ticket_store_sqlite_open(const char *path, const struct ticket_store_sqlite_options *opts,
                             struct ticket_store **out);

/* ---- PostgreSQL ---------------------------------------------------- */

/* Opens a pool of up to max_connections (0: 16) libpq connections to
 * conninfo (a libpq connection string or URI, e.g.
 * "postgresql://logshare@db/logshare"), connecting one now so a wrong
 * address fails here (LOGSHARE_EUNAVAILABLE). A connection that breaks
 * is re-established on next use. Then call ticket_store_migrate (several
 * servers may do so at once: migrations take an advisory lock). *out is
 * the caller's: ticket_store_destroy it. */
int ticket_store_pg_open(const char *conninfo, int max_connections, struct ticket_store **out);

/* ---- choosing one -------------------------------------------------- */

/* Opens and migrates the store a configuration names: database_url NULL
 * or "" means SQLite at <data_dir>/logshare.db (durable as given);
 * "postgres://...", "postgresql://..." or a libpq key=value string
 * ("host=... dbname=...") means PostgreSQL; "sqlite:PATH" a SQLite file
 * elsewhere. Anything else: LOGSHARE_EINVAL. *out is the caller's. */
int ticket_store_open_url(const char *database_url, const char *data_dir, int durable,
                          struct ticket_store **out);

#endif
