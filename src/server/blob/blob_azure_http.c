/*
 * blob_azure_http.c - one signed request to the Blob service, with
 * bounded retries: the request engine under blob_azure.c.
 *
 * Every request gets a fresh easy handle that shares connections, DNS
 * and TLS sessions with all others through one CURLSH, so parallel
 * uploads run in parallel and still reuse connections. Timeouts bound
 * every request: the connect, and a low-speed limit that cuts a
 * transfer that stalls; no total limit, since a 100 MiB block over a
 * slow but moving link is fine.
 *
 * Retries (only for requests the caller marks idempotent): transport
 * failures, 5xx and 429, up to AZ_ATTEMPTS in all, with exponential
 * backoff. A request is signed again for each attempt (a fresh x-ms-date).
 */
#include "blob_azure_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "blob_azure.h"
#include "logshare.h"
#include "ls_buf.h"

#define AZ_ATTEMPTS 4
#define AZ_BACKOFF_FIRST_MS 100
#define AZ_CONNECT_TIMEOUT_MS 5000L
/* A transfer slower than this many bytes/s for AZ_LOW_SPEED_S is cut. */
#define AZ_LOW_SPEED_BYTES 1024L
#define AZ_LOW_SPEED_S 30L

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *arg)
{
    (void)h;
    (void)access;
    struct az_conn *c = arg;
    pthread_mutex_lock(&c->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *arg)
{
    (void)h;
    struct az_conn *c = arg;
    pthread_mutex_unlock(&c->locks[data]);
}

int az_conn_init(struct az_conn *c)
{
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->locks[i], NULL);
    c->share = curl_share_init();
    if (!c->share)
        return LOGSHARE_ENOMEM;
    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    return 0;
}

void az_conn_clear(struct az_conn *c)
{
    if (c->share)
        curl_share_cleanup(c->share);
    c->share = NULL;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->locks[i]);
}

/* Percent-encodes everything but RFC 3986's unreserved characters ('/'
 * too when keep_slash), as Azure expects in paths and query values. */
int az_append_encoded(ls_buf *b, const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int plain = isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' ||
                    (keep_slash && *p == '/');
        char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
        int rc = plain ? ls_buf_append(b, p, 1) : ls_buf_append(b, esc, 3);
        if (rc)
            return rc;
    }
    return 0;
}

/* The URL's path, encoded: base path, container, key. */
static int build_path(const struct az_conn *c, const struct az_req *r, ls_buf *path)
{
    int rc = ls_buf_printf(path, "%s/", c->base_path);
    if (!rc)
        rc = az_append_encoded(path, c->container, 0);
    if (!rc && r->key) {
        rc = ls_buf_append_str(path, "/");
        if (!rc)
            rc = az_append_encoded(path, r->key, 1);
    }
    return rc;
}

static int build_url(const struct az_conn *c, const struct az_req *r, const char *path, ls_buf *url)
{
    int rc = ls_buf_printf(url, "%s%s", c->base_url, path + strlen(c->base_path));
    for (size_t i = 0; !rc && i < r->n_params; i++) {
        rc = ls_buf_printf(url, "%c%s=", i ? '&' : '?', r->params[i].name);
        if (!rc)
            rc = az_append_encoded(url, r->params[i].value, 0);
    }
    return rc;
}

struct transfer {
    struct az_req *req;
    const unsigned char *body;
    size_t body_left;
    ls_buf resp;
    size_t out_len;
    int too_big;
};

static size_t read_body(char *buf, size_t size, size_t n, void *arg)
{
    struct transfer *t = arg;
    size_t want = size * n < t->body_left ? size * n : t->body_left;
    memcpy(buf, t->body, want);
    t->body += want;
    t->body_left -= want;
    return want;
}

static size_t write_body(char *data, size_t size, size_t n, void *arg)
{
    struct transfer *t = arg;
    size_t len = size * n;
    struct az_req *r = t->req;
    /* Error answers go to resp whatever the caller wanted: only bytes of
     * a 2xx are blob bytes. */
    if (r->out && r->status >= 200 && r->status < 300) {
        if (len > r->out_cap - t->out_len) {
            t->too_big = 1;
            return 0;
        }
        memcpy((char *)r->out + t->out_len, data, len);
        t->out_len += len;
        return len;
    }
    if (len > r->max_response - t->resp.len) {
        t->too_big = 1;
        return 0;
    }
    return ls_buf_append(&t->resp, data, len) ? 0 : len;
}

