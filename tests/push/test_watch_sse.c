/*
 * test_watch_sse.c - the client's text/event-stream parser: events
 * split at every possible byte boundary, all three line endings,
 * comments, multi-line data, ids kept across events and reconnects,
 * retry, and the size cap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "logshare.h"
#include "watch_sse.h"

struct seen {
    int n;
    char log[2048];
};

static int record(void *user, const char *event, const char *id, const char *data)
{
    struct seen *s = user;
    size_t used = strlen(s->log);
    snprintf(s->log + used, sizeof s->log - used, "[%s|%s|%s]", event, id, data);
    s->n++;
    return 0;
}

static const char stream[] = "retry: 2500\r\n\r\n"
                             ": heartbeat\n\n"
                             "id: 7\nevent: log_request\ndata: {\"id\":\"lr_1\"}\n\n"
                             ":\r\r"
                             "data: line one\rdata: line two\r\n\r\n"
                             "event: log_request\nid: 9\ndata\n\n"
                             "id: 10\n\n"
                             "event: ignored-without-data\n\n"
                             "data:no-space\nunknown: x\n\n";

static const char expected[] = "[log_request|7|{\"id\":\"lr_1\"}]"
                               "[message|7|line one\nline two]"
                               "[log_request|9|]"
                               "[message|10|no-space]";

static void a_stream_parses_the_same_at_every_split(void **state)
{
    (void)state;
    size_t len = sizeof stream - 1;
    for (size_t cut1 = 0; cut1 <= len; cut1++) {
        for (size_t cut2 = cut1; cut2 <= len; cut2 += 7) {
            struct seen s = {0};
            watch_sse p;
            watch_sse_init(&p, record, &s);
            assert_int_equal(watch_sse_feed(&p, stream, cut1), 0);
            assert_int_equal(watch_sse_feed(&p, stream + cut1, cut2 - cut1), 0);
            assert_int_equal(watch_sse_feed(&p, stream + cut2, len - cut2), 0);
            assert_string_equal(s.log, expected);
            assert_int_equal(p.retry_ms, 2500);
            assert_string_equal(p.last_id, "10");
            watch_sse_free(&p);
        }
    }
}

static void byte_by_byte_is_the_same(void **state)
{
    (void)state;
    struct seen s = {0};
    watch_sse p;
    watch_sse_init(&p, record, &s);
    for (size_t i = 0; i < sizeof stream - 1; i++)
        assert_int_equal(watch_sse_feed(&p, stream + i, 1), 0);
    assert_string_equal(s.log, expected);
    watch_sse_free(&p);
}

/* A connection that drops inside event 4 must resume after 3: sending
 * Last-Event-ID 4 would make the server skip the request never seen. */
static void a_reset_drops_the_half_event_and_its_id(void **state)
{
    (void)state;
    struct seen s = {0};
    watch_sse p;
    watch_sse_init(&p, record, &s);
    const char *a = "id: 3\ndata: whole\n\nid: 4\ndata: half";
    assert_int_equal(watch_sse_feed(&p, a, strlen(a)), 0);
    assert_string_equal(p.last_id, "3");
    watch_sse_reset(&p);
    assert_string_equal(p.last_id, "3");
    const char *b = "data: next\n\nid: 4\ndata: again\n\n";
    assert_int_equal(watch_sse_feed(&p, b, strlen(b)), 0);
    assert_string_equal(s.log, "[message|3|whole][message|3|next][message|4|again]");
    assert_string_equal(p.last_id, "4");
    watch_sse_free(&p);
}

/* An event with an id and no data still moves the id on (WHATWG). */
static void an_id_without_data_counts_once_complete(void **state)
{
    (void)state;
    struct seen s = {0};
    watch_sse p;
    watch_sse_init(&p, record, &s);
    const char *a = "id: 8\n";
    assert_int_equal(watch_sse_feed(&p, a, strlen(a)), 0);
    assert_string_equal(p.last_id, "");
    assert_int_equal(watch_sse_feed(&p, "\n", 1), 0);
    assert_string_equal(p.last_id, "8");
    assert_int_equal(s.n, 0);
    watch_sse_free(&p);
}

static void bad_retry_and_long_ids_are_ignored(void **state)
{
    (void)state;
    struct seen s = {0};
    watch_sse p;
    watch_sse_init(&p, record, &s);
    char big[400];
    memset(big, '9', sizeof big);
    const char *a = "retry: 12x\n\nid: 5\n";
    assert_int_equal(watch_sse_feed(&p, a, strlen(a)), 0);
    assert_int_equal(watch_sse_feed(&p, "id: ", 4), 0);
    assert_int_equal(watch_sse_feed(&p, big, sizeof big), 0);
    assert_int_equal(watch_sse_feed(&p, "\ndata: x\n\n", 10), 0);
    assert_int_equal(p.retry_ms, 0);
    assert_string_equal(s.log, "[message|5|x]");
    watch_sse_free(&p);
}

static int stop_at_first(void *user, const char *event, const char *id, const char *data)
{
    (void)event;
    (void)id;
    (void)data;
    ++*(int *)user;
    return LOGSHARE_ECANCELED;
}

static void a_callback_can_stop_the_parser(void **state)
{
    (void)state;
    int n = 0;
    watch_sse p;
    watch_sse_init(&p, stop_at_first, &n);
    const char *a = "data: 1\n\ndata: 2\n\n";
    assert_int_equal(watch_sse_feed(&p, a, strlen(a)), LOGSHARE_ECANCELED);
    assert_int_equal(n, 1);
    watch_sse_free(&p);
}

static void an_endless_line_is_refused(void **state)
{
    (void)state;
    struct seen s = {0};
    watch_sse p;
    watch_sse_init(&p, record, &s);
    static char chunk[64 * 1024];
    memset(chunk, 'a', sizeof chunk);
    int rc = 0;
    for (int i = 0; i < 8 && !rc; i++)
        rc = watch_sse_feed(&p, chunk, sizeof chunk);
    assert_int_equal(rc, LOGSHARE_ETOOLARGE);
    watch_sse_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_stream_parses_the_same_at_every_split),
        cmocka_unit_test(byte_by_byte_is_the_same),
        cmocka_unit_test(a_reset_drops_the_half_event_and_its_id),
        cmocka_unit_test(an_id_without_data_counts_once_complete),
        cmocka_unit_test(bad_retry_and_long_ids_are_ignored),
        cmocka_unit_test(a_callback_can_stop_the_parser),
        cmocka_unit_test(an_endless_line_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
