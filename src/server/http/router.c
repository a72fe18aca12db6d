/*
 * router.c - segment-by-segment matching of paths to routes (router.h).
 */
#include "http/router.h"

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

enum router_result router_match(const http_route *routes, size_t n, const char *method,
                                const char *path, http_request *req, const http_route **route)
{
    int path_seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (!match_one(routes[i].pattern, path, req))
            continue;
        path_seen = 1;
        if (strcmp(routes[i].method, method) == 0) {
            *route = &routes[i];
            return ROUTER_FOUND;
        }
    }
    req->n_params = 0;
    return path_seen ? ROUTER_NO_METHOD : ROUTER_NO_PATH;
}
