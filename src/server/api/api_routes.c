/*
 * api_routes.c - the route table of HTTP API v1: what exists, which
 * handler answers, and whether it takes a streamed upload or a JSON
 * body. docs/api.md documents the same table for clients. Routes that
 * later issues add (log requests and their SSE stream, surveys, the
 * dashboard) go here too.
 */
#include "api/api.h"
#include "log_requests_api.h"
#include "surveys_api.h"
#include "api/dashboard.h"

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
    /* log requests (push) and surveys: log_requests_api.h, surveys_api.h */
    {"POST",
     "/api/v1/log-requests",
     "log_requests_create",
     HTTP_ROUTE_JSON_BODY,
     {api_log_requests_create_begin, NULL, api_log_requests_create_end, api_state_free}},
    {"GET",
     "/api/v1/log-requests",
     "log_requests_list",
     0,
     {api_log_requests_list, NULL, NULL, NULL}},
    {"GET",
     "/api/v1/log-requests/stream",
     "log_requests_stream",
     HTTP_ROUTE_NO_HEAD,
     {api_log_requests_stream, NULL, NULL, NULL}},
    {"GET",
     "/api/v1/log-requests/{id}",
     "log_requests_get",
     0,
     {api_log_requests_get, NULL, NULL, NULL}},
    {"POST",
     "/api/v1/log-requests/{id}/decline",
     "log_requests_decline",
     0,
     {api_log_requests_decline, NULL, NULL, NULL}},
    {"POST",
     "/api/v1/surveys",
     "surveys_create",
     HTTP_ROUTE_UPLOAD,
     {api_surveys_create_begin, api_surveys_create_body, api_surveys_create_end,
      api_surveys_create_cleanup}},
    {"GET", "/api/v1/surveys/stats", "surveys_stats", 0, {api_surveys_stats, NULL, NULL, NULL}},
    {"GET", "/api/v1/surveys", "surveys_list", 0, {api_surveys_list, NULL, NULL, NULL}},
    /* The support dashboard (api/dashboard.h). */
    {"GET", "/", "dashboard_root", 0, {NULL, NULL, dashboard_root_get, NULL}},
    {"GET", "/dashboard", "dashboard_root", 0, {NULL, NULL, dashboard_root_get, NULL}},
    {"GET", "/dashboard/", "dashboard_index", 0, {NULL, NULL, dashboard_index_get, NULL}},
    {"GET",
     "/dashboard/session",
     "dashboard_session",
     0,
     {NULL, NULL, dashboard_session_get, NULL}},
    {"POST",
     "/dashboard/login",
     "dashboard_login",
     HTTP_ROUTE_JSON_BODY,
     {dashboard_login_begin, NULL, dashboard_login_end, NULL}},
    {"POST",
     "/dashboard/logout",
     "dashboard_logout",
     HTTP_ROUTE_JSON_BODY,
     {NULL, NULL, dashboard_logout_end, NULL}},
    {"GET", "/dashboard/{file}", "dashboard_file", 0, {NULL, NULL, dashboard_file_get, NULL}},
    {"GET", "/dashboard/{dir}/{file}", "dashboard_file", 0, {NULL, NULL, dashboard_file_get, NULL}},
    {"GET",
     "/api/v1/tickets/{id}/attachments/{aid}/log",
     "attachments_log",
     0,
     {NULL, NULL, dashboard_log_get, NULL}},
};

const http_route *api_routes(size_t *n)
{
    *n = sizeof routes / sizeof routes[0];
    return routes;
}
