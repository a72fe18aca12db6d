/*
 * push_service.c - ties the push tables, the SSE hub and the background
 * worker together (see push_service.h).
 *
 * The worker is one thread for the whole server: it sends the next due
 * webhook (never more than one at a time: deliveries are rare and a
 * receiver that is down should not be hammered), sleeps until the next
 * one is due or it is kicked, and sweeps expired requests on the way.
 * A delivery is retried with capped backoff until it is answered, its
 * request stops being pending (answered or expired: push_db drops it),
 * or an optional attempt cap runs out.
 * Because the queue is the database, a restart simply picks up where
 * the last process stopped; a delivery in flight at a crash is sent
 * again once its claim runs out (receivers dedupe on
 * X-Logshare-Delivery). Other servers sharing push.db drain the same
 * queue: each claims a delivery before sending it (push_db_delivery_claim).
 *
 * Events reach streams through the feed in push.db (schema step 6),
 * never straight from the change: several servers may share the file,
 * and each must tell its own streams about every change, whoever made
 * it. A second thread, the feed reader, reads the feed rows above the
 * last it saw every feed_poll_ms (one primary-key range read when
 * idle); a change made here reads them at once, so local streams hear
 * of it before the API answers, as before. Reading and publishing hold
 * pub_lock, so each row is published once per server, in feed order.
 */
#include "push_service.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fd_limit.h"
#include "log_request_json.h"
#include "logshare.h"
#include "ls_time.h"
#include "webhook_deliverer.h"

#define FEED_KEEP_US (3600LL * 1000000)
#define FEED_PRUNE_EVERY_US (60LL * 1000000)

struct push_service {
    struct push_db *db;
    struct sse_hub *hub;
    char *webhook_url;
    unsigned char *secret;
    size_t secret_len;
    int timeout_ms, backoff_initial_ms, backoff_max_ms, max_attempts, sweep_ms;
    pthread_t worker;
    int worker_started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    atomic_int cancel; /* a webhook in flight gives up: the server is stopping */
    int kicked;
    /* Held across "change a request, publish it" and across a stream's
     * "load, register" (lock order: pub_lock, then the db or hub lock),
     * so events reach streams in seq order and none falls between a
     * stream's initial load and its live part. */
    pthread_mutex_t pub_lock;
    int64_t expiry_announced_upto; /* expires_at up to which expiries were published */
    int64_t feed_seen;             /* the last feed row published (pub_lock) */
    int64_t next_prune_us;         /* when the worker next prunes the feed */
    int feed_poll_ms;
    pthread_t feed_reader;
    int feed_reader_started;
    pthread_cond_t feed_cond; /* with lock: wakes the feed reader to stop */
};

struct push_db *push_service_db(struct push_service *svc)
{
    return svc->db;
}

struct sse_hub *push_service_hub(struct push_service *svc)
{
    return svc->hub;
}

void push_service_kick(struct push_service *svc)
{
    pthread_mutex_lock(&svc->lock);
    svc->kicked = 1;
    pthread_cond_signal(&svc->cond);
    pthread_mutex_unlock(&svc->lock);
}

/* Sleeps until due (monotonic ns), a kick or stop. */
static void worker_wait(struct push_service *svc, int64_t due_ns)
{
    struct timespec ts = {(time_t)(due_ns / 1000000000), (long)(due_ns % 1000000000)};
    pthread_mutex_lock(&svc->lock);
    while (!svc->stop && !svc->kicked) {
        if (pthread_cond_timedwait(&svc->cond, &svc->lock, &ts) != 0)
            break;
    }
    svc->kicked = 0;
    pthread_mutex_unlock(&svc->lock);
}

static int stopping(struct push_service *svc)
{
    pthread_mutex_lock(&svc->lock);
    int s = svc->stop;
    pthread_mutex_unlock(&svc->lock);
    return s;
}

