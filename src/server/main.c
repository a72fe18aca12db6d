/*
 * main.c - logshared, the support backend: subcommands (token, user),
 * settings (config/server_config.h), the back ends, the listen socket,
 * and the serve loop. With no arguments it serves on 127.0.0.1:8080 with
 * data in ./logshare-data.
 *
 * We bind the listen socket ourselves and hand it to the HTTP layer
 * (whose accept thread feeds libmicrohttpd, http/acceptor.h), so port 0
 * works and --port-file can report the port actually bound.
 * Once serving, the orphan sweep (orphan_sweep.h) runs on its own thread,
 * at once and then every blob.sweep_interval_s.
 * SIGTERM / SIGINT: stop accepting, give up a webhook in flight, stop
 * the sweep (also while it waits for its next pass), end the event
 * streams, let requests in flight finish, all within shutdown_timeout_s
 * of the signal, exit 0. The signals are
 * blocked in every thread and taken with sigwait() here, so no handler
 * races the server.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api.h"
#include "api/dashboard.h"
#include "auth.h"
#include "auth_cli.h"
#include "blob_open.h"
#include "blob_store.h"
#include "config/server_config.h"
#include "http/http.h"
#include "logshare.h"
#include "ls_fs.h"
#include "ls_time.h"
#include "orphan_sweep.h"
#include "owner_binding.h"
#include "push_service.h"
#include "server_version.h"
#include "session.h"
#include "ticket_store.h"
#include "tracker_worker.h"

static void print_usage(FILE *out)
{
    fprintf(
        out,
        "usage: logshared [--config FILE] [--listen HOST:PORT] [--data-dir DIR]\n"
        "                 [--port-file FILE] [--tls-cert FILE --tls-key FILE] [--KEY VALUE]...\n"
        "       logshared token --data-dir DIR --user ID [--role user|support|admin] [--ttl S]\n"
        "                       [--config FILE] (logshared token --help)\n"
        "       logshared user add NAME --role support --data-dir DIR   (password on stdin)\n"
        "       logshared user passwd|role|del NAME ... (logshared user --help)\n"
        "       logshared --version | --help\n\n"
        "The logshare support backend. Every setting below can be given in the INI\n"
        "file (--config FILE, [section] key = value), as LOGSHARE_<SECTION>_<KEY> in\n"
        "the environment, or as a flag; flags win over the environment, which wins\n"
        "over the file. Byte sizes take K, M and G suffixes.\n\n");
    server_config_print_keys(out);
}

/* Servers sharing a data dir (several behind one PostgreSQL) may start
 * at the same moment, and setting up that dir is not safe to do twice at
 * once: SQLite's switch of a new file to WAL fails at once with "busy"
 * (no busy wait: it would deadlock) when another process is switching it
 * too, and the first server then exited. So each one sets up the dir
 * holding this lock: ticket database, database-id, secrets, push tables.
 * -1 (and a warning) where the file system has no flock: the setup then
 * runs unguarded, as before. */
static int startup_lock(const char *data_dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/startup.lock", data_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    int rc = fd < 0 ? -1 : 0;
    while (rc == 0 && (rc = flock(fd, LOCK_EX)) != 0 && errno == EINTR)
        rc = 0;
    if (rc != 0) {
        fprintf(stderr,
                "logshared: warning: cannot lock %s (%s): servers sharing the data dir "
                "must not start at the same moment\n",
                path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void startup_unlock(int *fd)
{
    if (*fd >= 0)
        close(*fd); /* drops the lock */
    *fd = -1;
}

/* Binds HOST:PORT ("[v6]:port" for IPv6; the form was checked when the
 * settings were read). Returns the fd; or, with why filled, -1 when the
 * bind or listen failed and -2 when the host does not resolve. */
static int open_listen_socket(const char *text, char *bound, size_t bound_cap, char *why,
                              size_t why_cap)
{
    char host[256];
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text || (size_t)(colon - text) >= sizeof host) {
        snprintf(why, why_cap, "expected HOST:PORT");
        return -2;
    }
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    char *h = host;
    if (h[0] == '[' && h[strlen(h) - 1] == ']') {
        h[strlen(h) - 1] = '\0';
        h++;
    }
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(h, colon + 1, &hints, &res);
    if (gai != 0 || !res) {
        /* getaddrinfo does not set errno: strerror(errno) said "Success" */
        snprintf(why, why_cap, "host '%.200s' does not resolve: %s", h,
                 gai ? gai_strerror(gai) : "no address");
        return -2;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 512) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        snprintf(why, why_cap, "%s", strerror(e));
        return -1;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    char addr[64] = "?";
    unsigned port = 0;
    if (ss.ss_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof addr);
        port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        snprintf(bound, bound_cap, "%s:%u", addr, port);
    } else {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof addr);
        port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        snprintf(bound, bound_cap, "[%s]:%u", addr, port);
    }
    return fd;
}

