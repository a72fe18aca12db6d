/*
 * api_query.c - the strict reading of a query string. libmicrohttpd
 * hands handlers one value per name (the first) and cuts values at a
 * NUL, so without this check "?callid=c-1" listed every ticket
 * unfiltered, "?limit=1&limit=2" used whichever came first and
 * "?q=Call%00zzz" searched for "Call". Every parameter an endpoint does
 * not know, any given twice, any without a value ("?call_id") and any
 * with a NUL byte are refused instead, naming the parameter (docs/api.md
 * "Conventions").
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "logshare.h"

struct query_scan {
    const char *const *names;
    const char *seen[API_QUERY_MAX_NAMES]; /* names[] entries met so far */
    size_t n_seen;
    char *msg;
    size_t cap;
};

/* A client's parameter name, made safe to quote: printable ASCII, at
 * most 40 bytes. */
static void quote_name(const char *key, size_t len, char *out, size_t cap)
{
    size_t n = len < 40 ? len : 40;
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)key[i] < 32 || (unsigned char)key[i] > 126 ? '?' : key[i];
    out[n] = '\0';
}

/* The names an endpoint takes, for "unknown query parameter" messages. */
static void list_names(const char *const *names, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; names[i] && o < cap; i++) {
        int n = snprintf(out + o, cap - o, "%s%s", i ? ", " : "", names[i]);
        if (n < 0)
            break;
        o += (size_t)n;
    }
}

static enum MHD_Result scan_one(void *cls, enum MHD_ValueKind kind, const char *key,
                                size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    struct query_scan *q = cls;
    /* "?&limit=1" and "a=1&&b=2": an empty piece names nothing, and
     * URL parsers (WHATWG URLSearchParams) skip it too */
    if (key_size == 0 && value_size == 0)
        return MHD_YES;
    char name[48];
    quote_name(key ? key : "", key ? key_size : 0, name, sizeof name);
    if (!key || strlen(key) != key_size) {
        snprintf(q->msg, q->cap, "query parameter name '%s' contains a NUL byte", name);
        return MHD_NO;
    }
    const char *known = NULL;
    for (size_t i = 0; q->names[i] && !known; i++)
        if (strcmp(q->names[i], key) == 0)
            known = q->names[i];
    if (!known) {
        char list[256];
        list_names(q->names, list, sizeof list);
        snprintf(q->msg, q->cap, "unknown query parameter '%s' (%s)", name,
                 list[0] ? list : "this endpoint takes none");
        return MHD_NO;
    }
    for (size_t i = 0; i < q->n_seen; i++)
        if (q->seen[i] == known) {
            snprintf(q->msg, q->cap, "query parameter '%s' is given twice", known);
            return MHD_NO;
        }
    if (q->n_seen < API_QUERY_MAX_NAMES)
        q->seen[q->n_seen++] = known;
    /* "?status" (no '='): a handler's lookup finds no value and would
     * drop the filter, listing every ticket; "?status=" is a value (an
     * empty one) that the endpoint checks */
    if (!value) {
        snprintf(q->msg, q->cap, "query parameter '%s' has no value ('%s=...')", known, known);
        return MHD_NO;
    }
    if (strlen(value) != value_size) {
        snprintf(q->msg, q->cap, "query parameter '%s' contains a NUL byte", known);
        return MHD_NO;
    }
    return MHD_YES;
}

int api_query_problem(http_request *req, const char *const *names, char *msg, size_t cap)
{
    struct query_scan q = {.names = names, .msg = msg, .cap = cap};
    msg[0] = '\0';
    MHD_get_connection_values_n(req->conn, MHD_GET_ARGUMENT_KIND, scan_one, &q);
    return msg[0] ? LOGSHARE_EINVAL : 0;
}

int api_query_check(http_request *req, const char *const *names)
{
    char msg[400];
    if (!api_query_problem(req, names, msg, sizeof msg))
        return 0;
    http_respond_error(req, LOGSHARE_EINVAL, 400, "%s", msg);
    return LOGSHARE_EINVAL;
}
