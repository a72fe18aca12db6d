/*
 * report_http.c - one multipart upload of a ticket request with libcurl.
 *
 * Contract (SPEC.md, POST /api/v1/tickets): text fields description,
 * call_id (repeated), customer_name, customer_email, app_version,
 * platform, source, log_request_id; every file a part with a filename;
 * header Idempotency-Key; 201 with the ticket JSON. Files are streamed
 * from disk by curl_mime_filedata, never loaded whole.
 *
 * Safety: TLS peer and host verification stay on (curl's default; we
 * only let the app name its own CA bundle). Timeouts: a connect timeout
 * and a low-speed abort rather than a total deadline, because a large
 * upload on a slow but working link must be allowed to finish.
 */
#include "report_http.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ls_buf.h"

/* A bound on what a server may make us hold, not a size we expect: a
 * ticket's JSON grows by about 400 bytes per attachment, and a report
 * of thousands of files reads its ticket back after every batch
 * (outbox_send.c), so 1 MiB (the old bound) failed such reports at
 * about 2600 files, their ticket half attached. */
#define RESPONSE_MAX (16 * 1024 * 1024)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void report_http_response_clear(report_http_response *r)
{
    free(r->body);
    free(r->ticket_id);
    free(r->error_code);
    free(r->error_message);
    memset(r, 0, sizeof *r);
    r->retry_after_ms = -1;
}

struct http_ctx {
    ls_buf body;
    int too_big;
    int64_t retry_after_ms;
    const logshare_share_options *opts;
    int canceled;
};

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
    struct http_ctx *c = user;
    size_t len = size * n;
    if (c->body.len + len > RESPONSE_MAX) {
        c->too_big = 1;
        return 0;
    }
    return ls_buf_append(&c->body, data, len) == 0 ? len : 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *user)
{
    struct http_ctx *c = user;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
        char value[128];
        size_t vlen = len - (sizeof name - 1);
        if (vlen >= sizeof value)
            vlen = sizeof value - 1;
        memcpy(value, data + sizeof name - 1, vlen);
        value[vlen] = '\0';
        char *end = value + strlen(value);
        while (end > value && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
            *--end = '\0';
        c->retry_after_ms = retry_after_parse_ms(value, (int64_t)time(NULL));
    }
    return len;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    struct http_ctx *c = user;
    if (c->opts->progress && c->opts->progress(c->opts->progress_user, (uint64_t)ulnow,
                                               (uint64_t)(ultotal > 0 ? ultotal : 0)) != 0) {
        c->canceled = 1;
        return 1;
    }
    return 0;
}

static int add_field(curl_mime *mime, const char *name, const char *value)
{
    if (!value)
        return 0;
    curl_mimepart *p = curl_mime_addpart(mime);
    if (!p || curl_mime_name(p, name) != CURLE_OK ||
        curl_mime_data(p, value, CURL_ZERO_TERMINATED) != CURLE_OK)
        return LOGSHARE_ENOMEM;
    return 0;
}

void *report_http_build_mime(void *easy, const share_fields *f, const share_file_list *files)
{
    curl_mime *mime = curl_mime_init(easy);
    if (!mime)
        return NULL;
    static const share_fields none = {0};
    int with_fields = f != NULL; /* more attachments for a ticket carry no fields */
    if (!f)
        f = &none;
    int rc = add_field(mime, "description", f->description);
    for (size_t i = 0; rc == 0 && i < f->call_id_count; i++)
        rc = add_field(mime, "call_id", f->call_ids[i]);
    rc = rc ? rc : add_field(mime, "customer_name", f->customer_name);
    rc = rc ? rc : add_field(mime, "customer_email", f->customer_email);
    rc = rc ? rc : add_field(mime, "app_version", f->app_version);
    rc = rc ? rc : add_field(mime, "platform", f->platform);
    rc = rc ? rc
            : add_field(mime, "source", with_fields ? (f->source ? f->source : "report") : NULL);
    rc = rc ? rc : add_field(mime, "log_request_id", f->log_request_id);
    for (size_t i = 0; rc == 0 && i < f->extra_count; i++)
        rc = add_field(mime, f->extra_names[i], f->extra_values[i]);
    for (size_t i = 0; rc == 0 && i < files->count; i++) {
        const share_file *sf = &files->items[i];
        curl_mimepart *p = curl_mime_addpart(mime);
        const char *type = strcmp(sf->name, "manifest.json") == 0 ? "application/json"
                                                                  : "application/octet-stream";
        if (!p || curl_mime_name(p, "file") != CURLE_OK ||
            curl_mime_filedata(p, sf->path) != CURLE_OK ||
            curl_mime_filename(p, sf->name) != CURLE_OK || curl_mime_type(p, type) != CURLE_OK)
            rc = LOGSHARE_ENOMEM;
    }
    if (rc) {
        curl_mime_free(mime);
        return NULL;
    }
    return mime;
}

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

