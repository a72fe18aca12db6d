/*
 * share_options.c - the logshare_share_options object: ticket fields,
 * app attachments, server settings and callbacks for export, report and
 * the outbox (see the Sharing section of logshare.h).
 *
 * Defaults are chosen for a phone on a flaky network: a short connect
 * timeout, a low-speed abort instead of a total timeout (a large upload
 * on a slow link must be allowed to finish), and a few retries with
 * backoff before the report is left to the outbox.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outbox.h"
#include "share.h"

void share_options_defaults(logshare_share_options *o)
{
    memset(o, 0, sizeof *o);
    o->connect_timeout_ms = 10000;
    o->low_speed_bytes = 64;
    o->low_speed_seconds = 30;
    o->total_timeout_ms = 0;
    o->max_attempts = 4;
    o->backoff_base_ms = 500;
    o->backoff_max_ms = 30000;
    o->include_logs = 1;
    o->max_files_per_request = 32; /* logshared's default [limits] max_files */
    o->outbox_max_bytes = OUTBOX_DEFAULT_MAX_BYTES;
    o->outbox_max_items = OUTBOX_DEFAULT_MAX_ITEMS;
}

logshare_share_options *logshare_share_options_new(void)
{
    logshare_share_options *o = malloc(sizeof *o);
    if (!o)
        return NULL;
    share_options_defaults(o);
    return o;
}

void logshare_share_options_free(logshare_share_options *o)
{
    if (!o)
        return;
    share_fields_clear(&o->fields);
    share_file_list_clear(&o->extra_files);
    free(o->server_url);
    free(o->token);
    free(o->ca_file);
    free(o);
}

/* Field values travel in HTTP multipart bodies and JSON: refuse control
 * characters other than newline and tab, so nothing can smuggle a part
 * header or break a log line. */
static int text_ok(const char *s, int multiline)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n' || *p == '\t') {
            if (!multiline && *p == '\n')
                return 0;
            continue;
        }
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    }
    return 1;
}

/* Longest description we send: well under logshared's default 64 KiB
 * per form field, so a long text fails here, clearly, not as a 413 later. */
#define DESCRIPTION_MAX 32768

int logshare_share_options_set_description(logshare_share_options *o, const char *text)
{
    if (!o || (text && !text_ok(text, 1)))
        return LOGSHARE_EINVAL;
    if (text && strlen(text) > DESCRIPTION_MAX)
        return LOGSHARE_ETOOLARGE;
    return share_string_set(&o->fields.description, text);
}

int logshare_share_options_add_call_id(logshare_share_options *o, const char *id)
{
    if (!o || !id || !*id || strlen(id) > 256 || !text_ok(id, 0))
        return LOGSHARE_EINVAL;
    return share_fields_add_call_id(&o->fields, id);
}

int logshare_share_options_set_customer(logshare_share_options *o, const char *name,
                                        const char *email)
{
    if (!o || (name && !text_ok(name, 0)) || (email && !text_ok(email, 0)))
        return LOGSHARE_EINVAL;
    int rc = share_string_set(&o->fields.customer_name, name);
    return rc ? rc : share_string_set(&o->fields.customer_email, email);
}

int logshare_share_options_set_app(logshare_share_options *o, const char *app_version,
                                   const char *platform)
{
    if (!o || (app_version && !text_ok(app_version, 0)) || (platform && !text_ok(platform, 0)))
        return LOGSHARE_EINVAL;
    int rc = share_string_set(&o->fields.app_version, app_version);
    return rc ? rc : share_string_set(&o->fields.platform, platform);
}

int logshare_share_options_set_source(logshare_share_options *o, const char *source)
{
    static const char *const known[] = {"report", "survey", "push", "share"};
    if (!o || !source)
        return LOGSHARE_EINVAL;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(source, known[i]) == 0)
            return share_string_set(&o->fields.source, source);
    return LOGSHARE_EINVAL;
}

int logshare_share_options_set_log_request_id(logshare_share_options *o, const char *id)
{
    if (!o || (id && (!*id || !text_ok(id, 0))))
        return LOGSHARE_EINVAL;
    return share_string_set(&o->fields.log_request_id, id);
}

int logshare_share_options_add_file(logshare_share_options *o, const char *path, const char *name)
{
    if (!o || !path || !*path)
        return LOGSHARE_EINVAL;
    if (!name) {
        const char *slash = strrchr(path, '/');
        name = slash ? slash + 1 : path;
    }
    if (!*name)
        return LOGSHARE_EINVAL;
    return share_file_list_add(&o->extra_files, path, name, "attachment", 0, 0, 0);
}

