/*
 * outbox_json.c - reads and writes request.json and state.json of an
 * outbox item (see outbox_json.h). A file that does not parse is
 * LOGSHARE_ECORRUPT: the item is reported, never guessed at.
 */
#include "outbox_json.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ls_buf.h"

static int put(json_t *o, const char *k, json_t *v)
{
    return (v && json_object_set_new(o, k, v) == 0) ? 0 : LOGSHARE_ENOMEM;
}

static int put_str(json_t *o, const char *k, const char *v)
{
    return v ? put(o, k, json_string(v)) : 0;
}

static int dump(json_t *root, char **out)
{
    *out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    return *out ? 0 : LOGSHARE_ENOMEM;
}

int outbox_json_request(const char *id, const char *key, int64_t created_us, uint64_t bytes,
                        const share_fields *f, const share_file_list *files, char **out)
{
    json_t *root = json_object(), *fields = json_object(), *calls = json_array(),
           *list = json_array();
    int rc = (root && fields && calls && list) ? 0 : LOGSHARE_ENOMEM;
    rc = rc ? rc : put(root, "version", json_integer(1));
    rc = rc ? rc : put_str(root, "id", id);
    rc = rc ? rc : put_str(root, "idempotency_key", key);
    rc = rc ? rc : put(root, "created_us", json_integer(created_us));
    rc = rc ? rc : put(root, "bytes", json_integer((json_int_t)bytes));
    rc = rc ? rc : put_str(fields, "description", f->description);
    for (size_t i = 0; rc == 0 && i < f->call_id_count; i++)
        rc = json_array_append_new(calls, json_string(f->call_ids[i])) ? LOGSHARE_ENOMEM : 0;
    rc = rc ? rc : put(fields, "call_ids", json_incref(calls));
    rc = rc ? rc : put_str(fields, "customer_name", f->customer_name);
    rc = rc ? rc : put_str(fields, "customer_email", f->customer_email);
    rc = rc ? rc : put_str(fields, "app_version", f->app_version);
    rc = rc ? rc : put_str(fields, "platform", f->platform);
    rc = rc ? rc : put_str(fields, "source", f->source);
    rc = rc ? rc : put_str(fields, "log_request_id", f->log_request_id);
    rc = rc ? rc : put_str(root, "endpoint", f->endpoint);
    if (rc == 0 && f->extra_count) {
        json_t *extra = json_array();
        rc = extra ? 0 : LOGSHARE_ENOMEM;
        for (size_t i = 0; rc == 0 && i < f->extra_count; i++)
            rc = json_array_append_new(extra,
                                       json_pack("[s,s]", f->extra_names[i], f->extra_values[i]))
                     ? LOGSHARE_ENOMEM
                     : 0;
        rc = rc ? (json_decref(extra), rc) : put(fields, "extra", extra);
    }
    rc = rc ? rc : put(root, "fields", json_incref(fields));
    for (size_t i = 0; rc == 0 && i < files->count; i++) {
        const share_file *sf = &files->items[i];
        json_t *o =
            json_pack("{s:s, s:s, s:I, s:s, s:I, s:I}", "name", sf->name, "stream", sf->stream,
                      "size", (json_int_t)sf->size, "sha256", sf->sha256, "first_us",
                      (json_int_t)sf->first_us, "last_us", (json_int_t)sf->last_us);
        rc = (o && json_array_append_new(list, o) == 0) ? 0 : LOGSHARE_ENOMEM;
    }
    rc = rc ? rc : put(root, "files", json_incref(list));
    json_decref(calls);
    json_decref(fields);
    json_decref(list);
    if (rc) {
        json_decref(root);
        return rc;
    }
    return dump(root, out);
}

static int get_str(json_t *o, const char *k, char **slot)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return LOGSHARE_ECORRUPT;
    return share_string_set(slot, json_string_value(v));
}