/* Reads the ticket id, or the server's {"error":{code,message}}. */
static void parse_body(report_http_response *r)
{
    if (!r->body)
        return;
    json_t *root = json_loads(r->body, 0, NULL);
    if (!root)
        return;
    if (r->http_status >= 200 && r->http_status < 300) {
        /* A survey's answer names its ticket (or null) in ticket_id. */
        json_t *id = json_object_get(root, "ticket_id") ? json_object_get(root, "ticket_id")
                                                        : json_object_get(root, "id");
        if (json_is_string(id))
            r->ticket_id = strdup(json_string_value(id));
        else if (json_is_integer(id)) {
            char num[32];
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(id));
            r->ticket_id = strdup(num);
        }
    } else {
        json_t *err = json_object_get(root, "error");
        const char *code = json_string_value(json_object_get(err, "code"));
        const char *msg = json_string_value(json_object_get(err, "message"));
        if (code)
            r->error_code = strdup(code);
        if (msg)
            r->error_message = strdup(msg);
    }
    json_decref(root);
}

static int status_to_error(int status)
{
    if (status == 401 || status == 403)
        return LOGSHARE_EAUTH;
    if (status == 413)
        return LOGSHARE_ETOOLARGE;
    if (status == 429)
        return LOGSHARE_ERATELIMIT;
    if (status == 503)
        return LOGSHARE_EUNAVAILABLE;
    if (status == 409)
        return LOGSHARE_ECONFLICT;
    return LOGSHARE_EHTTP;
}

int report_http_curl_error(int code)
{
    switch ((CURLcode)code) {
    case CURLE_OPERATION_TIMEDOUT:
        return LOGSHARE_ETIMEDOUT;
    case CURLE_ABORTED_BY_CALLBACK:
        return LOGSHARE_ECANCELED;
    case CURLE_OUT_OF_MEMORY:
        return LOGSHARE_ENOMEM;
    case CURLE_READ_ERROR:
        return LOGSHARE_EIO;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return LOGSHARE_EINVAL;
    case CURLE_NOT_BUILT_IN:
        return LOGSHARE_EUNSUPPORTED;
    /* The handshake reached a server whose certificate does not verify
     * against the CA bundle (or the --ca-file given), or the CA file
     * itself is unusable. CURLE_SSL_CONNECT_ERROR is left out on
     * purpose: a connection reset during the handshake gives it too,
     * and that is a network error worth retrying. */
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return LOGSHARE_ETLS;
    default:
        return LOGSHARE_ENETWORK;
    }
}