/* Copies a header's value, trimmed, into dst (cap bytes, truncated). */
static void header_value(const char *v, size_t len, char *dst, size_t cap)
{
    while (len && (*v == ' ' || *v == '\t'))
        v++, len--;
    while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
        len--;
    size_t n = len < cap - 1 ? len : cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static int header_is(const char *line, size_t len, const char *name, const char **value,
                     size_t *vlen)
{
    size_t n = strlen(name);
    if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
        return 0;
    *value = line + n + 1;
    *vlen = len - n - 1;
    return 1;
}

/* "bytes a-b/total" */
static void parse_content_range(struct az_req *r, const char *v)
{
    const char *slash = strchr(v, '/');
    char *end;
    if (strncmp(v, "bytes ", 6) != 0 || !slash || !isdigit((unsigned char)slash[1]))
        return;
    unsigned long long total = strtoull(slash + 1, &end, 10);
    if (*end == '\0') {
        r->range_total = total;
        r->has_range_total = 1;
    }
}

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
    struct transfer *t = arg;
    struct az_req *r = t->req;
    size_t len = size * n;
    const char *v;
    size_t vlen;
    char tmp[128];
    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        /* A new response (after 100 Continue, or a retry): start over. */
        const char *sp = memchr(line, ' ', len);
        r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        r->error_code[0] = r->etag[0] = r->upload_meta[0] = '\0';
        r->has_range_total = 0;
        r->content_length = 0;
    } else if (header_is(line, len, "x-ms-error-code", &v, &vlen)) {
        header_value(v, vlen, r->error_code, sizeof r->error_code);
    } else if (header_is(line, len, "ETag", &v, &vlen)) {
        header_value(v, vlen, r->etag, sizeof r->etag);
    } else if (header_is(line, len, "x-ms-meta-logshareupload", &v, &vlen)) {
        header_value(v, vlen, r->upload_meta, sizeof r->upload_meta);
    } else if (header_is(line, len, "Content-Range", &v, &vlen)) {
        header_value(v, vlen, tmp, sizeof tmp);
        parse_content_range(r, tmp);
    } else if (header_is(line, len, "Content-Length", &v, &vlen)) {
        header_value(v, vlen, tmp, sizeof tmp);
        r->content_length = strtoull(tmp, NULL, 10);
    }
    return len;
}

/* The x-ms-* headers of one attempt, sorted (date, range, the caller's,
 * version), as "name:value" both for sending and for signing. */
struct xms_set {
    char date[64];
    char range[80];
    const char *all[AZ_MAX_XMS];
    size_t n;
};

static int xms_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void build_xms(const struct az_req *r, struct xms_set *x)
{
    char now[30];
    az_date_format((int64_t)time(NULL), now);
    snprintf(x->date, sizeof x->date, "x-ms-date:%s", now);
    x->n = 0;
    x->all[x->n++] = x->date;
    if (r->range_end > 0) {
        snprintf(x->range, sizeof x->range, "x-ms-range:bytes=%llu-%llu",
                 (unsigned long long)r->range_start, (unsigned long long)r->range_end - 1);
        x->all[x->n++] = x->range;
    }
    for (size_t i = 0; i < r->n_xms; i++)
        x->all[x->n++] = r->xms[i];
    x->all[x->n++] = "x-ms-version:" BLOB_AZURE_API_VERSION;
    qsort(x->all, x->n, sizeof x->all[0], xms_cmp);
}

static struct curl_slist *build_headers(const struct az_req *r, const struct xms_set *x,
                                        const char *auth)
{
    struct curl_slist *h = NULL, *t;
    char line[512];
    for (size_t i = 0; i < x->n; i++) {
        const char *colon = strchr(x->all[i], ':');
        snprintf(line, sizeof line, "%.*s: %s", (int)(colon - x->all[i]), x->all[i], colon + 1);
        if (!(t = curl_slist_append(h, line)))
            goto fail;
        h = t;
    }
    const char *fixed[] = {"Expect:", "Accept:", "Content-Type:"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        if (!(t = curl_slist_append(h, fixed[i])))
            goto fail;
        h = t;
    }
    if (r->if_match) {
        snprintf(line, sizeof line, "If-Match: %s", r->if_match);
        if (!(t = curl_slist_append(h, line)))
            goto fail;
        h = t;
    }
    if (r->if_none_match) {
        snprintf(line, sizeof line, "If-None-Match: %s", r->if_none_match);
        if (!(t = curl_slist_append(h, line)))
            goto fail;
        h = t;
    }
    snprintf(line, sizeof line, "Authorization: %s", auth);
    if (!(t = curl_slist_append(h, line)))
        goto fail;
    return t;
fail:
    curl_slist_free_all(h);
    return NULL;
}

static int transport_error(CURLcode cc)
{
    switch (cc) {
    case CURLE_OUT_OF_MEMORY:
        return LOGSHARE_ENOMEM;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CONNECT_ERROR:
        return LOGSHARE_ETLS;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return LOGSHARE_EINVAL;
    default:
        return LOGSHARE_EUNAVAILABLE;
    }
}

