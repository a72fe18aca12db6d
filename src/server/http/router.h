/*
 * router.h - matching a method and path against the route table
 * (http.h). Patterns are literal segments and {name} placeholders that
 * match exactly one non-empty segment; no regexes, no wildcards, so the
 * table reads as the API's own documentation.
 */
#ifndef LOGSHARED_ROUTER_H
#define LOGSHARED_ROUTER_H

#include "http/http.h"

enum router_result { ROUTER_FOUND, ROUTER_NO_PATH, ROUTER_NO_METHOD };

/* Finds the route for method and path; HEAD finds a GET route when no
 * route takes HEAD itself. On ROUTER_FOUND *route is set and
 * the placeholder values are copied into req->param_buf and pointed to
 * by req->params (req->n_params). A path longer than param_buf or with
 * more placeholders than HTTP_MAX_PARAMS never matches. */
enum router_result router_match(const http_route *routes, size_t n, const char *method,
                                const char *path, http_request *req, const http_route **route);

/* The first route whose pattern matches path, whatever its method, or
 * NULL: names a 405 in logs and metrics. Leaves req's params cleared. */
const http_route *router_path_owner(const http_route *routes, size_t n, const char *path,
                                    http_request *req);

/* The methods some route takes for path, for a 405's Allow header:
 * "GET, PATCH, HEAD" (HEAD wherever GET is, since a GET route answers
 * HEAD). Written into out (cap bytes, NUL-terminated, methods that do
 * not fit are left out). Leaves req's params cleared. */
void router_allowed(const http_route *routes, size_t n, const char *path, http_request *req,
                    char *out, size_t cap);

#endif