/* Tells a request's open streams that it is no longer pending, so the
 * user's other devices stop asking (event log_request_update, no id).
 * Called with pub_lock held. */
static void publish_update(struct push_service *svc, const struct log_request *r)
{
    char *data = log_request_json_text(r);
    if (data) {
        sse_hub_publish(svc->hub, r->user_id, 0, "log_request_update", data);
        free(data);
    }
}

/* A feed row to this server's streams (pub_lock held). A request made
 * but answered or expired by the time this server reads it is not
 * offered: a stream opened now would not start with it either, and the
 * devices should not ask. */
static void publish_event(struct push_service *svc, const struct log_request_event *e)
{
    if (!e->created) {
        publish_update(svc, &e->r);
        return;
    }
    if (e->r.status != LOG_REQUEST_PENDING || e->r.expires_at <= ls_time_now_us())
        return;
    char *data = log_request_json_text(&e->r);
    if (data) {
        sse_hub_publish(svc->hub, e->r.user_id, e->r.seq, "log_request", data);
        free(data);
    }
}

/* Publishes every feed row above feed_seen (pub_lock held). On a
 * database error the rest waits for the next read: feed_seen only
 * moves past what was published. */
static void read_feed(struct push_service *svc)
{
    for (;;) {
        struct log_request_event_list l;
        if (push_db_log_request_events_after(svc->db, svc->feed_seen, 100, &l) != 0)
            return;
        for (size_t i = 0; i < l.count; i++) {
            publish_event(svc, &l.items[i]);
            svc->feed_seen = l.items[i].seq;
        }
        size_t n = l.count;
        log_request_event_list_clear(&l);
        if (n < 100)
            return;
    }
}

static void *feed_reader_main(void *arg)
{
    struct push_service *svc = arg;
    pthread_mutex_lock(&svc->lock);
    while (!svc->stop) {
        int64_t due = ls_time_mono_ns() + (int64_t)svc->feed_poll_ms * 1000000;
        struct timespec ts = {(time_t)(due / 1000000000), (long)(due % 1000000000)};
        while (!svc->stop && pthread_cond_timedwait(&svc->feed_cond, &svc->lock, &ts) == 0)
            ;
        if (svc->stop)
            break;
        pthread_mutex_unlock(&svc->lock);
        pthread_mutex_lock(&svc->pub_lock);
        read_feed(svc);
        pthread_mutex_unlock(&svc->pub_lock);
        pthread_mutex_lock(&svc->lock);
    }
    pthread_mutex_unlock(&svc->lock);
    return NULL;
}

/* Expires overdue requests and announces every request whose expiry
 * time passed since the last sweep (whoever flipped its status). */
static void sweep(struct push_service *svc)
{
    pthread_mutex_lock(&svc->pub_lock);
    int64_t now = ls_time_now_us();
    struct log_request_list l;
    if (push_db_log_requests_expire(svc->db, now, NULL) == 0 &&
        push_db_log_requests_expired_between(svc->db, svc->expiry_announced_upto, now, &l) == 0) {
        for (size_t i = 0; i < l.count; i++)
            publish_update(svc, &l.items[i]);
        log_request_list_clear(&l);
        svc->expiry_announced_upto = now;
    }
    pthread_mutex_unlock(&svc->pub_lock);
    /* Every server reads the feed within seconds; an hour's rows leave
     * room for a stalled one, and the table stays small. */
    if (now >= svc->next_prune_us) {
        push_db_log_request_events_prune(svc->db, now - FEED_KEEP_US);
        svc->next_prune_us = now + FEED_PRUNE_EVERY_US;
    }
}

/* How long a claim on a delivery lasts: longer than one attempt can
 * take, so no other server sends it meanwhile; if this server dies
 * mid-attempt, another sends it this long after. */
static int64_t lease_us(const struct push_service *svc)
{
    return ((int64_t)svc->timeout_ms + 10000) * 1000;
}

