/*
 * push_db.h - the tables behind support's log requests, end-of-call
 * surveys and webhook deliveries.
 *
 * They live in a SQLite file of their own in the data dir
 * (PUSH_DB_FILENAME), beside the ticket store's: these tables never
 * join tickets inside one transaction, and a separate file keeps their
 * writes (the expiry sweeper, webhook bookkeeping) from contending for
 * the write lock with the ticket store's group commit. The schema is a
 * list of numbered steps (push_db_schema.c) recorded in table
 * push_schema_version, each in its own transaction, so it is safe to
 * open the same file from a restarted server.
 *
 * One connection, one mutex: every call below may be made from any
 * thread (API handlers, the SSE hub, the webhook deliverer, the
 * sweeper). The calls are short; the mutex is never held across
 * network I/O.
 *
 * Times are unix microseconds. Errors: 0 or a negative LOGSHARE_E*
 * (ENOENT unknown id, EPERM not the caller's, ECONFLICT wrong state,
 * EBUSY database locked past the busy timeout, EIO, ENOMEM).
 * Ownership: arguments are borrowed; what comes back through an out
 * parameter is the caller's, freed with the matching *_clear.
 */
#ifndef PUSH_DB_H
#define PUSH_DB_H

#include <stddef.h>
#include <stdint.h>

#include "surveys_validate.h"

struct push_db;

#define PUSH_DB_FILENAME "push.db"

/* Opens (creating with mode 0600) the database at path and brings the
 * push tables to the newest schema. *out is the caller's. */
int push_db_open(const char *path, struct push_db **out);
/* Closes the connection and frees db. NULL is a no-op. */
void push_db_close(struct push_db *db);
/* The schema version reached by push_db_open. */
int push_db_schema_version(struct push_db *db);

/* ---- ids ----------------------------------------------------------- */

/* "<prefix>_<12 hex ms since epoch><20 hex random>": sortable by time,
 * not guessable; the same shape as ticket ids. out: PUSH_ID_MAX bytes. */
#define PUSH_ID_MAX 48
int push_id_new(const char *prefix, char out[PUSH_ID_MAX]);
/* 1 when id has that shape (any prefix of 1..8 lowercase letters). */
int push_id_valid(const char *id);

/* ---- log requests -------------------------------------------------- */

enum log_request_status {
    LOG_REQUEST_PENDING = 0,
    LOG_REQUEST_FULFILLED = 1,
    LOG_REQUEST_DECLINED = 2,
    LOG_REQUEST_EXPIRED = 3
};
/* "pending", "fulfilled", "declined", "expired". */
const char *log_request_status_name(enum log_request_status s);
/* 0 and *s, or LOGSHARE_EINVAL. */
int log_request_status_parse(const char *name, enum log_request_status *s);

#define LOG_REQUEST_DEFAULT_EXPIRES_S (24 * 3600)
#define LOG_REQUEST_MAX_EXPIRES_S (30 * 24 * 3600)
#define LOG_REQUEST_MAX_REASON 2000

struct log_request {
    int64_t seq; /* increasing; the SSE event id */
    char id[PUSH_ID_MAX];
    char *user_id;
    char *reason;
    char *ticket_id;  /* the ticket support asks about; may be NULL */
    char *created_by; /* the support agent */
    enum log_request_status status;
    int64_t created_at;
    int64_t expires_at;
    int64_t updated_at;
    char *fulfilled_ticket_id; /* the ticket that answered it; may be NULL */
};
void log_request_clear(struct log_request *r);

struct log_request_list {
    struct log_request *items;
    size_t count;
};
void log_request_list_clear(struct log_request_list *l);

/* What a new request carries (all borrowed). */
struct log_request_new {
    const char *user_id;
    const char *reason;
    const char *ticket_id; /* may be NULL */
    const char *created_by;
    int64_t expires_in_s; /* 1..LOG_REQUEST_MAX_EXPIRES_S */
};

/* A webhook to notify about the new request; url NULL means none. The
 * delivery row is written in the same transaction as the request, so a
 * request never exists without its notification (or the reverse). */
struct push_db_webhook {
    const char *url;
};

/* Stores a new pending request (and its webhook delivery). *out gets
 * the stored request. */
int push_db_log_request_create(struct push_db *db, const struct log_request_new *in,
                               const struct push_db_webhook *hook, int64_t now,
                               struct log_request *out);

