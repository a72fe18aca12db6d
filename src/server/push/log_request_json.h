/*
 * log_request_json.h - a log request as the API, the SSE stream and the
 * webhook show it: {"id", "user_id", "reason", "ticket_id", "status",
 * "created_by", "created_at", "expires_at", "updated_at",
 * "fulfilled_ticket_id"} with RFC 3339 UTC times and null for absent
 * fields. One function so the three places never disagree.
 */
#ifndef LOG_REQUEST_JSON_H
#define LOG_REQUEST_JSON_H

#include <jansson.h>

#include "push_db.h"

/* A new JSON object (caller owns the reference), or NULL on ENOMEM. */
json_t *log_request_json(const struct log_request *r);

/* The same as compact text (caller frees), or NULL. */
char *log_request_json_text(const struct log_request *r);

#endif
