/*
 * fuzz_split.h - how the streaming-parser harnesses cut one input into
 * chunks: split 0 feeds it whole, otherwise chunks of 1 to split + 1
 * bytes from a small LCG seeded by split, so every input is also tried
 * the way a network delivers it, and the same way on every replay.
 */
#ifndef FUZZ_SPLIT_H
#define FUZZ_SPLIT_H

#include <stddef.h>

struct fuzz_split {
    unsigned split, state;
};

static inline struct fuzz_split fuzz_split_start(unsigned split)
{
    struct fuzz_split s = {split, split | 1};
    return s;
}

/* The next chunk's length, at most left (> 0). */
static inline size_t fuzz_split_next(struct fuzz_split *s, size_t left)
{
    s->state = s->state * 1103515245u + 12345u;
    size_t n = s->split ? 1 + (s->state >> 16) % (s->split + 1u) : left;
    return n < left ? n : left;
}

#endif
