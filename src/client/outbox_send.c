/*
 * outbox_send.c - delivers outbox items to logshared, exactly once.
 *
 * Exactly once, from the user's side: the Idempotency-Key was fixed when
 * the item was queued and every attempt sends it, so a 201 whose answer
 * was lost, or a crash between the 201 and the removal of the item, only
 * makes the server return the ticket it already created. The item is
 * removed only after a 201, and every attempt's outcome is persisted in
 * state.json before the next wait, so a kill at any point loses nothing
 * and duplicates nothing.
 */
#include "outbox_send.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "ls_buf.h"
#include "ls_time.h"
#include "report_http.h"

logshare_report_result *report_result_new(const char *outbox_id)
{
    logshare_report_result *r = calloc(1, sizeof *r);
    if (r && outbox_id && !(r->outbox_id = strdup(outbox_id))) {
        free(r);
        return NULL;
    }
    return r;
}

void logshare_report_result_free(logshare_report_result *r)
{
    if (!r)
        return;
    free(r->ticket_id);
    free(r->ticket_json);
    free(r->outbox_id);
    free(r->error_code);
    free(r->error_message);
    free(r);
}

int logshare_report_result_status(const logshare_report_result *r)
{
    return r ? r->status : LOGSHARE_EINVAL;
}
const char *logshare_report_result_ticket_id(const logshare_report_result *r)
{
    return r ? r->ticket_id : NULL;
}
const char *logshare_report_result_ticket_json(const logshare_report_result *r)
{
    return r ? r->ticket_json : NULL;
}
const char *logshare_report_result_outbox_id(const logshare_report_result *r)
{
    return r ? r->outbox_id : NULL;
}
int logshare_report_result_http_status(const logshare_report_result *r)
{
    return r ? r->http_status : 0;
}
const char *logshare_report_result_error_code(const logshare_report_result *r)
{
    return r ? r->error_code : NULL;
}
const char *logshare_report_result_error_message(const logshare_report_result *r)
{
    return r ? r->error_message : NULL;
}

