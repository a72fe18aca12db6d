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
#include <jansson.h>
#include <sys/file.h>
#include <sys/stat.h>
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

/* The files to upload: manifest.json first (so it is in the ticket's
 * first request), then the item's own. */
static int upload_list(const outbox_item *item, share_file_list *out)
{
    ls_buf p = LS_BUF_INIT;
    int rc = ls_buf_printf(&p, "%s/files/manifest.json", item->dir) ? LOGSHARE_ENOMEM : 0;
    int fd = rc ? -1 : open(p.data, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        struct stat st;
        rc = fstat(fd, &st) == 0 ? 0 : LOGSHARE_EIO;
        rc = rc ? rc
                : share_file_list_add(out, p.data, "manifest.json", "manifest",
                                      (uint64_t)st.st_size, 0, 0);
        rc = rc ? rc : share_sha256_fd(fd, (uint64_t)st.st_size, out->items[0].sha256);
        close(fd);
    }
    ls_buf_free(&p);
    for (size_t i = 0; rc == 0 && i < item->files.count; i++) {
        const share_file *f = &item->files.items[i];
        rc =
            share_file_list_add(out, f->path, f->name, f->stream, f->size, f->first_us, f->last_us);
        if (rc == 0)
            memcpy(out->items[out->count - 1].sha256, f->sha256, sizeof f->sha256);
    }
    return rc;
}

static void record_outcome(outbox_item *item, logshare_report_result *res,
                           const report_http_response *resp)
{
    item->state.attempts++;
    item->state.last_attempt_us = ls_time_now_us();
    item->state.http_status = resp->http_status;
    share_string_set(&item->state.error_code, resp->error_code);
    share_string_set(&item->state.error_message, resp->error_message);
    /* any other answer says the token is good (or not the issue) */
    if (resp->http_status != 0 && resp->http_status != 401)
        share_string_set(&item->state.refused_token, NULL);
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

/* The app's progress over a whole item, whatever the requests it takes
 * (a ticket, then batches of attachments, with retries): done counts
 * the item's file bytes, never goes back (a retry that starts the body
 * again holds at the best so far) and ends at total. */
struct item_progress {
    logshare_progress_fn fn;
    void *user;
    uint64_t total; /* bytes of every file of the item */
    uint64_t base;  /* bytes already on the server before this request */
    uint64_t batch; /* bytes of the files this request carries (0: a GET) */
    uint64_t high;  /* the most reported so far */
};

/* libcurl's view of one request (body bytes, headers and boundaries
 * included) mapped onto the item's file bytes. */
static int item_progress_cb(void *user, uint64_t ul_now, uint64_t ul_total)
{
    struct item_progress *p = user;
    uint64_t now = p->base;
    if (p->batch && ul_total)
        now +=
            ul_now >= ul_total
                ? p->batch
                : (uint64_t)((long double)p->batch * (long double)ul_now / (long double)ul_total);
    if (now > p->total)
        now = p->total;
    if (now > p->high)
        p->high = now;
    return p->fn(p->user, p->high, p->total);
}

static uint64_t list_bytes(const share_file_list *l)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < l->count; i++)
        sum += l->items[i].size;
    return sum;
}

/* Blocks until no other process is sending item (it holds the lock
 * of lock_item while it does). */
static void wait_for_item(const outbox_item *item)
{
    ls_buf p = LS_BUF_INIT;
    int fd =
        ls_buf_printf(&p, "%s/request.json", item->dir) ? -1 : open(p.data, O_RDONLY | O_CLOEXEC);
    ls_buf_free(&p);
    if (fd < 0)
        return; /* gone already */
    while (flock(fd, LOCK_EX) != 0 && errno == EINTR)
        ;
    close(fd);
}

/* What one send works with. */
struct send_ctx {
    const char *store_dir;
    outbox_item *item;
    const logshare_share_options *opts; /* progress wrapped as item_progress */
    volatile int *stop;
    logshare_report_result *res;
    struct item_progress *progress; /* NULL when the app set no callback */
};

/* The next request carries files worth batch bytes, and base bytes are
 * on the server already. */
static void progress_next(struct send_ctx *c, uint64_t base, uint64_t batch)
{
    if (!c->progress)
        return;
    c->progress->base = base;
    c->progress->batch = batch;
}

/* One HTTP exchange with the retry policy. Returns 0 when it succeeded
 * (*out holds the answer; the caller clears it), 1 when this send ends
 * here (res->status says why, state.json is saved), or a negative error
 * when the request could not be built. */
