/*
 * api_common.c - what every handler shares: authentication with the
 * per-user rate limit, the ticket's JSON shape, and UTF-8 checks.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "api/dashboard.h"
#include "logshare.h"
#include "ls_time.h"
#include "push_service.h"

int api_authenticate(http_request *req, struct auth_identity *id)
{
    struct api_app *app = req->app;
    const char *reason = NULL;
    const char *authorization = http_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
    /* Authorization is a singleton (RFC 9110 11.6.2): with two, a proxy
     * in front may have checked one and we would read the other. */
    if (authorization && http_header_count(req, MHD_HTTP_HEADER_AUTHORIZATION) > 1) {
        http_respond_error(req, LOGSHARE_EAUTH, 401, "more than one Authorization header");
        return LOGSHARE_EAUTH;
    }
    /* The dashboard's browser has no bearer token: its session cookie
     * stands in for one (issue 6). ENOENT means no cookie either. */
    int rc = authorization ? LOGSHARE_ENOENT
                           : dashboard_session_identity(app->dashboard, req, id, &reason);
    if (rc == LOGSHARE_ENOENT)
        rc = auth_verify_header(app->auth, authorization, ls_time_now_us() / 1000000, id, &reason);
    /* A session that could not be looked up is not a refused one: 503,
     * so the browser keeps its session and tries again. */
    if (rc == LOGSHARE_EUNAVAILABLE) {
        http_respond_error(req, LOGSHARE_EUNAVAILABLE, 503, "%s", reason);
        return rc;
    }
    if (rc) {
        http_respond_error(req, LOGSHARE_EAUTH, 401, "%s",
                           reason ? reason : "missing or refused bearer token");
        return LOGSHARE_EAUTH;
    }
    int retry = 0;
    if (http_rate_limit_user(req, id->user_id, &retry)) {
        http_respond_rate_limited(req, retry);
        return LOGSHARE_ERATELIMIT;
    }
    return 0;
}

int api_is_support(const struct auth_identity *id)
{
    return id->role == AUTH_ROLE_SUPPORT || id->role == AUTH_ROLE_ADMIN;
}

int api_require_support(http_request *req, struct auth_identity *who, const char *what)
{
    int rc = api_authenticate(req, who);
    if (rc)
        return rc;
    if (api_is_support(who))
        return 0;
    http_respond_error(req, LOGSHARE_EPERM, 403, "%s needs the support role", what);
    return LOGSHARE_EPERM;
}

int api_query_choice(http_request *req, const char *name, const char *first, const char *second,
                     int *is_second)
{
    const char *v = http_query(req, name);
    *is_second = v && strcmp(v, second) == 0;
    if (v && !*is_second && strcmp(v, first) != 0) {
        http_respond_error(req, LOGSHARE_EINVAL, 400, "%s must be %s or %s", name, first, second);
        return LOGSHARE_EINVAL;
    }
    return 0;
}

int api_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned c = *p;
        size_t n;
        unsigned min;
        if (c == 0)
            return 0;
        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, min = 0x80, c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, min = 0x800, c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, min = 0x10000, c &= 0x07;
        } else {
            return 0;
        }
        if ((size_t)(end - p) <= n)
            return 0;
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return 0;
            c = (c << 6) | (p[i] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return 0;
        p += n + 1;
    }
    return 1;
}

static void set_str(json_t *o, const char *key, const char *v)
{
    json_object_set_new(o, key, v ? json_string(v) : json_null());
}

static json_t *time_json(int64_t us)
{
    char buf[LS_TIME_RFC3339_LEN];
    return json_string(ls_time_format_rfc3339(us, 0, buf));
}

/* The survey that created t, from the push database: the survey row
 * names its ticket (the ticket is committed first), so the ticket stores
 * need no column for it, in SQLite or PostgreSQL alike. Only tickets
 * with source "survey" are looked up; null for the others, and when the
 * lookup fails, because the ticket itself is still worth answering. */
static json_t *survey_id_json(struct api_app *app, const struct ticket *t)
{
    char id[PUSH_ID_MAX];
    if (!app->push || !t->source || strcmp(t->source, "survey") != 0 ||
        push_db_survey_id_for_ticket(push_service_db(app->push), t->id, id))
        return json_null();
    return json_string(id);
}

