/*
 * outbox.h - the durable queue of ticket requests (outbox.c,
 * outbox_send.c).
 *
 * Layout, under <store dir>/outbox/ (the store never counts or lists it):
 *
 *   <id>/request.json   immutable: fields, files, idempotency key
 *   <id>/state.json     replaced atomically: attempts, next attempt, status, last error
 *   <id>/files/<name>   the bytes to upload, copied at queue time
 *   .tmp-<id>/          an item being built (removed when found: the
 *                       writer died, and the item never existed)
 *   .del-<id>/          an item being removed after its 201
 *   .lock               serialises queueing (the quota check)
 *
 * An item becomes visible only by the rename of its complete .tmp-<id>
 * directory, after every file in it and the directory itself were
 * fsynced: a kill -9 at any moment leaves either the whole item or none.
 * Ids sort by creation time, so the oldest report is sent first.
 */
#ifndef LS_OUTBOX_H
#define LS_OUTBOX_H

#include <stdint.h>

#include "share.h"

#define OUTBOX_DEFAULT_MAX_BYTES (64ull * 1024 * 1024)
#define OUTBOX_DEFAULT_MAX_ITEMS 32

typedef struct outbox_state {
    int attempts;
    int64_t next_attempt_us; /* 0: as soon as possible */
    int64_t last_attempt_us;
    int failed; /* a 4xx: not retried unless forced */
    int http_status;
    char *error_code, *error_message; /* owned */
    char *ticket_id;                  /* set once a ticket exists but files remain to add; owned */
    /* The fingerprint (outbox_token_fingerprint) of the token the server
     * refused with 401, or NULL. The item is not sent again with that
     * token, but waits, pending, for another one: a token that expired
     * while the report was queued is no reason to give it up. Owned. */
    char *refused_token;
} outbox_state;

typedef struct outbox_item {
    char *id;
    char *dir; /* <outbox>/<id> */
    char *idempotency_key;
    int64_t created_us;
    uint64_t bytes; /* sum of file sizes */
    share_fields fields;
    share_file_list files; /* paths point into <dir>/files/ */
    outbox_state state;
} outbox_item;

void outbox_item_free(outbox_item *item);

/* A short hash of a bearer token (the token itself is never stored):
 * 32 hex digits and a NUL into out. */
void outbox_token_fingerprint(const char *token, char out[33]);

/* Whether the item waits for another token than token (its last attempt
 * got 401 with this one). */
int outbox_token_refused(const outbox_item *item, const char *token);

/* "<store_dir>/outbox" (caller frees). */
char *outbox_dir(const char *store_dir);

/* Copies files (their first size bytes) and fields into a new item.
 * Refuses with LOGSHARE_ENOSPC when the outbox would exceed max_bytes or
 * max_items. not_before_us (0: none) is the item's first due time for
 * background senders: logshare_report sends its item itself right away
 * and reserves it this way, so a sender does not race it for the lock.
 * On success *id_out (caller frees) names the item. */
int outbox_queue(const char *store_dir, const share_fields *fields, const share_file_list *files,
                 uint64_t max_bytes, unsigned max_items, int64_t not_before_us, char **id_out);

/* Loads one item; LOGSHARE_ENOENT when it is not (or no longer) there,
 * LOGSHARE_ECORRUPT when its request.json cannot be read. A damaged or
 * missing state.json alone is replaced by a fresh pending state (the
 * idempotency key makes a resend safe). */
int outbox_load(const char *store_dir, const char *id, outbox_item **item);

/* Every complete item, oldest first (caller frees with
 * outbox_items_free). An item whose request.json cannot be read is
 * listed too, marked failed with error code "corrupt" and only its id,
 * dir and creation time set, so it never vanishes unseen. Also clears
 * leftovers of interrupted queueing and removal. */
int outbox_scan(const char *store_dir, outbox_item ***items, size_t *count);
void outbox_items_free(outbox_item **items, size_t count);

/* Persists item->state atomically. */
int outbox_save_state(const outbox_item *item);

/* Removes an item for good (after its 201, or at the user's request). */
int outbox_remove(const char *store_dir, const char *id);

#endif
