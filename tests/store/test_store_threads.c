/*
 * test_store_threads.c - logging threads over their lifetime: threads
 * that log once and exit (their rings are reused, not piled up), one
 * thread logging to two stores, and a store closed and opened again
 * while the threads that used it live on.
 */
#include <pthread.h>
#include <semaphore.h>

#include "store.h"
#include "store_testutil.h"

/* Linked with -Wl,--wrap=pthread_mutex_lock (CMakeLists.txt): counts
 * the locks each thread takes, library calls included, and takes them. */
int __real_pthread_mutex_lock(pthread_mutex_t *m);
static _Thread_local unsigned long locks_taken;
int __wrap_pthread_mutex_lock(pthread_mutex_t *m);
int __wrap_pthread_mutex_lock(pthread_mutex_t *m)
{
    locks_taken++;
    return __real_pthread_mutex_lock(m);
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    assert_non_null(f);
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = atol(line + 6);
    fclose(f);
    assert_true(kib > 0);
    return kib;
}

static size_t store_rings(logshare *ls)
{
    pthread_mutex_lock(&ls->rings_lock);
    size_t n = ls->nrings;
    pthread_mutex_unlock(&ls->rings_lock);
    return n;
}

struct short_job {
    logshare *ls;
    long id;
};

static void *log_three_and_exit(void *arg)
{
    struct short_job *j = arg;
    for (int i = 0; i < 3; i++)
        assert_int_equal(LOGSHARE_LOG(j->ls, 0, LOGSHARE_LEVEL_INFO, "thread %ld rec %d", j->id, i),
                         0);
    return NULL;
}

struct per_thread {
    long next[4096];
    long bad;
};

static void check_thread_order(const logshare_record *rec, void *ctx)
{
    struct per_thread *c = ctx;
    long id = -1, i = -1;
    if (sscanf(rec->message, "thread %ld rec %ld", &id, &i) != 2 || id < 0 || id >= 4096 ||
        c->next[id] != i) {
        c->bad++;
        return;
    }
    c->next[id]++;
}

/* A thread that logs and exits leaves its ring to the next thread that
 * starts logging: a pool of short-lived threads used to cost a new ring
 * (1 MiB by default) per thread until the writer next freed them, and
 * the memory was never given back to the system. */
static void short_lived_threads_reuse_rings_and_lose_nothing(void **state)
{
    (void)state;
    char *dir;
    logshare *ls = tu_open_plain("shortlived", -1, &dir);
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "main %d", 0), 0);
    long before = rss_kib();
    long threads = tu_scale(2000, 500);
    for (long t = 0; t < threads; t++) {
        struct short_job j = {ls, t};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, log_three_and_exit, &j), 0);
        assert_int_equal(pthread_join(th, NULL), 0);
    }
    /* The main thread's ring and the one the threads passed on. */
    assert_true(store_rings(ls) <= 2);
    long grown = rss_kib() - before;
    print_message("rss grew by %ld KiB over %ld threads\n", grown, threads);
    assert_true(grown < 64 * 1024);
    assert_int_equal(logshare_flush(ls, 0), 0);
    uint64_t written, full, failed;
    logshare_get_counts(ls, &written, &full, &failed);
    assert_int_equal(written, (uint64_t)threads * 3 + 1);
    assert_int_equal(full + failed, 0);
    logshare_close(ls);
    struct per_thread *c = calloc(1, sizeof *c);
    assert_non_null(c);
    tu_read_dir(dir, NULL, check_thread_order, c, NULL);
    for (long t = 0; t < threads; t++)
        assert_int_equal(c->next[t], 3);
    assert_int_equal(c->bad, 1); /* the "main 0" record */
    free(c);
    tu_rmrf(dir);
    free(dir);
}

struct fill_job {
    logshare *ls;
    const char *tag;
    int records;
    int refused;
};

static void *log_filler(void *arg)
{
    struct fill_job *j = arg;
    char pad[201];
    memset(pad, 'p', 200);
    pad[200] = '\0';
    for (int i = 0; i < j->records; i++)
        if (LOGSHARE_LOG(j->ls, 0, LOGSHARE_LEVEL_INFO, "%s %d %s", j->tag, i, pad) != 0)
            j->refused++;
    return NULL;
}

/* A ring its thread left well filled (the writer has not caught up) is
 * not handed on: the next thread would drop where a ring of its own
 * would not. */
