/*
 * outbox_send.h - sending queued ticket requests (outbox_send.c).
 */
#ifndef LS_OUTBOX_SEND_H
#define LS_OUTBOX_SEND_H

#include "outbox.h"

struct logshare_report_result {
    int status; /* 0 sent, LOGSHARE_EQUEUED, or a final error */
    int http_status;
    char *ticket_id, *ticket_json, *outbox_id, *error_code, *error_message;
};

logshare_report_result *report_result_new(const char *outbox_id);

/* Sends one item with the options' retry policy. Holds an exclusive
 * lock on the item while sending, so two processes never upload it at
 * the same time (and if they did, the Idempotency-Key would still make
 * it one ticket). On 201 the item is removed; on a network error, 5xx or
 * 429 it stays with its next attempt time; on another 4xx it is marked
 * failed. *result (caller frees) says which. Returns 0 whenever a result
 * was produced (look at its status), LOGSHARE_EBUSY when another process
 * is sending it, LOGSHARE_ENOENT when it is gone. stop, when not NULL,
 * is polled between attempts to abandon the waits early. */
int outbox_send_item(const char *store_dir, const char *id, const logshare_share_options *opts,
                     volatile int *stop, logshare_report_result **result);

/* Flag for outbox_flush: also send items marked failed and items whose
 * next attempt time has not come (an explicit user request). */
#define OUTBOX_FLUSH_FORCE 1u
/* Flag: send pending items now even if their next attempt time has not
 * come (the server just answered, so waiting is pointless); failed
 * items still wait for an explicit request. */
#define OUTBOX_FLUSH_IGNORE_SCHEDULE 2u

/* Sends every item due, oldest first, calling opts->on_result for each.
 * With OUTBOX_FLUSH_FORCE an item another process is sending is waited
 * for, then sent if still there (else not counted: it was delivered).
 * Stops early on cancellation or stop. *sent and *left (may be NULL)
 * count items sent and still queued. Returns 0, or the first error that
 * prevented trying (not the items' own failures). */
int outbox_flush(const char *store_dir, const logshare_share_options *opts, unsigned flags,
                 volatile int *stop, size_t *sent, size_t *left);

#endif
