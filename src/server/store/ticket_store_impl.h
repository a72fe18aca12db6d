/*
 * ticket_store_impl.h - helpers every ticket store back end shares (not
 * for the API layer): the list cursor's format and LIKE patterns, so
 * SQLite and PostgreSQL page and search identically.
 */
#ifndef LOGSHARED_TICKET_STORE_IMPL_H
#define LOGSHARED_TICKET_STORE_IMPL_H

#include <stdint.h>

#include "ticket_store.h"

/* A cursor names the last ticket of a page: "<created_at>.<id>".
 * *out is the caller's to free. */
int ticket_cursor_encode(int64_t created_at, const char *id, char **out);
/* LOGSHARE_EINVAL for anything ticket_cursor_encode did not make. */
int ticket_cursor_decode(const char *cursor, int64_t *created_at, char id[TICKET_ID_MAX]);

/* The ticket as a back end's create stored t, built from what was
 * inserted rather than read back after the COMMIT (which costs queries
 * and can fail once the data is safe): open, unassigned, without notes,
 * its times (and those of attachments without one) now. *out is the
 * caller's: 0, or LOGSHARE_ENOMEM with *out NULL. */
int ticket_stored_copy(const struct ticket *t, int64_t now, struct ticket **out);

/* ticket_stored_copy plus tracker_status "pending" when ts queues
 * hand-offs (ticket_store_set_tracker): what create answers. */
int ticket_created_copy(struct ticket_store *ts, const struct ticket *t, int64_t now,
                        struct ticket **out);

/* The status a hand-off row takes when r is recorded: "delivered",
 * "pending" (another attempt is scheduled) or "failed" (none is).
 * Static storage. */
const char *ticket_handoff_status_after(const struct ticket_handoff_result *r);

/* A new hand-off's delivery id into out: "td_..." (ticket_id_new). */
#define TICKET_HANDOFF_ID_PREFIX "td"

/* "%<q with % _ \ escaped by \>%" for LIKE ... ESCAPE '\'. Caller frees. */
char *ticket_like_pattern(const char *q);

#endif
