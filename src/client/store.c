/*
 * store.c - opening and closing a log store, flushing, counters, and
 * the process-wide concerns: the registry of live stores, each thread's
 * ring, fork and exit.
 *
 * Fork: a pthread_atfork child handler bumps store_fork_generation; a
 * store remembers the generation it was opened in, so in a child every
 * call sees the mismatch with one load and does nothing (the writer
 * thread does not exist there, and the files are the parent's). The
 * child closes its copies of the stores' descriptors at once, lock
 * included, so a long-lived child never holds the parent's store.
 *
 * Exit: an atexit handler finishes every live store (drain, FINAL
 * frames, fsync, writer joined) so records logged before exit() are on
 * disk and the files read as complete.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ls_fs.h"
#include "ls_time.h"
#include "store.h"

_Atomic unsigned store_fork_generation;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static logshare *registry_head;
static uint64_t registry_next_id = 1;
static pthread_once_t process_once = PTHREAD_ONCE_INIT;
static pthread_key_t thread_key;

/* A thread's rings, one per store it has logged to. */
struct thread_node {
    uint64_t store_id;
    struct store_ring *ring;
    struct thread_node *next;
};
static _Thread_local struct thread_node *thread_nodes;

static logshare *registry_find(uint64_t id)
{
    for (logshare *s = registry_head; s; s = s->next_live)
        if (s->id == id)
            return s;
    return NULL;
}

static void thread_exit(void *v)
{
    (void)v;
    pthread_mutex_lock(&registry_lock);
    for (struct thread_node *n = thread_nodes, *next; n; n = next) {
        next = n->next;
        if (registry_find(n->store_id))
            atomic_store(&n->ring->abandoned, 1);
        free(n);
    }
    thread_nodes = NULL;
    pthread_mutex_unlock(&registry_lock);
    store_log_forget_thread();
}

static void store_finish(logshare *ls);

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void store_time_init(logshare *ls)
{
    ls->use_tsc = 0;
#if defined(__x86_64__)
    char cs[32] = "";
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "re");
    if (f) {
        if (!fgets(cs, sizeof cs, f))
            cs[0] = '\0';
        fclose(f);
    }
    if (strcmp(cs, "tsc\n") != 0)
        return;
    /* A first rate over 2 ms; the writer refines it over seconds. */
    ls->tsc0 = __rdtsc();
    ls->mono0_ns = ls_time_mono_ns();
    struct timespec nap = {0, 2000000};
    nanosleep(&nap, NULL);
    uint64_t t1 = __rdtsc();
    int64_t m1 = ls_time_mono_ns();
    if (t1 <= ls->tsc0 || m1 <= ls->mono0_ns)
        return;
    ls->us_per_tick = (double)(m1 - ls->mono0_ns) / 1000.0 / (double)(t1 - ls->tsc0);
    ls->anchor_tsc = __rdtsc();
    ls->anchor_wall_us = wall_us();
    ls->anchor_mono_ns = ls_time_mono_ns();
    ls->use_tsc = 1;
#endif
}

void store_time_refresh(logshare *ls, int force)
{
#if defined(__x86_64__)
    if (!ls->use_tsc)
        return;
    int64_t m = ls_time_mono_ns();
    if (!force && m - ls->anchor_mono_ns < 1000000000)
        return;
    uint64_t t = __rdtsc();
    int64_t w = wall_us();
    if (t > ls->tsc0 && m > ls->mono0_ns)
        ls->us_per_tick = (double)(m - ls->mono0_ns) / 1000.0 / (double)(t - ls->tsc0);
    ls->anchor_tsc = t;
    ls->anchor_wall_us = w;
    ls->anchor_mono_ns = m;
#else
    (void)ls;
    (void)force;
#endif
}

static void at_exit(void)
{
    /* Holding the lock keeps logshare_close (which unlinks under it)
     * from freeing a store we are finishing. */
    pthread_mutex_lock(&registry_lock);
    unsigned gen = atomic_load(&store_fork_generation);
    for (logshare *s = registry_head; s; s = s->next_live)
        if (s->fork_gen == gen)
            store_finish(s);
    pthread_mutex_unlock(&registry_lock);
}

static void fork_prepare(void)
{
    pthread_mutex_lock(&registry_lock);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&registry_lock);
}

