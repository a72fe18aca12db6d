/*
 * orphan_sweep.c - the startup sweep of orphaned blobs (orphan_sweep.h).
 *
 * Until the first referenced blob is seen, unreferenced old blobs are
 * only remembered (the wrong-database guard); from then on they are
 * removed as they are found, and the remembered ones with them. The
 * memory this takes is bounded: past ORPHAN_HOLD_MAX remembered keys
 * with no referenced blob in sight the sweep stops.
 */
#include "orphan_sweep.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logshare.h"

#define ORPHAN_HOLD_MAX 100000
/* What the visitor returns to end the listing early without an error. */
#define ORPHAN_STOP 1

struct sweep_ctx {
    struct blob_store *bs;
    struct ticket_store *ts;
    int64_t cutoff; /* blobs modified at or before this are old enough */
    const atomic_int *stop;
    struct orphan_sweep_result *res;
    int seen_referenced;
    char **held; /* unreferenced old keys, while no referenced blob was seen */
    size_t n_held, cap_held;
    int rc; /* an error that ended the sweep */
};

static void remove_orphan(struct sweep_ctx *c, const char *key)
{
    int rc = blob_store_remove(c->bs, key);
    if (rc == 0)
        c->res->removed++;
    else if (rc != LOGSHARE_ENOENT) /* already gone is what we wanted */
        fprintf(stderr, "logshared: orphan sweep: cannot remove blob %s: %s\n", key,
                logshare_strerror(rc));
}

static int hold(struct sweep_ctx *c, const char *key)
{
    if (c->n_held == c->cap_held) {
        size_t cap = c->cap_held ? 2 * c->cap_held : 64;
        char **grown = realloc(c->held, cap * sizeof *grown);
        if (!grown)
            return LOGSHARE_ENOMEM;
        c->held = grown;
        c->cap_held = cap;
    }
    if (!(c->held[c->n_held] = strdup(key)))
        return LOGSHARE_ENOMEM;
    c->n_held++;
    return 0;
}

static int visit(void *arg, const char *key, int64_t mtime, uint64_t size)
{
    (void)size;
    struct sweep_ctx *c = arg;
    if (c->stop && atomic_load(c->stop)) {
        c->res->stopped = 1;
        return ORPHAN_STOP;
    }
    c->res->checked++;
    /* A blob being committed right now has a modification time of now
     * (blob_writer_commit), so it is never older than the cutoff. */
    if (mtime > c->cutoff) {
        c->res->young++;
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
                remove_orphan(c, c->held[i]);
        }
        return 0;
    }
    if (c->seen_referenced) {
        remove_orphan(c, key);
        return 0;
    }
    if (c->n_held >= ORPHAN_HOLD_MAX || (rc = hold(c, key)) != 0) {
        c->rc = rc;
        return ORPHAN_STOP;
    }
    return 0;
}

int orphan_sweep_run(struct blob_store *bs, struct ticket_store *ts, int64_t grace_s,
                     int64_t now_unix_s, const atomic_int *stop, struct orphan_sweep_result *res)
{
    if (!res)
        return LOGSHARE_EINVAL;
    memset(res, 0, sizeof *res);
    if (!bs || !ts || grace_s <= 0)
        return LOGSHARE_EINVAL;
    struct sweep_ctx c = {
        .bs = bs, .ts = ts, .cutoff = now_unix_s - grace_s, .stop = stop, .res = res};
    int rc = blob_store_list(bs, visit, &c);
    if (rc == ORPHAN_STOP)
        rc = c.rc;
    if (!c.seen_referenced)
        res->held_back = c.n_held;
    for (size_t i = 0; i < c.n_held; i++)
        free(c.held[i]);
    free(c.held);
    return rc;
}

struct orphan_sweep {
    pthread_t thread;
    struct blob_store *bs;
    struct ticket_store *ts;
    int64_t grace_s;
    int64_t started_at;
    atomic_int stop;
};

static void *sweep_thread(void *arg)
{
    struct orphan_sweep *s = arg;
    struct orphan_sweep_result res;
    int rc = orphan_sweep_run(s->bs, s->ts, s->grace_s, s->started_at, &s->stop, &res);
    fprintf(stderr,
            "logshared: orphan sweep: removed %zu orphaned blobs (%zu checked, %zu referenced, "
            "%zu younger than %llds kept)%s%s%s\n",
            res.removed, res.checked, res.referenced, res.young, (long long)s->grace_s,
            res.stopped ? "; stopped early" : "", rc ? "; ended by an error: " : "",
            rc ? logshare_strerror(rc) : "");
    if (res.held_back)
        fprintf(stderr,
                "logshared: orphan sweep: kept %zu unreferenced blobs: no blob at all is "
                "referenced by the database, which looks like the wrong database "
                "(database.url)\n",
                res.held_back);
    return NULL;
}

int orphan_sweep_start(struct blob_store *bs, struct ticket_store *ts, int64_t grace_s,
                       struct orphan_sweep **out)
{
    if (!out)
        return LOGSHARE_EINVAL;
    *out = NULL;
    if (!bs || !ts || grace_s < 0)
        return LOGSHARE_EINVAL;
    if (grace_s == 0)
        return 0;
    struct orphan_sweep *s = calloc(1, sizeof *s);
    if (!s)
        return LOGSHARE_ENOMEM;
    s->bs = bs;
    s->ts = ts;
    s->grace_s = grace_s;
    s->started_at = (int64_t)time(NULL);
    atomic_init(&s->stop, 0);
    if (pthread_create(&s->thread, NULL, sweep_thread, s) != 0) {
        free(s);
        return LOGSHARE_ENOMEM;
    }
    *out = s;
    return 0;
}

void orphan_sweep_stop(struct orphan_sweep *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    free(s);
}