/* public_url when none is configured: http(s)://HOST:PORT with the host
 * as written in listen (a name stays a name) and the port actually
 * bound (listen may say 0). A wildcard host (0.0.0.0, ::) names no one
 * machine: the host name stands in for it. Links handed out are then
 * absolute, as they must be to leave the API (a signed link is mailed
 * to someone). A configured one loses its trailing slashes. Returns 0 or
 * ENOMEM. */
static int settle_public_url(server_config *cfg, const char *bound)
{
    if (cfg->public_url) {
        size_t n = strlen(cfg->public_url);
        while (n > 0 && cfg->public_url[n - 1] == '/')
            cfg->public_url[--n] = '\0';
        return 0;
    }
    char host[256];
    const char *colon = strrchr(cfg->listen, ':');
    size_t hl = colon ? (size_t)(colon - cfg->listen) : 0;
    snprintf(host, sizeof host, "%.*s", (int)(hl < sizeof host ? hl : sizeof host - 1),
             cfg->listen);
    if (!host[0] || !strcmp(host, "0.0.0.0") || !strcmp(host, "::") || !strcmp(host, "[::]") ||
        !strcmp(host, "*")) {
        if (gethostname(host, sizeof host) != 0 || !host[0])
            snprintf(host, sizeof host, "localhost");
        host[sizeof host - 1] = '\0';
    }
    const char *port = strrchr(bound, ':');
    int v6 = strchr(host, ':') && host[0] != '[';
    char url[400];
    snprintf(url, sizeof url, "%s://%s%s%s:%s", cfg->tls_cert ? "https" : "http", v6 ? "[" : "",
             host, v6 ? "]" : "", port ? port + 1 : "0");
    cfg->public_url = strdup(url);
    return cfg->public_url ? 0 : LOGSHARE_ENOMEM;
}

static int parse_algorithm(const char *s, enum auth_algorithm *alg)
{
    if (!s || !strcasecmp(s, "HS256"))
        *alg = AUTH_ALG_HS256;
    else if (!strcasecmp(s, "RS256"))
        *alg = AUTH_ALG_RS256;
    else if (!strcasecmp(s, "ES256"))
        *alg = AUTH_ALG_ES256;
    else
        return -1;
    return 0;
}

/* Why auth_new failed, naming the setting behind it. A configured key
 * or secret file that is missing or not a key is a usage error (exit
 * 2), like any other bad setting; a failure in the data dir is not. */
static void report_auth_error(const struct auth_config *acfg, int rc, int *status)
{
    const char *file =
        acfg->algorithm != AUTH_ALG_HS256 ? acfg->public_key_file : acfg->secret_file;
    const char *key =
        acfg->algorithm != AUTH_ALG_HS256 ? "auth.public_key_file" : "auth.secret_file";
    if (!file) {
        fprintf(stderr, "logshared: cannot load the secrets in data dir %s: %s\n", acfg->data_dir,
                logshare_strerror(rc));
        return;
    }
    const char *expected = acfg->algorithm == AUTH_ALG_RS256   ? "an RSA public key in PEM"
                           : acfg->algorithm == AUTH_ALG_ES256 ? "an EC P-256 public key in PEM"
                                                               : "a secret of 32 bytes or more";
    fprintf(stderr, "logshared: %s %s: %s (expected %s)\n", key, file, logshare_strerror(rc),
            expected);
    if (rc == LOGSHARE_ENOENT || rc == LOGSHARE_EKEY || rc == LOGSHARE_EINVAL ||
        rc == LOGSHARE_EPERM || rc == LOGSHARE_EFORMAT)
        *status = 2;
}

/* Log requests and surveys: their tables in the same database file, the
 * SSE hub and the webhook deliverer (push/push_service.h). */
