/*
 * ratelimit.c - token buckets in an open-addressed table (ratelimit.h).
 * Keys are hashed (FNV-1a) and compared in full, up to KEY_MAX - 1
 * bytes: the longest user id a token may name (AUTH_USER_ID_MAX). A
 * shorter cap made users whose ids share a long prefix (URIs, tenant
 * paths) share one bucket, so one busy user limited all the others.
 */
#include "http/ratelimit.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "logshare.h"

#define KEY_MAX 256 /* AUTH_USER_ID_MAX + 1; addresses are far shorter */
#define PROBE 16

struct bucket {
    char key[KEY_MAX];
    double tokens;
    int64_t last_ns;
};

struct ratelimit {
    pthread_mutex_t lock;
    double rate, burst;
    size_t n;
    struct bucket *b;
};

struct ratelimit *ratelimit_new(double rate, double burst, size_t slots)
{
    struct ratelimit *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->rate = rate;
    r->burst = burst < 1 ? 1 : burst;
    r->n = slots < PROBE ? PROBE : slots;
    r->b = calloc(r->n, sizeof *r->b);
    if (!r->b) {
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

void ratelimit_free(struct ratelimit *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->lock);
    free(r->b);
    free(r);
}

void ratelimit_address_key(const char *addr, char *key, size_t cap)
{
    unsigned char b[16];
    char net[INET6_ADDRSTRLEN];
    if (strchr(addr, ':') && inet_pton(AF_INET6, addr, b) == 1 &&
        !IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)b)) {
        memset(b + 8, 0, 8);
        if (inet_ntop(AF_INET6, b, net, sizeof net)) {
            snprintf(key, cap, "%s/64", net);
            return;
        }
    }
    snprintf(key, cap, "%s", addr);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static double refill(const struct ratelimit *r, const struct bucket *b, int64_t now_ns)
{
    double t = b->tokens + r->rate * (double)(now_ns - b->last_ns) / 1e9;
    return t > r->burst ? r->burst : t;
}

int ratelimit_take(struct ratelimit *r, const char *key, int64_t now_ns, int *retry_after_s)
{
    if (!r || r->rate <= 0)
        return 0;
    char k[KEY_MAX];
    snprintf(k, sizeof k, "%.*s", (int)sizeof k - 1, key);
    size_t start = (size_t)(fnv1a(k) % r->n);
    pthread_mutex_lock(&r->lock);
    struct bucket *hit = NULL, *victim = NULL;
    for (size_t i = 0; i < PROBE; i++) {
        struct bucket *b = &r->b[(start + i) % r->n];
        if (b->key[0] && strcmp(b->key, k) == 0) {
            hit = b;
            break;
        }
        if (!b->key[0] || refill(r, b, now_ns) >= r->burst) {
            if (!victim || victim->key[0])
                victim = b; /* prefer an empty slot, else a full (stateless) bucket */
        } else if (!victim || (victim->key[0] && b->last_ns < victim->last_ns &&
                               refill(r, victim, now_ns) < r->burst)) {
            victim = b;
        }
    }
    if (!hit) {
        hit = victim;
        snprintf(hit->key, sizeof hit->key, "%.*s", (int)sizeof hit->key - 1, k);
        hit->tokens = r->burst;
        hit->last_ns = now_ns;
    }
    hit->tokens = refill(r, hit, now_ns);
    hit->last_ns = now_ns;
    int rc = 0;
    if (hit->tokens >= 1) {
        hit->tokens -= 1;
    } else {
        double wait = (1 - hit->tokens) / r->rate;
        int s = (int)ceil(wait);
        *retry_after_s = s < 1 ? 1 : s;
        rc = LOGSHARE_ERATELIMIT;
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}
