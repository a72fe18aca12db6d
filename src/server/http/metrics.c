/*
 * metrics.c - counters for /metrics (see metrics.h). A mutex guards the
 * small tables; the per-request cost is one lock and a short scan, which
 * is noise next to a request's syscalls.
 */
#include "http/metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "logshare.h"

#define MAX_SERIES 256
#define MAX_CUT_REASONS 8
#define MAX_THREADS 256 /* threads beyond share the last slot */

static const double upload_buckets[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
#define NBUCKETS (sizeof upload_buckets / sizeof upload_buckets[0])

struct series {
    const char *route;
    unsigned status;
    uint64_t count;
};

struct http_metrics {
    pthread_mutex_t lock;
    struct series series[MAX_SERIES];
    size_t n_series;
    uint64_t bytes_received;
    uint64_t tickets_created;
    uint64_t rate_limited;
    uint64_t upload_bucket[NBUCKETS + 1];
    double upload_sum;
    uint64_t upload_count;
    const char *cut_reason[MAX_CUT_REASONS];
    uint64_t cut_count[MAX_CUT_REASONS];
    unsigned n_threads;
    uint64_t thread_requests[MAX_THREADS];
};

/* The calling thread's slot, with the metrics it was numbered for. */
static _Thread_local const struct http_metrics *tl_owner;
static _Thread_local unsigned tl_slot;

struct http_metrics *http_metrics_new(void)
{
    struct http_metrics *m = calloc(1, sizeof *m);
    if (m)
        pthread_mutex_init(&m->lock, NULL);
    return m;
}

void http_metrics_free(struct http_metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void http_metrics_request(struct http_metrics *m, const char *route, unsigned status)
{
    pthread_mutex_lock(&m->lock);
    size_t i;
    for (i = 0; i < m->n_series; i++)
        if (m->series[i].status == status && strcmp(m->series[i].route, route) == 0)
            break;
    if (i == m->n_series && m->n_series < MAX_SERIES)
        m->series[m->n_series++] = (struct series){route, status, 0};
    if (i < m->n_series)
        m->series[i].count++;
    pthread_mutex_unlock(&m->lock);
}

void http_metrics_bytes_received(struct http_metrics *m, uint64_t n)
{
    __atomic_add_fetch(&m->bytes_received, n, __ATOMIC_RELAXED);
}

void http_metrics_ticket_created(struct http_metrics *m)
{
    __atomic_add_fetch(&m->tickets_created, 1, __ATOMIC_RELAXED);
}

void http_metrics_rate_limited(struct http_metrics *m)
{
    __atomic_add_fetch(&m->rate_limited, 1, __ATOMIC_RELAXED);
}

void http_metrics_upload_duration(struct http_metrics *m, double seconds)
{
    pthread_mutex_lock(&m->lock);
    size_t b = 0;
    while (b < NBUCKETS && seconds > upload_buckets[b])
        b++;
    m->upload_bucket[b]++;
    m->upload_sum += seconds;
    m->upload_count++;
    pthread_mutex_unlock(&m->lock);
}

void http_metrics_cut(struct http_metrics *m, const char *reason)
{
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < MAX_CUT_REASONS; i++) {
        if (!m->cut_reason[i])
            m->cut_reason[i] = reason;
        if (m->cut_reason[i] == reason || strcmp(m->cut_reason[i], reason) == 0) {
            m->cut_count[i]++;
            break;
        }
    }
    pthread_mutex_unlock(&m->lock);
}

void http_metrics_thread_request(struct http_metrics *m)
{
    if (tl_owner != m) {
        unsigned n = __atomic_fetch_add(&m->n_threads, 1, __ATOMIC_RELAXED);
        tl_slot = n < MAX_THREADS ? n : MAX_THREADS - 1;
        tl_owner = m;
    }
    __atomic_add_fetch(&m->thread_requests[tl_slot], 1, __ATOMIC_RELAXED);
}

int http_metrics_render(struct http_metrics *m, ls_buf *o)
{
    int rc = 0;
    pthread_mutex_lock(&m->lock);
    rc |= ls_buf_append_str(
        o, "# HELP logshared_http_requests_total HTTP requests by route and status.\n"
           "# TYPE logshared_http_requests_total counter\n");
    for (size_t i = 0; i < m->n_series; i++)
        rc |= ls_buf_printf(o, "logshared_http_requests_total{route=\"%s\",status=\"%u\"} %llu\n",
                            m->series[i].route, m->series[i].status,
                            (unsigned long long)m->series[i].count);
    rc |= ls_buf_printf(o,
                        "# HELP logshared_http_received_bytes_total Request body bytes received.\n"
                        "# TYPE logshared_http_received_bytes_total counter\n"
                        "logshared_http_received_bytes_total %llu\n"
                        "# HELP logshared_tickets_created_total Tickets committed.\n"
                        "# TYPE logshared_tickets_created_total counter\n"
                        "logshared_tickets_created_total %llu\n"
                        "# HELP logshared_rate_limited_total Requests refused with 429.\n"
                        "# TYPE logshared_rate_limited_total counter\n"
                        "logshared_rate_limited_total %llu\n",
                        (unsigned long long)__atomic_load_n(&m->bytes_received, __ATOMIC_RELAXED),
                        (unsigned long long)__atomic_load_n(&m->tickets_created, __ATOMIC_RELAXED),
                        (unsigned long long)__atomic_load_n(&m->rate_limited, __ATOMIC_RELAXED));
    rc |= ls_buf_append_str(
        o, "# HELP logshared_connections_cut_total Connections closed by a limit.\n"
           "# TYPE logshared_connections_cut_total counter\n");
    for (size_t i = 0; i < MAX_CUT_REASONS && m->cut_reason[i]; i++)
        rc |= ls_buf_printf(o, "logshared_connections_cut_total{reason=\"%s\"} %llu\n",
                            m->cut_reason[i], (unsigned long long)m->cut_count[i]);
    rc |= ls_buf_append_str(o, "# HELP logshared_upload_duration_seconds Upload request duration.\n"
                               "# TYPE logshared_upload_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (size_t b = 0; b < NBUCKETS; b++) {
        cum += m->upload_bucket[b];
        rc |= ls_buf_printf(o, "logshared_upload_duration_seconds_bucket{le=\"%g\"} %llu\n",
                            upload_buckets[b], (unsigned long long)cum);
    }
    cum += m->upload_bucket[NBUCKETS];
    rc |=
        ls_buf_printf(o,
                      "logshared_upload_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                      "logshared_upload_duration_seconds_sum %.6f\n"
                      "logshared_upload_duration_seconds_count %llu\n",
                      (unsigned long long)cum, m->upload_sum, (unsigned long long)m->upload_count);
    rc |= ls_buf_append_str(
        o, "# HELP logshared_http_thread_requests_total Requests begun by each HTTP thread.\n"
           "# TYPE logshared_http_thread_requests_total counter\n");
    unsigned n = __atomic_load_n(&m->n_threads, __ATOMIC_RELAXED);
    for (unsigned i = 0; i < n && i < MAX_THREADS; i++)
        rc |= ls_buf_printf(
            o, "logshared_http_thread_requests_total{thread=\"%u\"} %llu\n", i,
            (unsigned long long)__atomic_load_n(&m->thread_requests[i], __ATOMIC_RELAXED));
    pthread_mutex_unlock(&m->lock);
    return rc ? LOGSHARE_ENOMEM : 0;
}
