/*
 * metrics.h - the counters behind GET /metrics, in Prometheus text
 * format 0.0.4: requests by route and status, bytes received, tickets
 * created, an upload duration histogram, rate-limited requests,
 * connections cut by a limit, and requests per HTTP thread (to see that
 * connections are spread over the pool). All calls are thread-safe.
 */
#ifndef LOGSHARED_METRICS_H
#define LOGSHARED_METRICS_H

#include <stdint.h>

#include "ls_buf.h"

struct http_metrics;

struct http_metrics *http_metrics_new(void);
void http_metrics_free(struct http_metrics *m); /* NULL is a no-op */

/* route is a static string (the route's name); status 0 = no response. */
void http_metrics_request(struct http_metrics *m, const char *route, unsigned status);
void http_metrics_bytes_received(struct http_metrics *m, uint64_t n);
void http_metrics_ticket_created(struct http_metrics *m);
void http_metrics_upload_duration(struct http_metrics *m, double seconds);
void http_metrics_rate_limited(struct http_metrics *m);
void http_metrics_cut(struct http_metrics *m, const char *reason); /* static reason */
/* One more request began on the calling thread (an MHD thread); threads
 * are numbered 0, 1, ... in the order of their first request. */
void http_metrics_thread_request(struct http_metrics *m);

/* Appends the exposition text to out. 0 or ENOMEM. */
int http_metrics_render(struct http_metrics *m, ls_buf *out);

#endif
