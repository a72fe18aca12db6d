/*
 * session.c - the in-memory session table behind session.h.
 *
 * A chained hash table keyed by BLAKE2b-256(token). Its size is fixed at
 * creation (a power of two near max_sessions), so no rehash ever stalls
 * a request. Every session is also on a list in creation order, so when
 * the table is full the oldest session is dropped first: an attacker who
 * cannot log in cannot fill it, and a logged-in one pushes out only the
 * stalest sessions.
 */
#include "session.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "logshare.h"
#include "ls_hex.h"

#define DIGEST_LEN 32

struct session {
    unsigned char digest[DIGEST_LEN];
    struct session_info info;
    int64_t last_used;
    struct session *next_in_bucket;
    struct session *older, *newer; /* creation order */
};

struct session_store {
    pthread_mutex_t lock;
    int64_t idle_ttl_s, absolute_ttl_s;
    size_t max_sessions, count;
    size_t n_buckets; /* a power of two */
    struct session **buckets;
    struct session *oldest, *newest;
};

static int digest_token(const char *token, unsigned char out[DIGEST_LEN])
{
    if (!token || strlen(token) != SESSION_TOKEN_LEN)
        return LOGSHARE_EAUTH;
    unsigned char raw[SESSION_TOKEN_LEN / 2];
    if (ls_hex_decode(token, raw, sizeof raw) != 0)
        return LOGSHARE_EAUTH;
    crypto_generichash(out, DIGEST_LEN, raw, sizeof raw, NULL, 0);
    sodium_memzero(raw, sizeof raw);
    return 0;
}

static size_t bucket_of(const struct session_store *ss, const unsigned char digest[DIGEST_LEN])
{
    size_t h;
    memcpy(&h, digest, sizeof h); /* the digest is uniformly random already */
    return h & (ss->n_buckets - 1);
}

int session_store_new(const struct session_store_config *cfg, struct session_store **out)
{
    if (!out)
        return LOGSHARE_EINVAL;
    *out = NULL;
    if (sodium_init() < 0)
        return LOGSHARE_EIO;
    struct session_store *ss = calloc(1, sizeof *ss);
    if (!ss)
        return LOGSHARE_ENOMEM;
    ss->idle_ttl_s = cfg && cfg->idle_ttl_s > 0 ? cfg->idle_ttl_s : SESSION_DEFAULT_IDLE_TTL_S;
    ss->absolute_ttl_s =
        cfg && cfg->absolute_ttl_s > 0 ? cfg->absolute_ttl_s : SESSION_DEFAULT_ABSOLUTE_TTL_S;
    ss->max_sessions = cfg && cfg->max_sessions > 0 ? cfg->max_sessions : SESSION_DEFAULT_MAX;
    ss->n_buckets = 16;
    while (ss->n_buckets < ss->max_sessions && ss->n_buckets < ((size_t)1 << 20))
        ss->n_buckets <<= 1;
    ss->buckets = calloc(ss->n_buckets, sizeof *ss->buckets);
    if (!ss->buckets) {
        free(ss);
        return LOGSHARE_ENOMEM;
    }
    pthread_mutex_init(&ss->lock, NULL);
    *out = ss;
    return 0;
}

static void unlink_session(struct session_store *ss, struct session *s)
{
    struct session **pp = &ss->buckets[bucket_of(ss, s->digest)];
    while (*pp && *pp != s)
        pp = &(*pp)->next_in_bucket;
    if (*pp)
        *pp = s->next_in_bucket;
    if (s->older)
        s->older->newer = s->newer;
    else
        ss->oldest = s->newer;
    if (s->newer)
        s->newer->older = s->older;
    else
        ss->newest = s->older;
    ss->count--;
    sodium_memzero(s, sizeof *s);
    free(s);
}

void session_store_free(struct session_store *ss)
{
    if (!ss)
        return;
    while (ss->oldest)
        unlink_session(ss, ss->oldest);
    pthread_mutex_destroy(&ss->lock);
    free(ss->buckets);
    free(ss);
}

static int64_t expiry_of(const struct session_store *ss, const struct session *s)
{
    int64_t idle = s->last_used + ss->idle_ttl_s;
    int64_t absolute = s->info.created_at + ss->absolute_ttl_s;
    return idle < absolute ? idle : absolute;
}

