/*
 * tracker_worker.c - drains the ticket database's hand-off rows into
 * the tracker (see tracker_worker.h).
 *
 * One thread, one attempt at a time: hand-offs are as rare as tickets,
 * and a tracker that is down should not be hammered. The loop claims
 * the hand-off due first, loads the ticket as it is now, makes one
 * attempt and records it under its claim; when nothing is due it
 * sleeps until the next retry falls due, at most poll_ms (other
 * servers, and this server's API, add rows it is not told about).
 */
#include "tracker_worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logshare.h"
#include "ls_time.h"
#include "webhook_deliverer.h"

struct tracker_worker {
    struct tracker *tracker;
    struct ticket_store *tickets;
    struct tracker_worker_options o;
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    int stop;
    atomic_int cancel; /* an attempt in flight gives up: the server is stopping */
};

static int stopping(struct tracker_worker *w)
{
    pthread_mutex_lock(&w->lock);
    int s = w->stop;
    pthread_mutex_unlock(&w->lock);
    return s;
}

/* Sleeps ms milliseconds or until stopped. */
static void wait_ms(struct tracker_worker *w, int64_t ms)
{
    int64_t due = ls_time_mono_ns() + ms * 1000000;
    struct timespec ts = {(time_t)(due / 1000000000), (long)(due % 1000000000)};
    pthread_mutex_lock(&w->lock);
    while (!w->stop && pthread_cond_timedwait(&w->cond, &w->lock, &ts) == 0)
        ;
    pthread_mutex_unlock(&w->lock);
}

/* How long a claim lasts: longer than one attempt can take, so no other
 * server hands the ticket off meanwhile; if this server dies
 * mid-attempt, another takes over this long after. */
static int64_t lease_us(const struct tracker_worker *w)
{
    return ((int64_t)w->o.timeout_ms + 10000) * 1000;
}

/* The result of one attempt, as the store records it. */
static void make_result(const struct tracker_worker *w, const struct ticket_handoff *h, int ok,
                        const struct tracker_answer *a, struct ticket_handoff_result *r)
{
    int attempts = h->attempts + 1;
    memset(r, 0, sizeof *r);
    r->delivered = ok == 1;
    r->tracker_url = a->url;
    r->http_status = a->http_status;
    r->error = a->error[0] ? a->error : NULL;
    r->now = ls_time_now_us();
    if (!r->delivered && attempts < w->o.max_attempts)
        r->next_attempt_at =
            r->now + webhook_backoff_us(attempts, w->o.retry_initial_ms, w->o.retry_max_ms);
}

/* One claimed hand-off: attempt, log, record. 1 when the worker must
 * stop (the attempt was canceled). */
static int hand_off_one(struct tracker_worker *w, const struct ticket_handoff *h)
{
    struct ticket *t = NULL;
    int rc = ticket_store_get(w->tickets, h->ticket_id, &t);
    if (rc != 0) {
        /* The database is unreachable or busy: give the claim back
         * untouched and look again after a pause. */
        fprintf(stderr, "logshared: tracker hand-off %s: cannot read ticket %s: %s\n",
                h->delivery_id, h->ticket_id, logshare_strerror(rc));
        ticket_store_handoff_release(w->tickets, h);
        wait_ms(w, 1000);
        return 0;
    }
    struct tracker_request req = {t, h->delivery_id, h->attempts + 1, &w->cancel};
    struct tracker_answer a;
    int ok = tracker_hand_off(w->tracker, &req, &a);
    ticket_free(t);
    if (ok == LOGSHARE_ECANCELED) { /* not an attempt: the next start retries it */
        ticket_store_handoff_release(w->tickets, h);
        free(a.url);
        return 1;
    }
    struct ticket_handoff_result r;
    make_result(w, h, ok, &a, &r);
    if (ok != 1)
        fprintf(stderr, "logshared: tracker hand-off %s of %s attempt %d: %s%s\n", h->delivery_id,
                h->ticket_id, req.attempt, a.error,
                r.next_attempt_at ? "; will retry" : "; giving up");
    else if (a.error[0])
        fprintf(stderr, "logshared: tracker hand-off %s of %s: delivered, but %s\n", h->delivery_id,
                h->ticket_id, a.error);
    rc = ticket_store_handoff_record(w->tickets, h, &r);
    if (rc == LOGSHARE_ENOENT)
        fprintf(stderr,
                "logshared: tracker hand-off %s: the claim ran out before the result was "
                "recorded; another server owns it now\n",
                h->delivery_id);
    else if (rc != 0)
        fprintf(stderr, "logshared: tracker hand-off %s: cannot record the result: %s\n",
                h->delivery_id, logshare_strerror(rc));
    free(a.url);
    return 0;
}

