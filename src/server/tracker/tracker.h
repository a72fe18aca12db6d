/*
 * tracker.h - an external tracker new tickets are handed to (SPEC:
 * "Azure DevOps work item with attachments, or a signed generic
 * webhook"). Like a blob store or a ticket store, a tracker is a struct
 * of function pointers plus an opaque state; the generic webhook
 * (tracker_webhook_new) is the first implementation, and an Azure
 * DevOps one would plug in behind the same hand_off.
 *
 * What a tracker does NOT do: remember anything. Which tickets still
 * need handing off, the retry schedule and the result live in the
 * ticket database (ticket_store.h, "tracker hand-offs"), driven by
 * tracker_worker.h. A tracker only turns one ticket into one attempt.
 *
 * Threads: hand_off is called by one worker thread at a time, never
 * concurrently on the same tracker; destroy after that thread ended.
 * Ownership: every argument is borrowed for the call; *url in the
 * answer is the caller's to free.
 */
#ifndef LOGSHARED_TRACKER_H
#define LOGSHARED_TRACKER_H

#include <stdatomic.h>
#include <stddef.h>

#include "ticket_store.h"

/* The longest tracker URL kept for a ticket (bytes, NUL excluded). */
#define TRACKER_URL_MAX 2048

struct tracker;

/* One attempt's question. */
struct tracker_request {
    const struct ticket *ticket; /* as stored now, attachments included */
    const char *delivery_id;     /* the same on every attempt for this ticket */
    int attempt;                 /* 1 for the first */
    const atomic_int *cancel;    /* may be NULL; non-zero: give up within ~1 s */
};

/* One attempt's answer. */
struct tracker_answer {
    char *url;       /* handed off: where the ticket lives now (http/https), or NULL */
    int http_status; /* 0: no answer */
    char error[256]; /* a failed attempt's reason; a warning for an ignored answer */
};

struct tracker_ops {
    const char *name; /* "webhook"; recorded with every hand-off row */
    /* 1: the tracker took the ticket (a->url may still be NULL); 0: this
     * attempt failed (a->error says why; the worker retries later);
     * LOGSHARE_ECANCELED: *r->cancel became non-zero, which is no
     * attempt at all. */
    int (*hand_off)(struct tracker *tr, const struct tracker_request *r, struct tracker_answer *a);
    void (*destroy)(struct tracker *tr);
};

struct tracker {
    const struct tracker_ops *ops;
    void *state;
};

/* Calls tr->ops->hand_off with *a zeroed first. */
int tracker_hand_off(struct tracker *tr, const struct tracker_request *r, struct tracker_answer *a);
/* NULL is a no-op. */
void tracker_destroy(struct tracker *tr);

/* 1 when url is an absolute http:// or https:// URL with a host, at
 * most TRACKER_URL_MAX bytes, with no space or control character: what
 * a tracker's answer may make a ticket's tracker_url (the dashboard
 * shows it as a link, so javascript: and the like never get there). */
int tracker_url_acceptable(const char *url);

/* ---- the generic signed webhook ------------------------------------- */

struct tracker_webhook_options {
    const char *url;             /* http(s) URL to POST to */
    const unsigned char *secret; /* HMAC-SHA256 key (webhook_sign.h) */
    size_t secret_len;
    int timeout_ms;         /* one attempt, connect included */
    const char *public_url; /* the dashboard's base, for the ticket's link; may be NULL */
};

/* A tracker that POSTs each ticket as JSON (docs/server.md "Tracker
 * hand-off"), signed like the push webhooks, and takes {"url": ...}
 * from a 2xx answer. Copies everything in o. *out: tracker_destroy it. */
int tracker_webhook_new(const struct tracker_webhook_options *o, struct tracker **out);

/* The body tracker_webhook POSTs for r (exposed for tests). Caller
 * frees. NULL on ENOMEM. */
char *tracker_webhook_body(const struct tracker_request *r, const char *public_url);

#endif
