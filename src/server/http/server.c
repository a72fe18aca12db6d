/*
 * server.c - the libmicrohttpd daemon: start (epoll, a thread pool sized
 * to the cores, TLS), graceful stop, connection tracking with the
 * watchdog, and the worker pool behind http_defer. The daemon has no
 * listen socket: our accept thread (acceptor.c) hands it connections,
 * which MHD spreads over its pool. The life of one request is in
 * request.c.
 *
 * Blocking work (fsync of blobs, database commits) runs on a separate
 * worker pool through http_defer: the connection is suspended meanwhile,
 * so a slow disk never stalls the HTTP threads that serve everyone else.
 *
 * Aborted uploads: see watchdog_main for an MHD/epoll quirk we work
 * around so a client that disconnects mid-upload is noticed at once.
 *
 * Slow clients: MHD only has an inactivity timeout. A watchdog thread
 * closes (shutdown(2)) connections whose next request's headers did not
 * arrive within header_timeout_s, requests whose body comes slower than
 * min_body_rate (even when none comes at all), and, once stopping, idle
 * keep-alive connections at once. shutdown() leaves the descriptor to MHD, so the
 * watchdog can never close a reused fd.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "http/ratelimit.h"
#include "http/server_internal.h"
#include "logshare.h"
#include "ls_fs.h"
#include "ls_time.h"

int http_server_stopping(const struct http_server *s)
{
    return __atomic_load_n(&s->stopping, __ATOMIC_RELAXED);
}

struct http_metrics *http_server_metrics(struct http_server *s)
{
    return s->metrics;
}

/* ---- connection tracking and the watchdog -------------------------- */

/* max_connections_per_address for IPv6 peers, by /64: libmicrohttpd's
 * own cap (MHD_OPTION_PER_IP_CONNECTION_LIMIT) is per exact address, and
 * one subscriber has a whole /64 to open connections from (one address
 * each), enough to take every connection the server has. IPv4 peers and
 * IPv4-mapped ones are left to libmicrohttpd's cap. */
static int net64_of(const struct sockaddr *sa, uint64_t *prefix)
{
    if (!sa || sa->sa_family != AF_INET6)
        return 0;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a))
        return 0;
    memcpy(prefix, a->s6_addr, sizeof *prefix);
    return 1;
}

/* Caller holds conn_lock. The /64's count after adding delta (+1 or -1);
 * an entry is freed when its count drops to 0. */
static unsigned net64_add(struct http_server *s, uint64_t prefix, int delta)
{
    struct net64_count **pp = &s->net64[(prefix ^ (prefix >> 29)) % NET64_BUCKETS];
    while (*pp && (*pp)->prefix != prefix)
        pp = &(*pp)->next;
    if (!*pp) {
        if (delta < 0 || !(*pp = calloc(1, sizeof **pp)))
            return 0; /* out of memory: not counted, MHD's own cap still applies */
        (*pp)->prefix = prefix;
    }
    struct net64_count *c = *pp;
    c->n = delta > 0 ? c->n + 1 : c->n - 1;
    unsigned n = c->n;
    if (n == 0) {
        *pp = c->next;
        free(c);
    }
    return n;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct http_server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct conn_track *t = calloc(1, sizeof *t);
        if (!t)
            return;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        t->fd = ci ? ci->connect_fd : -1;
        t->idle_since_ns = ls_time_mono_ns();
        const union MHD_ConnectionInfo *ai =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        uint64_t cap = (uint64_t)s->cfg->max_connections_per_address;
        int over = 0;
        pthread_mutex_lock(&s->conn_lock);
        t->next = s->conns;
        if (s->conns)
            s->conns->prev = t;
        s->conns = t;
        if (cap > 0 && ai && net64_of(ai->client_addr, &t->net64)) {
            unsigned n = net64_add(s, t->net64, +1);
            t->net64_counted = n > 0;
            over = n > cap;
            t->closed_by_us = over;
        }
        pthread_mutex_unlock(&s->conn_lock);
        *socket_context = t;
        if (over && t->fd >= 0) { /* MHD sees the end and closes it (NOTIFY_CLOSED) */
            shutdown(t->fd, SHUT_RDWR);
            http_metrics_cut(s->metrics, "connections_per_address");
        }
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        struct conn_track *t = *socket_context;
        if (!t)
            return;
        pthread_mutex_lock(&s->conn_lock);
        if (t->net64_counted)
            net64_add(s, t->net64, -1);
        if (t->prev)
            t->prev->next = t->next;
        else
            s->conns = t->next;
        if (t->next)
            t->next->prev = t->prev;
        pthread_mutex_unlock(&s->conn_lock);
        free(t);
        *socket_context = NULL;
    }
}

