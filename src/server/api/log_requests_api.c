/*
 * log_requests_api.c - HTTP handlers for log requests (see
 * log_requests_api.h). Who may do what: only support creates; a user
 * sees, streams and declines only their own requests (403 for another
 * user's, 404 for an unknown id); support sees all but cannot decline
 * for a user.
 */
#include "log_requests_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "log_request_json.h"
#include "logshare.h"
#include "ls_time.h"
#include "push_service.h"

static struct push_service *push_of(http_request *req)
{
    return ((struct api_app *)req->app)->push;
}

static int store_failed(http_request *req, int rc)
{
    if (rc == LOGSHARE_ENOMEM)
        return http_respond_error(req, rc, 500, "out of memory");
    return http_respond_error(req, LOGSHARE_EUNAVAILABLE, 503, "database: %s",
                              logshare_strerror(rc));
}

struct create_state {
    struct auth_identity who;
};

int api_log_requests_create_begin(http_request *req)
{
    struct create_state *st = calloc(1, sizeof *st);
    if (!st)
        return LOGSHARE_ENOMEM;
    req->state = st;
    if (api_require_support(req, &st->who, "creating log requests"))
        return 0;
    const char *ct = http_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!api_media_type_is(ct, "application/json"))
        return http_respond_error(req, LOGSHARE_EUNSUPPORTED, 415, "expected application/json");
    return 0;
}

static int printable_text(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || !api_utf8_valid(s, n))
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 && s[i] != '\n' && s[i] != '\t')
            return 0;
    return 1;
}

int api_log_requests_create_end(http_request *req)
{
    struct create_state *st = req->state;
    int rc = 0;
    json_t *doc = api_json_object_body(req, &rc);
    if (!doc)
        goto out;
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v)
    {
        if (strcmp(key, "user_id") && strcmp(key, "reason") && strcmp(key, "ticket_id") &&
            strcmp(key, "expires_in")) {
            rc = http_respond_error(req, LOGSHARE_EINVAL, 400,
                                    "unknown field '%.40s' (user_id, reason, ticket_id, "
                                    "expires_in)",
                                    key);
            goto out;
        }
    }
    json_t *user = json_object_get(doc, "user_id");
    json_t *reason = json_object_get(doc, "reason");
    json_t *ticket = json_object_get(doc, "ticket_id");
    json_t *expires = json_object_get(doc, "expires_in");
    /* The same rule as a token's sub: a user id no token can carry would
     * make a request nobody can ever see or answer. */
    if (!json_is_string(user) ||
        !api_utf8_valid(json_string_value(user), json_string_length(user)) ||
        auth_user_id_problem(json_string_value(user), json_string_length(user))) {
        rc = http_respond_error(req, LOGSHARE_EINVAL, 400,
                                "user_id is required: 1 to %d bytes of text without control "
                                "characters",
                                AUTH_USER_ID_MAX);
        goto out;
    }
    if (!json_is_string(reason) ||
        !printable_text(json_string_value(reason), LOG_REQUEST_MAX_REASON)) {
        rc = http_respond_error(req, LOGSHARE_EINVAL, 400,
                                "reason is required: 1 to %d bytes of text, what the user will "
                                "be asked",
                                LOG_REQUEST_MAX_REASON);
        goto out;
    }
    if (ticket && !json_is_null(ticket) &&
        (!json_is_string(ticket) || !ticket_id_valid(json_string_value(ticket)))) {
        rc = http_respond_error(req, LOGSHARE_EINVAL, 400, "ticket_id is not a ticket id");
        goto out;
    }
    if (json_is_string(ticket)) {
        /* The ticket the request is about must exist: a mistyped id would
         * link the logs that come back to nothing an agent can open. (It
         * may be another user's: the other side of the same call.) */
        struct api_app *app = req->app;
        struct ticket *t = NULL;
        int grc = ticket_store_get(app->tickets, json_string_value(ticket), &t);
        ticket_free(t);
        if (grc == LOGSHARE_ENOENT) {
            rc = http_respond_error(req, LOGSHARE_ENOENT, 404, "no ticket %s",
                                    json_string_value(ticket));
            goto out;
        }
        if (grc) {
            rc = store_failed(req, grc);
            goto out;
        }
    }
    json_int_t expires_in = LOG_REQUEST_DEFAULT_EXPIRES_S;
    if (expires && !json_is_null(expires)) {
        if (!json_is_integer(expires) || json_integer_value(expires) < 1 ||
            json_integer_value(expires) > LOG_REQUEST_MAX_EXPIRES_S) {
            rc = http_respond_error(req, LOGSHARE_EINVAL, 400, "expires_in must be 1 to %d seconds",
                                    LOG_REQUEST_MAX_EXPIRES_S);
            goto out;
        }
        expires_in = json_integer_value(expires);
    }
    struct log_request_new in = {json_string_value(user), json_string_value(reason),
                                 json_is_string(ticket) ? json_string_value(ticket) : NULL,
                                 st->who.user_id, (int64_t)expires_in};
    struct log_request r;
    rc = push_service_create_request(push_of(req), &in, &r);
    if (rc) {
        rc = store_failed(req, rc);
        goto out;
    }
    rc = http_respond_json(req, 201, log_request_json(&r));
    log_request_clear(&r);