static void a_filled_ring_is_not_handed_on(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("handon");
    logshare_options *o = tu_options(dir, NULL, NULL);
    assert_int_equal(logshare_options_set_buffer_bytes(o, 65536), 0);
    logshare *ls = tu_open(o);
    logshare_options_free(o);
    store_test_hold_writer(ls, 1);
    /* About 40 KiB each: together more than one 64 KiB ring. */
    struct fill_job a = {ls, "first", 160, 0}, b = {ls, "second", 160, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, log_filler, &a), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(pthread_create(&th, NULL, log_filler, &b), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(a.refused + b.refused, 0);
    assert_int_equal(store_rings(ls), 2);
    store_test_hold_writer(ls, 0);
    assert_int_equal(logshare_flush(ls, 0), 0);
    uint64_t written, full;
    logshare_get_counts(ls, &written, &full, NULL);
    assert_int_equal(written, 320);
    assert_int_equal(full, 0);
    logshare_close(ls);
    tu_rmrf(dir);
    free(dir);
}

struct seq_check {
    char prefix[8];
    long next, bad;
};

static void check_seq(const logshare_record *rec, void *ctx)
{
    struct seq_check *c = ctx;
    char want[64];
    snprintf(want, sizeof want, "%s %ld", c->prefix, c->next);
    if (strcmp(rec->message, want) != 0)
        c->bad++;
    c->next++;
}

/* A thread logging to two stores in turn: each switch used to take the
 * process-wide registry lock (the thread's cache holds one store), so
 * threads doing it contended on one mutex on the logging path. */
static void one_thread_logs_to_two_stores_without_locks(void **state)
{
    (void)state;
    char *da, *db;
    logshare *a = tu_open_plain("two-a", -1, &da);
    logshare *b = tu_open_plain("two-b", -1, &db);
    /* The first call on each store makes its ring: that may lock. */
    assert_int_equal(LOGSHARE_LOG(a, 0, LOGSHARE_LEVEL_INFO, "a %ld", 0L), 0);
    assert_int_equal(LOGSHARE_LOG(b, 0, LOGSHARE_LEVEL_INFO, "b %ld", 0L), 0);
    locks_taken = 0;
    for (long i = 1; i < 1000; i++) {
        assert_int_equal(LOGSHARE_LOG(a, 0, LOGSHARE_LEVEL_INFO, "a %ld", i), 0);
        assert_int_equal(logshare_log(b, 0, LOGSHARE_LEVEL_INFO, "b %ld", i), 0);
    }
    assert_int_equal(locks_taken, 0);
    logshare_close(a);
    logshare_close(b);
    struct seq_check ca = {"a", 0, 0}, cb = {"b", 0, 0};
    tu_read_dir(da, NULL, check_seq, &ca, NULL);
    tu_read_dir(db, NULL, check_seq, &cb, NULL);
    assert_int_equal(ca.next, 1000);
    assert_int_equal(cb.next, 1000);
    assert_int_equal(ca.bad + cb.bad, 0);
    tu_rmrf(da);
    tu_rmrf(db);
    free(da);
    free(db);
}

struct living {
    logshare *ls;
    sem_t go, done;
    int rounds;
    long refused;
};

/* Logs 100 records to whatever store it is given, each round, and
 * lives on between rounds. */
static void *living_thread(void *arg)
{
    struct living *l = arg;
    for (int round = 0; round < l->rounds; round++) {
        sem_wait(&l->go);
        for (long i = 0; i < 100; i++)
            if (LOGSHARE_LOG(l->ls, 0, LOGSHARE_LEVEL_INFO, "thread %d rec %ld", round, i) != 0)
                l->refused++;
        sem_post(&l->done);
    }
    return NULL;
}

/* The same directory closed and opened again, many times, while a
 * thread that logged to each handle lives on: each new handle gets a
 * new ring for it (never the old handle's, whose memory is gone, even
 * when the new handle sits at the old one's address). */
static void a_store_reopened_under_a_living_thread(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("reopen");
    struct living l = {.rounds = 20};
    sem_init(&l.go, 0, 0);
    sem_init(&l.done, 0, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, living_thread, &l), 0);
    for (int round = 0; round < l.rounds; round++) {
        logshare_options *o = tu_options(dir, NULL, NULL);
        logshare *ls = tu_open(o);
        logshare_options_free(o);
        l.ls = ls;
        sem_post(&l.go);
        sem_wait(&l.done);
        assert_int_equal(logshare_flush(ls, 0), 0);
        uint64_t written;
        logshare_get_counts(ls, &written, NULL, NULL);
        assert_int_equal(written, 100);
        logshare_close(ls);
    }
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(l.refused, 0);
    struct per_thread *c = calloc(1, sizeof *c);
    assert_non_null(c);
    tu_read_dir(dir, NULL, check_thread_order, c, NULL);
    for (int round = 0; round < l.rounds; round++)
        assert_int_equal(c->next[round], 100);
    assert_int_equal(c->bad, 0);
    free(c);
    sem_destroy(&l.go);
    sem_destroy(&l.done);
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(short_lived_threads_reuse_rings_and_lose_nothing),
        cmocka_unit_test(one_thread_logs_to_two_stores_without_locks),
        cmocka_unit_test(a_filled_ring_is_not_handed_on),
        cmocka_unit_test(a_store_reopened_under_a_living_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
