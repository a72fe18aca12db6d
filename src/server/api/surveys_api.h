/*
 * surveys_api.h - the HTTP handlers for end-of-call surveys:
 *
 *   POST /api/v1/surveys        a user: the survey as JSON
 *                               (application/json), or multipart with a
 *                               `survey` field holding that JSON plus
 *                               files. With report_issue true and files
 *                               it also creates a ticket (source=survey,
 *                               the survey's call id) linked to the
 *                               survey. Idempotency-Key as for tickets.
 *   GET  /api/v1/surveys/stats  support: aggregates (since, until in
 *                               RFC 3339; bucket=hour|day)
 *
 * Validation rules are in surveys_validate.h; storage in push_db.h.
 */
#ifndef SURVEYS_API_H
#define SURVEYS_API_H

#include "http/http.h"

int api_surveys_create_begin(http_request *req);
int api_surveys_create_body(http_request *req, const char *data, size_t len);
int api_surveys_create_end(http_request *req);
void api_surveys_create_cleanup(http_request *req, int ok);
int api_surveys_stats(http_request *req);
/* GET /api/v1/surveys?ticket_id=: the surveys linked to a ticket, with
 * their scores and issues (support only). */
int api_surveys_list(http_request *req);

#endif