int report_http_request(const logshare_share_options *o, const char *path, const share_fields *f,
                        const share_file_list *files, const char *key, report_http_response *r)
{
    memset(r, 0, sizeof *r);
    r->retry_after_ms = -1;
    if (!o->server_url || !o->token || !path)
        return LOGSHARE_EINVAL;
    pthread_once(&curl_once, curl_init_once);
    CURL *easy = curl_easy_init();
    char *url = api_url(o->server_url, path);
    struct curl_slist *headers = NULL;
    ls_buf auth = LS_BUF_INIT, idem = LS_BUF_INIT;
    struct http_ctx ctx = {LS_BUF_INIT, 0, -1, o, 0};
    curl_mime *mime = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    int rc = (easy && url) ? 0 : LOGSHARE_ENOMEM;
    if (rc == 0 && (ls_buf_printf(&auth, "Authorization: Bearer %s", o->token) ||
                    (key && ls_buf_printf(&idem, "Idempotency-Key: %s", key))))
        rc = LOGSHARE_ENOMEM;
    const char *lines[] = {auth.data, "Accept: application/json", key ? idem.data : NULL};
    for (size_t i = 0; rc == 0 && i < sizeof lines / sizeof lines[0] && lines[i]; i++) {
        struct curl_slist *grown = curl_slist_append(headers, lines[i]);
        if (!grown)
            rc = LOGSHARE_ENOMEM;
        else
            headers = grown;
    }
    if (rc == 0 && files && !(mime = report_http_build_mime(easy, f, files)))
        rc = LOGSHARE_ENOMEM;
    if (rc == 0) {
        curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(easy, CURLOPT_URL, url);
        curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
        if (mime) /* else a GET */
            curl_easy_setopt(easy, CURLOPT_MIMEPOST, mime);
        curl_easy_setopt(easy, CURLOPT_USERAGENT, "liblogshare/" LOGSHARE_VERSION_STRING);
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
        if (o->ca_file)
            curl_easy_setopt(easy, CURLOPT_CAINFO, o->ca_file);
        curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
        if (o->low_speed_bytes > 0 && o->low_speed_seconds > 0) {
            curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, o->low_speed_bytes);
            curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, o->low_speed_seconds);
        }
        if (o->max_send_rate > 0)
            curl_easy_setopt(easy, CURLOPT_MAX_SEND_SPEED_LARGE, (curl_off_t)o->max_send_rate);
        if (o->total_timeout_ms > 0)
            curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, o->total_timeout_ms);
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(easy, CURLOPT_WRITEDATA, &ctx);
        curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(easy, CURLOPT_HEADERDATA, &ctx);
        curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &ctx);
        curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
        /* Redirects would re-send the body to a place we did not choose. */
        curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);

        CURLcode cc = curl_easy_perform(easy);
        long status = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        r->retry_after_ms = ctx.retry_after_ms;
        if (cc == CURLE_OK) {
            r->http_status = (int)status;
            r->body = ls_buf_steal(&ctx.body);
            size_t blen = r->body ? strlen(r->body) : 0;
            while (blen > 0 && (r->body[blen - 1] == '\n' || r->body[blen - 1] == '\r'))
                r->body[--blen] = '\0';
            parse_body(r);
            r->retry = retry_classify(r->http_status);
            if (r->retry == RETRY_DONE && !r->ticket_id) {
                /* 2xx without a ticket: not the server we expect. */
                r->retry = RETRY_NEVER;
                r->error = LOGSHARE_EHTTP;
                r->error_code = strdup("bad_response");
                r->error_message = strdup("the server answered 2xx without a ticket id");
            } else if (r->retry != RETRY_DONE) {
                r->error = status_to_error(r->http_status);
                if (!r->error_message) {
                    char msg[64];
                    snprintf(msg, sizeof msg, "HTTP status %d", r->http_status);
                    r->error_message = strdup(msg);
                }
            }
        } else {
            r->http_status = 0;
            r->error = ctx.too_big ? LOGSHARE_EHTTP : report_http_curl_error(cc);
            r->retry = (r->error == LOGSHARE_ENETWORK || r->error == LOGSHARE_ETIMEDOUT ||
                        r->error == LOGSHARE_EIO || r->error == LOGSHARE_ENOMEM)
                           ? RETRY_AGAIN
                           : RETRY_NEVER;
            if (ctx.too_big)
                r->retry = RETRY_NEVER;
            r->error_code = strdup(logshare_error_name(r->error));
            /* curl's own buffer names the cause ("SSL certificate
             * problem: self-signed certificate"); its code text does not */
            r->error_message = strdup(ctx.too_big ? "response larger than 16 MiB"
                                      : errbuf[0] ? errbuf
                                                  : curl_easy_strerror(cc));
        }
    }
    curl_mime_free(mime);
    curl_slist_free_all(headers);
    curl_easy_cleanup(easy);
    free(url);
    ls_buf_free(&auth);
    ls_buf_free(&idem);
    ls_buf_free(&ctx.body);
    return rc;
}