/* min_body_rate after min_body_rate_grace_s, counted from the end of the
 * headers; request.c makes the same check as each piece arrives. */
static int body_too_slow(const server_config *cfg, const struct conn_track *t, int64_t now)
{
    double elapsed = (double)(now - t->body_start_ns) / 1e9;
    return cfg->min_body_rate > 0 && elapsed > (double)cfg->min_body_rate_grace_s &&
           (double)t->body_bytes < (double)cfg->min_body_rate * elapsed;
}

static void *watchdog_main(void *arg)
{
    struct http_server *s = arg;
    int64_t limit_ns = s->cfg->header_timeout_s * 1000000000LL;
    pthread_mutex_lock(&s->wd_lock);
    while (!s->wd_quit) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->wd_cond, &s->wd_lock, &ts);
        int64_t now = ls_time_mono_ns();
        int stopping = http_server_stopping(s);
        pthread_mutex_lock(&s->conn_lock);
        for (struct conn_track *t = s->conns; t; t = t->next) {
            if (t->closed_by_us || t->fd < 0)
                continue;
            if (t->in_request && t->body_watch && !t->body_done && body_too_slow(s->cfg, t, now)) {
                /* MHD calls us only when data arrives: a body that stopped
                 * coming is never measured there. Shutting the socket down
                 * makes MHD abort the request (cleanup removes partial
                 * blobs; request.c logs it as cut). */
                shutdown(t->fd, SHUT_RDWR);
                t->closed_by_us = 1;
                t->slow_cut = 1;
                t->body_watch = 0;
                http_metrics_cut(s->metrics, "slow_body");
                continue;
            }
            if (t->in_request) {
                /* MHD 0.9.75 with epoll misses a FIN that arrives together
                 * with the last bytes of a body (it takes a short read as
                 * "drained" and never reads the EOF), leaving an aborted
                 * upload open until the idle timeout. A peer that closed
                 * before its body was complete is gone: shutting the socket
                 * down wakes MHD, which then sees the end of stream and
                 * aborts the request (cleanup removes partial blobs). */
                char c;
                if (!t->body_done && recv(t->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
                    shutdown(t->fd, SHUT_RDWR);
                    t->closed_by_us = 1;
                }
                continue;
            }
            if (stopping || (limit_ns > 0 && now - t->idle_since_ns > limit_ns)) {
                shutdown(t->fd, SHUT_RDWR);
                t->closed_by_us = 1;
                if (!stopping)
                    http_metrics_cut(s->metrics, "header_timeout");
            }
        }
        pthread_mutex_unlock(&s->conn_lock);
    }
    pthread_mutex_unlock(&s->wd_lock);
    return NULL;
}

/* ---- deferred work ------------------------------------------------- */

int http_defer(http_request *req, int (*work)(http_request *req))
{
    struct http_server *s = req->server;
    /* Once the pool is stopping, its workers may all have left already
     * (workers_stop): a job queued then would keep its connection
     * suspended for good, and MHD_stop_daemon aborts the process on a
     * suspended connection. So the work runs here instead, as without a
     * pool. jobs_quit is set under job_lock, and a worker leaves only
     * with the queue empty under it, so every queued job is run. */
    pthread_mutex_lock(&s->job_lock);
    int here = s->jobs_quit || !s->n_workers;
    if (!here) {
        req->work = work;
        req->deferred = 1;
        MHD_suspend_connection(req->conn);
        req->next_job = NULL;
        if (s->job_tail)
            s->job_tail->next_job = req;
        else
            s->job_head = req;
        s->job_tail = req;
        pthread_cond_signal(&s->job_cond);
    }
    pthread_mutex_unlock(&s->job_lock);
    return here ? work(req) : 0;
}

static void *worker_main(void *arg)
{
    struct http_server *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->job_lock);
        while (!s->job_head && !s->jobs_quit)
            pthread_cond_wait(&s->job_cond, &s->job_lock);
        http_request *req = s->job_head;
        if (req) {
            s->job_head = req->next_job;
            if (!s->job_head)
                s->job_tail = NULL;
        }
        pthread_mutex_unlock(&s->job_lock);
        if (!req)
            return NULL; /* quitting and the queue is empty */
        req->in_worker = 1;
        int rc = req->work(req);
        if (!req->status)
            http_respond_error(req, rc ? rc : LOGSHARE_EINTERNAL, 0, "%s",
                               logshare_strerror(rc ? rc : LOGSHARE_EINTERNAL));
        req->in_worker = 0;
        MHD_resume_connection(req->conn);
    }
}

