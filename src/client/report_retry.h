/*
 * report_retry.h - when to try a report again (report_retry.c).
 *
 * Pure policy, no I/O, so it is unit-tested on its own: which outcomes
 * are worth another attempt, how long to wait, and what a Retry-After
 * header asks for.
 */
#ifndef LS_REPORT_RETRY_H
#define LS_REPORT_RETRY_H

#include <stdint.h>

/* What one HTTP attempt came to. */
typedef enum retry_class {
    RETRY_DONE = 0,  /* 2xx: the ticket exists */
    RETRY_AGAIN = 1, /* network error, timeout, 5xx, 429, 408: try later */
    RETRY_NEVER = 2  /* any other 4xx (or a malformed 2xx): the same request will fail again */
} retry_class;

/* http_status 0 means no response (network error). */
retry_class retry_classify(int http_status);

/* The wait before attempt number attempt+1 (attempt >= 1 attempts done):
 * exponential backoff with jitter, uniform in [base/2, cap) where cap =
 * min(max, base*2^(attempt-1)). Not "full jitter" (which starts at 0): the
 * floor of base/2 keeps a flapping server from being hit again at once,
 * while the spread still keeps many clients from retrying in step.
 * random01 in [0,1). */
int64_t retry_backoff_ms(int attempt, long base_ms, long max_ms, double random01);

/* Parses a Retry-After header value: delta-seconds ("120") or an
 * HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT"), relative to now_s (Unix
 * seconds). Returns the wait in milliseconds (0 for a date in the past),
 * or -1 when the value is absent or malformed. */
int64_t retry_after_parse_ms(const char *value, int64_t now_s);

/* A random number in [0,1) from libsodium (jitter must differ between
 * devices, or a fleet retries in lockstep after an outage). */
double retry_random01(void);

#endif
