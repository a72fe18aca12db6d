/*
 * report_retry.c - the retry policy for reports (see report_retry.h).
 *
 * Why these rules: a network error, a timeout, a 5xx or a 429 says
 * nothing about the request itself, so the same bytes may succeed later;
 * and the Idempotency-Key makes resending safe even when the first try
 * did create the ticket and only the answer was lost. Any other 4xx is
 * the server judging the request (bad token, too large, bad field):
 * sending it again would only fail again, so the item is marked failed
 * and kept for the user to see.
 */
#include "report_retry.h"

#include <ctype.h>
#include <curl/curl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

retry_class retry_classify(int status)
{
    if (status == 0)
        return RETRY_AGAIN;
    if (status >= 200 && status < 300)
        return RETRY_DONE;
    if (status == 408 || status == 429 || status >= 500)
        return RETRY_AGAIN;
    return RETRY_NEVER;
}

int64_t retry_backoff_ms(int attempt, long base_ms, long max_ms, double random01)
{
    if (attempt < 1)
        attempt = 1;
    int64_t cap = base_ms;
    for (int i = 1; i < attempt && cap < max_ms; i++)
        cap *= 2;
    if (cap > max_ms)
        cap = max_ms;
    int64_t floor_ms = base_ms / 2;
    if (floor_ms > cap)
        floor_ms = cap;
    if (random01 < 0)
        random01 = 0;
    if (random01 >= 1)
        random01 = 0.999999;
    return floor_ms + (int64_t)((double)(cap - floor_ms) * random01);
}

int64_t retry_after_parse_ms(const char *value, int64_t now_s)
{
    if (!value)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (!*value)
        return -1;
    if (isdigit((unsigned char)*value)) {
        char *end;
        unsigned long long s = strtoull(value, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
            end++;
        if (*end)
            return -1;
        if (s > 7ULL * 24 * 3600) /* a week is already absurd; keep the arithmetic sane */
            s = 7ULL * 24 * 3600;
        return (int64_t)s * 1000;
    }
    /* RFC 9110 allows only IMF-fixdate, but also asks receivers to accept
     * the obsolete forms; curl_getdate does all three. */
    time_t t = curl_getdate(value, NULL);
    if (t == (time_t)-1)
        return -1;
    int64_t wait = (int64_t)t - now_s;
    return wait > 0 ? wait * 1000 : 0;
}

double retry_random01(void)
{
    return (double)randombytes_uniform(1000000) / 1000000.0;
}
