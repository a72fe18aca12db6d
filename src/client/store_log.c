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

/* arg_strlen reads whole aligned words around a string, which
 * AddressSanitizer (GCC's or Clang's) would report. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STORE_LOG_ASAN 1
#endif
#endif
#if defined(__x86_64__) && defined(__SSE2__) && !defined(__SANITIZE_ADDRESS__) &&                  \
    !defined(STORE_LOG_ASAN)
#include <emmintrin.h>
#define HAVE_SSE2_STRLEN 1
#endif

#define TEXT_MAX 4000
#define TRUNC_MARK "...[truncated]"
#define BINARY_BYTES_MAX 4096

/* initial-exec: the library's one TLS word is then a plain %fs load
 * even in the shared library (no __tls_get_addr on every call). */
static _Thread_local __attribute__((tls_model("initial-exec"))) struct {
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
    uint64_t head = r->prod_head;
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
    r->prod_head = new_head;
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

/* Copies the argument slots, 16 bytes per store. A memcpy of nargs * 8
 * bytes compiles to `rep movsq` (or a call), whose start-up cost was a
 * quarter of the whole call in a profile; a few plain stores are what
 * this size wants. GCC would turn the loop back into a memcpy, so that
 * pattern is switched off here. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif
static inline __attribute__((always_inline)) unsigned char *
copy_slots(unsigned char *q, const uint64_t *slot, unsigned nargs)
{
    unsigned i = 0;
    for (; i + 4 <= nargs; i += 4, q += 32) {
        memcpy(q, &slot[i], 16);
        memcpy(q + 16, &slot[i + 2], 16);
    }
    switch (nargs - i) {
    case 3:
        memcpy(q + 16, &slot[i + 2], 8);
        /* fall through */
    case 2:
        memcpy(q, &slot[i], 16);
        break;
    case 1:
        memcpy(q, &slot[i], 8);
        break;
    default:
        break;
    }
    return q + 8u * (nargs - i);
}

/* Copies a short string argument with a few overlapping word moves.
 * Strings in log calls are mostly ids and names well under 64 bytes,
 * where a call into memcpy costs more than the copy. */
static inline unsigned char *copy_str(unsigned char *q, const char *s, size_t n)
{
    if (n >= 16 && n <= 64) {
        unsigned char a[16], b[16];
        if (n <= 32) {
            memcpy(a, s, 16);
            memcpy(b, s + n - 16, 16);
            memcpy(q, a, 16);
            memcpy(q + n - 16, b, 16);
        } else {
            unsigned char c[16], d[16];
            memcpy(a, s, 16);
            memcpy(b, s + 16, 16);
            memcpy(c, s + n - 32, 16);
            memcpy(d, s + n - 16, 16);
            memcpy(q, a, 16);
            memcpy(q + 16, b, 16);
            memcpy(q + n - 32, c, 16);
            memcpy(q + n - 16, d, 16);
        }
    } else if (n >= 8 && n < 16) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(q, &a, 8);
        memcpy(q + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(q, &a, 4);
        memcpy(q + n - 4, &b, 4);
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++)
            q[i] = (unsigned char)s[i];
    } else {
        memcpy(q, s, n);
    }
    return q + n;
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

/* Reserves size bytes and writes the record's header. NULL, with the
 * drop counted, when the ring is full. */
static inline __attribute__((always_inline)) struct ring_rec *
rec_begin(struct store_ring *r, uint64_t size, uint64_t *new_head, uint8_t kind, int stream,
          logshare_level level, uint8_t nargs, uint32_t aux, int64_t t)
{
    struct ring_rec *h = (struct ring_rec *)ring_reserve(r, size, new_head);
    if (__builtin_expect(!h, 0)) {
        ring_drop(r, stream);
        return NULL;
    }
    h->size = (uint32_t)size;
    h->kind = kind;
    h->level = (uint8_t)level;
    h->stream = (uint8_t)stream;
    h->nargs = nargs;
    h->time_us = t;
    h->aux = aux;
    return h;
}

