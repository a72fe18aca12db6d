/*
 * server_internal.h - what the HTTP layer's own files share about the
 * server object; handlers use http.h only.
 */
#ifndef LOGSHARED_SERVER_INTERNAL_H
#define LOGSHARED_SERVER_INTERNAL_H

#include <pthread.h>

#include "http/acceptor.h"
#include "http/http.h"
#include "http/metrics.h"
#include "http/ratelimit.h"

#define MAX_PROXIES SERVER_CONFIG_MAX_TRUSTED_PROXIES /* the config check keeps to it */

enum { QUERY_CUT_MANY = 1, QUERY_CUT_LONG = 2 }; /* conn_track.query_cut */

/* One per open connection (MHD_OPTION_NOTIFY_CONNECTION), in the
 * server's list, fields guarded by conn_lock; the watchdog reads them. */
struct conn_track {
    int fd;
    int in_request;
    int body_done; /* the last call of the access handler came */
    int closed_by_us;
    int64_t idle_since_ns;
    /* The body of the request in flight, for min_body_rate: MHD calls us
     * only when data arrives, so a body that stops arriving is measured
     * by the watchdog. body_watch is 1 from the end of the headers (when
     * a body is expected) until the body is complete or the request is
     * answered early. */
    int body_watch;
    int64_t body_start_ns;
    uint64_t body_bytes;
    int slow_cut; /* the watchdog cut this request's body for its rate */
    /* The request line had %00 (MHD's unescaping would hide it). Only
     * the connection's own MHD thread touches it: no lock. */
    int nul_in_target;
    /* The query was cut before MHD parsed it (http_on_uri): QUERY_CUT_*.
     * Same thread, no lock. */
    int query_cut;
    /* An IPv6 peer's /64 (its first 8 bytes), counted in the server's
     * net64 table while the connection is open. */
    uint64_t net64;
    int net64_counted;
    struct conn_track *prev, *next;
};

/* Open connections of one IPv6 /64 (see server.c, on_connection). */
struct net64_count {
    uint64_t prefix;
    unsigned n;
    struct net64_count *next;
};
#define NET64_BUCKETS 1024

/* The server: owned by http_server_start's caller via http_server_stop. */
struct http_server {
    struct MHD_Daemon *daemon;
    const server_config *cfg;
    const http_route *routes;
    size_t n_routes;
    void *app;
    struct http_metrics *metrics;
    struct ratelimit *rl_addr, *rl_user;
    char proxies[MAX_PROXIES][64];
    size_t n_proxies;
    char *tls_cert, *tls_key;
    int listen_fd; /* ours until the acceptor takes it, then -1 */
    struct http_acceptor *acceptor;
    int stopping;
    pthread_mutex_t conn_lock;
    struct conn_track *conns;
    struct net64_count *net64[NET64_BUCKETS]; /* under conn_lock */
    pthread_t watchdog;
    int watchdog_running;
    pthread_mutex_t wd_lock;
    pthread_cond_t wd_cond;
    int wd_quit;
    /* the worker pool for http_defer */
    pthread_t *workers;
    size_t n_workers;
    pthread_mutex_t job_lock;
    pthread_cond_t job_cond;
    http_request *job_head, *job_tail;
    int jobs_quit;
};

/* 1 once http_server_stop began: responses ask the client to close. */
int http_server_stopping(const struct http_server *s);

/* request.c: MHD's callbacks for one request, and what server.c shares. */
enum MHD_Result http_on_access(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **req_cls);
void http_on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                       enum MHD_RequestTerminationCode toe);
/* MHD_OPTION_UNESCAPE_CALLBACK: MHD's own unescaping, noting a %00 in
 * the connection's track first (a NUL would cut the path short). */
size_t http_unescape_target(void *cls, struct MHD_Connection *conn, char *s);
void *http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn);
/* The tracking record of a connection (NULL before it is tracked). */
struct conn_track *http_track_of(struct MHD_Connection *conn);
/* 1 when text is an IPv4 or IPv6 address. */
int http_valid_ip(const char *text);

#endif