static void fork_child(void)
{
    atomic_fetch_add(&store_fork_generation, 1);
    /* The child must not keep the parent's files open: a flock belongs
     * to the open file, so a child that lives on would keep the store
     * locked after the parent closes it, and the parent could not open
     * it again. The child never writes them anyway. */
    for (logshare *s = registry_head; s; s = s->next_live) {
        if (s->lock_fd >= 0)
            close(s->lock_fd);
        s->lock_fd = -1;
        for (int i = 0; i < s->nstreams; i++) {
            if (s->streams[i].fd >= 0)
                close(s->streams[i].fd);
            s->streams[i].fd = -1;
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

static void process_init(void)
{
    pthread_key_create(&thread_key, thread_exit);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    atexit(at_exit);
}

/* The ring of a thread that exited, taken over by the calling thread
 * (rings_lock held): the least filled one, if at most a quarter full
 * (one the writer has not drained, on a slow disk, would make the new
 * thread drop where a ring of its own would not), or NULL. Without this
 * every short-lived logging thread would cost a new ring of ring_bytes
 * until the writer next reaped, and a pool of threads that come and go
 * would grow the process by hundreds of MiB. A ring carries on as it
 * was: head and tail count on, its records and drop counts are the
 * writer's as before; the exiting thread's last stores reach this
 * thread through the abandoned flag. */
static struct store_ring *ring_adopt(logshare *ls)
{
    struct store_ring *best = NULL;
    uint64_t best_used = UINT64_MAX;
    for (size_t i = 0; i < ls->nrings; i++) {
        struct store_ring *r = ls->rings[i];
        if (!atomic_load(&r->abandoned))
            continue;
        uint64_t used = atomic_load(&r->head) - atomic_load(&r->tail);
        if (used < best_used) {
            best = r;
            best_used = used;
        }
    }
    if (!best || best_used > best->cap / 4)
        return NULL;
    atomic_store(&best->abandoned, 0);
    return best;
}

/* A ring for the calling thread on ls: an abandoned one, or a new one
 * added to the store's list. NULL on ENOMEM. */
static struct store_ring *ring_take(logshare *ls)
{
    pthread_mutex_lock(&ls->rings_lock);
    struct store_ring *r = ring_adopt(ls);
    pthread_mutex_unlock(&ls->rings_lock);
    if (r)
        return r;
    /* Made (and its pages touched) outside the lock, which the writer
     * takes at every drain. */
    r = store_ring_new(ls->ring_bytes);
    if (!r)
        return NULL;
    pthread_mutex_lock(&ls->rings_lock);
    if (ls->nrings == ls->rings_cap) {
        size_t nc = ls->rings_cap ? ls->rings_cap * 2 : 8;
        struct store_ring **nr = realloc(ls->rings, nc * sizeof *nr);
        if (!nr) {
            pthread_mutex_unlock(&ls->rings_lock);
            store_ring_free(r);
            return NULL;
        }
        ls->rings = nr;
        ls->rings_cap = nc;
    }
    ls->rings[ls->nrings++] = r;
    pthread_mutex_unlock(&ls->rings_lock);
    return r;
}

struct store_ring *store_thread_ring_slow(logshare *ls)
{
    /* A thread that logs to two stores in turn comes here at every
     * switch (the fast path caches one store): its own list answers
     * with no lock. ls is open (the caller's promise), so its node, if
     * any, is current; ids are never reused. */
    for (struct thread_node *n = thread_nodes; n; n = n->next)
        if (n->store_id == ls->id)
            return n->ring;
    /* Forget rings of stores closed since (their memory is gone). */
    pthread_mutex_lock(&registry_lock);
    for (struct thread_node **pp = &thread_nodes; *pp;) {
        struct thread_node *n = *pp;
        if (!registry_find(n->store_id)) {
            *pp = n->next;
            free(n);
        } else {
            pp = &n->next;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    struct thread_node *node = malloc(sizeof *node);
    struct store_ring *r = node ? ring_take(ls) : NULL;
    if (!r) {
        free(node);
        return NULL;
    }
    node->store_id = ls->id;
    node->ring = r;
    node->next = thread_nodes;
    thread_nodes = node;
    pthread_setspecific(thread_key, node);
    return r;
}

void store_wake_writer(logshare *ls)
{
    if (atomic_exchange(&ls->writer_sleeping, 0)) {
        pthread_mutex_lock(&ls->lock);
        pthread_cond_signal(&ls->wake);
        pthread_mutex_unlock(&ls->lock);
    }
}

/* Frees memory only: also what a forked child does, where the mutexes
 * may have been copied while held and the writer does not exist. */
static void store_free_memory(logshare *ls)
{
    for (size_t i = 0; i < ls->nrings; i++)
        store_ring_free(ls->rings[i]);
    free(ls->rings);
    free(ls->drain_cursors);
    for (int i = 0; i < ls->nstreams; i++) {
        if (ls->streams[i].fd >= 0)
            close(ls->streams[i].fd);
        ls_buf_free(&ls->streams[i].pending);
    }
    if (ls->lock_fd >= 0)
        close(ls->lock_fd);
    store_dir_destroy(&ls->dir);
    ZSTD_freeCCtx(ls->cctx);
    ls_buf_free(&ls->frame_out);
    ls_buf_free(&ls->scratch);
    uint32_t n = atomic_load(&ls->fmts.count);
    for (uint32_t i = 0; i < n; i++)
        free(ls->fmts.by_id[i]);
    sodium_memzero(ls->pk, sizeof ls->pk);
    free(ls);
}

static void store_finish(logshare *ls)
{
    if (atomic_load(&ls->state) == STORE_FINISHED)
        return;
    atomic_store(&ls->state, STORE_CLOSING);
    if (ls->writer_started) {
        pthread_mutex_lock(&ls->lock);
        ls->stop = 1;
        pthread_cond_signal(&ls->wake);
        pthread_mutex_unlock(&ls->lock);
        pthread_join(ls->writer, NULL);
        ls->writer_started = 0;
    }
    atomic_store(&ls->state, STORE_FINISHED);
}

void logshare_close(logshare *ls)
{
    if (!ls)
        return;
    int forked = ls->fork_gen != atomic_load(&store_fork_generation);
    pthread_mutex_lock(&registry_lock);
    for (logshare **pp = &registry_head; *pp; pp = &(*pp)->next_live) {
        if (*pp == ls) {
            *pp = ls->next_live;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    if (forked) {
        store_free_memory(ls);
        return;
    }
    store_finish(ls);
    pthread_mutex_destroy(&ls->rings_lock);
    pthread_mutex_destroy(&ls->lock);
    pthread_cond_destroy(&ls->wake);
    pthread_cond_destroy(&ls->flushed);
    pthread_mutex_destroy(&ls->fmts.lock);
    store_free_memory(ls);
}

/* dir, made absolute against the working directory now: the writer
 * works in the background for as long as the store is open, and a
 * later chdir() (a daemon going to "/") must not move the store (the
 * writer took the old directory for removed, made a new one under the
 * new working directory, and the files written before were no longer
 * listed). As given if the working directory cannot be had. New
 * string; NULL on ENOMEM. */
static char *dir_absolute(const char *dir)
{
    if (dir[0] == '/')
        return strdup(dir);
    char *cwd = getcwd(NULL, 0);
    if (!cwd)
        return strdup(dir);
    size_t n = strlen(cwd) + strlen(dir) + 2;
    char *abs = malloc(n);
    if (abs)
        snprintf(abs, n, "%s%s%s", cwd, strcmp(cwd, "/") == 0 ? "" : "/", dir);
    free(cwd);
    return abs;
}

int logshare_open(const logshare_options *o, logshare **out)
{
    if (out)
        *out = NULL;
    if (!out || !o)
        return LOGSHARE_EINVAL;
    if (o->key_error)
        return o->key_error;
    if (!o->dir || (!o->have_pk && !o->plaintext))
        return LOGSHARE_EINVAL;
    if (sodium_init() < 0)
        return LOGSHARE_EINTERNAL;
    pthread_once(&process_once, process_init);
    logshare *ls = aligned_alloc(64, (sizeof *ls + 63) & ~(size_t)63);
    if (!ls)
        return LOGSHARE_ENOMEM;
    memset(ls, 0, sizeof *ls);
    ls->lock_fd = -1;
    ls->min_level = o->min_level;
    ls->nstreams = o->nstreams;
    ls->plaintext = o->plaintext;
    memcpy(ls->pk, o->pk, sizeof ls->pk);
    ls->max_total_bytes = o->max_total_bytes;
    ls->max_file_bytes = o->max_file_bytes;
    if (ls->max_file_bytes > ls->max_total_bytes / (uint64_t)ls->nstreams) /* no overflow */
        ls->max_file_bytes = ls->max_total_bytes / (uint64_t)ls->nstreams;
    ls->max_age_s = o->max_age_s;
    size_t rb = 65536;
    while (rb < o->buffer_bytes)
        rb <<= 1;
    ls->ring_bytes = rb;
    ls->frame_target = ls->max_file_bytes / 8;
    if (ls->frame_target > 65536)
        ls->frame_target = 65536;
    if (ls->frame_target < 2048)
        ls->frame_target = 2048;
    store_time_init(ls);
    store_fmt_table_init(&ls->fmts);
    pthread_mutex_init(&ls->rings_lock, NULL);
    pthread_mutex_init(&ls->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ls->wake, &ca);
    pthread_cond_init(&ls->flushed,
                      &ca); /* flush timeouts: a wall clock step must not stretch them */
    pthread_condattr_destroy(&ca);
    for (int i = 0; i < ls->nstreams; i++) {
        strcpy(ls->streams[i].name, o->streams[i]);
        ls->streams[i].fd = -1;
    }
    ls->dir.dir = dir_absolute(o->dir);
    ls->cctx = ZSTD_createCCtx();
    int rc = (!ls->dir.dir || !ls->cctx) ? LOGSHARE_ENOMEM : 0;
    if (rc == 0) {
        rc = store_writer_prepare_dir(ls);
        if (rc == LOGSHARE_EBUSY || rc == LOGSHARE_ENOMEM)
            goto fail;
        /* Any other failure: the writer keeps retrying; report it. */
        atomic_store(&ls->last_error, rc);
        rc = 0;
    }
    if (rc != 0)
        goto fail;
    if (ls->dir_ready) {
        /* A new file per stream at every open; a failure here becomes
         * the last error and the writer retries. */
        for (int i = 0; i < ls->nstreams; i++) {
            int frc = store_writer_open_file(ls, &ls->streams[i]);
            if (frc != 0)
                atomic_store(&ls->last_error, frc);
        }
    }
    pthread_mutex_lock(&registry_lock);
    ls->id = registry_next_id++;
    ls->fork_gen = atomic_load(&store_fork_generation);
    ls->next_live = registry_head;
    registry_head = ls;
    pthread_mutex_unlock(&registry_lock);
    if (pthread_create(&ls->writer, NULL, store_writer_main, ls) != 0) {
        logshare_close(ls);
        return LOGSHARE_ENOMEM;
    }
    ls->writer_started = 1;
    *out = ls;
    return 0;
fail:
    pthread_mutex_destroy(&ls->rings_lock);
    pthread_mutex_destroy(&ls->lock);
    pthread_cond_destroy(&ls->wake);
    pthread_cond_destroy(&ls->flushed);
    pthread_mutex_destroy(&ls->fmts.lock);
    store_free_memory(ls);
    return rc;
}

int logshare_stream_index(const logshare *ls, const char *name)
{
    if (!ls || !name)
        return LOGSHARE_EINVAL;
    for (int i = 0; i < ls->nstreams; i++)
        if (strcmp(ls->streams[i].name, name) == 0)
            return i;
    return LOGSHARE_ENOENT;
}

static int store_usable(const logshare *ls)
{
    if (!ls)
        return LOGSHARE_EINVAL;
    if (ls->fork_gen != atomic_load(&store_fork_generation) ||
        atomic_load(&ls->state) != STORE_OPEN)
        return LOGSHARE_ECLOSED;
    return 0;
}

int logshare_flush(logshare *ls, int timeout_ms)
{
    return store_flush(ls, timeout_ms, 0, NULL);
}

int store_flush(logshare *ls, int timeout_ms, int rotate, uint64_t *next_seq)
{
    int rc = store_usable(ls);
    if (rc != 0)
        return rc;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&ls->lock);
    uint64_t mine = ++ls->flush_requested;
    if (rotate)
        ls->rotate_requested = 1; /* taken with this request, under the lock */
    atomic_store(&ls->writer_sleeping, 0);
    pthread_cond_signal(&ls->wake);
    rc = 0;
    while (ls->flush_done < mine && rc == 0) {
        if (timeout_ms > 0)
            rc =
                pthread_cond_timedwait(&ls->flushed, &ls->lock, &deadline) ? LOGSHARE_ETIMEDOUT : 0;
        else
            pthread_cond_wait(&ls->flushed, &ls->lock);
    }
    if (ls->flush_done >= mine) {
        rc = ls->flush_result;
        if (next_seq)
            *next_seq = ls->rotated_next_seq;
    }
    pthread_mutex_unlock(&ls->lock);
    return rc;
}

void logshare_get_counts(const logshare *ls, uint64_t *written, uint64_t *buffer_full,
                         uint64_t *write_failed)
{
    logshare *m = (logshare *)ls; /* the lock is not part of the value */
    if (written)
        *written = ls ? atomic_load(&m->written) : 0;
    if (write_failed)
        *write_failed = ls ? atomic_load(&m->write_failed) : 0;
    if (buffer_full) {
        uint64_t n = 0;
        if (ls) {
            pthread_mutex_lock(&m->rings_lock);
            n = m->retired_dropped;
            for (size_t i = 0; i < m->nrings; i++)
                n += atomic_load(&m->rings[i]->dropped);
            pthread_mutex_unlock(&m->rings_lock);
        }
        *buffer_full = n;
    }
}

int logshare_last_error(const logshare *ls)
{
    return ls ? atomic_load(&((logshare *)ls)->last_error) : LOGSHARE_EINVAL;
}

void store_test_hold_writer(logshare *ls, int hold)
{
    pthread_mutex_lock(&ls->lock);
    ls->hold = hold;
    pthread_cond_signal(&ls->wake);
    pthread_mutex_unlock(&ls->lock);
}
