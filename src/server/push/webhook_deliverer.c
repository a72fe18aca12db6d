/*
 * webhook_deliverer.c - sends one signed webhook with libcurl and
 * computes the retry delay (see webhook_deliverer.h).
 */
#include "webhook_deliverer.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "logshare.h"
#include "ls_time.h"
#include "webhook_sign.h"

static size_t discard(char *ptr, size_t size, size_t n, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * n;
}

int webhook_cancel_check(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                         curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    const atomic_int *cancel = ud;
    return cancel && atomic_load(cancel) ? 1 : 0;
}

int webhook_deliver(const struct webhook_delivery *d, const unsigned char *secret,
                    size_t secret_len, int timeout_ms, const atomic_int *cancel, int *http_status,
                    char *err, size_t errlen)
{
    *http_status = 0;
    err[0] = '\0';
    size_t body_len = strlen(d->payload);
    int64_t ts = ls_time_now_us() / 1000000;
    char sig[WEBHOOK_SIGNATURE_LEN];
    if (webhook_sign(secret, secret_len, ts, d->payload, body_len, sig)) {
        snprintf(err, errlen, "no webhook secret");
        return 0;
    }
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return 0;
    }
    char h_ts[64], h_sig[128], h_id[96], h_ev[96];
    snprintf(h_ts, sizeof h_ts, "X-Logshare-Timestamp: %lld", (long long)ts);
    snprintf(h_sig, sizeof h_sig, "X-Logshare-Signature: %s", sig);
    snprintf(h_id, sizeof h_id, "X-Logshare-Delivery: %s", d->id);
    snprintf(h_ev, sizeof h_ev, "X-Logshare-Event: %s", d->event);
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
    h = curl_slist_append(h, h_ts);
    h = curl_slist_append(h, h_sig);
    h = curl_slist_append(h, h_id);
    h = curl_slist_append(h, h_ev);
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, d->url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, d->payload);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "logshared-webhook/" LOGSHARE_VERSION_STRING);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < 5000 ? timeout_ms : 5000));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect is an answer, not 2xx */
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, webhook_cancel_check);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)cancel);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    if (rc == CURLE_ABORTED_BY_CALLBACK) {
        snprintf(err, errlen, "canceled: the server is stopping");
        return LOGSHARE_ECANCELED;
    }
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s", curl_err[0] ? curl_err : curl_easy_strerror(rc));
        return 0;
    }
    *http_status = (int)status;
    if (status >= 200 && status < 300)
        return 1;
    snprintf(err, errlen, "the receiver answered %ld", status);
    return 0;
}

int64_t webhook_backoff_us(int attempts, int initial_ms, int max_ms)
{
    int64_t delay = initial_ms;
    for (int i = 1; i < attempts && delay < max_ms; i++)
        delay *= 2;
    if (delay > max_ms)
        delay = max_ms;
    int64_t jitter = delay / 5;
    if (jitter > 0)
        delay -=
            (int64_t)randombytes_uniform((uint32_t)(jitter > UINT32_MAX ? UINT32_MAX : jitter));
    return delay * 1000;
}