int logshare_share_options_set_include_logs(logshare_share_options *o, int include)
{
    if (!o)
        return LOGSHARE_EINVAL;
    o->include_logs = include != 0;
    return 0;
}

int logshare_share_options_set_server(logshare_share_options *o, const char *url, const char *token)
{
    if (!o || !url || !token || !*url || !*token || !text_ok(token, 0))
        return LOGSHARE_EINVAL;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return LOGSHARE_EINVAL;
    int rc = share_string_set(&o->server_url, url);
    return rc ? rc : share_string_set(&o->token, token);
}

int logshare_share_options_set_ca_file(logshare_share_options *o, const char *path)
{
    if (!o)
        return LOGSHARE_EINVAL;
    return share_string_set(&o->ca_file, path);
}

int logshare_share_options_set_timeouts(logshare_share_options *o, long connect_ms,
                                        long low_speed_bytes, long low_speed_seconds, long total_ms)
{
    if (!o || connect_ms <= 0 || low_speed_bytes < 0 || low_speed_seconds < 0 || total_ms < 0)
        return LOGSHARE_EINVAL;
    o->connect_timeout_ms = connect_ms;
    o->low_speed_bytes = low_speed_bytes;
    o->low_speed_seconds = low_speed_seconds;
    o->total_timeout_ms = total_ms;
    return 0;
}

int logshare_share_options_set_retry(logshare_share_options *o, int max_attempts, long base_ms,
                                     long max_ms)
{
    if (!o || max_attempts < 1 || max_attempts > 100 || base_ms < 0 || max_ms < base_ms)
        return LOGSHARE_EINVAL;
    o->max_attempts = max_attempts;
    o->backoff_base_ms = base_ms;
    o->backoff_max_ms = max_ms;
    return 0;
}

int logshare_share_options_set_progress(logshare_share_options *o, logshare_progress_fn fn,
                                        void *user)
{
    if (!o)
        return LOGSHARE_EINVAL;
    o->progress = fn;
    o->progress_user = user;
    return 0;
}

int logshare_share_options_set_result_callback(logshare_share_options *o, logshare_result_fn fn,
                                               void *user)
{
    if (!o)
        return LOGSHARE_EINVAL;
    o->on_result = fn;
    o->on_result_user = user;
    return 0;
}

int logshare_share_options_set_outbox_limits(logshare_share_options *o, uint64_t max_bytes,
                                             unsigned max_items)
{
    if (!o || max_bytes == 0 || max_items == 0)
        return LOGSHARE_EINVAL;
    o->outbox_max_bytes = max_bytes;
    o->outbox_max_items = max_items;
    return 0;
}

int logshare_share_options_set_max_send_rate(logshare_share_options *o, uint64_t bytes_per_second)
{
    if (!o || bytes_per_second > (uint64_t)INT64_MAX)
        return LOGSHARE_EINVAL;
    o->max_send_rate = bytes_per_second;
    return 0;
}

int logshare_share_options_set_max_files_per_request(logshare_share_options *o, size_t max_files)
{
    if (!o || max_files < 2)
        return LOGSHARE_EINVAL;
    o->max_files_per_request = max_files;
    return 0;
}

/* Names the SPEC gives the ticket fields: set through their own setters. */
static int reserved_field(const char *name)
{
    static const char *const names[] = {"description",    "call_id",       "customer_name",
                                        "customer_email", "app_version",   "platform",
                                        "source",         "log_request_id"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return 1;
    return 0;
}

int logshare_share_options_add_form_field(logshare_share_options *o, const char *name,
                                          const char *value)
{
    if (!o || !name || !value || !*name || strlen(name) > 64 || reserved_field(name))
        return LOGSHARE_EINVAL;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return LOGSHARE_EINVAL;
    if (!text_ok(value, 1))
        return LOGSHARE_EINVAL;
    return share_fields_add_extra(&o->fields, name, value);
}

int logshare_share_options_set_endpoint(logshare_share_options *o, const char *path)
{
    if (!o)
        return LOGSHARE_EINVAL;
    if (path) {
        if (strncmp(path, "/api/v1/", 8) != 0 || strlen(path) > 200)
            return LOGSHARE_EINVAL;
        for (const char *p = path; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '/' || *p == '-' || *p == '_'))
                return LOGSHARE_EINVAL;
    }
    return share_string_set(&o->fields.endpoint, path);
}
