/*
 * test_store_clock.c - logshare_flush's timeout against a wall clock
 * that is stepped while it waits. Linked with -Wl,--wrap=clock_gettime
 * (CMakeLists.txt): from the moment the test says so, CLOCK_REALTIME
 * reads an hour ahead of the kernel's, which is what a wait timed on
 * the wall clock sees when the clock is stepped back an hour after its
 * deadline was computed. The timeout used to be such a wait: a 200 ms
 * flush then waited an hour. It is timed on CLOCK_MONOTONIC now.
 */
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "store_testutil.h"

int __real_clock_gettime(clockid_t id, struct timespec *ts);
int __wrap_clock_gettime(clockid_t id, struct timespec *ts);
static volatile int realtime_ahead;
int __wrap_clock_gettime(clockid_t id, struct timespec *ts)
{
    int rc = __real_clock_gettime(id, ts);
    if (rc == 0 && id == CLOCK_REALTIME && realtime_ahead)
        ts->tv_sec += 3600;
    return rc;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    __real_clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void flush_timeout_ignores_a_wall_clock_step(void **state)
{
    (void)state;
    char *dir;
    logshare *ls = tu_open_plain("clockstep", -1, &dir);
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "before the step %d", 1), 0);
    store_test_hold_writer(ls, 1);
    realtime_ahead = 1;
    alarm(20); /* the old wait was an hour: end the test, not the suite */
    int64_t t0 = mono_ms();
    assert_int_equal(logshare_flush(ls, 200), LOGSHARE_ETIMEDOUT);
    int64_t took = mono_ms() - t0;
    alarm(0);
    realtime_ahead = 0;
    assert_true(took >= 190 && took < 10000);
    store_test_hold_writer(ls, 0);
    assert_int_equal(logshare_flush(ls, 10000), 0);
    logshare_close(ls);
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(flush_timeout_ignores_a_wall_clock_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
