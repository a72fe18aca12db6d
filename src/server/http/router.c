/*
 * router.c - segment-by-segment matching of paths to routes (router.h).
 */
#include "http/router.h"

#include <stdio.h>
#include <string.h>

/* Matches one pattern; on success fills req's params. */
static int match_one(const char *pattern, const char *path, http_request *req)
{
    size_t used = 0, np = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p == '/' || *s == '/') {
            if (*p != *s)
                return 0;
            p++, s++;
            continue;
        }
        const char *pend = strchr(p, '/');
        const char *send = strchr(s, '/');
        size_t plen = pend ? (size_t)(pend - p) : strlen(p);
        size_t slen = send ? (size_t)(send - s) : strlen(s);
        if (p[0] == '{' && p[1] == '*') {
            /* {*rest}: the rest of the path, one or more segments (static
             * files of the dashboard); must be the pattern's last segment */
            size_t rlen = strlen(s);
            if (pend || rlen == 0 || np >= HTTP_MAX_PARAMS ||
                used + rlen + 1 > sizeof req->param_buf)
                return 0;
            memcpy(req->param_buf + used, s, rlen + 1);
            req->params[np++] = req->param_buf + used;
            req->n_params = np;
            return 1;
        }
        if (p[0] == '{') {
            if (slen == 0 || np >= HTTP_MAX_PARAMS || used + slen + 1 > sizeof req->param_buf)
                return 0;
            memcpy(req->param_buf + used, s, slen);
            req->param_buf[used + slen] = '\0';
            req->params[np++] = req->param_buf + used;
            used += slen + 1;
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return 0;
        }
        p += plen, s += slen;
    }
    if (*p || *s)
        return 0;
    req->n_params = np;
    return 1;
}

/* HEAD is GET without the body (RFC 9110 9.3.2): a GET route answers it
 * and libmicrohttpd leaves the body out. */
static int method_fits(const http_route *rt, const char *method)
{
    return strcmp(rt->method, method) == 0 ||
           (strcmp(method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0 &&
            !(rt->flags & HTTP_ROUTE_NO_HEAD));
}

enum router_result router_match(const http_route *routes, size_t n, const char *method,
                                const char *path, http_request *req, const http_route **route)
{
    int path_seen = 0, get_decided = 0;
    const http_route *get = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!match_one(routes[i].pattern, path, req))
            continue;
        path_seen = 1;
        if (strcmp(routes[i].method, method) == 0) {
            *route = &routes[i];
            return ROUTER_FOUND;
        }
        /* The GET that serves a path decides whether HEAD does: a later,
         * wider pattern (/log-requests/{id}) must not take a HEAD the
         * first one (/log-requests/stream) refuses. */
        if (!get_decided && method_fits(&routes[i], method))
            get = &routes[i];
        get_decided |= strcmp(routes[i].method, "GET") == 0;
    }
    if (get) { /* HEAD with no HEAD route of its own: match the GET again for params */
        match_one(get->pattern, path, req);
        *route = get;
        return ROUTER_FOUND;
    }
    req->n_params = 0;
    return path_seen ? ROUTER_NO_METHOD : ROUTER_NO_PATH;
}

const http_route *router_path_owner(const http_route *routes, size_t n, const char *path,
                                    http_request *req)
{
    const http_route *owner = NULL;
    for (size_t i = 0; i < n && !owner; i++)
        if (match_one(routes[i].pattern, path, req))
            owner = &routes[i];
    req->n_params = 0;
    return owner;
}

void router_allowed(const http_route *routes, size_t n, const char *path, http_request *req,
                    char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    int get = 0, get_decided = 0, head = 0;
    for (size_t i = 0; i < n; i++) {
        if (!match_one(routes[i].pattern, path, req))
            continue;
        const char *m = routes[i].method;
        if (!get_decided && strcmp(m, "GET") == 0) { /* as in router_match */
            get = !(routes[i].flags & HTTP_ROUTE_NO_HEAD);
            get_decided = 1;
        }
        head |= strcmp(m, "HEAD") == 0;
        size_t ml = strlen(m);
        /* the same method twice (two patterns matching one path) is listed once */
        int dup = 0;
        for (const char *p = out; !dup && (p = strstr(p, m)) != NULL; p += ml)
            dup = (p == out || p[-1] == ' ') && (p[ml] == ',' || p[ml] == '\0');
        if (dup || used + ml + 3 > cap)
            continue;
        used += (size_t)snprintf(out + used, cap - used, "%s%s", used ? ", " : "", m);
    }
    if (get && !head && used + 7 < cap)
        snprintf(out + used, cap - used, "%sHEAD", used ? ", " : "");
    req->n_params = 0;
}
