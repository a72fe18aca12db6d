/*
 * push_service.h - support's requests for logs, end to end on the
 * server: the push tables (push_db.h), the SSE hub (sse_hub.h) and one
 * background thread that delivers webhooks (webhook_deliverer.c) and
 * expires overdue requests.
 *
 * Creating a request stores it (with its webhook delivery, in one
 * transaction), then publishes it to the user's open streams, then
 * wakes the deliverer. Publishing goes through the event feed in
 * push.db (push_db_log_request_events_after): the creating server reads
 * it at once, every other server sharing the file within feed_poll_ms,
 * and each publishes every change to its own streams once. Answers (decline, a fulfilling ticket)
 * and expiries (found by the background sweep) are published as log_request_update events, so the
 * user's other devices stop asking. A ticket that names a log_request_id fulfils it
 * (push_service_ticket_created), which the ticket API calls after its commit.
 *
 * Lifecycle: push_service_start after the data dir exists; before
 * stopping the HTTP daemon, push_service_close_streams (MHD must not be
 * stopped with suspended connections); after it, push_service_free.
 */
#ifndef PUSH_SERVICE_H
#define PUSH_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "push_db.h"
#include "sse_hub.h"

struct push_service;

struct push_service_options {
    const char *db_path;                 /* <data_dir>/PUSH_DB_FILENAME */
    const char *webhook_url;             /* NULL or "": no webhook */
    const unsigned char *webhook_secret; /* HMAC key (borrowed during start) */
    size_t webhook_secret_len;
    int webhook_timeout_ms;         /* per attempt; 0: 10000 */
    int webhook_backoff_initial_ms; /* first retry delay; 0: 1000 */
    int webhook_backoff_max_ms;     /* cap of the doubling delay; 0: 300000 */
    int webhook_max_attempts;       /* then the delivery is marked failed; 0: no cap,
                                     * retried until its request is no longer pending */
    int sweep_interval_ms;          /* expiry sweep; 0: 1000 */
    int feed_poll_ms;               /* reads of the event feed that other servers on the
                                     * same push.db write; 0: 1000 */
    struct sse_hub_options hub;
};

int push_service_start(const struct push_service_options *opts, struct push_service **out);

/* Ends every open stream and refuses new ones, waiting up to timeout_ms
 * for them to close; call before stopping the HTTP daemon. */
void push_service_close_streams(struct push_service *svc, int timeout_ms);

/* Stops the background thread at once (at SIGTERM): a webhook in flight
 * is given up within about a second, not counted as an attempt, and sent
 * again by the next start (its delivery stays queued), so it cannot keep
 * the server up for webhook_timeout_ms. NULL is a no-op. */
void push_service_stop_webhooks(struct push_service *svc);

/* Stops the background thread, closes the database, frees svc. NULL is
 * a no-op. */
void push_service_free(struct push_service *svc);

struct push_db *push_service_db(struct push_service *svc);
struct sse_hub *push_service_hub(struct push_service *svc);

/* Stores, publishes and queues the webhook of a new request. *out gets
 * the stored request (caller clears it). */
int push_service_create_request(struct push_service *svc, const struct log_request_new *in,
                                struct log_request *out);

/* The owner declines: push_db_log_request_decline (same errors, *out
 * the request afterwards), then a log_request_update event to the
 * user's streams so their other devices stop asking. */
int push_service_decline_request(struct push_service *svc, const char *id, const char *user_id,
                                 struct log_request *out);

/* The ticket API calls this after committing a ticket that carries
 * log_request_id (from user_id). Fulfils the request (and publishes a
 * log_request_update); ECONFLICT when it was declined or already
 * fulfilled (the ticket stands regardless). */
int push_service_ticket_created(struct push_service *svc, const char *user_id,
                                const char *log_request_id, const char *ticket_id);

/* A new stream of user_id's requests: sse_hub_subscribe with
 * push_service_load_pending, serialized with publishes so the initial
 * load and the live events neither overlap nor leave a gap, and the
 * live events come in seq order (so a reconnect with Last-Event-ID
 * never skips a lower, still pending id). expires_at: the token's
 * expiry (unix seconds, 0: none), see sse_hub_subscribe. */
int push_service_subscribe(struct push_service *svc, struct MHD_Connection *conn,
                           const char *user_id, int64_t expires_at, int64_t last_event_id,
                           struct MHD_Response **resp);

/* The starting events of a stream: the user's pending requests newer
 * than after_id (an sse_hub_load_fn; ctx is the push_service). */
int push_service_load_pending(void *ctx, const char *user_id, int64_t after_id, ls_buf *out,
                              int64_t *max_id);

/* Wakes the background thread (a new delivery is queued). */
void push_service_kick(struct push_service *svc);

#endif