json_t *api_ticket_json(http_request *req, const struct ticket *t)
{
    struct api_app *app = req->app;
    json_t *o = json_object();
    set_str(o, "id", t->id);
    set_str(o, "status", ticket_status_name(t->status));
    json_object_set_new(o, "created_at", time_json(t->created_at));
    json_object_set_new(o, "updated_at", time_json(t->updated_at ? t->updated_at : t->created_at));
    set_str(o, "user_id", t->user_id);
    set_str(o, "description", t->description);
    json_t *calls = json_array();
    for (size_t i = 0; i < t->n_call_ids; i++)
        json_array_append_new(calls, json_string(t->call_ids[i]));
    json_object_set_new(o, "call_ids", calls);
    set_str(o, "customer_name", t->customer_name);
    set_str(o, "customer_email", t->customer_email);
    set_str(o, "app_version", t->app_version);
    set_str(o, "platform", t->platform);
    set_str(o, "source", t->source);
    set_str(o, "log_request_id", t->log_request_id);
    json_object_set_new(o, "survey_id", survey_id_json(app, t));
    set_str(o, "assignee", t->assignee);
    if (t->tracker_url)
        set_str(o, "tracker_url", t->tracker_url);
    /* Only for tickets queued for a tracker hand-off (created while one
     * was configured): "pending", "delivered" or "failed". */
    if (t->tracker_status)
        set_str(o, "tracker_status", t->tracker_status);
    json_t *notes = json_array();
    for (size_t i = 0; i < t->n_notes; i++) {
        json_t *n = json_object();
        set_str(n, "author", t->notes[i].author);
        set_str(n, "text", t->notes[i].text);
        json_object_set_new(n, "created_at", time_json(t->notes[i].created_at));
        json_array_append_new(notes, n);
    }
    json_object_set_new(o, "notes", notes);
    json_t *atts = json_array();
    for (size_t i = 0; i < t->n_attachments; i++) {
        const struct ticket_attachment *a = &t->attachments[i];
        json_t *j = json_object();
        set_str(j, "id", a->id);
        set_str(j, "name", a->name);
        json_object_set_new(j, "size", json_integer((json_int_t)a->size));
        set_str(j, "sha256", a->sha256);
        set_str(j, "content_type", a->content_type ? a->content_type : "application/octet-stream");
        char url[1024];
        snprintf(url, sizeof url, "%s/api/v1/tickets/%s/attachments/%s",
                 app->cfg->public_url ? app->cfg->public_url : "", t->id, a->id);
        set_str(j, "url", url);
        json_object_set_new(j, "created_at", time_json(a->created_at));
        json_array_append_new(atts, j);
    }
    json_object_set_new(o, "attachments", atts);
    return o;
}

int api_media_type_is(const char *ct, const char *want)
{
    if (!ct)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strlen(want);
    if (strncasecmp(ct, want, n) != 0)
        return 0;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';'; /* RFC 9110 8.3.1: parameters follow a ';' */
}

void api_json_error_describe(const json_error_t *e, char *out, size_t cap)
{
    const char *what;
    switch (json_error_code(e)) {
    case json_error_invalid_utf8:
        what = "invalid UTF-8";
        break;
    case json_error_premature_end_of_input:
        what = "premature end of input";
        break;
    case json_error_end_of_input_expected:
        what = "more text after the JSON value";
        break;
    case json_error_null_character:
    case json_error_null_byte_in_key:
        what = "a NUL character (\\u0000 is not allowed)";
        break;
    case json_error_duplicate_key:
        what = "a key given twice";
        break;
    case json_error_numeric_overflow:
        what = "a number out of range";
        break;
    case json_error_stack_overflow:
        what = "nested too deeply";
        break;
    default:
        what = "invalid syntax";
        break;
    }
    snprintf(out, cap, "%s at line %d, column %d (byte %d)", what, e->line, e->column, e->position);
}

json_t *api_json_object_body(http_request *req, int *rc)
{
    json_error_t jerr;
    json_t *doc =
        req->body ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!doc) {
        char why[160] = "empty";
        if (req->body)
            api_json_error_describe(&jerr, why, sizeof why);
        *rc = http_respond_error(req, LOGSHARE_EINVAL, 400, "body is not valid JSON: %s", why);
        return NULL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        *rc = http_respond_error(req, LOGSHARE_EINVAL, 400, "body must be a JSON object");
        return NULL;
    }
    return doc;
}
