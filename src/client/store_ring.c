/*
 * store_ring.c - allocation of the per-thread SPSC rings. The producer
 * and consumer sides are inline in store_log.c and store_writer.c; the
 * protocol: the producer owns head, the writer owns tail, both count
 * bytes forever (never wrap), positions are taken modulo the power-of-
 * two capacity, and a record never straddles the end (a PAD record
 * fills the rest). The producer publishes a record with a release store
 * of head; the writer frees space with a release store of tail.
 *
 * The buffer is mapped, not malloc'ed: a freed ring (its thread exited)
 * then goes back to the system at once. From malloc, glibc raises its
 * mmap threshold after the first such free and serves later rings from
 * the logging threads' arenas, which keep the memory after free: a
 * burst of logging threads left the process hundreds of MiB larger.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "store.h"

/* AddressSanitizer checks accesses to heap memory only: sanitized
 * builds keep the rings on the heap, so an overrun is still caught. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STORE_RING_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define STORE_RING_ASAN 1
#endif

static void *ring_buf_new(size_t cap)
{
#ifdef STORE_RING_ASAN
    return aligned_alloc(64, cap);
#else
    void *buf = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return buf == MAP_FAILED ? NULL : buf;
#endif
}

static void ring_buf_free(void *buf, size_t cap)
{
#ifdef STORE_RING_ASAN
    (void)cap;
    free(buf);
#else
    munmap(buf, cap);
#endif
}

struct store_ring *store_ring_new(size_t cap)
{
    struct store_ring *r = aligned_alloc(64, sizeof *r);
    if (!r)
        return NULL;
    memset(r, 0, sizeof *r);
    r->buf = ring_buf_new(cap);
    if (!r->buf) {
        free(r);
        return NULL;
    }
    /* Touch every page now, so no logging call takes a page fault. */
    memset(r->buf, 0, cap);
    r->cap = cap;
    r->mask = cap - 1;
    return r;
}

void store_ring_free(struct store_ring *r)
{
    if (!r)
        return;
    ring_buf_free(r->buf, r->cap);
    free(r);
}