static void *worker_main(void *arg)
{
    struct push_service *svc = arg;
    int64_t next_sweep = 0;
    while (!stopping(svc)) {
        int64_t mono = ls_time_mono_ns();
        if (mono >= next_sweep) {
            sweep(svc);
            next_sweep = mono + (int64_t)svc->sweep_ms * 1000000;
        }
        int64_t wake_at = next_sweep;
        struct webhook_delivery d;
        int rc = push_db_delivery_next(svc->db, ls_time_now_us(), &d);
        if (rc == 0) {
            int64_t now = ls_time_now_us();
            int64_t lease = now + lease_us(svc);
            /* A claim lost to another server: look again (that row now
             * counts as due when its lease ends). */
            if (d.next_attempt_at <= now &&
                push_db_delivery_claim(svc->db, d.row, now, lease) != 0) {
                webhook_delivery_clear(&d);
                worker_wait(svc, mono + 100 * 1000000LL);
                continue;
            }
            if (d.next_attempt_at <= now) {
                int status;
                char err[256];
                int ok = webhook_deliver(&d, svc->secret, svc->secret_len, svc->timeout_ms,
                                         &svc->cancel, &status, err, sizeof err);
                if (ok == LOGSHARE_ECANCELED) { /* stopping: not an attempt, sent again later */
                    push_db_delivery_release(svc->db, d.row, lease);
                    webhook_delivery_clear(&d);
                    break;
                }
                int attempts = d.attempts + 1;
                int64_t next = 0;
                /* No cap by default: a request may be answered until it
                 * expires (up to 30 days), so its wake-up is retried as
                 * long (every backoff_max_ms at most); push_db drops it
                 * once the request is answered or expired. */
                if (!ok && (svc->max_attempts == 0 || attempts < svc->max_attempts))
                    next = ls_time_now_us() + webhook_backoff_us(attempts, svc->backoff_initial_ms,
                                                                 svc->backoff_max_ms);
                if (!ok)
                    fprintf(stderr, "logshared: webhook %s attempt %d: %s%s\n", d.id, attempts, err,
                            next ? "; will retry" : "; giving up");
                /* Under our claim only: if it ran out (this process was
                 * paused) another server holds the delivery now. */
                push_db_delivery_record(svc->db, d.row, lease, ok, status, ok ? NULL : err, next,
                                        ls_time_now_us());
                webhook_delivery_clear(&d);
                continue; /* look for the next due one at once */
            }
            int64_t due = mono + (d.next_attempt_at - now) * 1000;
            if (due < wake_at)
                wake_at = due;
            webhook_delivery_clear(&d);
        }
        worker_wait(svc, wake_at);
    }
    return NULL;
}

