/*
 * fuzz_multipart.c - fuzz harness for logshared's streaming multipart
 * parser (src/server/http/multipart.c), the code that sees every
 * untrusted upload body.
 *
 * Input layout: byte 0 picks the boundary length (1..70), the next bytes
 * are the boundary (mapped into RFC 2046's character set), byte after
 * that seeds how the rest, the body, is split into pieces, so the
 * fuzzer explores the streaming edges (a delimiter split across pieces)
 * as well as the syntax. Limits are small so the cap paths are reached.
 *
 * Built two ways (fuzz/CMakeLists.txt):
 *  - with clang: a libFuzzer target, fuzz_multipart (-fsanitize=fuzzer);
 *  - with any compiler: a replay driver, fuzz_multipart_replay, whose
 *    main() (fuzz_replay.h) runs every file named on the command line
 *    (or in the directories named) through the same entry point; CTest
 *    runs it on fuzz/corpus/multipart so every corpus input stays a
 *    regression test.
 * Invariants checked: content bytes handed out never exceed the body,
 * a part's callbacks nest (begin, data*, end), and after an error the
 * parser stays in error.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_split.h"

#include "http/multipart.h"
#include "logshare.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct check {
    int in_part;
    uint64_t content;
};

static int on_begin(void *ctx, const multipart_part *p)
{
    struct check *c = ctx;
    if (c->in_part || !p->name)
        abort();
    c->in_part = 1;
    return 0;
}

static int on_data(void *ctx, const char *d, size_t len)
{
    struct check *c = ctx;
    if (!c->in_part || (len && !d))
        abort();
    c->content += len;
    return 0;
}

static int on_end(void *ctx)
{
    struct check *c = ctx;
    if (!c->in_part)
        abort();
    c->in_part = 0;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char set[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'()+_,-./:=?";
    if (size < 3)
        return 0;
    size_t blen = 1 + data[0] % 70;
    if (size < 2 + blen)
        return 0;
    char boundary[71];
    for (size_t i = 0; i < blen; i++)
        boundary[i] = set[data[1 + i] % (sizeof set - 1)];
    boundary[blen] = '\0';
    unsigned split = data[1 + blen];
    const char *body = (const char *)data + 2 + blen;
    size_t len = size - 2 - blen;

    multipart_limits lim = {8, 4, 256, 512, 4096, 65536};
    multipart_callbacks cb = {on_begin, on_data, on_end};
    struct check c = {0, 0};
    multipart_parser *p = multipart_parser_new(boundary, &lim, &cb, &c);
    if (!p)
        abort();
    int rc = 0;
    size_t off = 0;
    struct fuzz_split chunks = fuzz_split_start(split);
    while (off < len && !rc) {
        size_t n = fuzz_split_next(&chunks, len - off);
        rc = multipart_parser_feed(p, body + off, n);
        off += n;
    }
    if (!rc)
        rc = multipart_parser_finish(p);
    if (c.content > len)
        abort();
    if (rc && multipart_parser_feed(p, "x", 1) != rc)
        abort(); /* errors are sticky */
    multipart_parser_free(p);
    return 0;
}

#ifdef FUZZ_REPLAY_MAIN
#include "fuzz_replay.h"
#endif
