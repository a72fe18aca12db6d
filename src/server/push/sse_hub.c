/*
 * sse_hub.c - server-sent event streams on suspended MHD connections
 * (design in sse_hub.h).
 *
 * Invariants, all under hub->lock:
 *  - a stream is in its user's bucket list and in the heartbeat list
 *    from subscribe until MHD frees its response (stream_free);
 *  - stream->suspended is 1 exactly between our MHD_suspend_connection
 *    (in stream_read, on MHD's thread) and our MHD_resume_connection;
 *    resuming is only ever done by clearing that flag first, so a
 *    connection is never resumed twice or resumed unsuspended (undefined
 *    behaviour in MHD);
 *  - the heartbeat list is ordered by next_beat_ns because every stream
 *    gets the same interval and is appended at the tail when scheduled.
 */
#include "sse_hub.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logshare.h"
#include "ls_time.h"

#define BUCKETS 1024
/* A stream whose client stopped reading is cut once this much waits. */
#define STREAM_MAX_BACKLOG (1024 * 1024)
/* Drained buffers above this are freed, so idle streams stay small. */
#define STREAM_KEEP_BUFFER 4096

struct sse_stream {
    struct sse_hub *hub;
    struct MHD_Connection *conn;
    char *user_id;
    unsigned bucket;
    ls_buf out;
    size_t out_off;
    int64_t skip_upto;  /* events with id <= this were in the initial load */
    int64_t expires_at; /* the credential's expiry, unix seconds; 0: none */
    int suspended;
    int closing;
    int64_t next_beat_ns;
    struct sse_stream *u_prev, *u_next; /* bucket list */
    struct sse_stream *b_prev, *b_next; /* heartbeat list */
};

struct sse_hub {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* heartbeat thread wake-ups and stream frees */
    pthread_t thread;
    int thread_started;
    int stop;
    int closed;
    int64_t heartbeat_ns;
    int retry_ms;
    size_t max_streams;
    size_t max_per_user;
    size_t count;
    struct sse_stream *buckets[BUCKETS];
    struct sse_stream *beat_head, *beat_tail;
};

static unsigned hash_user(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % BUCKETS;
}

static void beat_append(struct sse_hub *hub, struct sse_stream *s)
{
    s->b_next = NULL;
    s->b_prev = hub->beat_tail;
    if (hub->beat_tail)
        hub->beat_tail->b_next = s;
    else
        hub->beat_head = s;
    hub->beat_tail = s;
}

static void beat_remove(struct sse_hub *hub, struct sse_stream *s)
{
    if (s->b_prev)
        s->b_prev->b_next = s->b_next;
    else
        hub->beat_head = s->b_next;
    if (s->b_next)
        s->b_next->b_prev = s->b_prev;
    else
        hub->beat_tail = s->b_prev;
    s->b_prev = s->b_next = NULL;
}

/* Lets MHD call stream_read again (lock held). */
static void wake(struct sse_stream *s)
{
    if (s->suspended) {
        s->suspended = 0;
        MHD_resume_connection(s->conn);
    }
}

static void queue_bytes(struct sse_stream *s, const char *data, size_t len)
{
    if (s->out.len - s->out_off + len > STREAM_MAX_BACKLOG || ls_buf_append(&s->out, data, len))
        s->closing = 1; /* the client is not reading: end the stream */
    wake(s);
}

/* A stream lives no longer than the token that opened it: past its
 * expiry it gets no more events and ends at its next heartbeat, so a
 * stolen or revoked-by-expiry token cannot listen forever; the client's
 * reconnect then meets 401 (lock held). */
