/*
 * report.c - the public sharing calls: logshare_export, logshare_report,
 * logshare_flush_outbox and the outbox listing (Sharing section of
 * logshare.h).
 *
 * A report always goes through the outbox: it is queued durably first
 * (files copied, idempotency key fixed), then sent. That one path makes
 * "made offline, sent later, exactly once" the same code as "sent now",
 * and means a crash mid-upload never loses a report.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "ls_time.h"
#include "outbox.h"
#include "outbox_send.h"
#include "share_store.h"

int logshare_export_format_parse(const char *name, logshare_export_format *format)
{
    if (!name || !format)
        return LOGSHARE_EINVAL;
    if (strcmp(name, "zip") == 0)
        *format = LOGSHARE_EXPORT_ZIP;
    else if (strcmp(name, "tar.zst") == 0 || strcmp(name, "tzst") == 0)
        *format = LOGSHARE_EXPORT_TAR_ZSTD;
    else
        return LOGSHARE_EINVAL;
    return 0;
}

/* The files of a share: the store's support files (when asked for) and
 * the app's own attachments. */
static int collect_files(const logshare_support_file *sf, size_t n, const logshare_share_options *o,
                         share_file_list *out)
{
    int rc = 0;
    for (size_t i = 0; o->include_logs && rc == 0 && i < n; i++) {
        const char *slash = strrchr(sf[i].path, '/');
        rc = share_file_list_add(out, sf[i].path, slash ? slash + 1 : sf[i].path, sf[i].stream,
                                 sf[i].size, sf[i].first_time_us, sf[i].last_time_us);
    }
    for (size_t i = 0; rc == 0 && i < o->extra_files.count; i++) {
        const share_file *f = &o->extra_files.items[i];
        rc = share_file_list_add(out, f->path, f->name, f->stream, 0, 0, 0);
    }
    return rc;
}

static int export_common(const logshare_support_file *sf, size_t n,
                         const logshare_share_options *opts, const char *out_path,
                         logshare_export_format format)
{
    share_file_list files = {0};
    share_fields fields = {0};
    int rc = collect_files(sf, n, opts, &files);
    rc = rc ? rc : share_fields_copy(&fields, &opts->fields);
    if (rc == 0 && !fields.source)
        rc = share_string_set(&fields.source, "share");
    rc = rc ? rc
            : export_write_archive(&fields, &files, out_path, format, opts->progress,
                                   opts->progress_user);
    share_fields_clear(&fields);
    share_file_list_clear(&files);
    return rc;
}

static const logshare_share_options *options_or_defaults(const logshare_share_options *opts,
                                                         logshare_share_options *defaults)
{
    if (opts)
        return opts;
    share_options_defaults(defaults);
    return defaults;
}

int logshare_export(logshare *ls, const logshare_share_options *opts, const char *out_path,
                    logshare_export_format format)
{
    if (!ls || !out_path)
        return LOGSHARE_EINVAL;
    if (sodium_init() < 0)
        return LOGSHARE_EINTERNAL;
    logshare_share_options defaults;
    opts = options_or_defaults(opts, &defaults);
    logshare_support_file *sf = NULL;
    size_t n = 0;
    int rc = opts->include_logs ? logshare_get_support_files(ls, &sf, &n) : 0;
    rc = rc ? rc : export_common(sf, n, opts, out_path, format);
    logshare_support_files_free(sf, n);
    return rc;
}

/* Every *_dir call refuses "" as well as NULL: "" is no store, and its
 * outbox would have been "/outbox", at the root of the file system. */
int logshare_export_dir(const char *dir, const logshare_share_options *opts, const char *out_path,
                        logshare_export_format format)
{
    if (!dir || !*dir || !out_path)
        return LOGSHARE_EINVAL;
    if (sodium_init() < 0)
        return LOGSHARE_EINTERNAL;
    logshare_share_options defaults;
    opts = options_or_defaults(opts, &defaults);
    logshare_support_file *sf = NULL;
    size_t n = 0;
    int rc = opts->include_logs ? logshare_list_support_files(dir, &sf, &n) : 0;
    rc = rc ? rc : export_common(sf, n, opts, out_path, format);
    logshare_support_files_free(sf, n);
    return rc;
}

/* How long a report's own item is reserved for the call that made it
 * (see outbox_queue); after that a background sender may take it, in
 * case the reporting process died. */
#define REPORT_RESERVE_US (120 * 1000000LL)

