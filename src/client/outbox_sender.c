/*
 * outbox_sender.c - the background sender: sends a store's outbox at
 * open and keeps retrying what is due, until stopped.
 *
 * This is how "a report made offline is sent at the next open" works:
 * the app starts a sender right after logshare_open, when it allows
 * network use (the user opted in, the device is on Wi-Fi, ...). The
 * sender only needs the store's directory and its own copy of the
 * options, so it never touches the store handle after start; stopping
 * it aborts an upload in flight (the item stays queued, nothing is
 * lost) and joins the thread, unless the app grants a grace period in
 * which the flush under way (or the first one, if it has not begun) may
 * finish.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ls_time.h"
#include "outbox.h"
#include "outbox_send.h"
#include "share_store.h"

/* How often to look at the outbox when nothing is scheduled: a report
 * queued by another process (the CLI) is noticed within this time. */
#define SENDER_POLL_MS 30000

struct logshare_outbox_sender {
    char *dir;
    logshare_share_options *opts; /* own copy; progress wrapped below */
    logshare_progress_fn app_progress;
    void *app_progress_user;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    volatile int stop; /* abort now, an upload in flight included */
    int woken;         /* under lock: wake() was called since the last flush began */
    int draining;      /* under lock: finish the flush under way, then end */
    int done;          /* under lock: the thread has left its loop */
    pthread_cond_t done_cv;
};

static int sender_progress(void *user, uint64_t done, uint64_t total)
{
    logshare_outbox_sender *s = user;
    if (s->stop)
        return 1;
    return s->app_progress ? s->app_progress(s->app_progress_user, done, total) : 0;
}

/* The earliest time an item is due, or now + poll when none is. Items
 * marked failed, or refused with this token, wait for something else
 * (a forced flush, a new token): not for the clock. */
static int64_t next_wake_us(const char *dir, const char *token)
{
    int64_t now = ls_time_now_us(), best = now + SENDER_POLL_MS * 1000LL;
    outbox_item **items = NULL;
    size_t n = 0;
    if (outbox_scan(dir, &items, &n) == 0) {
        for (size_t i = 0; i < n; i++)
            if (!items[i]->state.failed && !outbox_token_refused(items[i], token) &&
                items[i]->state.next_attempt_us < best)
                best = items[i]->state.next_attempt_us;
        outbox_items_free(items, n);
    }
    return best < now + 200000 ? now + 200000 : best; /* never spin */
}

static void *sender_main(void *arg)
{
    logshare_outbox_sender *s = arg;
    unsigned flags = 0;
    while (!s->stop) {
        outbox_flush(s->dir, s->opts, flags, &s->stop, NULL, NULL);
        int64_t wake_us = next_wake_us(s->dir, s->opts->token);
        pthread_mutex_lock(&s->lock);
        /* a wake() that came during the flush is still pending here: the
         * flag, not the condition signal, carries it */
        while (!s->stop && !s->woken && !s->draining && ls_time_now_us() < wake_us) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t left = wake_us - ls_time_now_us();
            if (left > 1000000)
                left = 1000000; /* re-check the wall clock: it may step */
            ts.tv_sec += (time_t)(left / 1000000);
            ts.tv_nsec += (long)(left % 1000000) * 1000;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->wake, &s->lock, &ts);
        }
        if (s->draining) { /* the flush that was due has been done */
            pthread_mutex_unlock(&s->lock);
            break;
        }
        /* woken: the app says now is a good time (new item, network back),
         * so items waiting out a retry delay go too */
        flags = s->woken ? OUTBOX_FLUSH_IGNORE_SCHEDULE : 0;
        s->woken = 0;
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_lock(&s->lock);
    s->done = 1;
    pthread_cond_broadcast(&s->done_cv);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static logshare_share_options *options_copy(const logshare_share_options *src)
{
    logshare_share_options *o = logshare_share_options_new();
    if (!o)
        return NULL;
    int rc = share_fields_copy(&o->fields, &src->fields);
    for (size_t i = 0; rc == 0 && i < src->extra_files.count; i++) {
        const share_file *f = &src->extra_files.items[i];
        rc = share_file_list_add(&o->extra_files, f->path, f->name, f->stream, f->size, f->first_us,
                                 f->last_us);
    }
    rc = rc ? rc : share_string_set(&o->server_url, src->server_url);
    rc = rc ? rc : share_string_set(&o->token, src->token);
    rc = rc ? rc : share_string_set(&o->ca_file, src->ca_file);
    if (rc) {
        logshare_share_options_free(o);
        return NULL;
    }
    o->connect_timeout_ms = src->connect_timeout_ms;
    o->low_speed_bytes = src->low_speed_bytes;
    o->low_speed_seconds = src->low_speed_seconds;
    o->total_timeout_ms = src->total_timeout_ms;
    o->max_send_rate = src->max_send_rate;
    o->max_attempts = src->max_attempts;
    o->backoff_base_ms = src->backoff_base_ms;
    o->backoff_max_ms = src->backoff_max_ms;
    o->include_logs = src->include_logs;
    o->outbox_max_bytes = src->outbox_max_bytes;
    o->max_files_per_request = src->max_files_per_request;
    o->outbox_max_items = src->outbox_max_items;
    o->on_result = src->on_result;
    o->on_result_user = src->on_result_user;
    return o;
}

