/*
 * fuzz_sse.c - fuzz harness for the client's server-sent events parser
 * (src/client/watch_sse.c), which `logshare watch` and the library's
 * push watcher feed with whatever bytes the network delivers.
 *
 * Input layout: byte 0 seeds how the rest, the stream, is cut into
 * chunks (0: one chunk). The stream is parsed twice, whole and in
 * chunks, and the two parses must agree: the same events (name, id,
 * data) in the same order, the same error or none, the same last id
 * and retry delay, since where TCP happens to cut a stream must never
 * change what it means. Also checked: strings handed out are
 * NUL-terminated within the parser's limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_split.h"

#include "logshare.h"
#include "watch_sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
    uint64_t hash;
    size_t events;
};

static uint64_t mix(uint64_t h, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i <= n; i++) /* the NUL too: "ab","c" differs from "a","bc" */
        h = (h ^ (unsigned char)s[i]) * 1099511628211u;
    return h;
}

static int on_event(void *user, const char *event, const char *id, const char *d)
{
    struct seen *s = user;
    if (!event || !id || !d || !*event || strlen(event) >= 64 || strlen(id) >= 128 ||
        strlen(d) > WATCH_SSE_MAX_LINE)
        abort();
    s->hash = mix(mix(mix(s->hash, event), id), d);
    s->events++;
    return 0;
}

static int parse(const char *buf, size_t len, unsigned split, struct seen *s, watch_sse *p)
{
    watch_sse_init(p, on_event, s);
    int rc = 0;
    size_t off = 0;
    struct fuzz_split chunks = fuzz_split_start(split);
    while (off < len && !rc) {
        size_t n = fuzz_split_next(&chunks, len - off);
        rc = watch_sse_feed(p, buf + off, n);
        off += n;
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *buf = (const char *)data + 1;
    size_t len = size - 1;
    struct seen whole = {14695981039346656037u, 0}, cut = whole;
    watch_sse a, b;
    int ra = parse(buf, len, 0, &whole, &a);
    int rb = parse(buf, len, data[0], &cut, &b);
    if (ra != rb || whole.hash != cut.hash || whole.events != cut.events ||
        strcmp(a.last_id, b.last_id) != 0 || a.retry_ms != b.retry_ms)
        abort();
    /* A reconnect forgets the half event but keeps what the spec keeps. */
    watch_sse_reset(&b);
    if (strcmp(b.id_buf, b.last_id) != 0 || b.has_data || b.line.len || b.data.len)
        abort();
    watch_sse_free(&a);
    watch_sse_free(&b);
    return 0;
}

#ifdef FUZZ_REPLAY_MAIN
#include "fuzz_replay.h"
#endif
