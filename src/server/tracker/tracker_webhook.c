/*
 * tracker_webhook.c - the generic tracker: POST the ticket as JSON to a
 * URL, signed like the push webhooks (push/webhook_sign.h, reused as
 * is), and take the tracker's URL for it from a 2xx answer
 * {"url": "https://tracker/item/123"}.
 *
 * The receiver's answer is untrusted input: at most
 * TRACKER_ANSWER_MAX bytes are read (a longer answer is cut, and the
 * status alone counts), and a URL is kept only when
 * tracker_url_acceptable says so. Anything else is logged and ignored;
 * the hand-off itself still counts as made, because the receiver said
 * 2xx.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "logshare.h"
#include "ls_time.h"
#include "tracker.h"
#include "webhook_deliverer.h"
#include "webhook_sign.h"

/* A receiver's answer past this is not read (its status still counts). */
#define TRACKER_ANSWER_MAX (64 * 1024)

struct webhook_state {
    char *url;
    unsigned char *secret;
    size_t secret_len;
    int timeout_ms;
    char *public_url;
};

struct answer_buf {
    char *data;
    size_t len;
    int too_long;
};

int tracker_hand_off(struct tracker *tr, const struct tracker_request *r, struct tracker_answer *a)
{
    memset(a, 0, sizeof *a);
    return tr->ops->hand_off(tr, r, a);
}

void tracker_destroy(struct tracker *tr)
{
    if (tr)
        tr->ops->destroy(tr);
}

int tracker_url_acceptable(const char *url)
{
    size_t n = strlen(url);
    const char *host = !strncasecmp(url, "https://", 8)  ? url + 8
                       : !strncasecmp(url, "http://", 7) ? url + 7
                                                         : NULL;
    if (!host || n > TRACKER_URL_MAX || !*host || strchr("/?#@:", *host))
        return 0;
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= ' ' || *p == 0x7f || *p == '"' || *p == '<' || *p == '>' || *p == '\\')
            return 0;
    return 1;
}

static void set_str(json_t *o, const char *key, const char *v)
{
    json_object_set_new(o, key, v ? json_string(v) : json_null());
}

static json_t *time_json(int64_t us)
{
    char buf[LS_TIME_RFC3339_LEN];
    return json_string(ls_time_format_rfc3339(us, 0, buf));
}

static json_t *attachments_json(const struct ticket *t)
{
    json_t *atts = json_array();
    for (size_t i = 0; i < t->n_attachments; i++) {
        const struct ticket_attachment *at = &t->attachments[i];
        json_t *j = json_object();
        set_str(j, "id", at->id);
        set_str(j, "name", at->name);
        json_object_set_new(j, "size", json_integer((json_int_t)at->size));
        set_str(j, "sha256", at->sha256);
        set_str(j, "content_type",
                at->content_type ? at->content_type : "application/octet-stream");
        json_array_append_new(atts, j);
    }
    return atts;
}

char *tracker_webhook_body(const struct tracker_request *r, const char *public_url)
{
    const struct ticket *t = r->ticket;
    json_t *o = json_object();
    set_str(o, "id", t->id);
    json_object_set_new(o, "created_at", time_json(t->created_at));
    set_str(o, "user_id", t->user_id);
    set_str(o, "description", t->description);
    json_t *calls = json_array();
    for (size_t i = 0; i < t->n_call_ids; i++)
        json_array_append_new(calls, json_string(t->call_ids[i]));
    json_object_set_new(o, "call_ids", calls);
    set_str(o, "customer_name", t->customer_name);
    set_str(o, "customer_email", t->customer_email);
    set_str(o, "app_version", t->app_version);
    set_str(o, "platform", t->platform);
    set_str(o, "source", t->source);
    set_str(o, "log_request_id", t->log_request_id);
    json_object_set_new(o, "attachments", attachments_json(t));
    if (public_url && *public_url) {
        /* The dashboard routes on the fragment (web/js/app.js); ticket
         * ids are [a-z0-9_] only, so no escaping is needed. */
        size_t n = strlen(public_url) + strlen(t->id) + 32;
        char *link = malloc(n);
        if (link) {
            snprintf(link, n, "%s/dashboard/#/tickets/%s", public_url, t->id);
            set_str(o, "dashboard_url", link);
            free(link);
        }
    }
    json_t *body = json_object();
    set_str(body, "event", "ticket.created");
    set_str(body, "delivery_id", r->delivery_id);
    json_object_set_new(body, "ticket", o);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return text;
}

/* Keeps the first TRACKER_ANSWER_MAX bytes; a longer answer ends the
 * transfer (returning less than given is libcurl's "stop"). */
static size_t keep_answer(char *ptr, size_t size, size_t n, void *ud)
{
    struct answer_buf *b = ud;
    size_t len = size * n;
    if (b->len + len > TRACKER_ANSWER_MAX) {
        b->too_long = 1;
        return 0;
    }
    char *grown = realloc(b->data, b->len + len + 1);
    if (!grown)
        return 0;
    memcpy(grown + b->len, ptr, len);
    b->data = grown;
    b->len += len;
    b->data[b->len] = '\0';
    return len;
}

