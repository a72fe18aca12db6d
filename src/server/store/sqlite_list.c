/*
 * sqlite_list.c - listing tickets in the SQLite store: filters, text
 * search and cursor paging (contract in ticket_store.h; the cursor and
 * LIKE pattern formats are shared with PostgreSQL, ticket_store_impl.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logshare.h"
#include "ls_buf.h"
#include "sqlite_store.h"
#include "ticket_store_impl.h"

/* The list query is built from the filters present, so each can use its
 * index (a call id drives the search from ticket_call_ids, since a call
 * names few tickets); it is prepared per call (not cached: its text
 * varies). */
int sq_list(struct ticket_store *ts, const struct ticket_filter *f, struct ticket_list *out)
{
    struct sq_store *s = ts->state;
    size_t limit = f->limit ? f->limit : TICKET_LIST_DEFAULT_LIMIT;
    int64_t cur_time = 0;
    char cur_id[TICKET_ID_MAX];
    if (f->cursor && ticket_cursor_decode(f->cursor, &cur_time, cur_id) != 0)
        return LOGSHARE_EINVAL;
    /* both sides folded (sqlite_fold.c): LIKE alone ignores the case of
     * ASCII letters only, PostgreSQL's ILIKE that of every letter */
    char *folded = f->q ? sq_fold(f->q, strlen(f->q), NULL) : NULL;
    char *like = folded ? ticket_like_pattern(folded) : NULL;
    free(folded);
    if (f->q && !like)
        return LOGSHARE_ENOMEM;

    ls_buf sql = LS_BUF_INIT;
    int rc = ls_buf_append_str(&sql, "SELECT t.id, t.created_at FROM tickets t WHERE 1");
    if (f->user_id)
        rc = rc ? rc : ls_buf_append_str(&sql, " AND t.user_id = ?1");
    if (f->status >= 0)
        rc = rc ? rc : ls_buf_append_str(&sql, " AND t.status = ?2");
    if (f->call_id)
        rc = rc ? rc
                : ls_buf_append_str(&sql, " AND t.id IN (SELECT c.ticket_id FROM ticket_call_ids c"
                                          " WHERE c.call_id = ?3)");
    if (like)
        rc = rc ? rc
                : ls_buf_append_str(
                      &sql, " AND (ls_fold(t.description) LIKE ?4 ESCAPE '\\'"
                            " OR ls_fold(t.customer_name) LIKE ?4 ESCAPE '\\'"
                            " OR ls_fold(t.customer_email) LIKE ?4 ESCAPE '\\'"
                            " OR EXISTS (SELECT 1 FROM ticket_call_ids c WHERE c.ticket_id = t.id"
                            " AND ls_fold(c.call_id) LIKE ?4 ESCAPE '\\'))");
    if (f->cursor)
        rc = rc ? rc
                : ls_buf_append_str(&sql, " AND (t.created_at < ?5 OR (t.created_at = ?5"
                                          " AND t.id < ?6))");
    rc = rc ? rc : ls_buf_append_str(&sql, " ORDER BY t.created_at DESC, t.id DESC LIMIT ?7");
    if (rc != 0) {
        ls_buf_free(&sql);
        free(like);
        return rc;
    }

    struct sq_conn *c;
    if ((rc = sq_acquire(s, &c)) != 0) {
        ls_buf_free(&sql);
        free(like);
        return rc;
    }
    sqlite3_stmt *st = NULL;
    rc = sq_error(sqlite3_prepare_v2(c->db, sql.data, -1, &st, NULL));
    ls_buf_free(&sql);
    /* Ids and times of the page first (plus one to know if more
     * follow), then each ticket: a reader never holds the statement
     * open while loading. */
    char(*ids)[TICKET_ID_MAX] = NULL;
    int64_t *times = NULL;
    size_t n = 0;
    if (rc == 0) {
        ids = malloc((limit + 1) * sizeof *ids);
        times = malloc((limit + 1) * sizeof *times);
        if (!ids || !times)
            rc = LOGSHARE_ENOMEM;
    }
    if (rc == 0) {
        if (f->user_id)
            sq_bind_text(st, 1, f->user_id);
        if (f->status >= 0)
            sqlite3_bind_int(st, 2, f->status);
        if (f->call_id)
            sq_bind_text(st, 3, f->call_id);
        if (like)
            sq_bind_text(st, 4, like);
        if (f->cursor) {
            sqlite3_bind_int64(st, 5, cur_time);
            sq_bind_text(st, 6, cur_id);
        }
        sqlite3_bind_int64(st, 7, (sqlite3_int64)limit + 1);
        int r;
        while ((r = sqlite3_step(st)) == SQLITE_ROW && n < limit + 1) {
            snprintf(ids[n], TICKET_ID_MAX, "%s", (const char *)sqlite3_column_text(st, 0));
            times[n] = sqlite3_column_int64(st, 1);
            n++;
        }
        if (r != SQLITE_ROW && r != SQLITE_DONE)
            rc = sq_error(r);
    }
    sqlite3_finalize(st);
    size_t page = n > limit ? limit : n;
    if (rc == 0 && page > 0 && !(out->items = calloc(page, sizeof *out->items)))
        rc = LOGSHARE_ENOMEM;
    for (size_t i = 0; rc == 0 && i < page; i++) {
        /* a ticket gone since the ids were read (deleted in between) is
         * left out: items stay dense, count says how many (the load
         * sets its slot only on success) */
        rc = sq_load_ticket(c, ids[i], &out->items[out->count]);
        if (rc == LOGSHARE_ENOENT)
            rc = 0;
        else if (rc == 0)
            out->count++;
    }
    if (rc == 0 && n > limit)
        rc = ticket_cursor_encode(times[page - 1], ids[page - 1], &out->next_cursor);
    sq_release(s, c);
    free(ids);
    free(times);
    free(like);
    if (rc != 0)
        ticket_list_clear(out);
    return rc;
}