static int start_push(const server_config *cfg, const char *db_path, struct push_service **out)
{
    struct push_service_options po = {0};
    po.db_path = db_path;
    po.webhook_url = cfg->push_webhook_url;
    po.webhook_timeout_ms = (int)cfg->push_webhook_timeout_ms;
    po.webhook_backoff_initial_ms = (int)cfg->push_webhook_retry_initial_ms;
    po.webhook_backoff_max_ms = (int)cfg->push_webhook_retry_max_ms;
    po.webhook_max_attempts = (int)cfg->push_webhook_max_attempts;
    po.sweep_interval_ms = (int)cfg->push_expiry_sweep_ms;
    po.hub.heartbeat_ms = (int)cfg->push_stream_heartbeat_ms;
    po.hub.max_streams = (size_t)cfg->push_max_streams;
    po.hub.max_per_user = (size_t)cfg->push_max_streams_per_user;
    char *secret = NULL;
    size_t secret_len = 0;
    int rc = 0;
    if (cfg->push_webhook_url) {
        char path[4096];
        if (cfg->push_webhook_secret_file)
            snprintf(path, sizeof path, "%s", cfg->push_webhook_secret_file);
        else
            snprintf(path, sizeof path, "%s/webhook-secret", cfg->data_dir);
        if ((rc = auth_secret_load_or_create(path, &secret, &secret_len))) {
            fprintf(stderr, "logshared: webhook secret %s: %s\n", path, logshare_strerror(rc));
            return rc;
        }
        po.webhook_secret = (const unsigned char *)secret;
        po.webhook_secret_len = secret_len;
    }
    rc = push_service_start(&po, out);
    if (secret) {
        memset(secret, 0, secret_len);
        free(secret);
    }
    if (rc)
        fprintf(stderr, "logshared: cannot start log requests and surveys: %s\n",
                logshare_strerror(rc));
    return rc;
}

/* How long ending the event streams may take at most on SIGTERM (they
 * end at once unless a client stopped reading). */
#define STREAMS_CLOSE_MS 2000

/* Milliseconds left until deadline (monotonic ns), at most cap, never
 * negative. */
static int ms_until(int64_t deadline, int cap)
{
    int64_t left = (deadline - ls_time_mono_ns()) / 1000000;
    return left <= 0 ? 0 : left > cap ? cap : (int)left;
}

/* [tracker]: with a webhook_url, every ticket created from now on is
 * queued for hand-off in its own transaction, and a thread hands the
 * queue (this server's and, on PostgreSQL, the other servers') to the
 * signed webhook (tracker/tracker_worker.h). Needs the settled
 * public_url for the ticket's dashboard link. */
static int start_tracker(const server_config *cfg, struct ticket_store *ts,
                         struct tracker_worker **out)
{
    *out = NULL;
    if (!cfg->tracker_webhook_url)
        return 0;
    char path[4096], *secret = NULL;
    size_t secret_len = 0;
    if (cfg->tracker_webhook_secret_file)
        snprintf(path, sizeof path, "%s", cfg->tracker_webhook_secret_file);
    else
        snprintf(path, sizeof path, "%s/tracker-secret", cfg->data_dir);
    int rc = auth_secret_load_or_create(path, &secret, &secret_len);
    if (rc) {
        fprintf(stderr, "logshared: tracker secret %s (tracker.webhook_secret_file): %s\n", path,
                logshare_strerror(rc));
        return rc;
    }
    struct tracker_webhook_options wo = {cfg->tracker_webhook_url, (unsigned char *)secret,
                                         secret_len, (int)cfg->tracker_timeout_ms, cfg->public_url};
    struct tracker *tr;
    rc = tracker_webhook_new(&wo, &tr);
    memset(secret, 0, secret_len);
    free(secret);
    struct tracker_worker_options to = {
        (int)cfg->tracker_timeout_ms, (int)cfg->tracker_retry_initial_ms,
        (int)cfg->tracker_retry_max_ms, (int)cfg->tracker_max_attempts, 0};
    if (!rc)
        rc = tracker_worker_start(tr, ts, &to, out);
    if (rc)
        fprintf(stderr, "logshared: cannot start the tracker hand-off: %s\n",
                logshare_strerror(rc));
    return rc;
}