/* Called once the shutdown's wait is over: the jobs running finish, but
 * those still queued are not started. Run one after another they held
 * the exit long past shutdown_timeout_s (each a commit that may wait for
 * the disk or a locked database), and their answers could not be sent
 * anyway: the connections close right after. Not run, they never commit,
 * so their requests' cleanup removes every file they wrote, as for an
 * upload cut mid-body, and the clients retry. */
static void workers_stop(struct http_server *s)
{
    pthread_mutex_lock(&s->job_lock);
    s->jobs_quit = 1;
    http_request *dropped = s->job_head;
    s->job_head = s->job_tail = NULL;
    pthread_cond_broadcast(&s->job_cond);
    pthread_mutex_unlock(&s->job_lock);
    for (size_t i = 0; i < s->n_workers; i++)
        pthread_join(s->workers[i], NULL);
    s->n_workers = 0;
    while (dropped) {
        http_request *req = dropped;
        dropped = req->next_job;
        http_respond_error(req, LOGSHARE_EUNAVAILABLE, 503, "the server is stopping; retry");
        MHD_resume_connection(req->conn); /* MHD_stop_daemon must find none suspended */
    }
}

/* ---- start and stop ------------------------------------------------ */

/* libmicrohttpd's messages quote the request's path, decoded: "%0A"
 * in it was a newline in our log, and a client could write whole log
 * lines of its choosing. Control characters, '"', '\\' and '%' are
 * %-escaped, as in the request log line. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512], safe[3 * sizeof msg];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg), o = 0;
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)msg[i];
        if (c < 32 || c == 127 || c == '"' || c == '\\' || c == '%')
            o += (size_t)snprintf(safe + o, sizeof safe - o, "%%%02X", c);
        else
            safe[o++] = (char)c;
    }
    safe[o] = '\0';
    fprintf(stderr, "level=warn msg=mhd text=\"%s\"\n", safe);
}

static void server_free(struct http_server *s)
{
    if (!s)
        return;
    if (s->watchdog_running) {
        pthread_mutex_lock(&s->wd_lock);
        s->wd_quit = 1;
        pthread_cond_signal(&s->wd_cond);
        pthread_mutex_unlock(&s->wd_lock);
        pthread_join(s->watchdog, NULL);
    }
    http_acceptor_destroy(s->acceptor); /* before the daemon it feeds */
    s->acceptor = NULL;
    workers_stop(s); /* the work running finishes; every connection is resumed */
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    free(s->workers);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    ratelimit_free(s->rl_addr);
    ratelimit_free(s->rl_user);
    http_metrics_free(s->metrics);
    free(s->tls_cert);
    free(s->tls_key);
    for (size_t i = 0; i < NET64_BUCKETS; i++) {
        while (s->net64[i]) {
            struct net64_count *c = s->net64[i];
            s->net64[i] = c->next;
            free(c);
        }
    }
    pthread_mutex_destroy(&s->conn_lock);
    pthread_mutex_destroy(&s->wd_lock);
    pthread_cond_destroy(&s->wd_cond);
    pthread_mutex_destroy(&s->job_lock);
    pthread_cond_destroy(&s->job_cond);
    free(s);
}