/* The tracker URL in a 2xx answer, or NULL with why in a->error. */
static char *url_from_answer(const struct answer_buf *b, struct tracker_answer *a)
{
    if (b->too_long) {
        snprintf(a->error, sizeof a->error, "answer over %d bytes ignored", TRACKER_ANSWER_MAX);
        return NULL;
    }
    if (b->len == 0)
        return NULL; /* an empty 2xx: the receiver names no URL */
    json_error_t jerr;
    json_t *j = json_loadb(b->data, b->len, 0, &jerr);
    json_t *u = json_is_object(j) ? json_object_get(j, "url") : NULL;
    char *url = NULL;
    if (!j)
        snprintf(a->error, sizeof a->error, "answer is not JSON: ignored");
    else if (u && !json_is_null(u) &&
             (!json_is_string(u) || !tracker_url_acceptable(json_string_value(u))))
        snprintf(a->error, sizeof a->error,
                 "answer's url is not an http(s) URL of at most %d bytes: ignored",
                 TRACKER_URL_MAX);
    else if (u && json_is_string(u) && !(url = strdup(json_string_value(u))))
        snprintf(a->error, sizeof a->error, "out of memory");
    json_decref(j);
    return url;
}

static struct curl_slist *signed_headers(const struct webhook_state *s, const char *delivery_id,
                                         const char *body, size_t len)
{
    int64_t ts = ls_time_now_us() / 1000000;
    char sig[WEBHOOK_SIGNATURE_LEN];
    if (webhook_sign(s->secret, s->secret_len, ts, body, len, sig))
        return NULL;
    char h_ts[64], h_sig[128], h_id[96];
    snprintf(h_ts, sizeof h_ts, "X-Logshare-Timestamp: %lld", (long long)ts);
    snprintf(h_sig, sizeof h_sig, "X-Logshare-Signature: %s", sig);
    snprintf(h_id, sizeof h_id, "X-Logshare-Delivery: %s", delivery_id);
    struct curl_slist *h = NULL;
    const char *lines[] = {"Content-Type: application/json",  "Expect:", h_ts, h_sig, h_id,
                           "X-Logshare-Event: ticket.created"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        struct curl_slist *n = curl_slist_append(h, lines[i]);
        if (!n) {
            curl_slist_free_all(h);
            return NULL;
        }
        h = n;
    }
    return h;
}

static int webhook_hand_off(struct tracker *tr, const struct tracker_request *r,
                            struct tracker_answer *a)
{
    struct webhook_state *s = tr->state;
    char *body = tracker_webhook_body(r, s->public_url);
    struct curl_slist *h = body ? signed_headers(s, r->delivery_id, body, strlen(body)) : NULL;
    CURL *c = h ? curl_easy_init() : NULL;
    if (!c) {
        snprintf(a->error, sizeof a->error, "out of memory");
        curl_slist_free_all(h);
        free(body);
        return 0;
    }
    struct answer_buf ans = {0};
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, s->url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "logshared-tracker/" LOGSHARE_VERSION_STRING);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(s->timeout_ms < 5000 ? s->timeout_ms : 5000));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect is an answer, not 2xx */
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_answer);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &ans);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, webhook_cancel_check);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)r->cancel);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    /* A cut answer (too long) still had its status line. */
    if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && ans.too_long))
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    free(body);
    int result = 0;
    if (rc == CURLE_ABORTED_BY_CALLBACK) {
        snprintf(a->error, sizeof a->error, "canceled: the server is stopping");
        result = LOGSHARE_ECANCELED;
    } else if (status == 0) {
        snprintf(a->error, sizeof a->error, "%s", curl_err[0] ? curl_err : curl_easy_strerror(rc));
    } else if (status < 200 || status > 299) {
        snprintf(a->error, sizeof a->error, "the receiver answered %ld", status);
    } else {
        result = 1;
        a->url = url_from_answer(&ans, a);
    }
    a->http_status = (int)status;
    free(ans.data);
    return result;
}

static void webhook_destroy(struct tracker *tr)
{
    struct webhook_state *s = tr->state;
    free(s->url);
    if (s->secret)
        memset(s->secret, 0, s->secret_len);
    free(s->secret);
    free(s->public_url);
    free(s);
    free(tr);
}

static const struct tracker_ops webhook_ops = {
    .name = "webhook",
    .hand_off = webhook_hand_off,
    .destroy = webhook_destroy,
};

int tracker_webhook_new(const struct tracker_webhook_options *o, struct tracker **out)
{
    *out = NULL;
    if (!o->url || !*o->url || !o->secret || o->secret_len == 0 || o->timeout_ms <= 0)
        return LOGSHARE_EINVAL;
    struct tracker *tr = calloc(1, sizeof *tr);
    struct webhook_state *s = calloc(1, sizeof *s);
    if (tr && s) {
        tr->ops = &webhook_ops;
        tr->state = s;
        s->url = strdup(o->url);
        s->secret = malloc(o->secret_len);
        s->public_url = o->public_url ? strdup(o->public_url) : NULL;
    }
    if (!tr || !s || !s->url || !s->secret || (o->public_url && !s->public_url)) {
        if (tr && s)
            webhook_destroy(tr);
        else {
            free(tr);
            free(s);
        }
        return LOGSHARE_ENOMEM;
    }
    memcpy(s->secret, o->secret, o->secret_len);
    s->secret_len = o->secret_len;
    s->timeout_ms = o->timeout_ms;
    *out = tr;
    return 0;
}