static int serve(server_config *cfg)
{
    /* Signals go to sigwait below, never to a thread of the server or of
     * a back end: blocked before any thread exists, so all inherit it. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    int rc = ls_fs_mkdir_p(cfg->data_dir, 0700);
    if (rc) {
        fprintf(stderr, "logshared: cannot create data dir %s: %s\n", cfg->data_dir,
                logshare_strerror(rc));
        return 1;
    }
    struct api_app app = {cfg, NULL, NULL, NULL, NULL, NULL};
    int status = 1;
    struct http_server *server = NULL;
    struct orphan_sweep *sweep = NULL;
    struct tracker_worker *tracker = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", cfg->data_dir, TICKET_STORE_SQLITE_FILENAME);
    struct auth_config acfg = {0};
    acfg.data_dir = cfg->data_dir;
    acfg.secret_file = cfg->auth_secret_file;
    acfg.public_key_file = cfg->auth_public_key_file;
    acfg.issuer = cfg->auth_issuer;
    acfg.audience = cfg->auth_audience;
    if (parse_algorithm(cfg->auth_algorithm, &acfg.algorithm)) {
        fprintf(stderr, "logshared: auth algorithm must be HS256, RS256 or ES256\n");
        return 2;
    }
    int setup_lock = -1;
    /* Not under the lock: opening the blob store is safe in parallel
     * (mkdir tolerates EEXIST, its sweeps respect the uploads' locks)
     * and walks the whole store, which on a big one takes a while. */
    if ((rc = blob_store_open_configured(cfg, &app.blobs))) {
        fprintf(stderr, "logshared: cannot open the blob store: %s\n", logshare_strerror(rc));
        if (rc == LOGSHARE_EINVAL)
            status = 2; /* a [blob] setting is wrong: a usage error */
        goto out;
    }
    setup_lock = startup_lock(cfg->data_dir);
    if ((rc = ticket_store_open_url(cfg->database_url, cfg->data_dir, (int)cfg->durable,
                                    &app.tickets))) {
        fprintf(stderr, "logshared: cannot open the ticket database %s: %s\n",
                cfg->database_url ? "(database.url)" : path, logshare_strerror(rc));
        if (rc == LOGSHARE_EINVAL)
            status = 2; /* a setting is wrong: a usage error */
        goto out;
    }
    int foreign = 0;
    if ((rc = owner_bind(cfg->data_dir, app.blobs, app.tickets, &foreign))) {
        if (rc == LOGSHARE_EINVAL)
            status =
                2; /* database.url and the data dir or container disagree: a setting is wrong */
        goto out;
    }
    if ((rc = auth_new(&acfg, &app.auth))) {
        report_auth_error(&acfg, rc, &status);
        goto out;
    }
    /* The push tables have a SQLite file of their own: they never join
     * tickets, and sharing logshare.db made their write lock contend with
     * the ticket store's group commit. */
    char push_path[4096];
    snprintf(push_path, sizeof push_path, "%s/%s", cfg->data_dir, PUSH_DB_FILENAME);
    if ((rc = start_push(cfg, push_path, &app.push)))
        goto out;
    /* Sessions too have a file of their own, shared by every server on
     * the data dir; made (and switched to WAL) under the lock. */
    char sessions_path[4096];
    snprintf(sessions_path, sizeof sessions_path, "%s/%s", cfg->data_dir, SESSION_DB_FILENAME);
    struct dashboard_config dcfg = {
        .support_secret_key_file = cfg->dashboard_support_secret_key_file,
        .session_idle_ttl_s = cfg->dashboard_session_idle_ttl_s,
        .session_max_ttl_s = cfg->dashboard_session_max_ttl_s,
        .secure_cookie = cfg->tls_cert || cfg->dashboard_secure_cookie,
        .tmp_dir = cfg->data_dir,
        .sessions_db = sessions_path,
    };
    if ((rc = dashboard_new(&dcfg, app.tickets, app.blobs, app.auth, &app.dashboard))) {
        fprintf(stderr, "logshared: dashboard: %s%s\n", logshare_strerror(rc),
                rc == LOGSHARE_EKEY ? " (dashboard.support_secret_key_file)"
                                    : " (" SESSION_DB_FILENAME ")");
        goto out;
    }
    startup_unlock(&setup_lock);
    char bound[96], why[512];
    int fd = open_listen_socket(cfg->listen, bound, sizeof bound, why, sizeof why);
    if (fd < 0) {
        fprintf(stderr, "logshared: cannot listen on %s (server.listen): %s\n", cfg->listen, why);
        if (fd == -2)
            status = 2; /* a name that resolves nowhere is a setting to fix */
        goto out;
    }
    if ((rc = settle_public_url(cfg, bound)) || (rc = start_tracker(cfg, app.tickets, &tracker))) {
        if (rc == LOGSHARE_EKEY)
            status = 2; /* tracker.webhook_secret_file is not a usable key */
        close(fd);
        goto out;
    }
    size_t n_routes;
    const http_route *routes = api_routes(&n_routes);
    if ((rc = http_server_start(cfg, fd, routes, n_routes, &app, &server))) {
        if (rc == LOGSHARE_EKEY)
            status = 2; /* the TLS certificate or key: a setting to fix */
        goto out;
    }
    fprintf(stderr, "logshared: serving on %s://%s (data dir %s)\n",
            cfg->tls_cert ? "https" : "http", bound, cfg->data_dir);
    if (cfg->port_file) {
        const char *colon = strrchr(bound, ':');
        char text[16];
        int n = snprintf(text, sizeof text, "%s\n", colon + 1);
        ls_fs_write_atomic(cfg->port_file, text, (size_t)n, 0644);
    }
    /* After serving began: the sweep may take long on a big blob
     * directory and must delay neither requests nor readiness. */
    struct orphan_sweep_options so = {.grace_s = cfg->blob_orphan_grace_s,
                                      .interval_s = cfg->blob_sweep_interval_s,
                                      .stale_upload_s = BLOB_STALE_UPLOAD_S,
                                      .foreign = foreign};
    if ((rc = orphan_sweep_start(app.blobs, app.tickets, &so, &sweep)))
        fprintf(stderr, "logshared: cannot start the orphan sweep: %s\n", logshare_strerror(rc));
    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "logshared: %s: finishing requests in flight (up to %lld s)\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", (long long)cfg->shutdown_timeout_s);
    /* One deadline for the whole stop, and no new client from here on:
     * ending the streams below may wait, and a request accepted meanwhile
     * would be served and get a full shutdown_timeout_s of its own. */
    int64_t wait_s =
        cfg->shutdown_timeout_s < INT_MAX / 1000 ? cfg->shutdown_timeout_s : INT_MAX / 1000;
    int64_t deadline = ls_time_mono_ns() + wait_s * 1000000000LL;
    http_server_stop_accepting(server);
    push_service_stop_webhooks(app.push); /* a slow receiver must not hold up the exit */
    tracker_worker_stop(tracker);         /* nor a slow tracker */
    orphan_sweep_stop(sweep);             /* before its next blob, or woken from its wait */
    sweep = NULL;
    /* Streams never finish on their own: end them first, or the wait
     * for requests in flight would always run to its timeout. */
    push_service_close_streams(app.push, ms_until(deadline, STREAMS_CLOSE_MS));
    http_server_stop(server, ms_until(deadline, INT_MAX));
    server = NULL;
    status = 0;
    fprintf(stderr, "logshared: stopped\n");
out:
    startup_unlock(&setup_lock);
    orphan_sweep_stop(sweep);
    push_service_close_streams(app.push, 0);
    http_server_stop(server, 0);
    push_service_free(app.push);
    tracker_worker_free(tracker); /* before the ticket store it reads */
    dashboard_free(app.dashboard);
    auth_free(app.auth);
    ticket_store_destroy(app.tickets);
    blob_store_destroy(app.blobs);
    return status;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "token") == 0)
        return logshared_cmd_token(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "user") == 0)
        return logshared_cmd_user(argc - 1, argv + 1);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("logshared %s\n", logshared_version());
            return 0;
        }
    }
    server_config cfg;
    char err[768] = "";
    server_config_warn_env(NULL, stderr);
    int rc = server_config_load(&cfg, argc, argv, 1, err, sizeof err);
    if (rc) {
        fprintf(stderr, "logshared: %s\n", err[0] ? err : logshare_strerror(rc));
        server_config_clear(&cfg);
        return 2;
    }
    int status = serve(&cfg);
    server_config_clear(&cfg);
    return status;
}
