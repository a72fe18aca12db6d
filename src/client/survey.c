/*
 * survey.c - logshare_submit_survey: an end-of-call survey sent through
 * the outbox (see the push/surveys section of logshare.h).
 *
 * A survey is an outbox item like a report whose share_fields name the
 * endpoint /api/v1/surveys and carry the survey JSON as the extra form
 * field `survey` (the outbox's generic request, share.h).
 * Queuing first gives surveys the same guarantees as reports: durable
 * before the call returns, retried with the same Idempotency-Key, sent
 * once even when made offline. The JSON is only checked for shape here
 * (an object with a call_id); the server owns the scale and issue rules
 * so that one place decides them.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "logshare.h"
#include "ls_time.h"
#include "outbox.h"
#include "outbox_send.h"
#include "share.h"
#include "share_store.h"

/* Compact JSON of the survey, and whether it reports an issue. */
static int survey_prepare(const char *survey_json, char **compact, int *report_issue)
{
    *compact = NULL;
    if (!survey_json)
        return LOGSHARE_EINVAL;
    json_t *root = json_loads(survey_json, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(root) || !json_is_string(json_object_get(root, "call_id"))) {
        json_decref(root);
        return LOGSHARE_EINVAL;
    }
    *report_issue = json_is_true(json_object_get(root, "report_issue"));
    *compact = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return *compact ? 0 : LOGSHARE_ENOMEM;
}

static int survey_queue(const char *dir, const logshare_support_file *sf, size_t n,
                        const logshare_share_options *opts, const char *compact, int with_files,
                        char **id)
{
    share_fields fields = {0};
    share_file_list files = {0};
    int rc = share_fields_copy(&fields, &opts->fields);
    rc = rc ? rc : share_string_set(&fields.source, "survey");
    rc = rc ? rc : share_string_set(&fields.endpoint, "/api/v1/surveys");
    rc = rc ? rc : share_fields_add_extra(&fields, "survey", compact);
    for (size_t i = 0; with_files && opts->include_logs && rc == 0 && i < n; i++) {
        const char *slash = strrchr(sf[i].path, '/');
        rc = share_file_list_add(&files, sf[i].path, slash ? slash + 1 : sf[i].path, sf[i].stream,
                                 sf[i].size, sf[i].first_time_us, sf[i].last_time_us);
    }
    for (size_t i = 0; with_files && rc == 0 && i < opts->extra_files.count; i++) {
        const share_file *f = &opts->extra_files.items[i];
        rc = share_file_list_add(&files, f->path, f->name, f->stream, 0, 0, 0);
    }
    rc = rc ? rc
            : outbox_queue(dir, &fields, &files, opts->outbox_max_bytes, opts->outbox_max_items,
                           /* reserved for us for a minute: we send it right away, so
                            * a background sender should not race us for its lock */
                           ls_time_now_us() + 60 * 1000000LL, id);
    share_fields_clear(&fields);
    share_file_list_clear(&files);
    return rc;
}

static int survey_send(const char *dir, const char *id, const logshare_share_options *opts,
                       logshare_report_result **result)
{
    logshare_report_result *res = NULL;
    int rc = outbox_send_item(dir, id, opts, NULL, &res);
    if (rc == LOGSHARE_EBUSY && (res = report_result_new(id)) != NULL) {
        res->status = LOGSHARE_EQUEUED; /* another process is sending it */
        rc = 0;
    }
    if (rc)
        return rc;
    int status = res->status;
    if (result)
        *result = res;
    else
        logshare_report_result_free(res);
    return status;
}

static int survey_submit(const char *dir, logshare *ls, const logshare_share_options *opts,
                         const char *survey_json, logshare_report_result **result)
{
    if (result)
        *result = NULL;
    if (!dir || !*dir || !opts || !opts->server_url || !opts->token)
        return LOGSHARE_EINVAL;
    if (sodium_init() < 0)
        return LOGSHARE_EINTERNAL;
    char *compact;
    int report_issue;
    int rc = survey_prepare(survey_json, &compact, &report_issue);
    if (rc)
        return rc;
    logshare_support_file *sf = NULL;
    size_t n = 0;
    if (report_issue && opts->include_logs) {
        rc = ls ? logshare_get_support_files(ls, &sf, &n)
                : logshare_list_support_files(dir, &sf, &n);
        if (rc == LOGSHARE_ENOENT && !ls)
            rc = 0; /* no log files yet: the survey still goes */
    }
    char *id = NULL;
    rc = rc ? rc : survey_queue(dir, sf, n, opts, compact, report_issue, &id);
    logshare_support_files_free(sf, n);
    free(compact);
    rc = rc ? rc : survey_send(dir, id, opts, result);
    free(id);
    return rc;
}

int logshare_submit_survey(logshare *ls, const logshare_share_options *opts,
                           const char *survey_json, logshare_report_result **result)
{
    if (!ls) {
        if (result)
            *result = NULL;
        return LOGSHARE_EINVAL;
    }
    return survey_submit(share_store_dir(ls), ls, opts, survey_json, result);
}

int logshare_submit_survey_dir(const char *dir, const logshare_share_options *opts,
                               const char *survey_json, logshare_report_result **result)
{
    return survey_submit(dir, NULL, opts, survey_json, result);
}