/* Marks every pending request whose expiry has passed as expired.
 * *count (may be NULL) gets how many changed. Lists and gets call it
 * first, so the answer never shows a stale "pending". */
int push_db_log_requests_expire(struct push_db *db, int64_t now, int *count);

/* The highest event id (seq) this database ever issued, 0 when none. */
int push_db_log_request_last_seq(struct push_db *db, int64_t *seq);

/* The expired requests whose expires_at lies in (after, upto], oldest
 * first: what the sweeper announces after expiring up to upto. A range
 * of expiry times (not of the moment the status changed) so a request
 * expired lazily by a list or get is announced all the same. */
int push_db_log_requests_expired_between(struct push_db *db, int64_t after, int64_t upto,
                                         struct log_request_list *out);

/* One request. ENOENT. */
int push_db_log_request_get(struct push_db *db, const char *id, int64_t now,
                            struct log_request *out);

/* Requests, oldest first (by seq). user_id NULL: everyone's. status <0:
 * any. Only requests with seq > after_seq. At most limit (1..1000). */
int push_db_log_request_list(struct push_db *db, const char *user_id, int status, int64_t after_seq,
                             size_t limit, int64_t now, struct log_request_list *out);
/* The same, newest first (by seq, descending): only requests with seq <
 * before_seq (0: from the newest). The next page's before_seq is the
 * last item's seq. */
int push_db_log_request_list_newest(struct push_db *db, const char *user_id, int status,
                                    int64_t before_seq, size_t limit, int64_t now,
                                    struct log_request_list *out);

/* The owner said no: pending -> declined. ENOENT unknown, EPERM not
 * user_id's, ECONFLICT when no longer pending. *out (may be NULL) gets
 * the request afterwards. */
int push_db_log_request_decline(struct push_db *db, const char *id, const char *user_id,
                                int64_t now, struct log_request *out);

/* A ticket with log_request_id arrived from user_id. Checks first
 * (push_db_log_request_check_owner) so the ticket API can refuse before
 * it stores anything; then, after the ticket is committed, fulfil marks
 * pending (or expired: the user said yes in time, the upload was late)
 * -> fulfilled. A declined request stays declined (ECONFLICT). */
int push_db_log_request_check_owner(struct push_db *db, const char *id, const char *user_id);
int push_db_log_request_fulfil(struct push_db *db, const char *id, const char *user_id,
                               const char *ticket_id, int64_t now, struct log_request *out);

/* ---- the event feed (several servers on one file) ------------------ */

/* One row of the feed: a request was made (created 1; the stream's
 * log_request event, id r.seq) or answered (created 0: declined or
 * fulfilled; a log_request_update). r is the request as it is now. */
struct log_request_event {
    int64_t seq; /* the feed's own position, not the request's seq */
    int created;
    struct log_request r;
};

struct log_request_event_list {
    struct log_request_event *items;
    size_t count;
};
void log_request_event_list_clear(struct log_request_event_list *l);

/* The feed's rows with seq > after, oldest first, at most limit
 * (1..1000). One range read of the feed's primary key: cheap enough to
 * poll every second. Rows whose request is gone are skipped. */
int push_db_log_request_events_after(struct push_db *db, int64_t after, size_t limit,
                                     struct log_request_event_list *out);

/* The highest feed seq ever issued (0 when none): where a starting
 * server begins to read. */
int push_db_log_request_events_last(struct push_db *db, int64_t *seq);

/* Deletes the feed rows made before before (unix us). */
int push_db_log_request_events_prune(struct push_db *db, int64_t before);

/* ---- surveys ------------------------------------------------------- */

struct survey_record {
    char id[PUSH_ID_MAX];
    int64_t created_at;
    char *ticket_id;  /* may be NULL */
    int replayed;     /* 1: the idempotency key was seen; this is the first survey */
    char *call_id;    /* when replayed: the first survey's (a retry's body may differ) */
    int report_issue; /* when replayed: the first survey's */
};
void survey_record_clear(struct survey_record *r);

/* Stores a validated survey from user_id, linked to ticket_id (may be
 * NULL). idempotency_key (may be NULL): a retry with the same key by
 * the same user stores nothing and returns the first survey. */
int push_db_survey_insert(struct push_db *db, const char *user_id, const survey *s,
                          const char *ticket_id, const char *idempotency_key, int64_t now,
                          struct survey_record *out);

