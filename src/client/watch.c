/*
 * watch.c - logshare_watch: listens for support's log requests and
 * answers them with the user's consent (push section of logshare.h).
 *
 * One libcurl transfer per connection on the calling thread; the body
 * goes through the SSE parser (watch_sse.c), and each `log_request`
 * event is handed to the app's callback right there, so a consent
 * dialog simply blocks the stream (the server keeps what it sends in
 * the socket). After a drop the watcher waits (exponential backoff with
 * jitter, or the server's `retry:` advice when longer) and reconnects
 * with Last-Event-ID, which makes the server send only what was missed.
 * Errors no retry can cure end the watch: a 401/403 (the token will not
 * get better), a certificate that does not verify, a URL or protocol
 * libcurl cannot use (report_http_curl_error tells them apart, as for
 * report and outbox).
 *
 * Uploads reuse the report path (logshare_report / _dir) with a shallow
 * copy of the app's share options whose fields say source "push" and
 * the request id: the outbox then gives the upload its durability and
 * exactly-once delivery.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "logshare.h"
#include "ls_buf.h"
#include "ls_time.h"
#include "report_http.h"
#include "share.h"
#include "watch_sse.h"

struct logshare_watcher {
    logshare *store;
    char *dir;
    const logshare_share_options *opts;
    logshare_log_request_fn on_request;
    void *request_user;
    logshare_watch_event_fn on_event;
    void *event_user;
    long initial_ms, max_ms, idle_ms;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    /* per connection */
    watch_sse parser;
    long http_status;
    int sse_type;  /* this response says Content-Type: text/event-stream */
    int is_stream; /* 200 and an event stream: the body is events */
    ls_buf error_body;
    int got_bytes;
    int64_t last_byte_ns; /* monotonic: when the stream last brought a byte */
    int idle_cut;         /* this connection was dropped for silence */
};

logshare_watcher *logshare_watcher_new(void)
{
    logshare_watcher *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->initial_ms = 1000;
    w->max_ms = 60000;
    w->idle_ms = 60000;
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    return w;
}