int outbox_json_parse_request(const char *text, outbox_item *item)
{
    json_t *root = json_loads(text, 0, NULL);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return LOGSHARE_ECORRUPT;
    }
    int rc = 0;
    json_t *fields = json_object_get(root, "fields");
    json_t *files = json_object_get(root, "files");
    json_t *calls = json_object_get(fields, "call_ids");
    if (json_integer_value(json_object_get(root, "version")) != 1 || !json_is_object(fields) ||
        !json_is_array(files) || (calls && !json_is_array(calls)))
        rc = LOGSHARE_ECORRUPT;
    rc = rc ? rc : get_str(root, "id", &item->id);
    rc = rc ? rc : get_str(root, "idempotency_key", &item->idempotency_key);
    if (rc == 0 && (!item->id || !item->idempotency_key))
        rc = LOGSHARE_ECORRUPT;
    item->created_us = json_integer_value(json_object_get(root, "created_us"));
    item->bytes = (uint64_t)json_integer_value(json_object_get(root, "bytes"));
    share_fields *f = &item->fields;
    rc = rc ? rc : get_str(fields, "description", &f->description);
    rc = rc ? rc : get_str(fields, "customer_name", &f->customer_name);
    rc = rc ? rc : get_str(fields, "customer_email", &f->customer_email);
    rc = rc ? rc : get_str(fields, "app_version", &f->app_version);
    rc = rc ? rc : get_str(fields, "platform", &f->platform);
    rc = rc ? rc : get_str(fields, "source", &f->source);
    rc = rc ? rc : get_str(fields, "log_request_id", &f->log_request_id);
    rc = rc ? rc : get_str(root, "endpoint", &f->endpoint);
    json_t *extra = json_object_get(fields, "extra");
    size_t k;
    json_t *pair;
    json_array_foreach(extra, k, pair)
    {
        const char *n = json_string_value(json_array_get(pair, 0));
        const char *v = json_string_value(json_array_get(pair, 1));
        if (rc == 0)
            rc = (n && v) ? share_fields_add_extra(f, n, v) : LOGSHARE_ECORRUPT;
    }
    size_t i;
    json_t *v;
    json_array_foreach(calls, i, v)
    {
        if (rc == 0)
            rc = json_is_string(v) ? share_fields_add_call_id(f, json_string_value(v))
                                   : LOGSHARE_ECORRUPT;
    }
    json_array_foreach(files, i, v)
    {
        const char *name = json_string_value(json_object_get(v, "name"));
        const char *stream = json_string_value(json_object_get(v, "stream"));
        const char *sha = json_string_value(json_object_get(v, "sha256"));
        if (rc || !name || !stream || !sha || strlen(sha) != 64 || strchr(name, '/') ||
            name[0] == '.') {
            rc = rc ? rc : LOGSHARE_ECORRUPT;
            continue;
        }
        ls_buf p = LS_BUF_INIT;
        if (ls_buf_printf(&p, "%s/files/%s", item->dir, name)) {
            ls_buf_free(&p);
            rc = LOGSHARE_ENOMEM;
            continue;
        }
        rc = share_file_list_add(&item->files, p.data, name, stream,
                                 (uint64_t)json_integer_value(json_object_get(v, "size")),
                                 json_integer_value(json_object_get(v, "first_us")),
                                 json_integer_value(json_object_get(v, "last_us")));
        ls_buf_free(&p);
        if (rc == 0)
            memcpy(item->files.items[item->files.count - 1].sha256, sha, 65);
    }
    json_decref(root);
    return rc;
}

int outbox_json_state(const outbox_state *st, char **out)
{
    json_t *root = json_object();
    int rc = root ? 0 : LOGSHARE_ENOMEM;
    rc = rc ? rc : put(root, "version", json_integer(1));
    rc = rc ? rc : put(root, "attempts", json_integer(st->attempts));
    rc = rc ? rc : put(root, "next_attempt_us", json_integer(st->next_attempt_us));
    rc = rc ? rc : put(root, "last_attempt_us", json_integer(st->last_attempt_us));
    rc = rc ? rc : put_str(root, "status", st->failed ? "failed" : "pending");
    rc = rc ? rc : put(root, "http_status", json_integer(st->http_status));
    rc = rc ? rc : put_str(root, "error_code", st->error_code);
    rc = rc ? rc : put_str(root, "error_message", st->error_message);
    rc = rc ? rc : put_str(root, "ticket_id", st->ticket_id);
    rc = rc ? rc : put_str(root, "refused_token", st->refused_token);
    if (rc) {
        json_decref(root);
        return rc;
    }
    return dump(root, out);
}

int outbox_json_parse_state(const char *text, outbox_state *st)
{
    json_t *root = json_loads(text, 0, NULL);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return LOGSHARE_ECORRUPT;
    }
    st->attempts = (int)json_integer_value(json_object_get(root, "attempts"));
    st->next_attempt_us = json_integer_value(json_object_get(root, "next_attempt_us"));
    st->last_attempt_us = json_integer_value(json_object_get(root, "last_attempt_us"));
    const char *status = json_string_value(json_object_get(root, "status"));
    st->failed = status && strcmp(status, "failed") == 0;
    st->http_status = (int)json_integer_value(json_object_get(root, "http_status"));
    int rc = get_str(root, "error_code", &st->error_code);
    rc = rc ? rc : get_str(root, "error_message", &st->error_message);
    rc = rc ? rc : get_str(root, "ticket_id", &st->ticket_id);
    rc = rc ? rc : get_str(root, "refused_token", &st->refused_token);
    json_decref(root);
    return rc;
}