static int queue_common(const char *dir, const logshare_support_file *sf, size_t n,
                        const logshare_share_options *opts, int64_t not_before_us, char **id)
{
    share_file_list files = {0};
    share_fields fields = {0};
    int rc = collect_files(sf, n, opts, &files);
    rc = rc ? rc : share_fields_copy(&fields, &opts->fields);
    if (rc == 0 && !fields.source)
        rc = share_string_set(&fields.source, "report");
    rc = rc ? rc
            : outbox_queue(dir, &fields, &files, opts->outbox_max_bytes, opts->outbox_max_items,
                           not_before_us, id);
    share_fields_clear(&fields);
    share_file_list_clear(&files);
    return rc;
}

/* The app's progress callback over a logshare_report call: its own
 * report's figures, as they come; then, while the earlier reports that
 * waited in the outbox go out, those same final figures again (the bar
 * already said 100% and must not start over), which still lets the user
 * cancel. */
struct report_progress {
    logshare_progress_fn fn;
    void *user;
    uint64_t done, total; /* the last figures the app saw */
    int holding;          /* sending the others: repeat done/total */
};

static int report_progress_cb(void *user, uint64_t done, uint64_t total)
{
    struct report_progress *p = user;
    if (!p->holding) {
        p->done = done;
        p->total = total;
    }
    return p->fn(p->user, p->done, p->total);
}

/* Sends the item just queued, then (when that worked: the server is
 * reachable) whatever else waits in the outbox. */
static int send_common(const char *dir, const char *id, const logshare_share_options *app_opts,
                       logshare_report_result **result)
{
    struct report_progress progress = {app_opts->progress, app_opts->progress_user, 0, 0, 0};
    logshare_share_options wrapped = *app_opts; /* shallow: only read while sending */
    wrapped.progress = report_progress_cb;
    wrapped.progress_user = &progress;
    const logshare_share_options *opts = app_opts->progress ? &wrapped : app_opts;
    logshare_report_result *res = NULL;
    int rc = outbox_send_item(dir, id, opts, NULL, &res);
    if (rc) {
        /* Queued but not tried (another process is sending the outbox
         * right now): it is safe where it is. */
        if (rc == LOGSHARE_EBUSY && (res = report_result_new(id)) != NULL) {
            res->status = LOGSHARE_EQUEUED;
            rc = 0;
        } else
            return rc;
    }
    progress.holding = 1;
    if (res->status == 0)
        outbox_flush(dir, opts, OUTBOX_FLUSH_IGNORE_SCHEDULE, NULL, NULL, NULL);
    int status = res->status;
    if (result)
        *result = res;
    else
        logshare_report_result_free(res);
    return status;
}

static int report_check(const logshare_share_options *opts, logshare_report_result **result)
{
    if (result)
        *result = NULL;
    if (!opts || !opts->server_url || !opts->token || !opts->fields.description ||
        !*opts->fields.description)
        return LOGSHARE_EINVAL;
    return sodium_init() < 0 ? LOGSHARE_EINTERNAL : 0;
}

int logshare_report(logshare *ls, const logshare_share_options *opts,
                    logshare_report_result **result)
{
    int rc = report_check(opts, result);
    if (rc || !ls)
        return rc ? rc : LOGSHARE_EINVAL;
    const char *dir = share_store_dir(ls);
    logshare_support_file *sf = NULL;
    size_t n = 0;
    char *id = NULL;
    rc = opts->include_logs ? logshare_get_support_files(ls, &sf, &n) : 0;
    rc = rc ? rc : queue_common(dir, sf, n, opts, ls_time_now_us() + REPORT_RESERVE_US, &id);
    logshare_support_files_free(sf, n);
    rc = rc ? rc : send_common(dir, id, opts, result);
    free(id);
    return rc;
}

int logshare_report_dir(const char *dir, const logshare_share_options *opts,
                        logshare_report_result **result)
{
    int rc = report_check(opts, result);
    if (rc || !dir || !*dir)
        return rc ? rc : LOGSHARE_EINVAL;
    logshare_support_file *sf = NULL;
    size_t n = 0;
    char *id = NULL;
    rc = opts->include_logs ? logshare_list_support_files(dir, &sf, &n) : 0;
    if (rc == LOGSHARE_ENOENT && !opts->include_logs)
        rc = 0;
    rc = rc ? rc : queue_common(dir, sf, n, opts, ls_time_now_us() + REPORT_RESERVE_US, &id);
    logshare_support_files_free(sf, n);
    rc = rc ? rc : send_common(dir, id, opts, result);
    free(id);
    return rc;
}

