/*
 * test_share_retry.c - the retry policy of reports: which answers are
 * retried, how the backoff grows and jitters, and how Retry-After is read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>

#include "report_retry.h"

static void network_errors_5xx_429_and_408_are_retried(void **state)
{
    (void)state;
    assert_int_equal(retry_classify(0), RETRY_AGAIN);
    assert_int_equal(retry_classify(500), RETRY_AGAIN);
    assert_int_equal(retry_classify(502), RETRY_AGAIN);
    assert_int_equal(retry_classify(503), RETRY_AGAIN);
    assert_int_equal(retry_classify(429), RETRY_AGAIN);
    assert_int_equal(retry_classify(408), RETRY_AGAIN);
}

static void other_4xx_are_never_retried(void **state)
{
    (void)state;
    int never[] = {400, 401, 403, 404, 409, 413, 415, 422};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        assert_int_equal(retry_classify(never[i]), RETRY_NEVER);
    assert_int_equal(retry_classify(201), RETRY_DONE);
    assert_int_equal(retry_classify(200), RETRY_DONE);
}

static void backoff_doubles_up_to_the_cap_and_stays_within_jitter_bounds(void **state)
{
    (void)state;
    /* the upper bound doubles: 500, 1000, 2000, 4000 ... capped at 3000 */
    assert_int_equal(retry_backoff_ms(1, 500, 3000, 0.999999), 499);
    assert_true(retry_backoff_ms(2, 500, 3000, 0.999999) >= 999);
    assert_true(retry_backoff_ms(3, 500, 3000, 0.999999) >= 1999);
    assert_true(retry_backoff_ms(4, 500, 3000, 0.999999) <= 3000);
    assert_true(retry_backoff_ms(40, 500, 3000, 0.999999) <= 3000);
    /* never below half the base: no hammering */
    for (int a = 1; a < 10; a++)
        assert_int_equal(retry_backoff_ms(a, 500, 3000, 0.0), 250);
    /* jitter spreads the waits: many draws are not all equal */
    int64_t first = retry_backoff_ms(5, 500, 30000, retry_random01());
    int differ = 0;
    for (int i = 0; i < 50; i++) {
        int64_t w = retry_backoff_ms(5, 500, 30000, retry_random01());
        assert_true(w >= 250 && w <= 8000);
        differ |= w != first;
    }
    assert_true(differ);
}

static void retry_after_seconds_and_http_dates_are_understood(void **state)
{
    (void)state;
    assert_int_equal(retry_after_parse_ms("120", 0), 120000);
    assert_int_equal(retry_after_parse_ms(" 3 ", 0), 3000);
    assert_int_equal(retry_after_parse_ms("0", 0), 0);
    /* Wed, 21 Oct 2015 07:28:00 GMT = 1445412480 */
    assert_int_equal(retry_after_parse_ms("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 - 30), 30000);
    assert_int_equal(retry_after_parse_ms("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 + 30), 0);
    /* obsolete RFC 850 form, still to be accepted */
    assert_int_equal(retry_after_parse_ms("Wednesday, 21-Oct-15 07:28:00 GMT", 1445412480 - 5),
                     5000);
    /* absurd values are clamped to a week */
    assert_int_equal(retry_after_parse_ms("99999999999", 0), 7LL * 24 * 3600 * 1000);
}

static void malformed_retry_after_is_ignored(void **state)
{
    (void)state;
    assert_int_equal(retry_after_parse_ms(NULL, 0), -1);
    assert_int_equal(retry_after_parse_ms("", 0), -1);
    assert_int_equal(retry_after_parse_ms("12abc", 0), -1);
    assert_int_equal(retry_after_parse_ms("soon", 0), -1);
    assert_int_equal(retry_after_parse_ms("-5", 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(network_errors_5xx_429_and_408_are_retried),
        cmocka_unit_test(other_4xx_are_never_retried),
        cmocka_unit_test(backoff_doubles_up_to_the_cap_and_stays_within_jitter_bounds),
        cmocka_unit_test(retry_after_seconds_and_http_dates_are_understood),
        cmocka_unit_test(malformed_retry_after_is_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
