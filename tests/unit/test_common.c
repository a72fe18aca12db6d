/*
 * test_common.c - the shared helpers in src/common: error names, time
 * formatting, hex, buffers and durable file writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logshare.h"
#include "ls_buf.h"
#include "ls_fs.h"
#include "ls_hex.h"
#include "ls_time.h"
#include "ls_utf8.h"

static void every_error_code_has_a_distinct_name(void **state)
{
    (void)state;
    for (int a = LOGSHARE_EINTERNAL; a <= 0; a++) {
        assert_string_not_equal(logshare_error_name(a), "unknown_error");
        assert_string_not_equal(logshare_strerror(a), "unknown error");
        for (int b = a + 1; b <= 0; b++)
            assert_string_not_equal(logshare_error_name(a), logshare_error_name(b));
    }
    assert_string_equal(logshare_strerror(-9999), "unknown error");
    assert_string_equal(logshare_error_name(LOGSHARE_ETRUNCATED), "truncated");
}

static void level_names_round_trip(void **state)
{
    (void)state;
    for (int l = LOGSHARE_LEVEL_TRACE; l <= LOGSHARE_LEVEL_FATAL; l++) {
        logshare_level parsed;
        assert_int_equal(logshare_level_parse(logshare_level_name((logshare_level)l), &parsed), 0);
        assert_int_equal(parsed, l);
    }
    logshare_level w;
    assert_int_equal(logshare_level_parse("WARNING", &w), 0);
    assert_int_equal(w, LOGSHARE_LEVEL_WARN);
    assert_int_equal(logshare_level_parse("loud", &w), LOGSHARE_EINVAL);
}

static void rfc3339_formats_and_parses_utc(void **state)
{
    (void)state;
    char buf[LS_TIME_RFC3339_LEN];
    int64_t t = 1795581409123456; /* 2026-11-25T04:36:49.123456Z */
    assert_string_equal(ls_time_format_rfc3339(t, 1, buf), "2026-11-25T04:36:49.123456Z");
    assert_string_equal(ls_time_format_rfc3339(t, 0, buf), "2026-11-25T04:36:49Z");
    int64_t back;
    assert_int_equal(ls_time_parse_rfc3339("2026-11-25T04:36:49.123456Z", &back), 0);
    assert_int_equal(back, t);
    assert_int_equal(ls_time_parse_rfc3339("2026-11-25T06:36:49.123456+02:00", &back), 0);
    assert_int_equal(back, t);
    assert_int_equal(ls_time_parse_rfc3339("2026-13-25T04:36:49Z", &back), LOGSHARE_EINVAL);
    assert_int_equal(ls_time_parse_rfc3339("2026-11-25T04:36:49", &back), LOGSHARE_EINVAL);
    assert_int_equal(ls_time_parse_rfc3339("2026-11-25T04:36:49Zjunk", &back), LOGSHARE_EINVAL);
}

static void hex_round_trips_and_rejects_bad_digits(void **state)
{
    (void)state;
    const unsigned char in[] = {0x00, 0x7f, 0xab, 0xff};
    char hex[9];
    ls_hex_encode(in, sizeof in, hex);
    assert_string_equal(hex, "007fabff");
    unsigned char out[4];
    assert_int_equal(ls_hex_decode("007FABff", out, 4), 0);
    assert_memory_equal(in, out, 4);
    assert_int_equal(ls_hex_decode("007fabfg", out, 4), LOGSHARE_EINVAL);
    assert_int_equal(ls_hex_decode("007fab", out, 4), LOGSHARE_EINVAL);
}

static void buffer_grows_and_stays_terminated(void **state)
{
    (void)state;
    ls_buf b = LS_BUF_INIT;
    for (int i = 0; i < 1000; i++)
        assert_int_equal(ls_buf_printf(&b, "%d,", i % 10), 0);
    assert_int_equal(b.len, 2000);
    assert_int_equal(strlen(b.data), 2000);
    assert_memory_equal(b.data, "0,1,2,", 6);
    char *s = ls_buf_steal(&b);
    assert_null(b.data);
    free(s);
    ls_buf_free(&b);
}

static void utf8_sequences_are_measured_and_bad_bytes_replaced(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t avail, want;
    } cases[] = {
        {"a", 1, 1},
        {"\xc3\xa9", 2, 2},         /* e acute */
        {"\xc3\xa9", 1, 0},         /* cut short */
        {"\xc0\xaf", 2, 0},         /* overlong '/' */
        {"\xe0\x80\xaf", 3, 0},     /* overlong, three bytes */
        {"\xed\xa0\x80", 3, 0},     /* a surrogate */
        {"\xef\xbf\xbd", 3, 3},     /* U+FFFD itself */
        {"\xf0\x9f\x98\x80", 4, 4}, /* an emoji */
        {"\xf4\x90\x80\x80", 4, 0}, /* past U+10FFFF */
        {"\xf5\x80\x80\x80", 4, 0},
        {"\x80", 1, 0}, /* a lone continuation byte */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(ls_utf8_seq_len((const unsigned char *)cases[i].bytes, cases[i].avail),
                         cases[i].want);
    size_t n;
    char *s = ls_utf8_sanitize("a\xff\0b\xc3", 5, 1, &n);
    assert_non_null(s);
    assert_int_equal(n, 11);
    assert_memory_equal(s,
                        "a\xef\xbf\xbd\xef\xbf\xbd"
                        "b\xef\xbf\xbd",
                        12);
    free(s);
    s = ls_utf8_sanitize("a\0b", 3, 0, &n); /* NUL kept when asked */
    assert_non_null(s);
    assert_int_equal(n, 3);
    assert_memory_equal(s, "a\0b", 4);
    free(s);
}

static void atomic_write_replaces_whole_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/logshare-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[256], path[300];
    snprintf(sub, sizeof sub, "%s/a/b/c", dir);
    assert_int_equal(ls_fs_mkdir_p(sub, 0700), 0);
    assert_int_equal(ls_fs_mkdir_p(sub, 0700), 0);
    snprintf(path, sizeof path, "%s/file", sub);
    assert_int_equal(ls_fs_write_atomic(path, "first", 5, 0600), 0);
    assert_int_equal(ls_fs_write_atomic(path, "second", 6, 0600), 0);
    char *data;
    size_t len;
    assert_int_equal(ls_fs_read_file(path, 100, &data, &len), 0);
    assert_int_equal(len, 6);
    assert_string_equal(data, "second");
    free(data);
    assert_int_equal(ls_fs_read_file(path, 3, &data, &len), LOGSHARE_ETOOLARGE);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(ls_fs_read_file("/nonexistent/x", 100, &data, &len), LOGSHARE_ENOENT);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_error_code_has_a_distinct_name),
        cmocka_unit_test(level_names_round_trip),
        cmocka_unit_test(rfc3339_formats_and_parses_utc),
        cmocka_unit_test(hex_round_trips_and_rejects_bad_digits),
        cmocka_unit_test(buffer_grows_and_stays_terminated),
        cmocka_unit_test(utf8_sequences_are_measured_and_bad_bytes_replaced),
        cmocka_unit_test(atomic_write_replaces_whole_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
