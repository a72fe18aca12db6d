/*
 * store_log.c - the logging calls: the only code on the app's threads.
 *
 * A call checks the level and the store's state, finds its thread's
 * ring (one thread-local compare), takes the time, and copies the
 * record into the ring with no lock, no system call and no allocation
 * (except a thread's very first call, which makes its ring). When the
 * ring is full the record is dropped and counted (per stream); the
 * writer notices the count when it next drains and writes it to the
 * file as a DROPPED record itself, so the count is on disk even if the
 * thread never logs again.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store.h"

#define TEXT_MAX 4000
#define TRUNC_MARK "...[truncated]"
#define BINARY_BYTES_MAX 4096

static _Thread_local struct {
    uint64_t store_id;
    struct store_ring *ring;
} tls_ring;

void store_log_forget_thread(void)
{
    tls_ring.store_id = 0;
    tls_ring.ring = NULL;
}

static inline struct store_ring *thread_ring(logshare *ls)
{
    if (__builtin_expect(tls_ring.store_id == ls->id, 1))
        return tls_ring.ring;
    struct store_ring *r = store_thread_ring_slow(ls);
    if (r) {
        tls_ring.store_id = ls->id;
        tls_ring.ring = r;
    }
    return r;
}

/* Reserves n bytes (a multiple of 8). NULL when full. */
static inline unsigned char *ring_reserve(struct store_ring *r, uint64_t n, uint64_t *new_head)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t pos = head & r->mask;
    uint64_t contig = r->cap - pos;
    uint64_t need = n <= contig ? n : contig + n;
    if (head + need - r->cached_tail > r->cap) {
        r->cached_tail = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (head + need - r->cached_tail > r->cap)
            return NULL;
    }
    if (n > contig) {
        struct ring_rec *pad = (struct ring_rec *)(r->buf + pos);
        pad->size = (uint32_t)contig;
        pad->kind = RING_PAD;
        pos = 0;
    }
    *new_head = head + need;
    return r->buf + pos;
}

static inline void ring_commit(logshare *ls, struct store_ring *r, uint64_t new_head)
{
    atomic_store_explicit(&r->head, new_head, memory_order_release);
    /* Wake a sleeping writer once the ring is an eighth full. The
     * cached tail may be stale, so look at the real one first: else a
     * ring drained long ago would wake the writer at every call. */
    if (__builtin_expect(new_head - r->cached_tail > r->cap / 8, 0)) {
        r->cached_tail = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (new_head - r->cached_tail > r->cap / 8 &&
            atomic_load_explicit(&ls->writer_sleeping, memory_order_relaxed))
            store_wake_writer(ls);
    }
}

