/*
 * api.h - the HTTP API v1 handlers (SPEC "HTTP API v1") on top of the
 * HTTP layer (http/http.h) and the back ends (blob store, ticket store,
 * auth). main.c builds one struct api_app and serves api_routes().
 *
 * Who may do what is decided here, in one place per handler: owner
 * (the ticket's user_id == the token's sub), support and admin roles.
 */
#ifndef LOGSHARED_API_H
#define LOGSHARED_API_H

#include <jansson.h>

#include "auth.h"
#include "blob_store.h"
#include "config/server_config.h"
#include "http/http.h"
#include "ticket_store.h"

/* Everything a handler needs; borrowed by the server for its lifetime. */
struct push_service;

struct api_app {
    const server_config *cfg;
    struct blob_store *blobs;
    struct ticket_store *tickets;
    struct auth *auth;
    struct push_service *push;   /* log requests and surveys (push/push_service.h) */
    struct dashboard *dashboard; /* sessions, logins, log viewer (api/dashboard.h) */
};

/* The route table (static storage). */
const http_route *api_routes(size_t *n);

/* Verifies the bearer token and charges the user's rate limit. 0 and
 * *id; otherwise the request has been answered (401 or 429) and the
 * error is returned. A request without an Authorization header may
 * instead carry a dashboard session cookie (with the CSRF token on
 * changes; see dashboard_session_identity in api/dashboard.h). */
int api_authenticate(http_request *req, struct auth_identity *id);

/* 1 for support and admin. */
int api_is_support(const struct auth_identity *id);

/* api_authenticate, then the support role: 0 when *who is support or
 * admin. Otherwise the request has been answered (401, 429, or 403
 * "<what> needs the support role") and an error is returned; the
 * handler returns 0 at once. */
int api_require_support(http_request *req, struct auth_identity *who, const char *what);

/* A query parameter with two values: *second 0 when it is absent or
 * first, 1 when it is second. Anything else is answered 400 "<name>
 * must be <first> or <second>" and an error is returned. */
int api_query_choice(http_request *req, const char *name, const char *first, const char *second,
                     int *is_second);

/* Query strings are read strictly (api_query.c): names is the
 * NULL-terminated list of the parameters the endpoint takes (at most
 * API_QUERY_MAX_NAMES), each at most once. 0 when the query keeps to
 * it; otherwise LOGSHARE_EINVAL with a message naming the parameter
 * (unknown, given twice, or with a NUL byte) in msg. */
#define API_QUERY_MAX_NAMES 16
int api_query_problem(http_request *req, const char *const *names, char *msg, size_t cap);
/* Same, answering 400 invalid_argument itself; the handler returns 0
 * at once when it fails. */
int api_query_check(http_request *req, const char *const *names);

/* A JSON body jansson refused, described for a client: where and what,
 * in plain words (jansson's own text names its flags, such as
 * "JSON_ALLOW_NUL"). */
void api_json_error_describe(const json_error_t *e, char *out, size_t cap);
/* The request's body as a JSON object (new reference), duplicate keys
 * refused. NULL when it is empty, not JSON or not an object: then 400
 * invalid_argument is answered and *rc is what the handler returns. */
json_t *api_json_object_body(http_request *req, int *rc);

/* The ticket as JSON (SPEC "A ticket in JSON"). New reference. */
json_t *api_ticket_json(http_request *req, const struct ticket *t);

/* ---- file names ---------------------------------------------------- */

/* The client's file name kept as the user sent it, but safe to store and
 * to put in JSON: invalid UTF-8 and control characters become U+FFFD;
 * "../" and the like stay (the name never reaches a file system path).
 * New string, caller frees; NULL on ENOMEM. */
char *api_filename_preserve(const char *raw);

/* A name safe for Content-Disposition and any file system: the last path
 * segment, no control characters, no / \ : * ? " < > | %, no leading
 * dots, at most 200 bytes cut at a UTF-8 boundary, "file" when nothing
 * is left. ascii (may be NULL) gets the same with non-ASCII as '_'. */
void api_filename_safe(const char *name, char *out, size_t cap, char *ascii, size_t ascii_cap);

/* 1 when s is valid UTF-8 without NUL. */
int api_utf8_valid(const char *s, size_t len);

/* 1 when the Content-Type header value ct (may be NULL) is exactly the
 * media type want (case-insensitive), alone or followed by parameters
 * ("application/json; charset=utf-8"); "application/jsonx" is not. */
int api_media_type_is(const char *ct, const char *want);

/* ---- header values -------------------------------------------------- */

/* Parses a Range header value, "bytes=a-b", "bytes=a-" or "bytes=-n",
 * against size (the unit in any case, RFC 9110 14.1; empty list elements
 * and white space around elements ignored, RFC 9110 5.6.1.2). Returns 1
 * and the range, 0 to serve the whole file (absent / several ranges /
 * malformed: RFC 9110 lets us ignore it), -1 when unsatisfiable. */
int api_parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len);

/* ---- routes (defined in their files) ------------------------------- */

int api_tickets_create_begin(http_request *req);
int api_tickets_add_attachments_begin(http_request *req);
int api_upload_body(http_request *req, const char *data, size_t len);
int api_upload_end(http_request *req);
void api_upload_cleanup(http_request *req, int ok);

int api_tickets_get(http_request *req);
int api_tickets_list(http_request *req);
int api_tickets_patch_begin(http_request *req);
int api_tickets_patch_end(http_request *req);

int api_attachment_get(http_request *req);
int api_attachment_link_begin(http_request *req);
int api_attachment_link_end(http_request *req);

/* A cleanup op for routes whose state is one malloc'd block. */
void api_state_free(http_request *req, int ok);

int api_healthz(http_request *req);
int api_readyz(http_request *req);
int api_metrics(http_request *req);

#endif