static int http_step(struct send_ctx *c, const char *path, const share_fields *fields,
                     const share_file_list *files, const char *key, report_http_response *out)
{
    outbox_item *item = c->item;
    const logshare_share_options *opts = c->opts;
    for (int attempt = 1;; attempt++) {
        int rc = report_http_request(opts, path, fields, files, key, out);
        if (rc) {
            report_http_response_clear(out);
            return rc;
        }
        record_outcome(item, c->res, out);
        if (out->retry == RETRY_DONE)
            return 0;
        if (out->retry == RETRY_NEVER) {
            if (out->error == LOGSHARE_ECANCELED) {
                c->res->status = LOGSHARE_ECANCELED; /* kept as it was, pending */
                item->state.attempts--;
            } else if (out->http_status == 401) {
                /* the token, not the report: expired or revoked while the
                 * report waited. Kept pending for the next token. */
                char fp[33];
                outbox_token_fingerprint(opts->token, fp);
                share_string_set(&item->state.refused_token, fp);
                item->state.failed = 0;
                c->res->status = LOGSHARE_EAUTH;
            } else {
                item->state.failed = 1;
                c->res->status = out->error ? out->error : LOGSHARE_EHTTP;
            }
            outbox_save_state(item);
            report_http_response_clear(out);
            return 1;
        }
        int64_t wait = out->retry_after_ms >= 0
                           ? out->retry_after_ms
                           : retry_backoff_ms(item->state.attempts, opts->backoff_base_ms,
                                              opts->backoff_max_ms, retry_random01());
        item->state.next_attempt_us = ls_time_now_us() + wait * 1000;
        item->state.failed = 0;
        int save_rc = outbox_save_state(item);
        report_http_response_clear(out);
        if (attempt >= opts->max_attempts || wait > opts->backoff_max_ms || (c->stop && *c->stop) ||
            save_rc) {
            c->res->status = LOGSHARE_EQUEUED;
            return 1;
        }
        wait_ms(wait, c->stop);
        if (c->stop && *c->stop) {
            c->res->status = LOGSHARE_EQUEUED;
            return 1;
        }
    }
}

static void finish_sent(struct send_ctx *c, report_http_response *resp)
{
    logshare_report_result *res = c->res;
    res->status = 0;
    if (c->progress) { /* the last request may have been a GET: say 100% */
        c->progress->high = c->progress->total;
        c->progress->fn(c->progress->user, c->progress->total, c->progress->total);
    }
    free(res->ticket_id);
    free(res->ticket_json);
    res->ticket_id = resp->ticket_id;
    res->ticket_json = resp->body;
    resp->ticket_id = resp->body = NULL;
    share_string_set(&res->error_code, NULL);
    share_string_set(&res->error_message, NULL);
    /* A failed removal means a resend later, which the key makes
     * harmless; the ticket exists either way. */
    outbox_remove(c->store_dir, c->item->id);
}

/* The files of all not yet among the ticket's attachments, matched by
 * SHA-256 (the server may rename a file, never change its bytes). Each
 * attachment accounts for one file only: two files with the same bytes
 * (an empty log of each stream, a file attached twice) need two
 * attachments, as the manifest lists both. */
static int missing_files(const char *ticket_json, const share_file_list *all, size_t max,
                         share_file_list *out, uint64_t *missing_bytes)
{
    *missing_bytes = 0;
    json_t *root = json_loads(ticket_json, 0, NULL);
    json_t *atts = json_object_get(root, "attachments");
    int rc = json_is_array(atts) ? 0 : LOGSHARE_EHTTP;
    size_t n_atts = rc == 0 ? json_array_size(atts) : 0;
    unsigned char *used = calloc(n_atts ? n_atts : 1, 1);
    if (rc == 0 && !used)
        rc = LOGSHARE_ENOMEM;
    /* every file is looked at (the bytes still missing drive the
     * progress), the first max missing ones go into out */
    for (size_t i = 0; rc == 0 && i < all->count; i++) {
        const share_file *f = &all->items[i];
        int present = 0;
        for (size_t j = 0; !present && j < n_atts; j++) {
            const char *sha = json_string_value(json_object_get(json_array_get(atts, j), "sha256"));
            if (!used[j] && sha && strcmp(sha, f->sha256) == 0)
                used[j] = present = 1;
        }
        if (!present)
            *missing_bytes += f->size;
        if (!present && out->count < max)
            rc = share_file_list_add(out, f->path, f->name, f->stream, f->size, f->first_us,
                                     f->last_us);
    }
    free(used);
    json_decref(root);
    return rc;
}

