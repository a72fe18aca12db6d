/*
 * store_ring.c - allocation of the per-thread SPSC rings. The producer
 * and consumer sides are inline in store_log.c and store_writer.c; the
 * protocol: the producer owns head, the writer owns tail, both count
 * bytes forever (never wrap), positions are taken modulo the power-of-
 * two capacity, and a record never straddles the end (a PAD record
 * fills the rest). The producer publishes a record with a release store
 * of head; the writer frees space with a release store of tail.
 */
#include <stdlib.h>
#include <string.h>

#include "store.h"

struct store_ring *store_ring_new(size_t cap)
{
    struct store_ring *r = aligned_alloc(64, sizeof *r);
    if (!r)
        return NULL;
    memset(r, 0, sizeof *r);
    r->buf = aligned_alloc(64, cap);
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
    free(r->buf);
    free(r);
}