void logshare_watcher_free(logshare_watcher *w)
{
    if (!w)
        return;
    free(w->dir);
    watch_sse_free(&w->parser);
    ls_buf_free(&w->error_body);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

int logshare_watcher_set_store(logshare_watcher *w, logshare *ls)
{
    if (!w || !ls)
        return LOGSHARE_EINVAL;
    free(w->dir);
    w->dir = NULL;
    w->store = ls;
    return 0;
}

int logshare_watcher_set_dir(logshare_watcher *w, const char *dir)
{
    if (!w || !dir || !*dir)
        return LOGSHARE_EINVAL;
    char *copy = strdup(dir);
    if (!copy)
        return LOGSHARE_ENOMEM;
    free(w->dir);
    w->dir = copy;
    w->store = NULL;
    return 0;
}

int logshare_watcher_set_share_options(logshare_watcher *w, const logshare_share_options *opts)
{
    if (!w || !opts)
        return LOGSHARE_EINVAL;
    w->opts = opts;
    return 0;
}

int logshare_watcher_set_request_callback(logshare_watcher *w, logshare_log_request_fn fn,
                                          void *user)
{
    if (!w || !fn)
        return LOGSHARE_EINVAL;
    w->on_request = fn;
    w->request_user = user;
    return 0;
}

int logshare_watcher_set_event_callback(logshare_watcher *w, logshare_watch_event_fn fn, void *user)
{
    if (!w)
        return LOGSHARE_EINVAL;
    w->on_event = fn;
    w->event_user = user;
    return 0;
}

int logshare_watcher_set_reconnect(logshare_watcher *w, long initial_ms, long max_ms)
{
    if (!w || initial_ms < 10 || max_ms < initial_ms)
        return LOGSHARE_EINVAL;
    w->initial_ms = initial_ms;
    w->max_ms = max_ms;
    return 0;
}

int logshare_watcher_set_idle_timeout(logshare_watcher *w, long idle_ms)
{
    if (!w || idle_ms < 1000)
        return LOGSHARE_EINVAL;
    w->idle_ms = idle_ms;
    return 0;
}

void logshare_watcher_stop(logshare_watcher *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static int stopped(logshare_watcher *w)
{
    pthread_mutex_lock(&w->lock);
    int s = w->stop;
    pthread_mutex_unlock(&w->lock);
    return s;
}

static void emit(logshare_watcher *w, logshare_watch_event ev, const char *id, int status,
                 const char *detail)
{
    if (w->on_event)
        w->on_event(w->event_user, ev, id, status, detail);
}

/* ---- answering a request -------------------------------------------- */

static char *api_url(const char *base, const char *path)
{
    size_t len = strlen(base);
    while (len > 0 && base[len - 1] == '/')
        len--;
    ls_buf b = LS_BUF_INIT;
    if (ls_buf_append(&b, base, len) || ls_buf_append_str(&b, path)) {
        ls_buf_free(&b);
        return NULL;
    }
    return ls_buf_steal(&b);
}

static size_t discard_body(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

int logshare_decline_log_request(const logshare_share_options *opts, const char *request_id)
{
    if (!opts || !opts->server_url || !opts->token || !request_id || !*request_id ||
        strspn(request_id, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(request_id))
        return LOGSHARE_EINVAL;
    char path[128];
    snprintf(path, sizeof path, "/api/v1/log-requests/%s/decline", request_id);
    char *url = api_url(opts->server_url, path);
    CURL *c = curl_easy_init();
    ls_buf auth = LS_BUF_INIT;
    struct curl_slist *h = NULL;
    int rc = url && c && !ls_buf_printf(&auth, "Authorization: Bearer %s", opts->token)
                 ? 0
                 : LOGSHARE_ENOMEM;
    if (!rc) {
        h = curl_slist_append(h, auth.data);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                         opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 10000L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body);
        if (opts->ca_file)
            curl_easy_setopt(c, CURLOPT_CAINFO, opts->ca_file);
        CURLcode cc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (cc != CURLE_OK)
            rc = report_http_curl_error(cc);
        else if (status == 200)
            rc = 0;
        else if (status == 401)
            rc = LOGSHARE_EAUTH;
        else if (status == 403)
            rc = LOGSHARE_EPERM;
        else if (status == 404)
            rc = LOGSHARE_ENOENT;
        else if (status == 409)
            rc = LOGSHARE_ECONFLICT;
        else
            rc = LOGSHARE_EHTTP;
    }
    curl_slist_free_all(h);
    ls_buf_free(&auth);
    curl_easy_cleanup(c);
    free(url);
    return rc;
}

static void upload(logshare_watcher *w, const logshare_log_request *req)
{
    /* A shallow copy shares the app's settings; only the fields differ. */
    logshare_share_options o = *w->opts;
    memset(&o.fields, 0, sizeof o.fields);
    int rc = share_fields_copy(&o.fields, &w->opts->fields);
    rc = rc ? rc : share_string_set(&o.fields.source, "push");
    rc = rc ? rc : share_string_set(&o.fields.log_request_id, req->id);
    if (!rc && !o.fields.description) {
        ls_buf d = LS_BUF_INIT;
        rc = ls_buf_printf(&d, "Logs requested by support: %s", req->reason ? req->reason : "");
        if (!rc)
            o.fields.description = ls_buf_steal(&d);
        ls_buf_free(&d);
    }
    logshare_report_result *res = NULL;
    if (!rc)
        rc = w->store ? logshare_report(w->store, &o, &res) : logshare_report_dir(w->dir, &o, &res);
    share_fields_clear(&o.fields);
    if (rc == 0)
        emit(w, LOGSHARE_WATCH_UPLOADED, req->id, 0, logshare_report_result_ticket_id(res));
    else if (rc == LOGSHARE_EQUEUED)
        emit(w, LOGSHARE_WATCH_QUEUED, req->id, rc, logshare_report_result_outbox_id(res));
    else
        emit(w, LOGSHARE_WATCH_FAILED, req->id, rc,
             res && logshare_report_result_error_message(res)
                 ? logshare_report_result_error_message(res)
                 : logshare_strerror(rc));
    logshare_report_result_free(res);
}

static int on_sse_event(void *user, const char *event, const char *id, const char *data)
{
    (void)id;
    logshare_watcher *w = user;
    if (strcmp(event, "log_request") != 0)
        return 0; /* events we do not know are for newer clients */
    json_t *doc = json_loads(data, 0, NULL);
    const char *rid = json_string_value(json_object_get(doc, "id"));
    const char *status = json_string_value(json_object_get(doc, "status"));
    if (!rid || (status && strcmp(status, "pending") != 0)) {
        json_decref(doc);
        return 0;
    }
    logshare_log_request req = {
        rid,
        json_string_value(json_object_get(doc, "reason")),
        json_string_value(json_object_get(doc, "ticket_id")),
        json_string_value(json_object_get(doc, "created_at")),
        json_string_value(json_object_get(doc, "expires_at")),
        data,
    };
    logshare_consent answer = w->on_request(w->request_user, &req);
    if (answer == LOGSHARE_CONSENT_UPLOAD) {
        upload(w, &req);
    } else if (answer == LOGSHARE_CONSENT_DECLINE) {
        int rc = logshare_decline_log_request(w->opts, rid);
        if (rc == 0)
            emit(w, LOGSHARE_WATCH_DECLINED, rid, 0, NULL);
        else
            emit(w, LOGSHARE_WATCH_FAILED, rid, rc, logshare_strerror(rc));
    }
    json_decref(doc);
    return 0;
}

/* ---- one connection -------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
    logshare_watcher *w = user;
    size_t len = size * n;
    w->got_bytes = 1;
    w->last_byte_ns = ls_time_mono_ns();
    if (!w->is_stream) {
        if (w->error_body.len < 4096)
            ls_buf_append(&w->error_body, data, len);
        return len;
    }
    int rc = watch_sse_feed(&w->parser, data, len);
    /* A consent question may have kept us here for minutes while the
     * server's heartbeats waited in the socket: that was not silence. */
    w->last_byte_ns = ls_time_mono_ns();
    if (rc != 0)
        return 0; /* a malformed or oversized stream: drop it and reconnect */
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *user)
{
    logshare_watcher *w = user;
    size_t len = size * n;
    w->last_byte_ns = ls_time_mono_ns();
    /* The status line starts each response; remember its code so the
     * body callback knows whether it is reading events or an error. */
    if (len > 12 && strncmp(data, "HTTP/", 5) == 0) {
        const char *sp = memchr(data, ' ', len);
        w->http_status = sp ? strtol(sp + 1, NULL, 10) : 0;
        w->sse_type = w->is_stream = 0;
    } else if (len > 13 && strncasecmp(data, "content-type:", 13) == 0) {
        size_t i = 13;
        while (i < len && (data[i] == ' ' || data[i] == '\t'))
            i++;
        w->sse_type = len - i >= 17 && strncasecmp(data + i, "text/event-stream", 17) == 0 &&
                      (len - i == 17 || strchr("; \t\r\n", data[i + 17]));
    } else if ((len == 2 && data[0] == '\r') || (len == 1 && data[0] == '\n')) {
        /* The end of the headers. A 200 that is not an event stream is a
         * captive portal's login page or a proxy's answer, not a stream:
         * treating it as one reconnected every second for ever. */
        w->is_stream = w->http_status == 200 && w->sse_type;
        if (w->is_stream)
            emit(w, LOGSHARE_WATCH_CONNECTED, NULL, 0, NULL);
    }
    return len;
}

/* Called about once a second while the transfer waits. Silence is
 * measured here from the last byte, not with curl's low-speed check: that
 * one wants an average of 1 byte/s, which a stream of 3-byte heartbeats
 * every 15 s never reaches, so every idle stream was cut each idle_ms. */
static int on_progress(void *user, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a;
    (void)b;
    (void)c;
    (void)d;
    logshare_watcher *w = user;
    if (ls_time_mono_ns() - w->last_byte_ns > (int64_t)w->idle_ms * 1000000) {
        w->idle_cut = 1;
        return 1;
    }
    return stopped(w) ? 1 : 0;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* One stream until it ends. Returns 0 (it was open and then dropped or
 * was stopped), LOGSHARE_EAUTH, LOGSHARE_EHTTP (another status), or
 * what report_http_curl_error makes of a transfer that got no answer;
 * why gets the reason in words (curl's own text when it has one). */
static int connect_once(logshare_watcher *w, char *why, size_t why_len)
{
    pthread_once(&curl_once, curl_init_once);
    char *url = api_url(w->opts->server_url, "/api/v1/log-requests/stream");
    CURL *c = curl_easy_init();
    ls_buf auth = LS_BUF_INIT, last = LS_BUF_INIT;
    struct curl_slist *h = NULL;
    if (!url || !c || ls_buf_printf(&auth, "Authorization: Bearer %s", w->opts->token)) {
        free(url);
        curl_easy_cleanup(c);
        ls_buf_free(&auth);
        return LOGSHARE_ENOMEM;
    }
    h = curl_slist_append(h, auth.data);
    h = curl_slist_append(h, "Accept: text/event-stream");
    if (w->parser.last_id[0] && !ls_buf_printf(&last, "Last-Event-ID: %s", w->parser.last_id))
        h = curl_slist_append(h, last.data);
    w->http_status = 0;
    w->sse_type = w->is_stream = 0;
    w->got_bytes = 0;
    w->idle_cut = 0;
    w->last_byte_ns = ls_time_mono_ns();
    ls_buf_reset(&w->error_body);
    watch_sse_reset(&w->parser);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, w);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, w);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, w);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     w->opts->connect_timeout_ms > 0 ? w->opts->connect_timeout_ms : 10000L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (w->opts->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, w->opts->ca_file);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode cc = curl_easy_perform(c);
    /* errbuf says which certificate problem; curl_easy_strerror only
     * names the class. */
    const char *curl_why = errbuf[0] ? errbuf : curl_easy_strerror(cc);
    int rc = 0;
    if (w->idle_cut) {
        /* Heartbeats stopped: the path is dead even if TCP has not
         * noticed. Worth another connection, whatever the status. */
        snprintf(why, why_len, "no byte from the server for %ld ms", w->idle_ms);
        rc = w->is_stream ? 0 : LOGSHARE_ETIMEDOUT;
    } else if (w->http_status == 401 || w->http_status == 403) {
        snprintf(why, why_len, "the server refused the token (HTTP %ld)", w->http_status);
        rc = LOGSHARE_EAUTH;
    } else if (w->http_status == 200 && !w->is_stream) {
        snprintf(why, why_len,
                 "HTTP 200 but not an event stream (a proxy or captive portal in the way?)");
        rc = LOGSHARE_EHTTP;
    } else if (w->http_status != 200) {
        if (w->http_status)
            snprintf(why, why_len, "HTTP %ld", w->http_status);
        else
            snprintf(why, why_len, "%s", curl_why);
        rc = w->http_status ? LOGSHARE_EHTTP : report_http_curl_error(cc);
    } else {
        snprintf(why, why_len, "%s", cc == CURLE_OK ? "the server ended the stream" : curl_why);
    }
    curl_slist_free_all(h);
    ls_buf_free(&auth);
    ls_buf_free(&last);
    curl_easy_cleanup(c);
    free(url);
    return rc;
}

/* Errors another connection would meet again just the same. */
static int permanent(int rc)
{
    return rc == LOGSHARE_EAUTH || rc == LOGSHARE_ETLS || rc == LOGSHARE_EINVAL ||
           rc == LOGSHARE_EUNSUPPORTED;
}

/* Sleeps up to ms, returning early on stop. */
static void backoff_sleep(logshare_watcher *w, long ms)
{
    int64_t until = ls_time_mono_ns() + (int64_t)ms * 1000000;
    struct timespec ts = {(time_t)(until / 1000000000), (long)(until % 1000000000)};
    pthread_mutex_lock(&w->lock);
    while (!w->stop && pthread_cond_timedwait(&w->cond, &w->lock, &ts) == 0) {
    }
    pthread_mutex_unlock(&w->lock);
}

/* logshare_watch's connect, wait, reconnect loop. */
static int watch_loop(logshare_watcher *w)
{
    long delay = w->initial_ms;
    while (!stopped(w)) {
        char why[256] = "";
        int rc = connect_once(w, why, sizeof why);
        if (stopped(w))
            break;
        if (permanent(rc)) {
            emit(w, LOGSHARE_WATCH_DISCONNECTED, NULL, rc, why);
            return rc;
        }
        if (rc == 0 && w->got_bytes)
            delay = w->initial_ms; /* it was open: start the backoff over */
        long wait = delay;
        if (w->parser.retry_ms > wait)
            wait = w->parser.retry_ms;
        wait -= (long)randombytes_uniform((uint32_t)(wait / 5 + 1)); /* jitter */
        char detail[320];
        snprintf(detail, sizeof detail, "%s; reconnecting in %ld ms", why, wait);
        emit(w, LOGSHARE_WATCH_DISCONNECTED, NULL, rc ? rc : LOGSHARE_ENETWORK, detail);
        backoff_sleep(w, wait);
        delay = delay * 2 > w->max_ms ? w->max_ms : delay * 2;
    }
    return 0;
}

int logshare_watch(logshare_watcher *w)
{
    if (!w || !w->opts || !w->opts->server_url || !w->opts->token || !w->on_request ||
        (!w->store && !w->dir))
        return LOGSHARE_EINVAL;
    if (sodium_init() < 0)
        return LOGSHARE_EINTERNAL;
    watch_sse_free(&w->parser); /* a watcher run again: the last run's buffers */
    watch_sse_init(&w->parser, on_sse_event, w);
    int rc = watch_loop(w);
    /* The stop was for this run: the app may run the watcher again (after
     * going to the background and back, or with a new token). */
    pthread_mutex_lock(&w->lock);
    w->stop = 0;
    pthread_mutex_unlock(&w->lock);
    return rc;
}