static int log_text(logshare *ls, struct store_ring *r, int stream, logshare_level level, int64_t t,
                    const char *text, size_t len)
{
    uint64_t size = (sizeof(struct ring_rec) + len + 7) & ~(uint64_t)7, nh;
    struct ring_rec *h = rec_begin(r, size, &nh, RING_TEXT, stream, level, 0, (uint32_t)len, t);
    if (!h)
        return LOGSHARE_ENOSPC;
    memcpy(h + 1, text, len);
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
    /* %c of 0 (or %lc of L'\0') puts a NUL inside the text. A record is
     * a C string and readers take a NUL inside one for damage (the whole
     * frame would be refused): it renders as nothing, as in the binary
     * form. */
    char *nul = memchr(text, '\0', len);
    if (__builtin_expect(nul != NULL, 0)) {
        size_t o = (size_t)(nul - text);
        for (size_t i = o; i < len; i++)
            if (text[i])
                text[o++] = text[i];
        len = o;
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

/* Reserves and fills a BINARY record. slot holds the call's arguments
 * widened to 64 bits (what sits at string positions does not matter:
 * their lengths are written there); strs and lens are the strings, in
 * order, and str_bytes their total. */
static inline __attribute__((always_inline)) int
put_binary(logshare *ls, int64_t t, int stream, logshare_level level,
           const struct store_fmt_info *fi, unsigned nargs, const uint64_t *slot,
           const char *const *strs, const uint64_t *lens, uint64_t str_bytes)
{
    struct store_ring *r = thread_ring(ls);
    if (__builtin_expect(!r, 0)) {
        atomic_fetch_add(&ls->write_failed, 1);
        return LOGSHARE_ENOMEM;
    }
    /* nargs is the caller's (equal to fi->nargs): the record's size
     * then does not wait for the format lookup's loads. */
    uint64_t size = (sizeof(struct ring_rec) + nargs * 8u + str_bytes + 7) & ~(uint64_t)7, nh;
    struct ring_rec *h =
        rec_begin(r, size, &nh, RING_BINARY, stream, level, (uint8_t)nargs, fi->id, t);
    if (__builtin_expect(!h, 0))
        return LOGSHARE_ENOSPC;
    unsigned char *args = (unsigned char *)(h + 1);
    unsigned char *q = copy_slots(args, slot, nargs);
    /* Locals, because stores through q may alias *fi as far as the
     * compiler knows, which would reload them after every copy. */
    const unsigned nstrs = fi->nstrs;
    const uint8_t *const at = fi->str_at;
    for (unsigned k = 0; k < nstrs; k++) {
        const uint64_t len = lens[k];
        const char *const s = strs[k];
        const unsigned pos = at[k];
        memcpy(args + 8u * pos, &len, 8);
        q = copy_str(q, s, len);
    }
    ring_commit(ls, r, nh);
    return 0;
}

/* strlen for the short strings log calls pass, without a call into
 * libc: 16-byte aligned loads, which never cross a page, so reading a
 * little before and after the string is safe (libc's own strlen does
 * the same; AddressSanitizer would call it an overflow, so sanitized
 * builds use strlen). */
static inline size_t arg_strlen(const char *s)
{
#ifdef HAVE_SSE2_STRLEN
    uintptr_t off = (uintptr_t)s & 15;
    const __m128i *p = (const __m128i *)((uintptr_t)s - off);
    const __m128i zero = _mm_setzero_si128();
    unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_load_si128(p), zero)) >> off;
    if (m)
        return (size_t)__builtin_ctz(m);
    for (;;) {
        p++;
        m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_load_si128(p), zero));
        if (m)
            return (size_t)((const char *)p - s) + (size_t)__builtin_ctz(m);
    }
#else
    return strlen(s);
#endif
}

/* The precision of string argument i: a count, or negative for none.
 * prev is argument i - 1 (the value of a '*'). */
static inline int str_prec(const struct store_fmt_info *fi, unsigned i, uint64_t prev)
{
    int prec = fi->str_prec[i];
    if (prec == LOGFMT_PREC_STAR && i > 0)
        prec = (int)(int64_t)prev; /* negative: as if none */
    return prec;
}

/* What printf (glibc) prints for a NULL %s: "(null)", or nothing when
 * a precision under 6 would cut it. */
static const char *null_text(int prec)
{
    return prec >= 0 && prec < 6 ? "" : "(null)";
}

/* The bytes of a string argument the call may read: with a precision
 * the argument may be an array with no NUL ("%.*s" of a buffer and its
 * length), so read no further. */
static inline uint64_t str_len(const char *s, int prec)
{
    return prec >= 0 ? strnlen(s, (size_t)prec) : arg_strlen(s);
}

