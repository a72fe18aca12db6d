/*
 * api_tickets.c - reading and changing tickets: GET one (owner or
 * support), GET the list (support; filters and cursor paging), PATCH
 * status / assignee / note (support).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "logshare.h"

static int store_error(http_request *req, int rc, const char *id)
{
    if (rc == LOGSHARE_ENOENT)
        return http_respond_error(req, rc, 404, "no ticket %.60s", id ? id : "");
    if (rc == LOGSHARE_EINVAL)
        return http_respond_error(req, rc, 400, "invalid request");
    return http_respond_error(req, LOGSHARE_EUNAVAILABLE, 503, "database: %s",
                              logshare_strerror(rc));
}

int api_tickets_get(http_request *req)
{
    struct api_app *app = req->app;
    struct auth_identity who;
    if (api_authenticate(req, &who))
        return 0;
    const char *id = req->params[0];
    if (!ticket_id_valid(id))
        return store_error(req, LOGSHARE_ENOENT, id);
    struct ticket *t = NULL;
    int rc = ticket_store_get(app->tickets, id, &t);
    if (rc)
        return store_error(req, rc, id);
    if (!api_is_support(&who) && strcmp(t->user_id, who.user_id) != 0) {
        ticket_free(t);
        return http_respond_error(req, LOGSHARE_EPERM, 403, "not your ticket");
    }
    json_t *doc = api_ticket_json(req, t);
    ticket_free(t);
    return http_respond_json(req, 200, doc);
}

/* The text filters must be UTF-8, as everything stored is: PostgreSQL
 * refuses other bytes in a text parameter (the list answered 400 "bad
 * cursor" for "?q=%FF") while SQLite compared them and found nothing, so
 * the same request got different answers from the two stores. */
static int text_filters_check(http_request *req)
{
    static const char *const names[] = {"call_id", "user_id", "q"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = http_query(req, names[i]);
        if (v && !api_utf8_valid(v, strlen(v))) {
            http_respond_error(req, LOGSHARE_EINVAL, 400, "query parameter '%s' is not valid UTF-8",
                               names[i]);
            return LOGSHARE_EINVAL;
        }
    }
    return 0;
}

int api_tickets_list(http_request *req)
{
    struct api_app *app = req->app;
    struct auth_identity who;
    if (api_require_support(req, &who, "listing tickets"))
        return 0;
    static const char *const params[] = {"call_id", "user_id", "status", "q",
                                         "limit",   "cursor",  NULL};
    if (api_query_check(req, params))
        return 0;
    if (text_filters_check(req))
        return 0;
    struct ticket_filter f = {0};
    f.status = -1;
    f.call_id = http_query(req, "call_id");
    f.user_id = http_query(req, "user_id");
    f.q = http_query(req, "q");
    f.cursor = http_query(req, "cursor");
    const char *status = http_query(req, "status");
    if (status) {
        enum ticket_status st;
        if (ticket_status_parse(status, &st))
            return http_respond_error(req, LOGSHARE_EINVAL, 400,
                                      "status must be open, in_progress or closed");
        f.status = (int)st;
    }
    const char *limit = http_query(req, "limit");
    if (limit) {
        char *end;
        long v = strtol(limit, &end, 10);
        /* digits only: strtol would also take " 5" and "+5" */
        if (*limit < '0' || *limit > '9' || *end || v < 1 || v > TICKET_LIST_MAX_LIMIT)
            return http_respond_error(req, LOGSHARE_EINVAL, 400, "limit must be 1 to %d",
                                      TICKET_LIST_MAX_LIMIT);
        f.limit = (size_t)v;
    }
    struct ticket_list list = {0};
    int rc = ticket_store_list(app->tickets, &f, &list);
    if (rc == LOGSHARE_EINVAL)
        return http_respond_error(req, rc, 400, "bad cursor");
    if (rc)
        return store_error(req, rc, NULL);
    json_t *items = json_array();
    for (size_t i = 0; i < list.count; i++)
        json_array_append_new(items, api_ticket_json(req, list.items[i]));
    json_t *doc = json_pack("{s:o,s:s?}", "tickets", items, "next_cursor", list.next_cursor);
    if (!list.next_cursor)
        json_object_set_new(doc, "next_cursor", json_null());
    ticket_list_clear(&list);
    return http_respond_json(req, 200, doc);
}

#define MAX_PATCH_KEY 255

struct patch_state {
    struct auth_identity who;
    char idem_key[MAX_PATCH_KEY + 1]; /* "" without Idempotency-Key */
};

/* Idempotency-Key, as for creation: 1 to 255 visible ASCII characters.
 * A retry of a PATCH whose answer was lost then appends its note once. */
