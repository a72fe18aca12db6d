/*
 * api_routes.c - the route table of HTTP API v1: what exists, which
 * handler answers, and whether it takes a streamed upload or a JSON
 * body. docs/api.md documents the same table for clients. Routes that
 * later issues add (log requests and their SSE stream, surveys, the
 * dashboard) go here too.
 */
#include "api/api.h"

#include <stddef.h>

static const http_route routes[] = {
    {"GET", "/healthz", "healthz", 0, {api_healthz, NULL, NULL, NULL}},
    {"GET", "/readyz", "readyz", 0, {api_readyz, NULL, NULL, NULL}},
    {"GET", "/metrics", "metrics", 0, {api_metrics, NULL, NULL, NULL}},
    {"POST",
     "/api/v1/tickets",
     "tickets_create",
     HTTP_ROUTE_UPLOAD,
     {api_tickets_create_begin, api_upload_body, api_upload_end, api_upload_cleanup}},
    {"POST",
     "/createCallSupportTicket",
     "tickets_create_alias",
     HTTP_ROUTE_UPLOAD,
     {api_tickets_create_begin, api_upload_body, api_upload_end, api_upload_cleanup}},
    {"GET", "/api/v1/tickets", "tickets_list", 0, {api_tickets_list, NULL, NULL, NULL}},
    {"GET", "/api/v1/tickets/{id}", "tickets_get", 0, {api_tickets_get, NULL, NULL, NULL}},
    {"PATCH",
     "/api/v1/tickets/{id}",
     "tickets_patch",
     HTTP_ROUTE_JSON_BODY,
     {api_tickets_patch_begin, NULL, api_tickets_patch_end, api_state_free}},
    {"POST",
     "/api/v1/tickets/{id}/attachments",
     "attachments_add",
     HTTP_ROUTE_UPLOAD,
     {api_tickets_add_attachments_begin, api_upload_body, api_upload_end, api_upload_cleanup}},
    {"GET",
     "/api/v1/tickets/{id}/attachments/{aid}",
     "attachments_get",
     0,
     {api_attachment_get, NULL, NULL, NULL}},
    {"POST",
     "/api/v1/tickets/{id}/attachments/{aid}/link",
     "attachments_link",
     HTTP_ROUTE_JSON_BODY,
     {api_attachment_link_begin, NULL, api_attachment_link_end, api_state_free}},
};

const http_route *api_routes(size_t *n)
{
    *n = sizeof routes / sizeof routes[0];
    return routes;
}