/* Aborts the transfer once the request's cancel flag is set. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return atomic_load((const atomic_int *)arg) != 0;
}

static void setup_handle(CURL *h, struct az_conn *c, struct az_req *r, struct transfer *t,
                         const char *url, struct curl_slist *headers)
{
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_SHARE, c->share);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, AZ_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, AZ_LOW_SPEED_BYTES);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, AZ_LOW_SPEED_S);
    if (r->cancel) {
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)r->cancel);
    }
    if (r->timeout_ms > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
    if (strcmp(r->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_body);
        curl_easy_setopt(h, CURLOPT_READDATA, t);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
    } else if (strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    }
}

/* One attempt: 0 when an answer arrived (r->status), else the error. */
static int attempt(struct az_conn *c, struct az_req *r, const char *path, const char *url)
{
    struct xms_set x;
    build_xms(r, &x);
    struct az_sign_input in = {
        .verb = r->method,
        .content_length = strcmp(r->method, "PUT") == 0 ? r->body_len : 0,
        .if_match = r->if_match,
        .if_none_match = r->if_none_match,
        .n_xms = x.n,
        .path = path,
        .params = r->params,
        .n_params = r->n_params,
    };
    memcpy(in.xms, x.all, x.n * sizeof x.all[0]);
    char auth[256];
    int rc = az_sign(c->key, c->key_len, c->account, &in, auth, sizeof auth);
    if (rc)
        return rc;
    struct curl_slist *headers = build_headers(r, &x, auth);
    CURL *h = curl_easy_init();
    if (!headers || !h) {
        curl_slist_free_all(headers);
        curl_easy_cleanup(h);
        return LOGSHARE_ENOMEM;
    }
    struct transfer t = {.req = r, .body = r->body, .body_left = r->body_len};
    r->status = 0;
    setup_handle(h, c, r, &t, url, headers);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    curl_slist_free_all(headers);
    if (t.too_big) {
        ls_buf_free(&t.resp);
        fprintf(stderr, "logshared: azure %s: the answer is larger than expected\n", r->op);
        return LOGSHARE_EIO;
    }
    if (cc != CURLE_OK) {
        ls_buf_free(&t.resp);
        snprintf(r->transport_error, sizeof r->transport_error, "%s", curl_easy_strerror(cc));
        return transport_error(cc);
    }
    free(r->body_out);
    r->body_out_len = t.resp.len;
    r->body_out = ls_buf_steal(&t.resp);
    if (r->out)
        r->body_out_len = r->status >= 200 && r->status < 300 ? t.out_len : r->body_out_len;
    return 0;
}

static int retryable(int rc, long status)
{
    if (rc == LOGSHARE_EUNAVAILABLE)
        return 1;
    return rc == 0 && (status >= 500 || status == 429);
}

int az_request(struct az_conn *c, struct az_req *r)
{
    ls_buf path = LS_BUF_INIT, url = LS_BUF_INIT;
    int rc = build_path(c, r, &path);
    if (!rc)
        rc = build_url(c, r, path.data, &url);
    if (!r->max_response)
        r->max_response = 64 << 10;
    for (r->attempts = 0; rc == 0 && r->attempts < AZ_ATTEMPTS;) {
        rc = attempt(c, r, path.data, url.data);
        r->attempts++;
        if (!r->retry || !retryable(rc, r->status) || r->attempts == AZ_ATTEMPTS ||
            (r->cancel && atomic_load(r->cancel)))
            break;
        /* 100 ms, 400 ms, 1.6 s: about 2 s of an outage is ridden out. */
        long ms = (long)AZ_BACKOFF_FIRST_MS << (2 * (r->attempts - 1));
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        rc = 0;
    }
    /* A canceled request (a reader closed early) is no failure to log. */
    if (rc && r->transport_error[0] && !(r->cancel && atomic_load(r->cancel)))
        fprintf(stderr, "logshared: azure %s %s: %s (after %d attempts)\n", r->op,
                r->key ? r->key : c->container, r->transport_error, r->attempts);
    ls_buf_free(&path);
    ls_buf_free(&url);
    return rc;
}

int az_status_error(const struct az_req *r)
{
    long s = r->status;
    if (s >= 200 && s < 300)
        return 0;
    if (s == 404)
        return LOGSHARE_ENOENT;
    if (s >= 500 || s == 429) {
        fprintf(stderr, "logshared: azure %s %s: HTTP %ld %s (after %d attempts)\n", r->op,
                r->key ? r->key : "(container)", s, r->error_code, r->attempts);
        return LOGSHARE_EUNAVAILABLE;
    }
    fprintf(stderr, "logshared: azure %s %s: HTTP %ld %s\n", r->op, r->key ? r->key : "(container)",
            s, r->error_code[0] ? r->error_code : "(no error code)");
    return s == 403 ? LOGSHARE_EPERM : LOGSHARE_EIO;
}

void az_req_free(struct az_req *r)
{
    free(r->body_out);
    r->body_out = NULL;
    r->body_out_len = 0;
}