static void *worker_main(void *arg)
{
    struct tracker_worker *w = arg;
    int claim_failing = 0; /* said once per outage, not every poll */
    while (!stopping(w)) {
        int64_t now = ls_time_now_us();
        struct ticket_handoff h;
        int64_t next_due = 0;
        int rc = ticket_store_handoff_claim(w->tickets, now, now + lease_us(w), &h, &next_due);
        int failed = rc != 0 && rc != LOGSHARE_ENOENT;
        if (failed != claim_failing) {
            claim_failing = failed;
            if (failed)
                fprintf(stderr, "logshared: tracker hand-offs: cannot claim: %s; retrying\n",
                        logshare_strerror(rc));
            else
                fprintf(stderr, "logshared: tracker hand-offs: claiming again\n");
        }
        if (rc == 0) {
            if (hand_off_one(w, &h))
                break;
            continue; /* the next due one at once */
        }
        int64_t sleep_ms = rc == LOGSHARE_ENOENT ? w->o.poll_ms : 1000;
        if (rc == LOGSHARE_ENOENT && next_due > now && (next_due - now) / 1000 < sleep_ms)
            sleep_ms = (next_due - now) / 1000 + 1;
        wait_ms(w, sleep_ms);
    }
    return NULL;
}

int tracker_worker_start(struct tracker *tr, struct ticket_store *ts,
                         const struct tracker_worker_options *o, struct tracker_worker **out)
{
    *out = NULL;
    struct tracker_worker *w = calloc(1, sizeof *w);
    if (!w) {
        tracker_destroy(tr);
        return LOGSHARE_ENOMEM;
    }
    w->tracker = tr;
    w->tickets = ts;
    w->o = *o;
    if (w->o.poll_ms <= 0)
        w->o.poll_ms = 500;
    if (w->o.max_attempts < 1)
        w->o.max_attempts = 1;
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    ticket_store_set_tracker(ts, tr->ops->name);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        ticket_store_set_tracker(ts, NULL);
        tracker_worker_free(w);
        return LOGSHARE_ENOMEM;
    }
    w->started = 1;
    *out = w;
    return 0;
}

void tracker_worker_stop(struct tracker_worker *w)
{
    if (!w)
        return;
    atomic_store(&w->cancel, 1);
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void tracker_worker_free(struct tracker_worker *w)
{
    if (!w)
        return;
    tracker_worker_stop(w);
    if (w->started)
        pthread_join(w->thread, NULL);
    tracker_destroy(w->tracker);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

/* /metrics needs no token, and counting walks the whole hand-off table:
 * a page asked for again within METRICS_MAX_AGE_NS gets the last counts,
 * so scraping (or flooding) /metrics costs the database one count per
 * few seconds, whatever the rate. */
#define METRICS_MAX_AGE_NS (5 * 1000000000LL)
static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ticket_handoff_counts metrics_counts;
static const struct ticket_store *metrics_store;
static int64_t metrics_at_ns;

static int counts_recent(struct ticket_store *ts, struct ticket_handoff_counts *c)
{
    pthread_mutex_lock(&metrics_lock);
    int64_t now = ls_time_mono_ns();
    int rc = 0;
    if (metrics_store != ts || metrics_at_ns == 0 || now - metrics_at_ns > METRICS_MAX_AGE_NS) {
        rc = ticket_store_handoff_counts(ts, &metrics_counts);
        metrics_store = rc == 0 ? ts : NULL;
        metrics_at_ns = rc == 0 ? now : 0;
    }
    *c = metrics_counts;
    pthread_mutex_unlock(&metrics_lock);
    return rc;
}

int tracker_metrics_render(struct ticket_store *ts, ls_buf *o)
{
    struct ticket_handoff_counts c;
    int rc = counts_recent(ts, &c);
    if (rc != 0)
        return rc;
    return ls_buf_printf(o,
                         "# HELP logshared_tracker_handoffs Tracker hand-offs in the ticket "
                         "database by status.\n"
                         "# TYPE logshared_tracker_handoffs gauge\n"
                         "logshared_tracker_handoffs{status=\"pending\"} %lld\n"
                         "logshared_tracker_handoffs{status=\"delivered\"} %lld\n"
                         "logshared_tracker_handoffs{status=\"failed\"} %lld\n",
                         (long long)c.pending, (long long)c.delivered, (long long)c.failed);
}
