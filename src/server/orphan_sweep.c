/*
 * orphan_sweep.c - the sweep of orphaned blobs and stale uploads, at
 * startup and then periodically (orphan_sweep.h).
 *
 * Until the first referenced blob is seen, unreferenced old blobs are
 * only remembered (the wrong-database guard); from then on they are
 * removed as they are found, and the remembered ones with them. The
 * memory this takes is bounded: past ORPHAN_HOLD_MAX remembered keys
 * with no referenced blob in sight the sweep stops.
 */
#include "orphan_sweep.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logshare.h"

#define ORPHAN_HOLD_MAX 100000
/* What the visitor returns to end the listing early without an error. */
#define ORPHAN_STOP 1

struct held_blob {
    char *key;
    uint64_t size;
};

struct sweep_ctx {
    struct blob_store *bs;
    struct ticket_store *ts;
    int64_t cutoff; /* blobs modified at or before this are old enough */
    const atomic_int *stop;
    struct orphan_sweep_result *res;
    int seen_referenced;
    int foreign; /* count old blobs as held back, ask nothing, remove nothing */
    size_t n_foreign;
    struct held_blob *held; /* unreferenced old blobs, while no referenced one was seen */
    size_t n_held, cap_held;
    int rc; /* an error that ended the sweep */
};

static void remove_orphan(struct sweep_ctx *c, const char *key, uint64_t size)
{
    int rc = blob_store_remove(c->bs, key);
    if (rc == 0) {
        c->res->removed++;
        c->res->removed_bytes += size;
    } else if (rc != LOGSHARE_ENOENT) /* already gone is what we wanted */
        fprintf(stderr, "logshared: orphan sweep: cannot remove blob %s: %s\n", key,
                logshare_strerror(rc));
}

static int hold(struct sweep_ctx *c, const char *key, uint64_t size)
{
    if (c->n_held == c->cap_held) {
        size_t cap = c->cap_held ? 2 * c->cap_held : 64;
        struct held_blob *grown = realloc(c->held, cap * sizeof *grown);
        if (!grown)
            return LOGSHARE_ENOMEM;
        c->held = grown;
        c->cap_held = cap;
    }
    if (!(c->held[c->n_held].key = strdup(key)))
        return LOGSHARE_ENOMEM;
    c->held[c->n_held++].size = size;
    return 0;
}

static int visit(void *arg, const char *key, int64_t mtime, uint64_t size)
{
    struct sweep_ctx *c = arg;
    if (c->stop && atomic_load(c->stop)) {
        c->res->stopped = 1;
        return ORPHAN_STOP;
    }
    /* Only attachments are judged: the owner marker (BLOB_OWNER_KEY), or
     * whatever else shares a container, is no ticket's to claim. */
    if (!blob_key_is_attachment(key))
        return 0;
    c->res->checked++;
    /* A blob being committed right now has a modification time of now
     * (blob_writer_commit), so it is never older than the cutoff. */
    if (mtime > c->cutoff) {
        c->res->young++;
        return 0;
    }
    if (c->foreign) {
        c->n_foreign++;
        return 0;
    }
    int referenced = 0;
    int rc = ticket_store_blob_referenced(c->ts, key, &referenced);
    if (rc != 0) {
        c->rc = rc;
        return ORPHAN_STOP;
    }
    if (referenced) {
        c->res->referenced++;
        if (!c->seen_referenced) {
            c->seen_referenced = 1;
            for (size_t i = 0; i < c->n_held; i++)
                remove_orphan(c, c->held[i].key, c->held[i].size);
        }
        return 0;
    }
    if (c->seen_referenced) {
        remove_orphan(c, key, size);
        return 0;
    }
    if (c->n_held >= ORPHAN_HOLD_MAX || (rc = hold(c, key, size)) != 0) {
        c->rc = rc;
        return ORPHAN_STOP;
    }
    return 0;
}

static int sweep_run(struct blob_store *bs, struct ticket_store *ts, int64_t grace_s,
                     int64_t now_unix_s, const atomic_int *stop, int foreign,
                     struct orphan_sweep_result *res)
{
    if (!res)
        return LOGSHARE_EINVAL;
    memset(res, 0, sizeof *res);
    if (!bs || !ts || grace_s <= 0)
        return LOGSHARE_EINVAL;
    struct sweep_ctx c = {.bs = bs,
                          .ts = ts,
                          .cutoff = now_unix_s - grace_s,
                          .stop = stop,
                          .res = res,
                          .foreign = foreign};
    int rc = blob_store_list(bs, visit, &c);
    if (rc == ORPHAN_STOP)
        rc = c.rc;
    res->foreign = foreign;
    if (foreign)
        res->held_back = c.n_foreign;
    else if (!c.seen_referenced)
        res->held_back = c.n_held;
    for (size_t i = 0; i < c.n_held; i++)
        free(c.held[i].key);
    free(c.held);
    return rc;
}

int orphan_sweep_run(struct blob_store *bs, struct ticket_store *ts, int64_t grace_s,
                     int64_t now_unix_s, const atomic_int *stop, struct orphan_sweep_result *res)
{
    return sweep_run(bs, ts, grace_s, now_unix_s, stop, 0, res);
}

struct orphan_sweep {
    pthread_t thread;
    struct blob_store *bs;
    struct ticket_store *ts;
    struct orphan_sweep_options o;
    pthread_mutex_t mu; /* with cv: the wait between passes */
    pthread_cond_t cv;  /* on CLOCK_MONOTONIC: a clock step changes no interval */
    atomic_int stop;    /* also read by a pass in progress, before each blob */
};