int logshare_outbox_sender_start_dir(const char *dir, const logshare_share_options *opts,
                                     logshare_outbox_sender **out)
{
    if (out)
        *out = NULL;
    if (!dir || !*dir || !opts || !out || !opts->server_url || !opts->token)
        return LOGSHARE_EINVAL;
    logshare_outbox_sender *s = calloc(1, sizeof *s);
    if (!s)
        return LOGSHARE_ENOMEM;
    s->dir = strdup(dir);
    s->opts = options_copy(opts);
    if (!s->dir || !s->opts) {
        free(s->dir);
        logshare_share_options_free(s->opts);
        free(s);
        return LOGSHARE_ENOMEM;
    }
    s->app_progress = opts->progress;
    s->app_progress_user = opts->progress_user;
    s->opts->progress = sender_progress;
    s->opts->progress_user = s;
    pthread_mutex_init(&s->lock, NULL);
    /* Waits are timed on the monotonic clock: a wall clock stepped back
     * while a wait runs would otherwise stretch it by the step. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &ca);
    pthread_cond_init(&s->done_cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&s->thread, NULL, sender_main, s) != 0) {
        pthread_cond_destroy(&s->done_cv);
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        free(s->dir);
        logshare_share_options_free(s->opts);
        free(s);
        return LOGSHARE_ENOMEM;
    }
    *out = s;
    return 0;
}

int logshare_outbox_sender_start(logshare *ls, const logshare_share_options *opts,
                                 logshare_outbox_sender **out)
{
    if (!ls) {
        if (out)
            *out = NULL;
        return LOGSHARE_EINVAL;
    }
    return logshare_outbox_sender_start_dir(share_store_dir(ls), opts, out);
}

void logshare_outbox_sender_wake(logshare_outbox_sender *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->woken = 1;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

void logshare_outbox_sender_stop_grace(logshare_outbox_sender *s, unsigned grace_ms)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->draining = 1;
    pthread_cond_signal(&s->wake);
    if (grace_ms > 0) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += (time_t)(grace_ms / 1000);
        until.tv_nsec += (long)(grace_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!s->done && pthread_cond_timedwait(&s->done_cv, &s->lock, &until) == 0)
            ;
    }
    /* out of time (or none given): abort what is still in flight; the
     * item stays queued */
    s->stop = 1;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->done_cv);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s->dir);
    logshare_share_options_free(s->opts);
    free(s);
}

void logshare_outbox_sender_stop(logshare_outbox_sender *s)
{
    logshare_outbox_sender_stop_grace(s, 0);
}