/* A report with more files than one request may carry: the ticket is
 * created with the first batch, then the rest are added with
 * POST /api/v1/tickets/{id}/attachments. That endpoint has no
 * idempotency key, so before each batch the ticket is read back and only
 * the files it does not hold yet are sent: a retry after a lost answer
 * never attaches a file twice. The ticket id is kept in state.json, so
 * a later run carries on where this one stopped. */
static int send_rest(struct send_ctx *c, const share_file_list *all)
{
    size_t max = c->opts->max_files_per_request;
    /* the id goes into a URL path: accept only what ticket ids look like */
    const char *tid = c->item->state.ticket_id;
    int tid_ok = *tid != '\0' && strlen(tid) <= 128;
    for (const char *p = tid; tid_ok && *p; p++)
        tid_ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 *p == '_' || *p == '-';
    if (!tid_ok) {
        c->item->state.failed = 1;
        share_string_set(&c->item->state.error_message, "the server gave an unusable ticket id");
        share_string_set(&c->res->error_message, c->item->state.error_message);
        c->res->status = LOGSHARE_EHTTP;
        outbox_save_state(c->item);
        return 0;
    }
    ls_buf path = LS_BUF_INIT, add = LS_BUF_INIT;
    if (ls_buf_printf(&path, "/api/v1/tickets/%s", c->item->state.ticket_id) ||
        ls_buf_printf(&add, "/api/v1/tickets/%s/attachments", c->item->state.ticket_id)) {
        ls_buf_free(&path);
        ls_buf_free(&add);
        return LOGSHARE_ENOMEM;
    }
    int rc = 0;
    /* each round sends up to max files; a few more rounds than needed
     * tolerate lost answers, and bound the loop if the server misbehaves */
    size_t rounds = all->count / (max ? max : 1) + 4;
    for (size_t round = 0; rc == 0; round++) {
        report_http_response got;
        progress_next(c, c->progress ? c->progress->high : 0, 0);
        rc = http_step(c, path.data, NULL, NULL, NULL, &got);
        if (rc)
            break;
        share_file_list batch = {0};
        uint64_t missing = 0;
        rc = missing_files(got.body, all, max, &batch, &missing);
        uint64_t all_bytes = list_bytes(all);
        progress_next(c, all_bytes - (missing < all_bytes ? missing : all_bytes),
                      list_bytes(&batch));
        if (rc == 0 && batch.count == 0) {
            finish_sent(c, &got);
        } else if (rc == 0 && round >= rounds) {
            c->item->state.failed = 1;
            share_string_set(&c->item->state.error_message,
                             "the server does not keep the attachments sent");
            share_string_set(&c->res->error_message, c->item->state.error_message);
            c->res->status = LOGSHARE_EHTTP;
            outbox_save_state(c->item);
            rc = 1;
        } else if (rc == 0) {
            report_http_response added;
            rc = http_step(c, add.data, NULL, &batch, NULL, &added);
            if (rc == 0)
                report_http_response_clear(&added);
        }
        share_file_list_clear(&batch);
        report_http_response_clear(&got);
        if (c->res->status == 0 && c->res->ticket_id)
            break;
    }
    ls_buf_free(&path);
    ls_buf_free(&add);
    return rc < 0 ? rc : 0;
}