/* Copies the argument slots one word at a time. A memcpy of nargs * 8
 * bytes compiles to `rep movsq` (or a call), whose start-up cost was a
 * quarter of the whole call in a profile; a few plain 8-byte stores are
 * what this size wants. GCC would turn the loop back into a memcpy, so
 * that pattern is switched off here. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif
static inline unsigned char *
copy_slots(unsigned char *q, const uint64_t *slot, unsigned nargs)
{
    for (unsigned i = 0; i < nargs; i++, q += 8)
        memcpy(q, &slot[i], 8);
    return q;
}

static void ring_drop(struct store_ring *r, int stream)
{
    atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->dropped_by_stream[stream], 1, memory_order_relaxed);
}

static inline int call_check(logshare *ls, int stream, logshare_level level)
{
    if (!ls || (unsigned)stream >= (unsigned)ls->nstreams || (unsigned)level > LOGSHARE_LEVEL_FATAL)
        return LOGSHARE_EINVAL;
    if ((int)level < ls->min_level)
        return 1;
    if (__builtin_expect(atomic_load_explicit(&ls->state, memory_order_relaxed) != STORE_OPEN, 0) ||
        __builtin_expect(
            ls->fork_gen != atomic_load_explicit(&store_fork_generation, memory_order_relaxed), 0))
        return LOGSHARE_ECLOSED;
    return 0;
}

static int log_text(logshare *ls, struct store_ring *r, int stream, logshare_level level, int64_t t,
                    const char *text, size_t len)
{
    uint64_t size = (sizeof(struct ring_rec) + len + 7) & ~(uint64_t)7, nh;
    unsigned char *p = ring_reserve(r, size, &nh);
    if (!p) {
        ring_drop(r, stream);
        return LOGSHARE_ENOSPC;
    }
    struct ring_rec *h = (struct ring_rec *)p;
    h->size = (uint32_t)size;
    h->kind = RING_TEXT;
    h->level = (uint8_t)level;
    h->stream = (uint8_t)stream;
    h->nargs = 0;
    h->time_us = t;
    h->aux = (uint32_t)len;
    memcpy(p + sizeof *h, text, len);
    ring_commit(ls, r, nh);
    return 0;
}

int logshare_vlog(logshare *ls, int stream, logshare_level level, const char *fmt, va_list ap)
{
    int rc = call_check(ls, stream, level);
    if (rc != 0 || !fmt)
        return rc > 0 ? 0 : rc ? rc : LOGSHARE_EINVAL;
    struct store_ring *r = thread_ring(ls);
    if (!r) {
        atomic_fetch_add(&ls->write_failed, 1);
        return LOGSHARE_ENOMEM;
    }
    char text[TEXT_MAX + sizeof TRUNC_MARK];
    int n = vsnprintf(text, TEXT_MAX + 1, fmt, ap);
    size_t len;
    if (n < 0) {
        len = (size_t)snprintf(text, sizeof text, "[unformattable message: %s]", fmt);
        if (len >= sizeof text)
            len = sizeof text - 1;
    } else if ((size_t)n > TEXT_MAX) {
        memcpy(text + TEXT_MAX, TRUNC_MARK, sizeof TRUNC_MARK);
        len = TEXT_MAX + sizeof TRUNC_MARK - 1;
    } else {
        len = (size_t)n;
    }
    return log_text(ls, r, stream, level, store_raw_time(ls), text, len);
}

int logshare_log(logshare *ls, int stream, logshare_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = logshare_vlog(ls, stream, level, fmt, ap);
    va_end(ap);
    return rc;
}

int logshare_log_static(logshare *ls, int stream, logshare_level level, const char *fmt, ...)
{
    int rc = call_check(ls, stream, level);
    if (__builtin_expect(rc != 0 || !fmt, 0))
        return rc > 0 ? 0 : rc ? rc : LOGSHARE_EINVAL;
    const struct store_fmt_info *fi = store_fmt_get(&ls->fmts, fmt);
    va_list ap;
    va_start(ap, fmt);
    if (__builtin_expect(!fi || !fi->supported, 0)) {
        rc = logshare_vlog(ls, stream, level, fmt, ap);
        va_end(ap);
        return rc;
    }
    /* One pass over the arguments into locals; strings are measured so
     * the record's size is known before reserving. */
    uint64_t slot[LOGFMT_MAX_ARGS];
    const char *strs[LOGFMT_MAX_ARGS];
    uint64_t str_bytes = 0;
    unsigned nargs = fi->nargs;
    for (unsigned i = 0; i < nargs; i++) {
        switch (fi->kinds[i]) {
        case LOGFMT_ARG_INT:
            slot[i] = (uint64_t)(int64_t)va_arg(ap, int);
            break;
        case LOGFMT_ARG_UINT:
            slot[i] = va_arg(ap, unsigned);
            break;
        case LOGFMT_ARG_LONG:
            slot[i] = (uint64_t)(int64_t)va_arg(ap, long);
            break;
        case LOGFMT_ARG_ULONG:
            slot[i] = va_arg(ap, unsigned long);
            break;
        case LOGFMT_ARG_LLONG:
            slot[i] = (uint64_t)va_arg(ap, long long);
            break;
        case LOGFMT_ARG_ULLONG:
            slot[i] = va_arg(ap, unsigned long long);
            break;
        case LOGFMT_ARG_SIZE:
            slot[i] = va_arg(ap, size_t);
            break;
        case LOGFMT_ARG_PTRDIFF:
            slot[i] = (uint64_t)(int64_t)va_arg(ap, ptrdiff_t);
            break;
        case LOGFMT_ARG_INTMAX:
            slot[i] = (uint64_t)va_arg(ap, intmax_t);
            break;
        case LOGFMT_ARG_UINTMAX:
            slot[i] = va_arg(ap, uintmax_t);
            break;
        case LOGFMT_ARG_DOUBLE: {
            double d = va_arg(ap, double);
            memcpy(&slot[i], &d, 8);
            break;
        }
        case LOGFMT_ARG_PTR:
            slot[i] = (uint64_t)(uintptr_t)va_arg(ap, void *);
            break;
        case LOGFMT_ARG_STR: {
            const char *s = va_arg(ap, const char *);
            strs[i] = s ? s : "(null)";
            /* With a precision the argument may be an array with no NUL
             * ("%.*s" of a buffer and its length): read no further. */
            int prec = fi->str_prec[i];
            if (prec == LOGFMT_PREC_STAR && i > 0)
                prec = (int)(int64_t)slot[i - 1]; /* negative: as if none */
            slot[i] = prec >= 0 ? strnlen(strs[i], (size_t)prec) : strlen(strs[i]);
            str_bytes += slot[i];
            break;
        }
        default:
            slot[i] = 0;
            break;
        }
    }
    va_end(ap);
    if (__builtin_expect(str_bytes > BINARY_BYTES_MAX, 0)) {
        /* Too long to keep raw: format now, which cuts it visibly. */
        va_start(ap, fmt);
        rc = logshare_vlog(ls, stream, level, fmt, ap);
        va_end(ap);
        return rc;
    }
    struct store_ring *r = thread_ring(ls);
    if (__builtin_expect(!r, 0)) {
        atomic_fetch_add(&ls->write_failed, 1);
        return LOGSHARE_ENOMEM;
    }
    int64_t t = store_raw_time(ls);
    uint64_t size = (sizeof(struct ring_rec) + nargs * 8u + str_bytes + 7) & ~(uint64_t)7, nh;
    unsigned char *p = ring_reserve(r, size, &nh);
    if (__builtin_expect(!p, 0)) {
        ring_drop(r, stream);
        return LOGSHARE_ENOSPC;
    }
    struct ring_rec *h = (struct ring_rec *)p;
    h->size = (uint32_t)size;
    h->kind = RING_BINARY;
    h->level = (uint8_t)level;
    h->stream = (uint8_t)stream;
    h->nargs = (uint8_t)nargs;
    h->time_us = t;
    h->aux = fi->id;
    unsigned char *q = copy_slots(p + sizeof *h, slot, nargs);
    if (str_bytes) {
        for (unsigned i = 0; i < nargs; i++) {
            if (fi->kinds[i] == LOGFMT_ARG_STR) {
                memcpy(q, strs[i], slot[i]);
                q += slot[i];
            }
        }
    }
    ring_commit(ls, r, nh);
    return 0;
}
