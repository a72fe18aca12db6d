/*
 * dashboard_login_limit.c - the token buckets behind
 * dashboard_login_limit.h. Logins are rare and each one costs an Argon2
 * hash, so a linear scan over a few thousand entries under one mutex is
 * far below the cost of the attempt itself and keeps this file simple.
 */
#include "dashboard_login_limit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "logshare.h"

#define KEY_MAX 160

struct bucket {
    char key[KEY_MAX]; /* "a:<address>", "u:<user name>" or "d:<user name>"; "" is free */
    double tokens;
    int64_t updated_us;
};

struct login_limit {
    pthread_mutex_t lock;
    double user_burst, user_rate, addr_burst, addr_rate; /* rates in tokens per µs */
    size_t n;
    struct bucket *buckets;
};

int login_limit_new(const struct login_limit_config *cfg, struct login_limit **out)
{
    if (!out)
        return LOGSHARE_EINVAL;
    struct login_limit *l = calloc(1, sizeof *l);
    if (!l)
        return LOGSHARE_ENOMEM;
    l->user_burst = cfg && cfg->per_user_burst > 0 ? cfg->per_user_burst : 5;
    l->addr_burst = cfg && cfg->per_addr_burst > 0 ? cfg->per_addr_burst : 20;
    l->user_rate = (cfg && cfg->per_user_per_minute > 0 ? cfg->per_user_per_minute : 5) / 60e6;
    l->addr_rate = (cfg && cfg->per_addr_per_minute > 0 ? cfg->per_addr_per_minute : 20) / 60e6;
    l->n = cfg && cfg->max_keys >= 16 ? cfg->max_keys : 4096;
    l->buckets = calloc(l->n, sizeof *l->buckets);
    if (!l->buckets) {
        free(l);
        return LOGSHARE_ENOMEM;
    }
    pthread_mutex_init(&l->lock, NULL);
    *out = l;
    return 0;
}

void login_limit_free(struct login_limit *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->lock);
    free(l->buckets);
    free(l);
}

/* The bucket for key, refilled up to now; a new or reused one is full.
 * Keys longer than KEY_MAX are cut: two names sharing 150 bytes share a
 * bucket, which only makes the limit stricter for them. */
static struct bucket *bucket_for(struct login_limit *l, char kind, const char *value, double burst,
                                 double rate, int64_t now_us)
{
    char key[KEY_MAX];
    key[0] = kind;
    key[1] = ':';
    size_t len = strlen(value);
    if (len > KEY_MAX - 3)
        len = KEY_MAX - 3;
    memcpy(key + 2, value, len);
    key[2 + len] = '\0';

    struct bucket *free_slot = NULL, *stalest = NULL;
    for (size_t i = 0; i < l->n; i++) {
        struct bucket *b = &l->buckets[i];
        if (!b->key[0]) {
            if (!free_slot)
                free_slot = b;
            continue;
        }
        if (strcmp(b->key, key) == 0) {
            if (now_us > b->updated_us) {
                b->tokens += (double)(now_us - b->updated_us) * rate;
                if (b->tokens > burst)
                    b->tokens = burst;
                b->updated_us = now_us;
            }
            return b;
        }
        if (!stalest || b->updated_us < stalest->updated_us)
            stalest = b;
    }
    struct bucket *b = free_slot ? free_slot : stalest;
    memcpy(b->key, key, strlen(key) + 1);
    b->tokens = burst;
    b->updated_us = now_us;
    return b;
}

static int seconds_until_token(const struct bucket *b, double rate)
{
    double wait_s = (1.0 - b->tokens) / rate / 1e6;
    int s = (int)wait_s;
    if ((double)s < wait_s)
        s++; /* round up: Retry-After must not invite a too-early retry */
    return s < 1 ? 1 : s;
}

static int take(struct login_limit *l, const char *addr, char user_kind, const char *user,
                int64_t now_us, int *retry_after_s)
{
    if (!l || !addr || !user)
        return LOGSHARE_EINVAL;
    pthread_mutex_lock(&l->lock);
    struct bucket *a = bucket_for(l, 'a', addr, l->addr_burst, l->addr_rate, now_us);
    struct bucket *u = bucket_for(l, user_kind, user, l->user_burst, l->user_rate, now_us);
    int rc = 0, wait = 0;
    if (a->tokens < 1.0) {
        wait = seconds_until_token(a, l->addr_rate);
        rc = LOGSHARE_ERATELIMIT;
    }
    if (u->tokens < 1.0) {
        int w = seconds_until_token(u, l->user_rate);
        if (w > wait)
            wait = w;
        rc = LOGSHARE_ERATELIMIT;
    }
    if (rc == 0) {
        a->tokens -= 1.0;
        u->tokens -= 1.0;
    }
    pthread_mutex_unlock(&l->lock);
    if (retry_after_s)
        *retry_after_s = wait;
    return rc;
}

int login_limit_take(struct login_limit *l, const char *addr, const char *user, int64_t now_us,
                     int *retry_after_s)
{
    return take(l, addr, 'u', user, now_us, retry_after_s);
}

int login_limit_take_device(struct login_limit *l, const char *addr, const char *user,
                            int64_t now_us, int *retry_after_s)
{
    return take(l, addr, 'd', user, now_us, retry_after_s);
}

static void refill(struct login_limit *l, char kind, const char *user, int64_t now_us)
{
    if (!l || !user)
        return;
    pthread_mutex_lock(&l->lock);
    bucket_for(l, kind, user, l->user_burst, l->user_rate, now_us)->tokens = l->user_burst;
    pthread_mutex_unlock(&l->lock);
}

void login_limit_success(struct login_limit *l, const char *user, int64_t now_us)
{
    refill(l, 'u', user, now_us);
}

void login_limit_success_device(struct login_limit *l, const char *user, int64_t now_us)
{
    refill(l, 'd', user, now_us);
}
