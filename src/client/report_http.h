/*
 * report_http.h - one POST /api/v1/tickets attempt (report_http.c).
 *
 * The retry loop and the outbox live elsewhere; this file only turns a
 * request (fields, files on disk, idempotency key) into one multipart
 * upload with libcurl and says what came back.
 */
#ifndef LS_REPORT_HTTP_H
#define LS_REPORT_HTTP_H

#include <stdint.h>

#include "report_retry.h"
#include "share.h"

typedef struct report_http_response {
    int http_status;        /* 0 when no response arrived */
    int error;              /* 0, or the LOGSHARE_E* the attempt came to */
    retry_class retry;      /* what to do next */
    int64_t retry_after_ms; /* from Retry-After, -1 when absent */
    char *body;             /* response body (NUL-terminated), owned */
    char *ticket_id;        /* from a 201 body, owned */
    char *error_code;       /* the server's error.code, or a curl error name, owned */
    char *error_message;    /* the server's error.message, or curl's text, owned */
} report_http_response;

void report_http_response_clear(report_http_response *r);

/* One request: path ("/api/v1/tickets/ID/attachments") under the
 * server URL; a multipart POST of fields (may be NULL: files only) and
 * files, or a GET when files is NULL. key (may be NULL) goes in the
 * Idempotency-Key header: for POST /api/v1/tickets, the multipart body
 * is fields + every file as a part with its name as filename, streamed
 * from disk. Returns 0 when an answer was classified into *resp (look at
 * resp->retry), or a negative code when the request could not even be
 * built (bad options, out of memory). */
int report_http_request(const logshare_share_options *opts, const char *path,
                        const share_fields *fields, const share_file_list *files, const char *key,
                        report_http_response *resp);

/* What a failed transfer (a CURLcode, passed as int so this header
 * does not need curl.h) means, as a LOGSHARE_E* code; report, outbox
 * and the watcher share it. Only the errors that another try could cure
 * (no route, refused, reset, DNS down, timed out) are network errors,
 * retried; a certificate that does not verify (LOGSHARE_ETLS), a bad
 * URL (LOGSHARE_EINVAL) or a protocol libcurl lacks
 * (LOGSHARE_EUNSUPPORTED) stay so on every try, and retrying them
 * forever would only hide the cause from the user. */
int report_http_curl_error(int code);

/* Builds the curl_mime for a request without sending it (the unit test
 * reads the encoded body back). Returns a curl_mime * as void * so this
 * header does not need curl.h; NULL on failure. easy is a CURL *. */
void *report_http_build_mime(void *easy, const share_fields *fields, const share_file_list *files);

#endif
