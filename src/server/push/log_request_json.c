/* log_request_json.c - a log request as JSON (see log_request_json.h). */
#include "log_request_json.h"

#include <stdlib.h>

#include "ls_time.h"

static json_t *time_or_null(int64_t us)
{
    char buf[LS_TIME_RFC3339_LEN];
    return us ? json_string(ls_time_format_rfc3339(us, 0, buf)) : json_null();
}

static json_t *text_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *log_request_json(const struct log_request *r)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = 0;
    bad |= json_object_set_new(o, "id", json_string(r->id));
    bad |= json_object_set_new(o, "user_id", text_or_null(r->user_id));
    bad |= json_object_set_new(o, "reason", text_or_null(r->reason));
    bad |= json_object_set_new(o, "ticket_id", text_or_null(r->ticket_id));
    bad |= json_object_set_new(o, "status", json_string(log_request_status_name(r->status)));
    bad |= json_object_set_new(o, "created_by", text_or_null(r->created_by));
    bad |= json_object_set_new(o, "created_at", time_or_null(r->created_at));
    bad |= json_object_set_new(o, "expires_at", time_or_null(r->expires_at));
    bad |= json_object_set_new(o, "updated_at", time_or_null(r->updated_at));
    bad |= json_object_set_new(o, "fulfilled_ticket_id", text_or_null(r->fulfilled_ticket_id));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *log_request_json_text(const struct log_request *r)
{
    json_t *o = log_request_json(r);
    if (!o)
        return NULL;
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}
