/*
 * test_store_process.c - the store across process events: fork with
 * records in flight (the child's inherited store is inert, the parent's
 * file holds each record once), exit() with records in flight (they are
 * written and the file is finished), _exit() (what was in memory is
 * lost, the rest reads with a torn-tail warning), kill -9 over several
 * opens (every record a flush confirmed is there), and logging threads
 * that come and go.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store_testutil.h"

struct count_check {
    long n;
    long bad;
    char prefix[32];
};

static void count_record(const logshare_record *rec, void *ctx)
{
    struct count_check *c = ctx;
    char want[64];
    snprintf(want, sizeof want, "%s %ld", c->prefix, c->n);
    if (strcmp(rec->message, want) != 0)
        c->bad++;
    c->n++;
}

/* Checks that dir (decrypted with sec, NULL for plaintext) holds
 * exactly "<prefix> 0" .. "<prefix> <n-1>" in order, no torn tail. */
static void expect_numbered(const char *dir, const char *sec, const char *prefix, long n)
{
    struct count_check c = {0, 0, ""};
    snprintf(c.prefix, sizeof c.prefix, "%s", prefix);
    int torn = 0;
    tu_read_dir(dir, sec, count_record, &c, &torn);
    assert_int_equal(torn, 0);
    assert_int_equal(c.bad, 0);
    assert_int_equal(c.n, n);
}

static void a_forked_child_leaves_the_parents_store_alone(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("fork");
    char *child_dir = tu_tmpdir("fork-child");
    logshare_options *o = tu_options(dir, NULL, NULL);
    logshare *ls = tu_open(o);
    logshare_options_free(o);
    /* The writer's first pass allocates (the file, the drain cursors,
     * the format); later passes do not. Fork only after it: GCC 12's
     * AddressSanitizer has no fork handler for its allocator (LLVM added
     * one in version 18), so a child forked while the writer was inside
     * malloc waits for ever on the allocator's lock the first time it
     * allocates. glibc's malloc is safe there; the sanitizer is not. */
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "rec %ld", 0L), 0);
    assert_int_equal(logshare_flush(ls, 0), 0);
    for (long i = 1; i < 100; i++)
        assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "rec %ld", i), 0);
    /* Records are in flight (in the ring, or pending) at the fork. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int ok = LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "from the child") == LOGSHARE_ECLOSED &&
                 logshare_log(ls, 0, LOGSHARE_LEVEL_INFO, "eager child") == LOGSHARE_ECLOSED &&
                 logshare_flush(ls, 0) == LOGSHARE_ECLOSED;
        logshare_support_file *files;
        size_t n;
        ok = ok && logshare_get_support_files(ls, &files, &n) == LOGSHARE_ECLOSED;
        logshare_close(ls); /* frees the child's copy only */
        /* The child can have a store of its own. */
        logshare_options *co = logshare_options_new();
        logshare *cs = NULL;
        logshare_options_set_dir(co, child_dir);
        logshare_options_set_plaintext(co, 1);
        ok = ok && logshare_open(co, &cs) == 0 &&
             LOGSHARE_LOG(cs, 0, LOGSHARE_LEVEL_INFO, "child %d", 0) == 0;
        logshare_options_free(co);
        logshare_close(cs);
        exit(ok ? 0 : 1); /* exit(), so atexit handlers run in the child */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    for (long i = 100; i < 200; i++)
        assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "rec %ld", i), 0);
    logshare_close(ls);
    expect_numbered(dir, NULL, "rec", 200); /* each once: the child wrote nothing */
    expect_numbered(child_dir, NULL, "child", 1);
    tu_rmrf(dir);
    tu_rmrf(child_dir);
    free(dir);
    free(child_dir);
}

/* A child that lives on must not keep the store locked: the parent
 * closes and opens it again while the child sleeps. */
static void a_living_child_does_not_keep_the_store_locked(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("forklock");
    logshare_options *o = tu_options(dir, NULL, NULL);
    logshare *ls = tu_open(o);
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "rec %ld", 0L), 0);
    int pipefd[2], ready[2];
    assert_int_equal(pipe(pipefd), 0);
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[1]);
        close(ready[0]);
        /* fork() has returned here, so the atfork handler has run: the
         * window before it (the child not yet scheduled) is not what
         * this test is about. */
        char b = 1;
        ssize_t r = write(ready[1], &b, 1);
        r = read(pipefd[0], &b, 1); /* until the parent is done */
        (void)r;
        _exit(0);
    }
    close(pipefd[0]);
    close(ready[1]);
    char b;
    assert_int_equal(read(ready[0], &b, 1), 1);
    close(ready[0]);
    logshare_close(ls);
    ls = NULL;
    int rc = logshare_open(o, &ls);
    close(pipefd[1]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(rc, 0);
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "rec %ld", 1L), 0);
    logshare_close(ls);
    logshare_options_free(o);
    expect_numbered(dir, NULL, "rec", 2);
    tu_rmrf(dir);
    free(dir);
}