/* The survey user_id stored with idempotency_key, as a replay
 * (out->replayed 1): 0, LOGSHARE_ENOENT when there is none, or a
 * database error. Lets a retry be answered before anything of its own
 * (its ticket, its files) is stored. */
int push_db_survey_find(struct push_db *db, const char *user_id, const char *idempotency_key,
                        struct survey_record *out);

/* Aggregates over surveys created in [since, until) (0: unbounded),
 * bucketed for the time series by bucket_s seconds (3600 or 86400).
 * *json is a new NUL-terminated JSON text (caller frees); its shape is
 * in docs/push-and-surveys.md. */
int push_db_survey_stats(struct push_db *db, int64_t since, int64_t until, int64_t bucket_s,
                         char **json);

/* The surveys linked to ticket_id (normally one: the survey that
 * created it), oldest first, as a new JSON array text (caller frees):
 * [{"id","user_id","call_id","more_info","report_issue","created_at",
 * "ticket_id","ratings":{category:{score,lower,upper,low_threshold,
 * low}},"issues":{category:[issue,...]}}]. [] when none. */
int push_db_surveys_for_ticket(struct push_db *db, const char *ticket_id, char **json);

/* The id of the survey that created ticket_id (the oldest linked to it)
 * into out: 0, LOGSHARE_ENOENT when no survey names it, or a database
 * error. One indexed lookup: the ticket JSON carries it (survey_id). */
int push_db_survey_id_for_ticket(struct push_db *db, const char *ticket_id, char out[PUSH_ID_MAX]);

/* ---- webhook deliveries -------------------------------------------- */

enum webhook_delivery_status {
    WEBHOOK_PENDING = 0,
    WEBHOOK_DELIVERED = 1,
    WEBHOOK_FAILED = 2, /* gave up after the maximum number of attempts */
    WEBHOOK_DROPPED = 3 /* its log request was answered or expired first */
};

struct webhook_delivery {
    int64_t row;
    char id[PUSH_ID_MAX]; /* sent as X-Logshare-Delivery: receivers dedupe on it */
    char *event;          /* "log_request.created" */
    char *url;
    char *payload; /* the JSON body, signed as is */
    int attempts;
    int64_t next_attempt_at;
    enum webhook_delivery_status status;
};
void webhook_delivery_clear(struct webhook_delivery *d);

/* The pending delivery due soonest. First drops (status "dropped") the
 * pending deliveries whose log request is no longer pending or is past
 * its expires_at at now: they would wake a device for nothing. ENOENT
 * when none is pending; *out then untouched. The caller compares
 * next_attempt_at with now, and claims a due one before sending it. A
 * delivery claimed by a server counts as due when its lease ends (its
 * next_attempt_at here is the later of the two). */
int push_db_delivery_next(struct push_db *db, int64_t now, struct webhook_delivery *out);

/* Claims due delivery row until lease_until (unix us; longer than an
 * attempt can take): one conditional UPDATE, so of several servers
 * sharing the queue one wins. 0, or LOGSHARE_ECONFLICT when it is no
 * longer pending, not due, or claimed by another. The claim ends with
 * push_db_delivery_record, push_db_delivery_release, or its time. */
int push_db_delivery_claim(struct push_db *db, int64_t row, int64_t now, int64_t lease_until);

/* Ends the claim that lasts until lease_until without an attempt (the
 * server is stopping): the next server to look sends it at once. A
 * claim that is no longer that one (it ran out and another server
 * claimed the delivery) is left alone. */
int push_db_delivery_release(struct push_db *db, int64_t row, int64_t lease_until);

/* Records an attempt made under the claim that lasts until lease_until
 * (0: the delivery was not claimed): delivered, or failed with
 * next_attempt_at (0 gives up: status failed). http_status 0 when no
 * answer came. LOGSHARE_ENOENT, and nothing recorded, when the delivery
 * is no longer pending or now held by another claim: that server's
 * attempt decides. */
int push_db_delivery_record(struct push_db *db, int64_t row, int64_t lease_until, int delivered,
                            int http_status, const char *error, int64_t next_attempt_at,
                            int64_t now);

/* Counts by status (for /metrics and tests); dropped may be NULL. */
int push_db_delivery_counts(struct push_db *db, int64_t *pending, int64_t *delivered,
                            int64_t *failed, int64_t *dropped);

#endif