static void log_pass(const struct orphan_sweep *s, int first, const struct blob_upload_sweep *up,
                     int up_rc, const struct orphan_sweep_result *res, int rc)
{
    if (up_rc)
        fprintf(stderr, "logshared: orphan sweep: cannot sweep stale uploads: %s\n",
                logshare_strerror(up_rc));
    if (s->o.grace_s > 0 && (first || res->removed || up->removed || rc))
        fprintf(stderr,
                "logshared: orphan sweep: removed %zu orphaned blobs (%llu bytes; %zu checked, "
                "%zu referenced, %zu younger than %llds kept) and %zu stale upload files "
                "(%llu bytes)%s%s%s\n",
                res->removed, (unsigned long long)res->removed_bytes, res->checked, res->referenced,
                res->young, (long long)s->o.grace_s, up->removed, (unsigned long long)up->bytes,
                res->stopped || up->stopped ? "; stopped early" : "",
                rc ? "; ended by an error: " : "", rc ? logshare_strerror(rc) : "");
    else if (s->o.grace_s == 0 && up->removed)
        fprintf(stderr,
                "logshared: orphan sweep: removed %zu stale upload files (%llu bytes; orphaned "
                "blobs are kept: orphan_grace_s is 0)\n",
                up->removed, (unsigned long long)up->bytes);
    if (res->held_back && res->foreign)
        fprintf(stderr,
                "logshared: orphan sweep: kept %zu blobs older than %llds: this data dir's "
                "blobs are not claimed by this ticket database (it was empty at start and "
                "database-id names none), which looks like the wrong database (database.url); "
                "no blob is removed\n",
                res->held_back, (long long)s->o.grace_s);
    else if (res->held_back)
        fprintf(stderr,
                "logshared: orphan sweep: kept %zu unreferenced blobs: no blob at all is "
                "referenced by the database, which looks like the wrong database "
                "(database.url)\n",
                res->held_back);
}

/* One pass: the stale uploads first (a few files at most, quick), then
 * the orphans (the whole store). */
static void run_pass(struct orphan_sweep *s, int first)
{
    int64_t now = (int64_t)time(NULL);
    struct blob_upload_sweep up = {0};
    struct orphan_sweep_result res = {0};
    int up_rc = 0, rc = 0;
    if (s->o.stale_upload_s > 0)
        up_rc = blob_store_sweep_uploads(s->bs, now - s->o.stale_upload_s, &s->stop, &up);
    if (s->o.grace_s > 0 && !atomic_load(&s->stop))
        rc = sweep_run(s->bs, s->ts, s->o.grace_s, now, &s->stop, s->o.foreign, &res);
    log_pass(s, first, &up, up_rc, &res, rc);
}

/* Sleeps interval_s or until orphan_sweep_stop; 1 when it is time for
 * the next pass. */
static int wait_next(struct orphan_sweep *s)
{
    /* A deadline decades away is as good as none, and cannot overflow. */
    const int64_t longest = (int64_t)1 << 30;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(s->o.interval_s < longest ? s->o.interval_s : longest);
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    while (!atomic_load(&s->stop) && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&s->cv, &s->mu, &until);
    int go = !atomic_load(&s->stop);
    pthread_mutex_unlock(&s->mu);
    return go;
}

static void *sweep_thread(void *arg)
{
    struct orphan_sweep *s = arg;
    int first = 1;
    do {
        run_pass(s, first);
        first = 0;
    } while (s->o.interval_s > 0 && wait_next(s));
    return NULL;
}

static int sweep_init_sync(struct orphan_sweep *s)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return LOGSHARE_ENOMEM;
    int ok =
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&s->cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!ok)
        return LOGSHARE_ENOMEM;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        pthread_cond_destroy(&s->cv);
        return LOGSHARE_ENOMEM;
    }
    return 0;
}

static void sweep_free(struct orphan_sweep *s)
{
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int orphan_sweep_start(struct blob_store *bs, struct ticket_store *ts,
                       const struct orphan_sweep_options *o, struct orphan_sweep **out)
{
    if (!out)
        return LOGSHARE_EINVAL;
    *out = NULL;
    if (!bs || !ts || !o || o->grace_s < 0 || o->interval_s < 0 || o->stale_upload_s < 0)
        return LOGSHARE_EINVAL;
    if (o->grace_s == 0 && (o->interval_s == 0 || o->stale_upload_s == 0))
        return 0;
    struct orphan_sweep *s = calloc(1, sizeof *s);
    if (!s)
        return LOGSHARE_ENOMEM;
    s->bs = bs;
    s->ts = ts;
    s->o = *o;
    atomic_init(&s->stop, 0);
    int rc = sweep_init_sync(s);
    if (rc) {
        free(s);
        return rc;
    }
    if (pthread_create(&s->thread, NULL, sweep_thread, s) != 0) {
        sweep_free(s);
        return LOGSHARE_ENOMEM;
    }
    *out = s;
    return 0;
}

void orphan_sweep_stop(struct orphan_sweep *s)
{
    if (!s)
        return;
    /* Under the mutex: a thread between its check of stop and its wait
     * would otherwise miss the signal and sleep a whole interval. */
    pthread_mutex_lock(&s->mu);
    atomic_store(&s->stop, 1);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    sweep_free(s);
}