static void exit_with_records_in_flight_writes_them_and_finishes_the_file(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("exit");
    char *pub, *sec;
    tu_keys(&pub, &sec);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        logshare_options *o = tu_options(dir, pub, NULL);
        logshare *ls = tu_open(o);
        logshare_options_free(o);
        for (long i = 0; i < 5000; i++)
            LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "rec %ld", i);
        exit(0); /* no flush, no close */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    expect_numbered(dir, sec, "rec", 5000); /* no torn tail: finished with a FINAL frame */
    free(pub);
    free(sec);
    tu_rmrf(dir);
    free(dir);
}

/* kill -9 at a random moment, over several opens of one store with
 * rotation: every record a flush confirmed before the kill is there,
 * in order; after it, at most what was still in memory is missing. */
#define KILL_ROUNDS 6

struct kill_check {
    long next[KILL_ROUNDS];
    long bad;
};

static void kill_record(const logshare_record *rec, void *ctx)
{
    struct kill_check *k = ctx;
    int round;
    long i;
    if (sscanf(rec->message, "round %d rec %ld", &round, &i) != 2 || round < 0 ||
        round >= KILL_ROUNDS || i != k->next[round]) {
        k->bad++;
        return;
    }
    k->next[round] = i + 1;
}

static void kill_child(const char *dir, const char *pub, int round, int fd)
{
    logshare_options *o = tu_options(dir, pub, NULL);
    logshare_options_set_max_file_bytes(o, 32768);
    logshare_options_set_max_total_bytes(o, 64u << 20);
    logshare *ls = NULL;
    if (logshare_open(o, &ls) != 0)
        _exit(1);
    logshare_options_free(o);
    for (long i = 0;; i++) {
        if (LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "round %d rec %ld", round, i) != 0)
            _exit(2);
        if (i % 50 == 49) {
            if (logshare_flush(ls, 0) != 0)
                _exit(3);
            long done = i + 1; /* every record up to here is on disk */
            if (write(fd, &done, sizeof done) != (ssize_t)sizeof done)
                _exit(4);
        }
    }
}

static void kill_minus_nine_keeps_every_flushed_record(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("kill9");
    char *pub, *sec;
    tu_keys(&pub, &sec);
    long flushed[KILL_ROUNDS];
    for (int round = 0; round < KILL_ROUNDS; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            kill_child(dir, pub, round, p[1]);
        }
        close(p[1]);
        long want = 300 + (long)(random() % 2000), got = 0, v;
        while (got < want && read(p[0], &v, sizeof v) == (ssize_t)sizeof v)
            got = v;
        /* A little more logging in flight, then the kill. */
        usleep((useconds_t)(random() % 3000));
        assert_int_equal(kill(pid, SIGKILL), 0);
        while (read(p[0], &v, sizeof v) == (ssize_t)sizeof v)
            got = v; /* confirmations sent before it died */
        close(p[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        assert_true(got >= want);
        flushed[round] = got;
    }
    struct kill_check k;
    memset(&k, 0, sizeof k);
    int torn = 0;
    tu_read_dir(dir, sec, kill_record, &k, &torn);
    assert_int_equal(k.bad, 0);
    assert_true(torn >= 1);
    for (int round = 0; round < KILL_ROUNDS; round++)
        if (k.next[round] < flushed[round])
            fail_msg("round %d: %ld records read, %ld were flushed before the kill", round,
                     k.next[round], flushed[round]);
    free(pub);
    free(sec);
    tu_rmrf(dir);
    free(dir);
}

static void underscore_exit_loses_only_what_was_in_memory(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("uexit");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        logshare_options *o = tu_options(dir, NULL, NULL);
        logshare *ls = tu_open(o);
        logshare_options_free(o);
        for (long i = 0; i < 100; i++)
            LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "rec %ld", i);
        logshare_flush(ls, 0);
        for (long i = 100; i < 200; i++)
            LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "rec %ld", i);
        _exit(0); /* like a crash: no atexit */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    struct count_check c = {0, 0, "rec"};
    int torn = 0;
    tu_read_dir(dir, NULL, count_record, &c, &torn);
    assert_int_equal(torn, 1);
    assert_int_equal(c.bad, 0);
    assert_true(c.n >= 100 && c.n <= 200);
    tu_rmrf(dir);
    free(dir);
}