static int patch_key(http_request *req, struct patch_state *st)
{
    const char *key = http_header(req, "Idempotency-Key");
    if (!key)
        return 0;
    size_t n = strlen(key);
    int ok = n >= 1 && n <= MAX_PATCH_KEY;
    for (size_t i = 0; ok && i < n; i++)
        ok = key[i] > 32 && key[i] < 127;
    if (!ok) {
        http_respond_error(req, LOGSHARE_EINVAL, 400,
                           "Idempotency-Key must be 1 to 255 visible ASCII characters");
        return LOGSHARE_EINVAL;
    }
    memcpy(st->idem_key, key, n + 1);
    return 0;
}

int api_tickets_patch_begin(http_request *req)
{
    struct patch_state *st = calloc(1, sizeof *st);
    if (!st)
        return LOGSHARE_ENOMEM;
    req->state = st;
    if (api_require_support(req, &st->who, "changing tickets") || patch_key(req, st))
        return 0;
    const char *ct = http_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!api_media_type_is(ct, "application/json"))
        return http_respond_error(req, LOGSHARE_EUNSUPPORTED, 415, "expected application/json");
    return 0;
}

/* An assignee names a user, as a token's sub does (docs/api.md): 1 to
 * 255 bytes, no control characters. A newline in it would break the
 * dashboard's line and anything that prints it. NULL when fine, else why. */
static const char *assignee_problem(const char *a)
{
    size_t n = strlen(a);
    if (n > 255)
        return "assignee is longer than 255 bytes";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)a[i] < 0x20 || a[i] == 0x7F)
            return "assignee must not contain control characters";
    return NULL;
}

/* A note with nothing but blanks says nothing, like an empty one. */
static int blank(const char *s)
{
    for (; *s; s++)
        if (!strchr(" \t\r\n", *s))
            return 0;
    return 1;
}

/* {}: nothing to change. The ticket as it is, without the write that
 * would move updated_at for a change that did not happen. */
static int patch_nothing(http_request *req, const char *id)
{
    struct api_app *app = req->app;
    struct ticket *t = NULL;
    int rc = ticket_store_get(app->tickets, id, &t);
    if (rc)
        return store_error(req, rc, id);
    rc = http_respond_json(req, 200, api_ticket_json(req, t));
    ticket_free(t);
    return rc;
}

/* The update: one short transaction, run inline. */
static int patch_finish(http_request *req)
{
    struct api_app *app = req->app;
    struct patch_state *st = req->state;
    int rc = 0;
    json_t *doc = api_json_object_body(req, &rc);
    if (!doc)
        goto out;
    struct ticket_update u = TICKET_UPDATE_INIT;
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v)
    {
        /* the name first: {"foo": 1} is an unknown field, not a bad type */
        if (strcmp(key, "status") && strcmp(key, "assignee") && strcmp(key, "note")) {
            rc = http_respond_error(req, LOGSHARE_EINVAL, 400,
                                    "unknown field '%.40s' (status, assignee, note)", key);
            goto out;
        }
        if (!json_is_string(v) && !(json_is_null(v) && strcmp(key, "assignee") == 0)) {
            rc = http_respond_error(req, LOGSHARE_EINVAL, 400, "'%.40s' must be a string", key);
            goto out;
        }
        if (strcmp(key, "status") == 0) {
            enum ticket_status s;
            if (ticket_status_parse(json_string_value(v), &s)) {
                rc = http_respond_error(req, LOGSHARE_EINVAL, 400,
                                        "status must be open, in_progress or closed");
                goto out;
            }
            u.status = (int)s;
        } else if (strcmp(key, "assignee") == 0) {
            u.assignee = json_is_null(v) ? "" : json_string_value(v);
            const char *why = assignee_problem(u.assignee);
            if (why) {
                rc = http_respond_error(req, LOGSHARE_EINVAL, 400, "%s", why);
                goto out;
            }
        } else {
            u.note = json_string_value(v);
            u.note_author = st->who.user_id;
            if (blank(u.note)) {
                rc = http_respond_error(req, LOGSHARE_EINVAL, 400, "note is empty");
                goto out;
            }
        }
    }
    const char *id = req->params[0];
    if (json_object_size(doc) == 0) {
        rc = patch_nothing(req, id);
        goto out;
    }
    if (st->idem_key[0]) {
        u.idempotency_key = st->idem_key;
        u.key_user = st->who.user_id;
    }
    struct ticket *t = NULL;
    rc = ticket_id_valid(id) ? ticket_store_update(app->tickets, id, &u, &t) : LOGSHARE_ENOENT;
    if (rc) {
        rc = store_error(req, rc, id);
        goto out;
    }
    rc = http_respond_json(req, 200, api_ticket_json(req, t));
    ticket_free(t);
out:
    json_decref(doc);
    return rc;
}

void api_state_free(http_request *req, int ok)
{
    (void)ok;
    free(req->state);
    req->state = NULL;
}

int api_tickets_patch_end(http_request *req)
{
    return patch_finish(req);
}
