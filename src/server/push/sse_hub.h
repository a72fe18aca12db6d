/*
 * sse_hub.h - server-sent events to many idle clients without a thread
 * or a busy loop each (GET /api/v1/log-requests/stream).
 *
 * Each stream is an MHD response with a content-reader callback. When
 * the callback finds nothing to send it suspends its connection
 * (MHD_suspend_connection; the daemon must run with
 * MHD_ALLOW_SUSPEND_RESUME and an internal polling thread, not a thread
 * per connection) and returns 0: a suspended connection is not polled,
 * so an idle stream costs its socket and a few hundred bytes, and
 * nothing runs for it. sse_hub_publish appends an event to every stream
 * of that user and resumes the suspended ones; one heartbeat thread
 * resumes each stream when its heartbeat is due (a comment line), which
 * is also how a client that went away without a word is noticed (MHD
 * does not watch suspended sockets). Streams live in per-user lists
 * (a hash of user ids) and in one list ordered by next heartbeat, so a
 * publish touches only that user's streams and the heartbeat thread
 * only the streams that are due.
 *
 * Event ids are the log requests' seq numbers, so a client that
 * reconnects with Last-Event-ID gets what it missed (the caller loads
 * it from the database in the load callback; events already in the
 * load are not sent twice). The load runs without the hub lock, so a
 * slow query never stalls other streams; the caller must serialize its
 * loads with its publishes (push_service does, with one lock held
 * across "change the database, publish" and across "load, register"),
 * or an event could fall between a load and the live stream, or be
 * published out of id order. Events published with id 0 carry no id
 * line (updates to a request already sent): they leave the client's
 * Last-Event-ID alone and are never skipped.
 *
 * Before MHD_stop_daemon, call sse_hub_shutdown: MHD must not be stopped
 * with suspended connections.
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef SSE_HUB_H
#define SSE_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "ls_buf.h"

struct MHD_Connection;
struct MHD_Response;
struct sse_hub;

struct sse_hub_options {
    int heartbeat_ms;    /* a comment line this often; 0: 15000 */
    int retry_ms;        /* "retry:" advice sent first; 0: 3000 */
    size_t max_streams;  /* over it subscribe says EBUSY; 0: 10000 */
    size_t max_per_user; /* over it subscribe says ERATELIMIT; 0: 16 */
};

int sse_hub_new(const struct sse_hub_options *opts, struct sse_hub **out);
/* Stops the heartbeat thread and frees the hub. Call after
 * sse_hub_shutdown and MHD_stop_daemon. NULL is a no-op. */
void sse_hub_free(struct sse_hub *hub);

/* Fills out (borrowed, append only) with the events a new stream starts
 * with and returns the highest event id it holds (or after_id when it
 * adds none). Runs on the subscribing thread without the hub lock; it
 * may not call back into the hub. Returns 0 or an error (the stream is
 * refused). */
typedef int (*sse_hub_load_fn)(void *ctx, const char *user_id, int64_t after_id, ls_buf *out,
                               int64_t *max_id);

/* Makes the streaming response for a new stream of user_id on conn.
 * expires_at: when the client's token expires (unix seconds, 0 when
 * never): the stream gets no event after it and ends at its next
 * heartbeat. last_event_id: the client's Last-Event-ID (0 when none). load (may be
 * NULL) gives the starting events. *resp is the caller's to queue with
 * MHD_queue_response (status 200) and then MHD_destroy_response.
 * EBUSY when the hub holds max_streams, ERATELIMIT when the user holds
 * max_per_user, ECLOSED after shutdown. */
int sse_hub_subscribe(struct sse_hub *hub, struct MHD_Connection *conn, const char *user_id,
                      int64_t expires_at, int64_t last_event_id, sse_hub_load_fn load,
                      void *load_ctx, struct MHD_Response **resp);

/* Formats one event ("id:", "event:", "data:" lines; no "id:" line when
 * id <= 0; data must not hold a newline — JSON from json_dumps does
 * not). Appends to out. */
int sse_hub_format_event(ls_buf *out, int64_t id, const char *event, const char *data);

/* Sends an event to every stream of user_id, now (id 0: an event
 * without an id, see above). Returns how many streams it was queued on
 * (>= 0) or an error. */
int sse_hub_publish(struct sse_hub *hub, const char *user_id, int64_t id, const char *event,
                    const char *data);

/* Number of open streams (all users, or one user when user_id != NULL). */
size_t sse_hub_count(struct sse_hub *hub, const char *user_id);

/* Ends every stream (resuming the suspended ones) and refuses new ones;
 * waits up to timeout_ms for MHD to close them. */
void sse_hub_shutdown(struct sse_hub *hub, int timeout_ms);

#endif
