/*
 * watch_sse.h - an incremental parser for a text/event-stream (the
 * WHATWG "server-sent events" format), fed whatever byte chunks libcurl
 * hands over. It knows the stream's rules: lines end in LF, CRLF or CR
 * (a CRLF may be split across chunks), ':' starts a comment (our
 * heartbeats), "data" lines join with LF, an event is dispatched at a
 * blank line and only if it has data, "id" sets the last event id (kept
 * across events, sent back as Last-Event-ID on reconnect) once its event
 * is complete (a blank line), never from a half-received one, "retry" sets
 * the reconnection delay. Internal to liblogshare.
 */
#ifndef WATCH_SSE_H
#define WATCH_SSE_H

#include <stddef.h>

#include "ls_buf.h"

/* Called for each complete event; strings borrowed for the call. A
 * non-zero return stops the parser and is returned by watch_sse_feed. */
typedef int (*watch_sse_event_fn)(void *user, const char *event, const char *id, const char *data);

/* Lines or events longer than this make feed fail (LOGSHARE_ETOOLARGE):
 * a server that never ends a line must not eat the app's memory. */
#define WATCH_SSE_MAX_LINE (256 * 1024)

typedef struct watch_sse {
    ls_buf line;
    ls_buf data;
    char event[64];
    char last_id[128]; /* the "id:" of the last complete event; "" when none */
    char id_buf[128];  /* the last "id:" seen, committed at the blank line */
    long retry_ms;     /* the last "retry:" seen; 0 when none */
    int after_cr;      /* the previous chunk ended in CR: skip a leading LF */
    int has_data;
    watch_sse_event_fn on_event;
    void *user;
} watch_sse;

void watch_sse_init(watch_sse *p, watch_sse_event_fn on_event, void *user);
/* Parses len bytes. 0, LOGSHARE_ETOOLARGE, LOGSHARE_ENOMEM or the
 * callback's non-zero return. */
int watch_sse_feed(watch_sse *p, const char *buf, size_t len);
/* Forgets a half-received event (the connection dropped), its "id:"
 * included, but keeps last_id and retry_ms, as the spec says a reconnect
 * must: resuming after the half event's id would skip it. */
void watch_sse_reset(watch_sse *p);
void watch_sse_free(watch_sse *p);

#endif