int push_service_start(const struct push_service_options *o, struct push_service **out)
{
    *out = NULL;
    struct push_service *svc = calloc(1, sizeof *svc);
    if (!svc)
        return LOGSHARE_ENOMEM;
    pthread_mutex_init(&svc->lock, NULL);
    pthread_mutex_init(&svc->pub_lock, NULL);
    /* Expiries from before this start are not announced: every stream
     * opened from now on starts from the pending requests anyway. */
    svc->expiry_announced_upto = ls_time_now_us();
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&svc->cond, &ca);
    pthread_cond_init(&svc->feed_cond, &ca);
    pthread_condattr_destroy(&ca);
    svc->feed_poll_ms = o->feed_poll_ms > 0 ? o->feed_poll_ms : 1000;
    svc->timeout_ms = o->webhook_timeout_ms > 0 ? o->webhook_timeout_ms : 10000;
    svc->backoff_initial_ms =
        o->webhook_backoff_initial_ms > 0 ? o->webhook_backoff_initial_ms : 1000;
    svc->backoff_max_ms = o->webhook_backoff_max_ms > 0 ? o->webhook_backoff_max_ms : 300000;
    svc->max_attempts = o->webhook_max_attempts > 0 ? o->webhook_max_attempts : 0;
    svc->sweep_ms = o->sweep_interval_ms > 0 ? o->sweep_interval_ms : 1000;
    int rc = 0;
    if (o->webhook_url && *o->webhook_url) {
        if (!o->webhook_secret || o->webhook_secret_len == 0)
            rc = LOGSHARE_EINVAL;
        else if (!(svc->webhook_url = strdup(o->webhook_url)) ||
                 !(svc->secret = malloc(o->webhook_secret_len)))
            rc = LOGSHARE_ENOMEM;
        else {
            memcpy(svc->secret, o->webhook_secret, o->webhook_secret_len);
            svc->secret_len = o->webhook_secret_len;
        }
    }
    if (!rc) {
        /* Thousands of idle streams need as many descriptors: take all
         * the hard limit allows, and say so when even that is short of
         * max_streams (connections past it would fail to be accepted). */
        uint64_t before = 0, after = 0;
        size_t want = o->hub.max_streams ? o->hub.max_streams : 10000;
        if (fd_limit_raise(&before, &after) != 0)
            fprintf(stderr, "level=warn msg=\"cannot raise the open file limit\" limit=%llu\n",
                    (unsigned long long)before);
        else if (after < (uint64_t)want + 64)
            fprintf(stderr,
                    "level=warn msg=\"open file limit below push.max_streams; raise the hard "
                    "limit (LimitNOFILE=) or lower max_streams\" limit=%llu max_streams=%zu\n",
                    (unsigned long long)after, want);
        rc = push_db_open(o->db_path, &svc->db);
    }
    /* Changes from before this start are not published: a stream opened
     * from now on starts from the pending requests anyway. */
    if (!rc)
        rc = push_db_log_request_events_last(svc->db, &svc->feed_seen);
    if (!rc)
        rc = sse_hub_new(&o->hub, &svc->hub);
    if (!rc) {
        if (pthread_create(&svc->worker, NULL, worker_main, svc) != 0)
            rc = LOGSHARE_ENOMEM;
        else
            svc->worker_started = 1;
    }
    if (!rc) {
        if (pthread_create(&svc->feed_reader, NULL, feed_reader_main, svc) != 0)
            rc = LOGSHARE_ENOMEM;
        else
            svc->feed_reader_started = 1;
    }
    if (rc) {
        push_service_free(svc);
        return rc;
    }
    *out = svc;
    return 0;
}

void push_service_close_streams(struct push_service *svc, int timeout_ms)
{
    if (svc && svc->hub)
        sse_hub_shutdown(svc->hub, timeout_ms);
}

void push_service_stop_webhooks(struct push_service *svc)
{
    if (!svc)
        return;
    atomic_store(&svc->cancel, 1);
    pthread_mutex_lock(&svc->lock);
    svc->stop = 1;
    pthread_cond_signal(&svc->cond);
    pthread_cond_signal(&svc->feed_cond);
    pthread_mutex_unlock(&svc->lock);
}

void push_service_free(struct push_service *svc)
{
    if (!svc)
        return;
    pthread_mutex_lock(&svc->lock);
    svc->stop = 1;
    pthread_cond_signal(&svc->cond);
    pthread_cond_signal(&svc->feed_cond);
    pthread_mutex_unlock(&svc->lock);
    if (svc->worker_started)
        pthread_join(svc->worker, NULL);
    if (svc->feed_reader_started)
        pthread_join(svc->feed_reader, NULL);
    sse_hub_free(svc->hub);
    push_db_close(svc->db);
    free(svc->webhook_url);
    if (svc->secret)
        memset(svc->secret, 0, svc->secret_len);
    free(svc->secret);
    pthread_cond_destroy(&svc->cond);
    pthread_cond_destroy(&svc->feed_cond);
    pthread_mutex_destroy(&svc->lock);
    pthread_mutex_destroy(&svc->pub_lock);
    free(svc);
}