int outbox_send_item(const char *store_dir, const char *id, const logshare_share_options *opts,
                     volatile int *stop, logshare_report_result **result)
{
    *result = NULL;
    if (!opts->server_url || !opts->token || opts->max_files_per_request < 1)
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
    share_file_list files = {0}, first = {0};
    logshare_report_result *res = rc ? NULL : report_result_new(id);
    if (rc == 0 && !res)
        rc = LOGSHARE_ENOMEM;
    rc = rc ? rc : upload_list(item, &files);
    struct item_progress progress = {
        opts->progress, opts->progress_user, list_bytes(&files), 0, 0, 0};
    logshare_share_options wrapped = *opts; /* shallow: only read while sending */
    wrapped.progress = item_progress_cb;
    wrapped.progress_user = &progress;
    struct send_ctx c = {store_dir, item, opts->progress ? &wrapped : opts,
                         stop,      res,  opts->progress ? &progress : NULL};
    if (rc == 0 && res)
        res->status = LOGSHARE_EQUEUED;
    const char *endpoint = item ? share_fields_endpoint(&item->fields) : SHARE_TICKETS_ENDPOINT;
    int batches_ok = strcmp(endpoint, SHARE_TICKETS_ENDPOINT) == 0;
    if (rc == 0 && !batches_ok && files.count > opts->max_files_per_request) {
        /* only tickets can take more files later; fail it clearly */
        item->state.failed = 1;
        share_string_set(&item->state.error_message, "more files than one request may carry");
        share_string_set(&res->error_message, item->state.error_message);
        res->status = LOGSHARE_ETOOLARGE;
        outbox_save_state(item);
    } else if (rc == 0 && !item->state.ticket_id) {
        size_t max = opts->max_files_per_request;
        for (size_t i = 0; rc == 0 && i < files.count && i < max; i++) {
            const share_file *f = &files.items[i];
            rc = share_file_list_add(&first, f->path, f->name, f->stream, f->size, f->first_us,
                                     f->last_us);
        }
        report_http_response resp;
        progress_next(&c, 0, list_bytes(&first));
        int step =
            rc ? rc : http_step(&c, endpoint, &item->fields, &first, item->idempotency_key, &resp);
        if (step < 0)
            rc = step;
        else if (step == 0 && files.count <= max) {
            finish_sent(&c, &resp);
            report_http_response_clear(&resp);
        } else if (step == 0) {
            rc = share_string_set(&item->state.ticket_id, resp.ticket_id);
            rc = rc ? rc : outbox_save_state(item);
            report_http_response_clear(&resp);
            rc = rc ? rc : send_rest(&c, &files);
        }
    } else if (rc == 0) {
        rc = send_rest(&c, &files);
    }
    share_file_list_clear(&first);
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

/* Tells the result callback about an item whose request cannot be read
 * (outbox_scan lists it as failed, with the reason): it cannot be sent,
 * and the user should hear why rather than see it wait for ever. */
static void report_damaged(const logshare_share_options *opts, const outbox_item *it)
{
    logshare_report_result *res = opts->on_result ? report_result_new(it->id) : NULL;
    if (!res)
        return;
    res->status = LOGSHARE_ECORRUPT;
    share_string_set(&res->error_code, it->state.error_code);
    share_string_set(&res->error_message, it->state.error_message);
    opts->on_result(opts->on_result_user, res);
    logshare_report_result_free(res);
}

int outbox_flush(const char *store_dir, const logshare_share_options *opts, unsigned flags,
                 volatile int *stop, size_t *sent, size_t *left)
{
    size_t n_sent = 0, n_left = 0;
    outbox_item **items = NULL;
    size_t count = 0;
    int rc = outbox_scan(store_dir, &items, &count);
    int64_t now = ls_time_now_us();
    int canceled = 0, unreachable = 0;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        outbox_item *it = items[i];
        int due = (flags & OUTBOX_FLUSH_FORCE) ||
                  (!it->state.failed && !outbox_token_refused(it, opts->token) &&
                   (it->state.next_attempt_us <= now ||
                    /* ignoring the retry schedule, but not a fresh report's
                     * reservation (never tried yet): its maker sends it */
                    ((flags & OUTBOX_FLUSH_IGNORE_SCHEDULE) && it->state.attempts > 0)));
        if (!due || canceled || unreachable || (stop && *stop)) {
            n_left++;
            continue;
        }
        logshare_report_result *res = NULL;
        int src = outbox_send_item(store_dir, it->id, opts, stop, &res);
        if (src == LOGSHARE_EBUSY && (flags & OUTBOX_FLUSH_FORCE)) {
            /* The user asked for everything now, and another process is
             * sending this one: wait for it, then see whether it is gone
             * (delivered) or still to send; counting it as left would
             * say "kept for later" of a report that was delivered. */
            wait_for_item(it);
            src = outbox_send_item(store_dir, it->id, opts, stop, &res);
        }
        if (src == LOGSHARE_ENOENT) /* sent by someone else meanwhile */
            continue;
        if (src == LOGSHARE_EBUSY) {
            n_left++;
            continue;
        }
        if (src == LOGSHARE_ECORRUPT) { /* listed as damaged: say so, try the rest */
            n_left++;
            report_damaged(opts, it);
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
        /* no answer at all: the server is unreachable, and the next items
         * would only wait out the same retries */
        if (res->status == LOGSHARE_EQUEUED && res->http_status == 0)
            unreachable = 1;
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