out:
    json_decref(doc);
    return rc;
}

int api_log_requests_list(http_request *req)
{
    struct auth_identity who;
    if (api_authenticate(req, &who))
        return 0;
    static const char *const params[] = {"user_id", "status", "order", "limit",
                                         "after",   "before", NULL};
    if (api_query_check(req, params))
        return 0;
    int support = api_is_support(&who);
    const char *user = http_query(req, "user_id");
    if (!support) {
        if (user && strcmp(user, who.user_id) != 0)
            return http_respond_error(req, LOGSHARE_EPERM, 403,
                                      "a user may list only their own log requests");
        user = who.user_id;
    }
    int status = -1;
    const char *s = http_query(req, "status");
    if (s) {
        enum log_request_status ls;
        if (log_request_status_parse(s, &ls))
            return http_respond_error(req, LOGSHARE_EINVAL, 400,
                                      "status must be pending, fulfilled, declined or expired");
        status = (int)ls;
    }
    /* order=asc (default): oldest first, paged with after=next_after.
     * order=desc: newest first, paged with before=next_before, so the
     * dashboard can show the newest requests however many there are. */
    int desc;
    if (api_query_choice(req, "order", "asc", "desc", &desc))
        return 0;
    long limit = 100;
    long long cursor = 0;
    const char *l = http_query(req, "limit");
    const char *a = http_query(req, "after");
    const char *bq = http_query(req, "before");
    char *end;
    if (l) {
        limit = strtol(l, &end, 10);
        if (*end || end == l || limit < 1 || limit > 1000)
            return http_respond_error(req, LOGSHARE_EINVAL, 400, "limit must be 1 to 1000");
    }
    if ((a && desc) || (bq && !desc))
        return http_respond_error(req, LOGSHARE_EINVAL, 400,
                                  "after pages order=asc, before pages order=desc");
    const char *c = desc ? bq : a;
    if (c) {
        cursor = strtoll(c, &end, 10);
        if (*end || end == c || cursor < (desc ? 1 : 0))
            return http_respond_error(
                req, LOGSHARE_EINVAL, 400, "%s must be a %s value from a previous page",
                desc ? "before" : "after", desc ? "next_before" : "next_after");
    }
    struct log_request_list list;
    struct push_db *db = push_service_db(push_of(req));
    int rc = desc ? push_db_log_request_list_newest(db, user, status, cursor, (size_t)limit,
                                                    ls_time_now_us(), &list)
                  : push_db_log_request_list(db, user, status, cursor, (size_t)limit,
                                             ls_time_now_us(), &list);
    if (rc)
        return store_failed(req, rc);
    json_t *items = json_array();
    for (size_t i = 0; i < list.count; i++)
        json_array_append_new(items, log_request_json(&list.items[i]));
    json_t *doc = json_object();
    json_object_set_new(doc, "log_requests", items);
    json_object_set_new(doc, desc ? "next_before" : "next_after",
                        list.count == (size_t)limit
                            ? json_integer((json_int_t)list.items[list.count - 1].seq)
                            : json_null());
    log_request_list_clear(&list);
    return http_respond_json(req, 200, doc);
}

/* Loads the request named by the path, answering 404/403 itself. */
static int load_own(http_request *req, const struct auth_identity *who, int allow_support,
                    struct log_request *r)
{
    const char *id = req->params[0];
    int rc = push_id_valid(id)
                 ? push_db_log_request_get(push_service_db(push_of(req)), id, ls_time_now_us(), r)
                 : LOGSHARE_ENOENT;
    if (rc == LOGSHARE_ENOENT) {
        http_respond_error(req, rc, 404, "no log request %.60s", id);
        return rc;
    }
    if (rc) {
        store_failed(req, rc);
        return rc;
    }
    if (strcmp(r->user_id, who->user_id) != 0 && !(allow_support && api_is_support(who))) {
        log_request_clear(r);
        http_respond_error(req, LOGSHARE_EPERM, 403, "not your log request");
        return LOGSHARE_EPERM;
    }
    return 0;
}

