/*
 * ratelimit.h - token buckets keyed by a string (a client address or a
 * user id): `rate` tokens per second refill up to `burst`; a request
 * takes one. Buckets live in a fixed-size hash table; when it is full,
 * buckets that have refilled completely (so carry no state) are reused,
 * and if none has, the oldest slot in the probe window is, so memory
 * stays bounded whatever the number of distinct keys. Thread-safe.
 */
#ifndef LOGSHARED_RATELIMIT_H
#define LOGSHARED_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct ratelimit;

/* The bucket key for a client address (canonical text, as the request
 * layer writes it): an IPv6 address counts by its /64 network, the
 * smallest block one subscriber is given, so an attacker cannot escape
 * the limit by taking a new address from its own /64 for each request.
 * IPv4 and anything else is the text itself. key holds at least
 * RATELIMIT_ADDRESS_KEY_MAX bytes. */
#define RATELIMIT_ADDRESS_KEY_MAX 64
void ratelimit_address_key(const char *addr, char *key, size_t cap);

/* rate 0 disables the limiter (every take succeeds). NULL on ENOMEM. */
struct ratelimit *ratelimit_new(double rate, double burst, size_t slots);
void ratelimit_free(struct ratelimit *r); /* NULL is a no-op */

/* Takes one token for key at now_ns (monotonic). 0, or
 * LOGSHARE_ERATELIMIT with *retry_after_s (>= 1) when the bucket is empty. */
int ratelimit_take(struct ratelimit *r, const char *key, int64_t now_ns, int *retry_after_s);

#endif