int logshare_outbox_add(logshare *ls, const logshare_share_options *opts, char **outbox_id)
{
    if (outbox_id)
        *outbox_id = NULL;
    if (!ls || !opts || !outbox_id)
        return LOGSHARE_EINVAL;
    if (sodium_init() < 0)
        return LOGSHARE_EINTERNAL;
    logshare_support_file *sf = NULL;
    size_t n = 0;
    int rc = opts->include_logs ? logshare_get_support_files(ls, &sf, &n) : 0;
    rc = rc ? rc : queue_common(share_store_dir(ls), sf, n, opts, 0, outbox_id);
    logshare_support_files_free(sf, n);
    return rc;
}

int logshare_outbox_add_dir(const char *dir, const logshare_share_options *opts, char **outbox_id)
{
    if (outbox_id)
        *outbox_id = NULL;
    if (!dir || !*dir || !opts || !outbox_id)
        return LOGSHARE_EINVAL;
    if (sodium_init() < 0)
        return LOGSHARE_EINTERNAL;
    logshare_support_file *sf = NULL;
    size_t n = 0;
    int rc = opts->include_logs ? logshare_list_support_files(dir, &sf, &n) : 0;
    rc = rc ? rc : queue_common(dir, sf, n, opts, 0, outbox_id);
    logshare_support_files_free(sf, n);
    return rc;
}

int logshare_flush_outbox(logshare *ls, const logshare_share_options *opts, unsigned flags,
                          size_t *sent, size_t *left)
{
    if (!ls) {
        if (sent)
            *sent = 0;
        if (left)
            *left = 0;
        return LOGSHARE_EINVAL;
    }
    return logshare_outbox_flush_dir(share_store_dir(ls), opts, flags, sent, left);
}

int logshare_outbox_flush_dir(const char *dir, const logshare_share_options *opts, unsigned flags,
                              size_t *sent, size_t *left)
{
    if (sent)
        *sent = 0;
    if (left)
        *left = 0;
    if (!dir || !*dir || !opts || !opts->server_url || !opts->token)
        return LOGSHARE_EINVAL;
    if (sodium_init() < 0)
        return LOGSHARE_EINTERNAL;
    unsigned f = (flags & LOGSHARE_OUTBOX_FORCE) ? OUTBOX_FLUSH_FORCE : 0;
    return outbox_flush(dir, opts, f, NULL, sent, left);
}

int logshare_outbox_remove(const char *dir, const char *outbox_id)
{
    if (!dir || !*dir || !outbox_id)
        return LOGSHARE_EINVAL;
    return outbox_remove(dir, outbox_id);
}

static json_t *item_json(const outbox_item *it)
{
    char buf[LS_TIME_RFC3339_LEN];
    json_t *calls = json_array();
    for (size_t i = 0; calls && i < it->fields.call_id_count; i++)
        json_array_append_new(calls, json_string(it->fields.call_ids[i]));
    json_t *o = json_pack(
        "{s:s, s:s, s:s?, s:s?, s:o, s:I, s:I, s:i, s:s, s:i}", "id", it->id, "created_at",
        ls_time_format_rfc3339(it->created_us, 0, buf), "source", it->fields.source, "description",
        it->fields.description, "call_ids", calls ? calls : json_array(), "bytes",
        (json_int_t)it->bytes, "files", (json_int_t)it->files.count, "attempts", it->state.attempts,
        "status", it->state.failed ? "failed" : "pending", "http_status", it->state.http_status);
    if (!o)
        return NULL;
    if (it->state.next_attempt_us > 0 && !it->state.failed)
        json_object_set_new(o, "next_attempt_at",
                            json_string(ls_time_format_rfc3339(it->state.next_attempt_us, 0, buf)));
    if (it->state.error_code || it->state.error_message)
        json_object_set_new(o, "error",
                            json_pack("{s:s?, s:s?}", "code", it->state.error_code, "message",
                                      it->state.error_message));
    return o;
}

int logshare_outbox_list_json(const char *dir, char **json)
{
    if (json)
        *json = NULL;
    if (!dir || !*dir || !json)
        return LOGSHARE_EINVAL;
    outbox_item **items = NULL;
    size_t n = 0;
    int rc = outbox_scan(dir, &items, &n);
    json_t *arr = rc ? NULL : json_array();
    if (rc == 0 && !arr)
        rc = LOGSHARE_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        json_t *o = item_json(items[i]);
        if (!o || json_array_append_new(arr, o) != 0)
            rc = LOGSHARE_ENOMEM;
    }
    if (rc == 0 && !(*json = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER)))
        rc = LOGSHARE_ENOMEM;
    json_decref(arr);
    outbox_items_free(items, n);
    return rc;
}