static int stream_expired(struct sse_stream *s, int64_t now_s)
{
    if (s->expires_at <= 0 || now_s < s->expires_at)
        return 0;
    s->closing = 1;
    wake(s);
    return 1;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct sse_stream *s = cls;
    struct sse_hub *hub = s->hub;
    pthread_mutex_lock(&hub->lock);
    size_t avail = s->out.len - s->out_off;
    if (avail > 0) {
        size_t n = avail < max ? avail : max;
        memcpy(buf, s->out.data + s->out_off, n);
        s->out_off += n;
        if (s->out_off == s->out.len) {
            s->out_off = 0;
            if (s->out.cap > STREAM_KEEP_BUFFER)
                ls_buf_free(&s->out);
            else
                ls_buf_reset(&s->out);
        }
        pthread_mutex_unlock(&hub->lock);
        return (ssize_t)n;
    }
    if (s->closing) {
        pthread_mutex_unlock(&hub->lock);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    /* Nothing to send: park the connection until publish or the
     * heartbeat resumes it. Returning 0 without suspending would make
     * MHD poll us in a loop (PITFALLS). */
    s->suspended = 1;
    MHD_suspend_connection(s->conn);
    pthread_mutex_unlock(&hub->lock);
    return 0;
}

static void stream_free(void *cls)
{
    struct sse_stream *s = cls;
    struct sse_hub *hub = s->hub;
    pthread_mutex_lock(&hub->lock);
    if (s->u_prev)
        s->u_prev->u_next = s->u_next;
    else
        hub->buckets[s->bucket] = s->u_next;
    if (s->u_next)
        s->u_next->u_prev = s->u_prev;
    beat_remove(hub, s);
    hub->count--;
    pthread_cond_broadcast(&hub->cond);
    pthread_mutex_unlock(&hub->lock);
    ls_buf_free(&s->out);
    free(s->user_id);
    free(s);
}

static void *heartbeat_main(void *arg)
{
    struct sse_hub *hub = arg;
    pthread_mutex_lock(&hub->lock);
    while (!hub->stop) {
        int64_t now = ls_time_mono_ns();
        while (hub->beat_head && hub->beat_head->next_beat_ns <= now) {
            struct sse_stream *s = hub->beat_head;
            beat_remove(hub, s);
            s->next_beat_ns = now + hub->heartbeat_ns;
            beat_append(hub, s);
            if (!stream_expired(s, ls_time_now_us() / 1000000))
                queue_bytes(s, ":\n\n", 3);
        }
        if (hub->beat_head) {
            int64_t due = hub->beat_head->next_beat_ns;
            struct timespec ts = {(time_t)(due / 1000000000), (long)(due % 1000000000)};
            pthread_cond_timedwait(&hub->cond, &hub->lock, &ts);
        } else {
            pthread_cond_wait(&hub->cond, &hub->lock);
        }
    }
    pthread_mutex_unlock(&hub->lock);
    return NULL;
}

int sse_hub_new(const struct sse_hub_options *opts, struct sse_hub **out)
{
    *out = NULL;
    struct sse_hub *hub = calloc(1, sizeof *hub);
    if (!hub)
        return LOGSHARE_ENOMEM;
    int hb = opts && opts->heartbeat_ms > 0 ? opts->heartbeat_ms : 15000;
    hub->heartbeat_ns = (int64_t)hb * 1000000;
    hub->retry_ms = opts && opts->retry_ms > 0 ? opts->retry_ms : 3000;
    hub->max_streams = opts && opts->max_streams ? opts->max_streams : 10000;
    hub->max_per_user = opts && opts->max_per_user ? opts->max_per_user : 16;
    pthread_mutex_init(&hub->lock, NULL);
    /* ls_time_mono_ns is CLOCK_MONOTONIC; the waits must use it too. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&hub->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&hub->thread, NULL, heartbeat_main, hub) != 0) {
        sse_hub_free(hub);
        return LOGSHARE_ENOMEM;
    }
    hub->thread_started = 1;
    *out = hub;
    return 0;
}

void sse_hub_free(struct sse_hub *hub)
{
    if (!hub)
        return;
    if (hub->thread_started) {
        pthread_mutex_lock(&hub->lock);
        hub->stop = 1;
        pthread_cond_broadcast(&hub->cond);
        pthread_mutex_unlock(&hub->lock);
        pthread_join(hub->thread, NULL);
    }
    pthread_cond_destroy(&hub->cond);
    pthread_mutex_destroy(&hub->lock);
    free(hub);
}

int sse_hub_format_event(ls_buf *out, int64_t id, const char *event, const char *data)
{
    if (strchr(data, '\n') || strchr(data, '\r') || strchr(event, '\n'))
        return LOGSHARE_EINVAL;
    /* Without an id line the client's Last-Event-ID stays as it was
     * (HTML SSE processing model), which is what update events need. */
    if (id <= 0)
        return ls_buf_printf(out, "event: %s\ndata: %s\n\n", event, data);
    return ls_buf_printf(out, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)id, event, data);
}

static size_t user_count_locked(struct sse_hub *hub, const char *user_id, unsigned bucket)
{
    size_t n = 0;
    for (struct sse_stream *s = hub->buckets[bucket]; s; s = s->u_next)
        if (strcmp(s->user_id, user_id) == 0)
            n++;
    return n;
}

static int admit_locked(struct sse_hub *hub, const char *user_id, unsigned bucket)
{
    if (hub->closed)
        return LOGSHARE_ECLOSED;
    if (hub->count >= hub->max_streams)
        return LOGSHARE_EBUSY;
    if (user_count_locked(hub, user_id, bucket) >= hub->max_per_user)
        return LOGSHARE_ERATELIMIT;
    return 0;
}

