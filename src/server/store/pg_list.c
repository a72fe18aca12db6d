/*
 * pg_list.c - listing tickets in the PostgreSQL store: filters, text
 * search (ILIKE) and cursor paging, numbered parameters only (contract
 * in ticket_store.h; formats shared with SQLite, ticket_store_impl.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logshare.h"
#include "ls_buf.h"
#include "pg_store.h"
#include "ticket_store_impl.h"

int pg_list(struct ticket_store *ts, const struct ticket_filter *f, struct ticket_list *out)
{
    struct pg_store *s = ts->state;
    size_t limit = f->limit ? f->limit : TICKET_LIST_DEFAULT_LIMIT;
    int64_t cur_time = 0;
    char cur_id[TICKET_ID_MAX];
    if (f->cursor && ticket_cursor_decode(f->cursor, &cur_time, cur_id) != 0)
        return LOGSHARE_EINVAL;
    char *like = f->q ? ticket_like_pattern(f->q) : NULL;
    if (f->q && !like)
        return LOGSHARE_ENOMEM;
    /* Parameters are numbered in the order the filters appear. */
    const char *params[8];
    char status[24], ctime[24], lim[24];
    int n = 0;
    ls_buf sql = LS_BUF_INIT;
    int rc = ls_buf_append_str(&sql, "SELECT t.id, t.created_at FROM tickets t WHERE TRUE");
    if (rc == 0 && f->user_id) {
        params[n++] = f->user_id;
        rc = ls_buf_printf(&sql, " AND t.user_id = $%d", n);
    }
    if (rc == 0 && f->status >= 0) {
        pg_fmt_i64(status, f->status);
        params[n++] = status;
        rc = ls_buf_printf(&sql, " AND t.status = $%d", n);
    }
    if (rc == 0 && f->call_id) {
        params[n++] = f->call_id;
        rc = ls_buf_printf(&sql,
                           " AND t.id IN (SELECT c.ticket_id FROM ticket_call_ids c"
                           " WHERE c.call_id = $%d)",
                           n);
    }
    if (rc == 0 && like) {
        params[n++] = like;
        rc = ls_buf_printf(&sql,
                           " AND (t.description ILIKE $%d ESCAPE '\\'"
                           " OR t.customer_name ILIKE $%d ESCAPE '\\'"
                           " OR t.customer_email ILIKE $%d ESCAPE '\\'"
                           " OR EXISTS (SELECT 1 FROM ticket_call_ids c WHERE c.ticket_id = t.id"
                           " AND c.call_id ILIKE $%d ESCAPE '\\'))",
                           n, n, n, n);
    }
    if (rc == 0 && f->cursor) {
        pg_fmt_i64(ctime, (long long)cur_time);
        params[n++] = ctime;
        params[n++] = cur_id;
        rc = ls_buf_printf(&sql, " AND (t.created_at, t.id) < ($%d, $%d)", n - 1, n);
    }
    pg_fmt_i64(lim, (long long)limit + 1);
    params[n++] = lim;
    if (rc == 0)
        rc = ls_buf_printf(&sql, " ORDER BY t.created_at DESC, t.id DESC LIMIT $%d", n);
    struct pg_conn *c = NULL;
    if (rc == 0)
        rc = pg_acquire(s, &c);
    PGresult *res = NULL;
    if (rc == 0)
        res = pg_query(c, sql.data, n, params, &rc);
    ls_buf_free(&sql);
    int rows = rc == 0 ? PQntuples(res) : 0;
    size_t page = (size_t)rows > limit ? limit : (size_t)rows;
    if (rc == 0 && page > 0 && !(out->items = calloc(page, sizeof *out->items)))
        rc = LOGSHARE_ENOMEM;
    for (size_t i = 0; rc == 0 && i < page; i++) {
        /* a ticket gone since the ids were read (deleted in between) is
         * left out: items stay dense, count says how many (the load
         * sets its slot only on success) */
        rc = pg_load_ticket(c, PQgetvalue(res, (int)i, 0), &out->items[out->count]);
        if (rc == LOGSHARE_ENOENT)
            rc = 0;
        else if (rc == 0)
            out->count++;
    }
    if (rc == 0 && (size_t)rows > limit)
        rc = ticket_cursor_encode(pg_int(res, (int)page - 1, 1), PQgetvalue(res, (int)page - 1, 0),
                                  &out->next_cursor);
    PQclear(res);
    if (c)
        pg_release(s, c);
    free(like);
    if (rc != 0)
        ticket_list_clear(out);
    return rc;
}