struct churn {
    logshare *ls;
    int id;
};

static void *churn_thread(void *arg)
{
    struct churn *c = arg;
    for (int i = 0; i < 100; i++)
        LOGSHARE_LOG(c->ls, 0, LOGSHARE_LEVEL_INFO, "thread %d rec %d", c->id, i);
    return NULL;
}

static void threads_that_come_and_go_lose_nothing(void **state)
{
    (void)state;
    char *dir;
    logshare *ls = tu_open_plain("churn", -1, &dir);
    int rounds = (int)tu_scale(40, 10);
    for (int round = 0; round < rounds; round++) {
        pthread_t th[4];
        struct churn c[4];
        for (int i = 0; i < 4; i++) {
            c[i] = (struct churn){ls, round * 4 + i};
            assert_int_equal(pthread_create(&th[i], NULL, churn_thread, &c[i]), 0);
        }
        for (int i = 0; i < 4; i++)
            pthread_join(th[i], NULL);
    }
    assert_int_equal(logshare_flush(ls, 0), 0);
    uint64_t written, full, failed;
    logshare_get_counts(ls, &written, &full, &failed);
    assert_int_equal(written, (uint64_t)rounds * 400);
    assert_int_equal(full + failed, 0);
    logshare_close(ls);
    assert_int_equal(tu_read_dir(dir, NULL, NULL, NULL, NULL), (size_t)rounds * 400);
    tu_rmrf(dir);
    free(dir);
}

struct both_seen {
    int before, after, other;
};

static void saw_before_after(const logshare_record *rec, void *ctx)
{
    struct both_seen *b = ctx;
    if (strcmp(rec->message, "before chdir") == 0)
        b->before++;
    else if (strcmp(rec->message, "after chdir") == 0)
        b->after++;
    else
        b->other++;
}

/* A store opened with a relative directory, then the process changes
 * its working directory (a daemon going to "/"): the writer used to take
 * the directory for removed, make a new one under the new working
 * directory (flush: LOGSHARE_ENOENT) and list only that one, so what was
 * written before was no longer among the support files. */
static void a_relative_store_stays_put_across_chdir(void **state)
{
    (void)state;
    char *first = tu_tmpdir("cwd-a"), *second = tu_tmpdir("cwd-b");
    char *old = getcwd(NULL, 0);
    assert_non_null(old);
    assert_int_equal(chdir(first), 0);
    logshare_options *o = tu_options("logs", NULL, NULL);
    logshare *ls = tu_open(o);
    logshare_options_free(o);
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "before chdir"), 0);
    assert_int_equal(logshare_flush(ls, 0), 0);
    assert_int_equal(chdir(second), 0);
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "after chdir"), 0);
    assert_int_equal(logshare_flush(ls, 0), 0);
    assert_int_equal(logshare_last_error(ls), 0);
    logshare_support_file *files;
    size_t n;
    assert_int_equal(logshare_get_support_files(ls, &files, &n), 0);
    assert_int_equal(n, 1);
    char *want = tu_path(first, "logs/");
    assert_true(strncmp(files[0].path, want, strlen(want)) == 0);
    free(want);
    logshare_support_files_free(files, n);
    logshare_close(ls);
    struct stat st;
    assert_int_not_equal(stat("logs", &st), 0); /* nothing under the new one */
    char *logs = tu_path(first, "logs");
    struct both_seen b = {0, 0, 0};
    tu_read_dir(logs, NULL, saw_before_after, &b, NULL);
    assert_int_equal(b.before, 1);
    assert_int_equal(b.after, 1);
    assert_int_equal(b.other, 0);
    assert_int_equal(chdir(old), 0);
    tu_rmrf(first);
    tu_rmrf(second);
    free(logs);
    free(old);
    free(first);
    free(second);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_forked_child_leaves_the_parents_store_alone),
        cmocka_unit_test(a_living_child_does_not_keep_the_store_locked),
        cmocka_unit_test(exit_with_records_in_flight_writes_them_and_finishes_the_file),
        cmocka_unit_test(underscore_exit_loses_only_what_was_in_memory),
        cmocka_unit_test(kill_minus_nine_keeps_every_flushed_record),
        cmocka_unit_test(threads_that_come_and_go_lose_nothing),
        cmocka_unit_test(a_relative_store_stays_put_across_chdir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