/* Sleeps ms, waking every 100 ms to look at *stop. */
static void wait_ms(int64_t ms, volatile int *stop)
{
    while (ms > 0 && !(stop && *stop)) {
        int64_t step = ms > 100 ? 100 : ms;
        struct timespec ts = {(time_t)(step / 1000), (long)(step % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

/* The files to upload: the item's own plus its manifest.json. */
static int upload_list(const outbox_item *item, share_file_list *out)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < item->files.count; i++) {
        const share_file *f = &item->files.items[i];
        rc = share_file_list_add(out, f->path, f->name, f->stream, f->size, f->first_us, f->last_us);
    }
    ls_buf p = LS_BUF_INIT;
    if (rc == 0 && ls_buf_printf(&p, "%s/files/manifest.json", item->dir))
        rc = LOGSHARE_ENOMEM;
    if (rc == 0 && access(p.data, R_OK) == 0)
        rc = share_file_list_add(out, p.data, "manifest.json", "manifest", 0, 0, 0);
    ls_buf_free(&p);
    return rc;
}

static void record_outcome(outbox_item *item, logshare_report_result *res, const report_http_response *resp)
{
    item->state.attempts++;
    item->state.last_attempt_us = ls_time_now_us();
    item->state.http_status = resp->http_status;
    share_string_set(&item->state.error_code, resp->error_code);
    share_string_set(&item->state.error_message, resp->error_message);
    res->http_status = resp->http_status;
    share_string_set(&res->error_code, resp->error_code);
    share_string_set(&res->error_message, resp->error_message);
}

static int lock_item(const outbox_item *item)
{
    ls_buf p = LS_BUF_INIT;
    if (ls_buf_printf(&p, "%s/request.json", item->dir)) {
        ls_buf_free(&p);
        return LOGSHARE_ENOMEM;
    }
    int fd = open(p.data, O_RDONLY | O_CLOEXEC);
    ls_buf_free(&p);
    if (fd < 0)
        return errno == ENOENT ? LOGSHARE_ENOENT : LOGSHARE_EIO;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return LOGSHARE_EBUSY;
    }
    return fd;
}

int outbox_send_item(const char *store_dir, const char *id, const logshare_share_options *opts,
                     volatile int *stop, logshare_report_result **result)
{
    *result = NULL;
    if (!opts->server_url || !opts->token)
        return LOGSHARE_EINVAL;
    outbox_item *item = NULL;
    int rc = outbox_load(store_dir, id, &item);
    if (rc)
        return rc;
    int lock_fd = lock_item(item);
    if (lock_fd < 0) {
        outbox_item_free(item);
        return lock_fd;
    }
    /* Reload under the lock: another sender may have finished it (the
     * directory is gone) or recorded attempts since we first read it. */
    outbox_item *fresh = NULL;
    rc = outbox_load(store_dir, id, &fresh);
    outbox_item_free(item);
    item = fresh;
    share_file_list files = {0};
    logshare_report_result *res = rc ? NULL : report_result_new(id);
    if (rc == 0 && !res)
        rc = LOGSHARE_ENOMEM;
    rc = rc ? rc : upload_list(item, &files);
    for (int attempt = 1; rc == 0; attempt++) {
        report_http_response resp;
        rc = report_http_post(opts, &item->fields, &files, item->idempotency_key, &resp);
        if (rc) {
            report_http_response_clear(&resp);
            break;
        }
        record_outcome(item, res, &resp);
        if (resp.retry == RETRY_DONE) {
            res->status = 0;
            res->ticket_id = resp.ticket_id;
            res->ticket_json = resp.body;
            resp.ticket_id = resp.body = NULL;
            share_string_set(&res->error_code, NULL);
            share_string_set(&res->error_message, NULL);
            /* A failed removal means a resend later, which the key makes
             * harmless; the ticket exists either way. */
            outbox_remove(store_dir, id);
            report_http_response_clear(&resp);
            break;
        }
        if (resp.retry == RETRY_NEVER) {
            if (resp.error == LOGSHARE_ECANCELED) {
                res->status = LOGSHARE_ECANCELED; /* kept as it was, pending */
                item->state.attempts--;
            } else {
                item->state.failed = 1;
                res->status = resp.error ? resp.error : LOGSHARE_EHTTP;
            }
            outbox_save_state(item);
            report_http_response_clear(&resp);
            break;
        }
        int64_t wait = resp.retry_after_ms >= 0
                           ? resp.retry_after_ms
                           : retry_backoff_ms(item->state.attempts, opts->backoff_base_ms, opts->backoff_max_ms,
                                              retry_random01());
        item->state.next_attempt_us = ls_time_now_us() + wait * 1000;
        item->state.failed = 0;
        int save_rc = outbox_save_state(item);
        report_http_response_clear(&resp);
        if (attempt >= opts->max_attempts || wait > opts->backoff_max_ms || (stop && *stop) || save_rc) {
            res->status = LOGSHARE_EQUEUED;
            break;
        }
        wait_ms(wait, stop);
        if (stop && *stop) {
            res->status = LOGSHARE_EQUEUED;
            break;
        }
    }
    share_file_list_clear(&files);
    outbox_item_free(item);
    close(lock_fd);
    if (rc) {
        logshare_report_result_free(res);
        return rc;
    }
    *result = res;
    return 0;
}

int outbox_flush(const char *store_dir, const logshare_share_options *opts, unsigned flags, volatile int *stop,
                 size_t *sent, size_t *left)
{
    size_t n_sent = 0, n_left = 0;
    outbox_item **items = NULL;
    size_t count = 0;
    int rc = outbox_scan(store_dir, &items, &count);
    int64_t now = ls_time_now_us();
    int canceled = 0;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        outbox_item *it = items[i];
        int due = (flags & OUTBOX_FLUSH_FORCE) ||
                  (!it->state.failed &&
                   ((flags & OUTBOX_FLUSH_IGNORE_SCHEDULE) || it->state.next_attempt_us <= now));
        if (!due || canceled || (stop && *stop)) {
            n_left++;
            continue;
        }
        logshare_report_result *res = NULL;
        int src = outbox_send_item(store_dir, it->id, opts, stop, &res);
        if (src == LOGSHARE_ENOENT) /* sent by someone else meanwhile */
            continue;
        if (src == LOGSHARE_EBUSY || src == LOGSHARE_ECORRUPT) {
            n_left++;
            continue;
        }
        if (src) {
            rc = src;
            break;
        }
        if (res->status == 0)
            n_sent++;
        else
            n_left++;
        if (res->status == LOGSHARE_ECANCELED)
            canceled = 1;
        if (opts->on_result)
            opts->on_result(opts->on_result_user, res);
        logshare_report_result_free(res);
    }
    outbox_items_free(items, count);
    if (sent)
        *sent = n_sent;
    if (left)
        *left = n_left;
    if (rc == 0 && canceled)
        rc = LOGSHARE_ECANCELED;
    return rc;
}