int http_server_start(const server_config *cfg, int listen_fd, const http_route *routes,
                      size_t n_routes, void *app, struct http_server **out)
{
    struct http_server *s = calloc(1, sizeof *s);
    if (!s) {
        close(listen_fd);
        return LOGSHARE_ENOMEM;
    }
    s->listen_fd = listen_fd;
    s->cfg = cfg;
    s->routes = routes;
    s->n_routes = n_routes;
    s->app = app;
    pthread_mutex_init(&s->conn_lock, NULL);
    pthread_mutex_init(&s->wd_lock, NULL);
    pthread_cond_init(&s->wd_cond, NULL);
    pthread_mutex_init(&s->job_lock, NULL);
    pthread_cond_init(&s->job_cond, NULL);
    s->metrics = http_metrics_new();
    s->rl_addr = ratelimit_new((double)cfg->address_rate, (double)cfg->address_burst, 8192);
    s->rl_user = ratelimit_new((double)cfg->user_rate, (double)cfg->user_burst, 8192);
    if (!s->metrics || !s->rl_addr || !s->rl_user) {
        server_free(s);
        return LOGSHARE_ENOMEM;
    }
    if (cfg->trusted_proxies) {
        char *copy = strdup(cfg->trusted_proxies); /* whole: a cut list would drop proxies */
        if (!copy) {
            server_free(s);
            return LOGSHARE_ENOMEM;
        }
        char *save = NULL;
        for (char *tok = strtok_r(copy, ", \t", &save); tok && s->n_proxies < MAX_PROXIES;
             tok = strtok_r(NULL, ", \t", &save)) {
            if (!http_valid_ip(tok)) {
                fprintf(stderr, "logshared: trusted_proxies: '%s' is not an IP address\n", tok);
                free(copy);
                server_free(s);
                return LOGSHARE_EINVAL;
            }
            snprintf(s->proxies[s->n_proxies++], sizeof s->proxies[0], "%.*s",
                     (int)sizeof s->proxies[0] - 1, tok);
        }
        free(copy);
    }
    /* MHD_USE_NO_LISTEN_SOCKET: see acceptor.h. Despite what
     * microhttpd.h says, 0.9.75 keeps the thread pool with it, and
     * MHD_add_connection needs MHD_USE_ITC to wake the chosen worker. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ITC | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG;
    if (cfg->tls_cert) {
        size_t len;
        int rc = ls_fs_read_file(cfg->tls_cert, 1 << 20, &s->tls_cert, &len);
        const char *which = "tls_cert", *file = cfg->tls_cert;
        if (!rc) {
            rc = ls_fs_read_file(cfg->tls_key, 1 << 20, &s->tls_key, &len);
            which = "tls_key";
            file = cfg->tls_key;
        }
        if (rc) {
            fprintf(stderr, "logshared: server.%s %s: %s\n", which, file, logshare_strerror(rc));
            server_free(s);
            return LOGSHARE_EKEY; /* a setting to fix (main: exit 2) */
        }
        flags |= MHD_USE_TLS;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads =
        cfg->threads > 0 ? (unsigned)cfg->threads : (unsigned)(cores > 0 ? cores : 1);
    struct MHD_OptionItem tls_opts[] = {
        {cfg->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, s->tls_cert},
        {cfg->tls_cert ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, s->tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, http_on_access, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)cfg->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)cfg->max_connections_per_address, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)cfg->connection_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)cfg->connection_memory_bytes, MHD_OPTION_NOTIFY_COMPLETED, http_on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_UNESCAPE_CALLBACK,
        http_unescape_target, s, MHD_OPTION_URI_LOG_CALLBACK, http_on_uri, s, MHD_OPTION_ARRAY,
        tls_opts, MHD_OPTION_END);
    if (!s->daemon) {
        /* with TLS, GnuTLS refusing the pair is by far the likeliest cause;
         * its reason is the line libmicrohttpd logged just before */
        fprintf(stderr, "logshared: cannot start the HTTP daemon%s\n",
                cfg->tls_cert ? ": server.tls_cert / server.tls_key refused (expected a PEM "
                                "certificate, its chain after it, and its unencrypted PEM key)"
                              : "");
        server_free(s); /* closes listen_fd */
        return cfg->tls_cert ? LOGSHARE_EKEY : LOGSHARE_EIO;
    }
    if (pthread_create(&s->watchdog, NULL, watchdog_main, s) == 0)
        s->watchdog_running = 1;
    size_t want = cfg->worker_threads > 0 ? (size_t)cfg->worker_threads : 0;
    s->workers = calloc(want ? want : 1, sizeof *s->workers);
    for (size_t i = 0; s->workers && i < want; i++) {
        if (pthread_create(&s->workers[i], NULL, worker_main, s) != 0)
            break;
        s->n_workers++;
    }
    /* Last: the first connection finds the watchdog and workers running. */
    s->listen_fd = -1; /* the acceptor's from here on, even if it fails */
    int rc = http_acceptor_create(listen_fd, s->daemon, &s->acceptor);
    if (rc) {
        fprintf(stderr, "logshared: cannot start the accept thread: %s\n", logshare_strerror(rc));
        server_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void http_server_stop_accepting(struct http_server *s)
{
    if (!s)
        return;
    __atomic_store_n(&s->stopping, 1, __ATOMIC_RELAXED);
    /* Stop accepting and close the listen socket: new clients are refused
     * at once (MHD_quiesce_daemon has nothing to do without a listen
     * socket in MHD). Connections already handed over carry on. */
    http_acceptor_destroy(s->acceptor);
    s->acceptor = NULL;
}

void http_server_stop(struct http_server *s, int timeout_ms)
{
    if (!s)
        return;
    http_server_stop_accepting(s);
    int64_t deadline = ls_time_mono_ns() + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000LL;
    while (ls_time_mono_ns() < deadline) {
        const union MHD_DaemonInfo *di =
            MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!di || di->num_connections == 0)
            break;
        usleep(20 * 1000);
    }
    server_free(s);
}