int sse_hub_subscribe(struct sse_hub *hub, struct MHD_Connection *conn, const char *user_id,
                      int64_t expires_at, int64_t last_event_id, sse_hub_load_fn load,
                      void *load_ctx, struct MHD_Response **resp)
{
    *resp = NULL;
    struct sse_stream *s = calloc(1, sizeof *s);
    if (!s || !(s->user_id = strdup(user_id))) {
        free(s);
        return LOGSHARE_ENOMEM;
    }
    s->hub = hub;
    s->conn = conn;
    s->bucket = hash_user(user_id);
    s->skip_upto = last_event_id;
    s->expires_at = expires_at;
    int rc = ls_buf_printf(&s->out, "retry: %d\n\n", hub->retry_ms);
    /* Refuse early (before the load's database work) when full... */
    pthread_mutex_lock(&hub->lock);
    if (!rc)
        rc = admit_locked(hub, user_id, s->bucket);
    pthread_mutex_unlock(&hub->lock);
    /* ...then load without the hub lock: a database query must not stall
     * every publish, heartbeat and stream read of the server. The caller
     * (push_service) serializes loads with publishes on its own lock, so
     * no event can fall between this load and the registration below. */
    if (!rc && load)
        rc = load(load_ctx, user_id, last_event_id, &s->out, &s->skip_upto);
    pthread_mutex_lock(&hub->lock);
    if (!rc)
        rc = admit_locked(hub, user_id, s->bucket); /* again: others came in meanwhile */
    if (!rc) {
        *resp =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, s, stream_free);
        if (!*resp)
            rc = LOGSHARE_ENOMEM;
    }
    if (rc) {
        pthread_mutex_unlock(&hub->lock);
        ls_buf_free(&s->out);
        free(s->user_id);
        free(s);
        return rc;
    }
    s->u_next = hub->buckets[s->bucket];
    if (s->u_next)
        s->u_next->u_prev = s;
    hub->buckets[s->bucket] = s;
    s->next_beat_ns = ls_time_mono_ns() + hub->heartbeat_ns;
    beat_append(hub, s);
    hub->count++;
    pthread_cond_broadcast(&hub->cond); /* the heartbeat thread may be waiting with no streams */
    pthread_mutex_unlock(&hub->lock);
    MHD_add_response_header(*resp, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(*resp, "Cache-Control", "no-store");
    MHD_add_response_header(*resp, "X-Accel-Buffering", "no"); /* nginx: do not buffer */
    return 0;
}

int sse_hub_publish(struct sse_hub *hub, const char *user_id, int64_t id, const char *event,
                    const char *data)
{
    ls_buf ev = LS_BUF_INIT;
    int rc = sse_hub_format_event(&ev, id, event, data);
    if (rc) {
        ls_buf_free(&ev);
        return rc;
    }
    int n = 0;
    unsigned bucket = hash_user(user_id);
    int64_t now_s = ls_time_now_us() / 1000000;
    pthread_mutex_lock(&hub->lock);
    for (struct sse_stream *s = hub->buckets[bucket]; s; s = s->u_next) {
        if (s->closing || strcmp(s->user_id, user_id) != 0 || (id > 0 && id <= s->skip_upto) ||
            stream_expired(s, now_s))
            continue;
        queue_bytes(s, ev.data, ev.len);
        n++;
    }
    pthread_mutex_unlock(&hub->lock);
    ls_buf_free(&ev);
    return n;
}

size_t sse_hub_count(struct sse_hub *hub, const char *user_id)
{
    pthread_mutex_lock(&hub->lock);
    size_t n = user_id ? user_count_locked(hub, user_id, hash_user(user_id)) : hub->count;
    pthread_mutex_unlock(&hub->lock);
    return n;
}

void sse_hub_shutdown(struct sse_hub *hub, int timeout_ms)
{
    pthread_mutex_lock(&hub->lock);
    hub->closed = 1;
    for (struct sse_stream *s = hub->beat_head; s; s = s->b_next) {
        s->closing = 1;
        wake(s);
    }
    struct timespec ts;
    int64_t until = ls_time_mono_ns() + (int64_t)timeout_ms * 1000000;
    ts.tv_sec = (time_t)(until / 1000000000);
    ts.tv_nsec = (long)(until % 1000000000);
    while (hub->count > 0) {
        if (pthread_cond_timedwait(&hub->cond, &hub->lock, &ts) != 0)
            break;
    }
    pthread_mutex_unlock(&hub->lock);
}
