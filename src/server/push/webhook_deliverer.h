/*
 * webhook_deliverer.h - one webhook POST and the retry schedule. The
 * loop that drains the durable queue (push_db_delivery_next) lives in
 * push_service.c; this file only knows HTTP and backoff.
 */
#ifndef WEBHOOK_DELIVERER_H
#define WEBHOOK_DELIVERER_H

#include <curl/curl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "push_db.h"

/* POSTs d->payload to d->url with the signature headers of
 * webhook_sign.h plus X-Logshare-Event and X-Logshare-Delivery. Returns
 * 1 when the receiver answered 2xx, else 0 with *http_status (0: no
 * answer) and a one-line reason in err; LOGSHARE_ECANCELED when *cancel
 * (may be NULL) became non-zero first: the transfer is given up within
 * about a second, whatever timeout_ms, and says nothing about the
 * receiver. */
int webhook_deliver(const struct webhook_delivery *d, const unsigned char *secret,
                    size_t secret_len, int timeout_ms, const atomic_int *cancel, int *http_status,
                    char *err, size_t errlen);

/* The delay before attempt number `attempts + 1` (attempts already
 * made, >= 1): initial * 2^(attempts-1), capped at max, minus up to 20%
 * random jitter so receivers coming back are not hit by every sender at
 * the same instant. Microseconds. */
int64_t webhook_backoff_us(int attempts, int initial_ms, int max_ms);

/* A libcurl CURLOPT_XFERINFOFUNCTION with an `const atomic_int *` as
 * its CURLOPT_XFERINFODATA (NULL: never): libcurl calls it at least
 * about once a second, also while it waits for an answer, so a webhook
 * POST gives up within about a second of *cancel becoming non-zero. */
int webhook_cancel_check(void *cancel, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                         curl_off_t ulnow);

#endif