/* A '*' width or precision the file form cannot hold (it keeps at most
 * LOGFMT_WIDTH_MAX): such a call is formatted now, so that it reads back
 * as printf prints it. */
static int stars_too_wide(uint32_t mask, const uint64_t *slot)
{
    for (; mask; mask &= mask - 1) {
        int v = (int)(int64_t)slot[__builtin_ctz(mask)];
        if (v > LOGFMT_WIDTH_MAX || v < -LOGFMT_WIDTH_MAX)
            return 1;
    }
    return 0;
}

int logshare_log_args(logshare *ls, int stream, logshare_level level, const char *fmt,
                      const uint64_t *args, unsigned nargs, uint32_t strmask)
{
    int rc = call_check(ls, stream, level);
    if (__builtin_expect(rc != 0 || !fmt || (nargs && !args), 0))
        return rc > 0 ? 0 : rc ? rc : LOGSHARE_EINVAL;
    int64_t t = store_raw_time(ls);
    const struct store_fmt_info *fi = store_fmt_lookup(&ls->fmts, fmt);
    if (__builtin_expect(!fi || !fi->supported || fi->nargs != nargs, 0))
        return LOGSHARE_FORMAT_AT_CALL;
    if (__builtin_expect(fi->starmask != 0, 0) && stars_too_wide(fi->starmask, args))
        return LOGSHARE_FORMAT_AT_CALL;
    const char *strs[LOGFMT_MAX_ARGS];
    uint64_t lens[LOGFMT_MAX_ARGS], str_bytes = 0;
    /* The positions come from the caller's strmask, not from fi: then
     * the strings are measured while the format lookup is still in
     * flight (the check below is a predicted branch, not a data
     * dependency). Only done once the format agrees, since a char
     * pointer given to %p need not point at a string. */
    if (__builtin_expect(fi->strs_unbounded && fi->strmask == strmask, 1)) {
        unsigned k = 0;
        for (uint32_t m = strmask; m; m &= m - 1, k++) {
            const char *s = (const char *)(uintptr_t)args[__builtin_ctz(m)];
            strs[k] = s ? s : "(null)";
            lens[k] = arg_strlen(strs[k]);
            str_bytes += lens[k];
        }
    } else {
        for (unsigned k = 0; k < fi->nstrs; k++) {
            unsigned i = fi->str_at[k];
            const char *s = (const char *)(uintptr_t)args[i];
            int prec = str_prec(fi, i, i > 0 ? args[i - 1] : 0);
            strs[k] = s ? s : null_text(prec);
            lens[k] = str_len(strs[k], prec);
            str_bytes += lens[k];
        }
    }
    if (__builtin_expect(str_bytes > BINARY_BYTES_MAX, 0))
        return LOGSHARE_FORMAT_AT_CALL; /* too long to keep raw: formatted, cut visibly */
    return put_binary(ls, t, stream, level, fi, nargs, args, strs, lens, str_bytes);
}

int logshare_log_static(logshare *ls, int stream, logshare_level level, const char *fmt, ...)
{
    int rc = call_check(ls, stream, level);
    if (__builtin_expect(rc != 0 || !fmt, 0))
        return rc > 0 ? 0 : rc ? rc : LOGSHARE_EINVAL;
    const struct store_fmt_info *fi = store_fmt_lookup(&ls->fmts, fmt);
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
    uint64_t lens[LOGFMT_MAX_ARGS], str_bytes = 0;
    unsigned nargs = fi->nargs, k = 0;
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
            int prec = str_prec(fi, i, i > 0 ? slot[i - 1] : 0);
            strs[k] = s ? s : null_text(prec);
            lens[k] = str_len(strs[k], prec);
            str_bytes += lens[k++];
            slot[i] = 0;
            break;
        }
        default:
            slot[i] = 0;
            break;
        }
    }
    va_end(ap);
    if (__builtin_expect(str_bytes > BINARY_BYTES_MAX, 0) ||
        __builtin_expect(fi->starmask != 0 && stars_too_wide(fi->starmask, slot), 0)) {
        /* Too long to keep raw: format now, which cuts it visibly; or a
         * '*' the file form cannot hold. */
        va_start(ap, fmt);
        rc = logshare_vlog(ls, stream, level, fmt, ap);
        va_end(ap);
        return rc;
    }
    return put_binary(ls, store_raw_time(ls), stream, level, fi, nargs, slot, strs, lens,
                      str_bytes);
}