int api_log_requests_get(http_request *req)
{
    struct auth_identity who;
    if (api_authenticate(req, &who))
        return 0;
    struct log_request r;
    if (load_own(req, &who, 1, &r))
        return 0;
    int rc = http_respond_json(req, 200, log_request_json(&r));
    log_request_clear(&r);
    return rc;
}

int api_log_requests_decline(http_request *req)
{
    struct auth_identity who;
    if (api_authenticate(req, &who))
        return 0;
    struct log_request r;
    if (load_own(req, &who, 0, &r))
        return 0;
    log_request_clear(&r);
    int rc = push_service_decline_request(push_of(req), req->params[0], who.user_id, &r);
    if (rc == LOGSHARE_ECONFLICT) {
        rc = http_respond_error(req, rc, 409, "the log request is already %s",
                                log_request_status_name(r.status));
        log_request_clear(&r);
        return rc;
    }
    if (rc)
        return store_failed(req, rc);
    rc = http_respond_json(req, 200, log_request_json(&r));
    log_request_clear(&r);
    return rc;
}

int api_log_requests_stream(http_request *req)
{
    struct auth_identity who;
    if (api_authenticate(req, &who))
        return 0;
    static const char *const params[] = {"last_event_id", NULL};
    if (api_query_check(req, params))
        return 0;
    /* Last-Event-ID is what EventSource sends on reconnect; the query
     * parameter is for clients that cannot set headers. */
    const char *last = http_header(req, "Last-Event-ID");
    if (!last)
        last = http_query(req, "last_event_id");
    long long last_id = 0;
    if (last && *last) {
        char *end;
        last_id = strtoll(last, &end, 10);
        if (*end || last_id < 0)
            return http_respond_error(req, LOGSHARE_EINVAL, 400,
                                      "Last-Event-ID must be an event id this server sent");
    }
    struct push_service *push = push_of(req);
    /* The stream ends when the token would no longer be accepted. */
    int64_t until = who.expires_at > 0
                        ? who.expires_at + auth_clock_skew_s(((struct api_app *)req->app)->auth)
                        : 0;
    struct MHD_Response *resp;
    int rc = push_service_subscribe(push, req->conn, who.user_id, until, last_id, &resp);
    if (rc == LOGSHARE_ERATELIMIT)
        /* Every 429 carries Retry-After (SPEC); a slot frees when one of
         * the user's streams closes, so the stream's own reconnect advice
         * ("retry: 3000") is as good a wait as any. */
        return http_respond_error_code(req, 429, "rate_limited", "Retry-After", "3",
                                       "too many open streams for this user");
    if (rc == LOGSHARE_EBUSY || rc == LOGSHARE_ECLOSED)
        return http_respond_error(req, LOGSHARE_EUNAVAILABLE, 503,
                                  "the server holds as many streams as it may");
    if (rc)
        return store_failed(req, rc);
    return http_respond(req, 200, resp);
}

int api_log_requests_check_for_ticket(http_request *req, const char *user_id,
                                      const char *log_request_id)
{
    int rc = push_id_valid(log_request_id)
                 ? push_db_log_request_check_owner(push_service_db(push_of(req)), log_request_id,
                                                   user_id)
                 : LOGSHARE_ENOENT;
    /* An id this server never issued (another deployment's, an app's own
     * label) is kept on the ticket as given and fulfils nothing; only
     * answering another user's request is refused. */
    if (rc == LOGSHARE_ENOENT)
        return 0;
    if (rc == LOGSHARE_EPERM)
        http_respond_error(req, rc, 403, "log request %.60s is not yours", log_request_id);
    else if (rc)
        store_failed(req, rc);
    return rc;
}

void api_log_requests_ticket_stored(http_request *req, const char *user_id,
                                    const char *log_request_id, const char *ticket_id)
{
    int rc = push_service_ticket_created(push_of(req), user_id, log_request_id, ticket_id);
    if (rc && rc != LOGSHARE_ECONFLICT && rc != LOGSHARE_ENOENT)
        fprintf(stderr,
                "level=warn msg=\"log request not marked fulfilled\" log_request=%s ticket=%s "
                "error=%s\n",
                log_request_id, ticket_id, logshare_error_name(rc));
}
