/*
 * tracker_worker.h - the thread that hands queued tickets to the
 * tracker. The queue is the ticket database (ticket_store.h, "tracker
 * hand-offs"): a ticket's hand-off row is written with the ticket, so a
 * restart resumes every pending hand-off, and several servers on one
 * PostgreSQL database share the rows, each claiming one with a lease
 * before the attempt (its server died mid-attempt: another takes it
 * over when the lease ends). An attempt that fails is retried with
 * capped exponential backoff until max_attempts, then marked failed.
 * A hand-off can be made twice in one case only (its server died after
 * the receiver took it, before recording that): it carries the same
 * delivery id both times, for the receiver to drop the second.
 */
#ifndef LOGSHARED_TRACKER_WORKER_H
#define LOGSHARED_TRACKER_WORKER_H

#include "ls_buf.h"
#include "ticket_store.h"
#include "tracker.h"

struct tracker_worker_options {
    int timeout_ms;       /* one attempt's bound (the lease is this plus 10 s) */
    int retry_initial_ms; /* first retry delay; doubles per attempt */
    int retry_max_ms;     /* longest delay */
    int max_attempts;     /* then "failed"; >= 1 */
    int poll_ms;          /* how often to look for new work when idle; 0: 500 */
};

struct tracker_worker;

/* Makes ts queue a hand-off with every new ticket
 * (ticket_store_set_tracker) and starts the thread. Takes tr (destroyed
 * by tracker_worker_free, also on failure); ts is borrowed and must
 * outlive the worker. */
int tracker_worker_start(struct tracker *tr, struct ticket_store *ts,
                         const struct tracker_worker_options *o, struct tracker_worker **out);

/* Asks the thread to stop and an attempt in flight to give up (within
 * about a second, not counted as an attempt: the next start retries
 * it). Returns at once. NULL is a no-op. */
void tracker_worker_stop(struct tracker_worker *w);

/* Stops, joins the thread, destroys the tracker. NULL is a no-op. */
void tracker_worker_free(struct tracker_worker *w);

/* Appends the hand-off gauge to a /metrics page (Prometheus text):
 *   logshared_tracker_handoffs{status="pending|delivered|failed"} N
 * counted in the ticket database, so every server sharing it shows the
 * same numbers; counted at most once per 5 s (the page needs no token),
 * so a number may be that old. 0, or the store's error (nothing
 * appended). Thread-safe. */
int tracker_metrics_render(struct ticket_store *ts, ls_buf *o);

#endif