int session_create(struct session_store *ss, const char *user, const char *role, int64_t now_s,
                   char token[SESSION_TOKEN_LEN + 1], struct session_info *info)
{
    if (!ss || !user || !role || !token || !*user || strlen(user) > SESSION_USER_MAX ||
        strlen(role) > SESSION_ROLE_MAX)
        return LOGSHARE_EINVAL;
    struct session *s = calloc(1, sizeof *s);
    if (!s)
        return LOGSHARE_ENOMEM;
    unsigned char raw[SESSION_TOKEN_LEN / 2], csrf[SESSION_CSRF_LEN / 2];
    randombytes_buf(raw, sizeof raw);
    randombytes_buf(csrf, sizeof csrf);
    ls_hex_encode(raw, sizeof raw, token);
    ls_hex_encode(csrf, sizeof csrf, s->info.csrf);
    sodium_memzero(raw, sizeof raw);
    digest_token(token, s->digest);
    strcpy(s->info.user, user);
    strcpy(s->info.role, role);
    s->info.created_at = now_s;
    s->last_used = now_s;

    pthread_mutex_lock(&ss->lock);
    while (ss->count >= ss->max_sessions && ss->oldest)
        unlink_session(ss, ss->oldest);
    size_t b = bucket_of(ss, s->digest);
    s->next_in_bucket = ss->buckets[b];
    ss->buckets[b] = s;
    s->older = ss->newest;
    if (ss->newest)
        ss->newest->newer = s;
    else
        ss->oldest = s;
    ss->newest = s;
    ss->count++;
    s->info.expires_at = expiry_of(ss, s);
    if (info)
        *info = s->info;
    pthread_mutex_unlock(&ss->lock);
    return 0;
}

/* Caller holds the lock. */
static struct session *find(struct session_store *ss, const unsigned char digest[DIGEST_LEN])
{
    for (struct session *s = ss->buckets[bucket_of(ss, digest)]; s; s = s->next_in_bucket)
        if (sodium_memcmp(s->digest, digest, DIGEST_LEN) == 0)
            return s;
    return NULL;
}

static int lookup(struct session_store *ss, const char *token, int64_t now_s, int touch,
                  struct session_info *info)
{
    unsigned char digest[DIGEST_LEN];
    if (!ss || digest_token(token, digest) != 0)
        return LOGSHARE_EAUTH;
    int rc = LOGSHARE_EAUTH;
    pthread_mutex_lock(&ss->lock);
    struct session *s = find(ss, digest);
    if (s && now_s >= expiry_of(ss, s)) {
        unlink_session(ss, s);
    } else if (s) {
        if (touch && now_s > s->last_used)
            s->last_used = now_s;
        s->info.expires_at = expiry_of(ss, s);
        if (info)
            *info = s->info;
        rc = 0;
    }
    pthread_mutex_unlock(&ss->lock);
    return rc;
}

int session_lookup(struct session_store *ss, const char *token, int64_t now_s,
                   struct session_info *info)
{
    return lookup(ss, token, now_s, 1, info);
}

int session_lookup_passive(struct session_store *ss, const char *token, int64_t now_s,
                           struct session_info *info)
{
    return lookup(ss, token, now_s, 0, info);
}

int session_revoke(struct session_store *ss, const char *token)
{
    unsigned char digest[DIGEST_LEN];
    if (!ss || digest_token(token, digest) != 0)
        return LOGSHARE_EAUTH;
    pthread_mutex_lock(&ss->lock);
    struct session *s = find(ss, digest);
    if (s)
        unlink_session(ss, s);
    pthread_mutex_unlock(&ss->lock);
    return s ? 0 : LOGSHARE_EAUTH;
}

int session_csrf_matches(const struct session_info *info, const char *csrf_header)
{
    if (!info || !csrf_header || strlen(csrf_header) != SESSION_CSRF_LEN)
        return 0;
    return sodium_memcmp(info->csrf, csrf_header, SESSION_CSRF_LEN) == 0;
}

size_t session_count(struct session_store *ss)
{
    if (!ss)
        return 0;
    pthread_mutex_lock(&ss->lock);
    size_t n = ss->count;
    pthread_mutex_unlock(&ss->lock);
    return n;
}
