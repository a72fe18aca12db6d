/*
 * log_requests_api.h - the HTTP handlers for support's requests for
 * logs (SPEC "HTTP API v1"):
 *
 *   POST /api/v1/log-requests              support: {"user_id", "reason",
 *                                          "ticket_id"?, "expires_in"? (s)}
 *   GET  /api/v1/log-requests              a user: their own; support: all
 *                                          (filters status, user_id;
 *                                          paging limit, after)
 *   GET  /api/v1/log-requests/stream       a user: server-sent events
 *   GET  /api/v1/log-requests/{id}         the owner or support
 *   POST /api/v1/log-requests/{id}/decline the owner
 *
 * The state lives in push/ (push_service.h); these only check who may
 * do what and shape the JSON.
 */
#ifndef LOG_REQUESTS_API_H
#define LOG_REQUESTS_API_H

#include "http/http.h"

int api_log_requests_create_begin(http_request *req);
int api_log_requests_create_end(http_request *req);
int api_log_requests_list(http_request *req);
int api_log_requests_stream(http_request *req);
int api_log_requests_get(http_request *req);
int api_log_requests_decline(http_request *req);

/* For the ticket API, before it stores a ticket naming log_request_id
 * for user_id: 0 when the request is the user's or unknown here (the id
 * is then kept on the ticket and fulfils nothing); otherwise the request
 * has been answered (403 another user's, 503) and the error is
 * returned. */
int api_log_requests_check_for_ticket(http_request *req, const char *user_id,
                                      const char *log_request_id);

/* After the ticket is committed: marks the request fulfilled. A
 * request already answered stays as it is (the ticket stands). */
void api_log_requests_ticket_stored(http_request *req, const char *user_id,
                                    const char *log_request_id, const char *ticket_id);

#endif