int push_service_create_request(struct push_service *svc, const struct log_request_new *in,
                                struct log_request *out)
{
    struct push_db_webhook hook = {svc->webhook_url};
    pthread_mutex_lock(&svc->pub_lock);
    int rc = push_db_log_request_create(svc->db, in, &hook, ls_time_now_us(), out);
    if (!rc)
        read_feed(svc); /* the new row, and any other server's before it */
    pthread_mutex_unlock(&svc->pub_lock);
    if (rc)
        return rc;
    /* A stream that missed this (no memory for the text, a failed feed
     * read) gets it from the feed's next read or from the database on
     * its next connect. */
    if (svc->webhook_url)
        push_service_kick(svc);
    return 0;
}

int push_service_decline_request(struct push_service *svc, const char *id, const char *user_id,
                                 struct log_request *out)
{
    pthread_mutex_lock(&svc->pub_lock);
    int rc = push_db_log_request_decline(svc->db, id, user_id, ls_time_now_us(), out);
    if (!rc)
        read_feed(svc);
    pthread_mutex_unlock(&svc->pub_lock);
    return rc;
}

int push_service_ticket_created(struct push_service *svc, const char *user_id,
                                const char *log_request_id, const char *ticket_id)
{
    struct log_request r;
    pthread_mutex_lock(&svc->pub_lock);
    int rc = push_db_log_request_fulfil(svc->db, log_request_id, user_id, ticket_id,
                                        ls_time_now_us(), &r);
    if (!rc)
        read_feed(svc);
    pthread_mutex_unlock(&svc->pub_lock);
    log_request_clear(&r);
    return rc;
}

int push_service_subscribe(struct push_service *svc, struct MHD_Connection *conn,
                           const char *user_id, int64_t expires_at, int64_t last_event_id,
                           struct MHD_Response **resp)
{
    pthread_mutex_lock(&svc->pub_lock);
    /* Catch up with the feed first: an answer committed before the load
     * is then published before this stream exists, not sent to it after
     * a load that already left the request out. A creation committed
     * between this read and the load is in the load and its event is
     * skipped by id (sse_hub); an answer there reaches the stream as one
     * update of a request it was never offered, which clients ignore. */
    read_feed(svc);
    int rc = sse_hub_subscribe(svc->hub, conn, user_id, expires_at, last_event_id,
                               push_service_load_pending, svc, resp);
    pthread_mutex_unlock(&svc->pub_lock);
    return rc;
}

int push_service_load_pending(void *ctx, const char *user_id, int64_t after_id, ls_buf *out,
                              int64_t *max_id)
{
    struct push_service *svc = ctx;
    int64_t last = 0;
    int rc0 = after_id > 0 ? push_db_log_request_last_seq(svc->db, &last) : 0;
    if (rc0)
        return rc0;
    /* A Last-Event-ID above every id this database issued comes from
     * before it was restored or recreated: resuming after it would skip
     * every request until the ids caught up, so start from the top. */
    if (after_id > last)
        after_id = 0;
    *max_id = after_id;
    int64_t after = after_id;
    for (;;) {
        struct log_request_list l;
        int rc = push_db_log_request_list(svc->db, user_id, LOG_REQUEST_PENDING, after, 100,
                                          ls_time_now_us(), &l);
        if (rc)
            return rc;
        size_t n = l.count;
        for (size_t i = 0; i < n && !rc; i++) {
            char *data = log_request_json_text(&l.items[i]);
            rc = data ? sse_hub_format_event(out, l.items[i].seq, "log_request", data)
                      : LOGSHARE_ENOMEM;
            free(data);
            after = l.items[i].seq;
        }
        log_request_list_clear(&l);
        if (rc)
            return rc;
        if (after > *max_id)
            *max_id = after;
        if (n < 100)
            return 0;
    }
}
