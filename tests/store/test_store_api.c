/*
 * test_store_api.c - the promises of logshare.h, one class at a time,
 * against the real thing: a store opened and closed thousands of times
 * leaves no descriptor, thread, mapping or memory behind; two stores
 * share logging threads; a directory opens once; a refused setter
 * changes nothing; flush honours its timeout; LOGSHARE_LOG evaluates its
 * arguments once and reads back as snprintf prints (and falls back as
 * documented); the support file list stays true while four threads log
 * at full speed; keygen and the sharing calls refuse bad arguments as
 * documented and leave nothing behind.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <wchar.h>

#include "store.h"
#include "store_testutil.h"

/* ---- process resources ------------------------------------------- */

static int entries(const char *path)
{
    DIR *d = opendir(path);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static long status_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "re");
    assert_non_null(f);
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':')
            v = atol(line + kl + 1);
    fclose(f);
    return v;
}

static int mappings(void)
{
    FILE *f = fopen("/proc/self/maps", "re");
    assert_non_null(f);
    int n = 0, c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

struct usage {
    int fds, tasks, maps;
    long rss_kib, vsz_kib;
};

static struct usage usage_now(void)
{
    struct usage u = {entries("/proc/self/fd"), entries("/proc/self/task"), mappings(),
                      status_kib("VmRSS"), status_kib("VmSize")};
    return u;
}

/* Open, log through every call, close: thousands of times in one
 * process. Nothing may grow with the count (a few MiB of allocator
 * slack aside): not descriptors, threads, mappings or memory. */
static void open_and_close_thousands_of_times_grows_nothing(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("cycles");
    char *pub, *sec;
    tu_keys(&pub, &sec);
    logshare_options *o = tu_options(dir, pub, NULL);
    assert_int_equal(logshare_options_set_max_total_bytes(o, 256 * 1024), 0);
    long rounds = tu_scale(5000, 300);
    struct usage before = {0};
    for (long i = 0; i < rounds; i++) {
        logshare *ls = tu_open(o);
        assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "round %ld %s", i, "x"), 0);
        assert_int_equal(logshare_log(ls, 0, LOGSHARE_LEVEL_INFO, "text %ld", i), 0);
        if (i % 100 == 0) {
            logshare_support_file *files = NULL;
            size_t n = 0;
            assert_int_equal(logshare_get_support_files(ls, &files, &n), 0);
            logshare_support_files_free(files, n);
        }
        logshare_close(ls);
        if (i == 20) /* after the one-time costs (libsodium, TLS keys) */
            before = usage_now();
    }
    struct usage after = usage_now();
    assert_int_equal(after.fds, before.fds);
    assert_int_equal(after.tasks, before.tasks);
    assert_int_equal(after.tasks, 1);
    /* A sanitizer's allocator maps more as it goes and keeps what is
     * freed in quarantine: memory is for LeakSanitizer to judge there. */
    if (tu_scale(0, 1) == 0) {
        assert_true(after.maps <= before.maps + 4);
        assert_true(after.rss_kib <= before.rss_kib + 8 * 1024);
        assert_true(after.vsz_kib <= before.vsz_kib + 16 * 1024);
    }
    logshare_options_free(o);
    free(pub);
    free(sec);
    tu_rmrf(dir);
    free(dir);
}

/* ---- two stores, one directory ------------------------------------ */

struct pair_ctx {
    logshare *a, *b;
    int thread;
};

static void *log_to_both(void *arg)
{
    struct pair_ctx *c = arg;
    for (int i = 0; i < 2000; i++) {
        while (LOGSHARE_LOG(c->a, 0, LOGSHARE_LEVEL_INFO, "A t%d %d", c->thread, i) ==
               LOGSHARE_ENOSPC)
            sched_yield();
        while (logshare_log(c->b, 0, LOGSHARE_LEVEL_INFO, "B t%d %d", c->thread, i) ==
               LOGSHARE_ENOSPC)
            sched_yield();
    }
    return NULL;
}

struct per_thread {
    char tag;
    int next[4];
    int bad;
};

static void pair_record(const logshare_record *rec, void *ctx)
{
    struct per_thread *p = ctx;
    char tag;
    int t, i;
    if (sscanf(rec->message, "%c t%d %d", &tag, &t, &i) != 3 || tag != p->tag || t < 0 || t > 3 ||
        i != p->next[t]) {
        p->bad++;
        return;
    }
    p->next[t]++;
}

/* Two stores on two directories, the same four threads logging to both:
 * every record lands in its own store, in order. The options are
 * changed and freed right after the opens: the stores kept copies. */
static void two_stores_share_the_same_threads(void **state)
{
    (void)state;
    char *da = tu_tmpdir("pair-a"), *db = tu_tmpdir("pair-b");
    logshare_options *o = tu_options(da, NULL, NULL);
    logshare *a = tu_open(o);
    assert_int_equal(logshare_options_set_dir(o, db), 0);
    logshare *b = tu_open(o);
    assert_int_equal(logshare_options_set_dir(o, "/nonexistent/never"), 0);
    assert_int_equal(logshare_options_set_min_level(o, LOGSHARE_LEVEL_FATAL), 0);
    logshare_options_free(o);
    pthread_t t[4];
    struct pair_ctx c[4];
    for (int i = 0; i < 4; i++) {
        c[i] = (struct pair_ctx){a, b, i};
        assert_int_equal(pthread_create(&t[i], NULL, log_to_both, &c[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    logshare_close(a);
    logshare_close(b);
    struct per_thread pa = {.tag = 'A'}, pb = {.tag = 'B'};
    assert_int_equal(tu_read_dir(da, NULL, pair_record, &pa, NULL), 8000);
    assert_int_equal(tu_read_dir(db, NULL, pair_record, &pb, NULL), 8000);
    assert_int_equal(pa.bad + pb.bad, 0);
    tu_rmrf(da);
    tu_rmrf(db);
    free(da);
    free(db);
}

/* A directory is open once, however its path is spelled; the refused
 * open leaves *out NULL and the open store untouched; once it is
 * closed the directory opens again. */
static void a_directory_opens_once_however_spelled(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("once");
    logshare_options *o = tu_options(dir, NULL, NULL);
    logshare *ls = tu_open(o);
    char spelled[3][600];
    snprintf(spelled[0], sizeof spelled[0], "%s", dir);
    snprintf(spelled[1], sizeof spelled[1], "%s/", dir);
    snprintf(spelled[2], sizeof spelled[2], "%s/./", dir);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(logshare_options_set_dir(o, spelled[i]), 0);
        logshare *other = (logshare *)&o; /* not NULL: must be cleared */
        assert_int_equal(logshare_open(o, &other), LOGSHARE_EBUSY);
        assert_null(other);
    }
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "still %s", "mine"), 0);
    assert_int_equal(logshare_flush(ls, 0), 0);
    logshare_close(ls);
    ls = tu_open(o);
    logshare_close(ls);
    logshare_options_free(o);
    assert_int_equal(tu_read_dir(dir, NULL, NULL, NULL, NULL), 1);
    tu_rmrf(dir);
    free(dir);
}

/* ---- setters ------------------------------------------------------ */

static void count_level(const logshare_record *rec, void *ctx)
{
    int *seen = ctx;
    seen[rec->level]++;
}

/* Every setter given a value out of its range returns its documented
 * error and leaves the options as they were. */
static void a_refused_setter_changes_nothing(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("setters");
    logshare_options *o = tu_options(dir, NULL, NULL);
    assert_int_equal(logshare_options_add_stream(o, "app"), 0);
    assert_int_equal(logshare_options_set_min_level(o, LOGSHARE_LEVEL_DEBUG), 0);
    assert_int_equal(logshare_options_set_max_file_bytes(o, 40000), 0);

    assert_int_equal(logshare_options_set_dir(o, ""), LOGSHARE_EINVAL);
    assert_int_equal(logshare_options_set_dir(o, NULL), LOGSHARE_EINVAL);
    assert_int_equal(logshare_options_set_dir(NULL, dir), LOGSHARE_EINVAL);
    assert_int_equal(logshare_options_add_stream(o, "Bad"), LOGSHARE_EINVAL);
    assert_int_equal(logshare_options_add_stream(o, ""), LOGSHARE_EINVAL);
    assert_int_equal(logshare_options_add_stream(o, "a23456789012345678901234567890123"),
                     LOGSHARE_EINVAL);
    assert_int_equal(logshare_options_add_stream(o, "app"), LOGSHARE_EINVAL);
    assert_int_equal(logshare_options_add_stream(o, NULL), LOGSHARE_EINVAL);
    assert_int_equal(logshare_options_set_min_level(o, (logshare_level)-1), LOGSHARE_EINVAL);
    assert_int_equal(logshare_options_set_min_level(o, (logshare_level)6), LOGSHARE_EINVAL);
    assert_int_equal(logshare_options_set_max_file_bytes(o, 32767), LOGSHARE_EINVAL);
    assert_int_equal(logshare_options_set_max_file_bytes(o, 0), LOGSHARE_EINVAL);
    assert_int_equal(logshare_options_set_max_total_bytes(o, 32767), LOGSHARE_EINVAL);
    assert_int_equal(logshare_options_set_max_total_bytes(NULL, 1 << 20), LOGSHARE_EINVAL);
    assert_int_equal(logshare_options_set_max_age_seconds(o, 0), LOGSHARE_EINVAL);
    assert_int_equal(logshare_options_set_max_age_seconds(o, INT64_MIN), LOGSHARE_EINVAL);
    assert_int_equal(logshare_options_set_buffer_bytes(o, 65535), LOGSHARE_EINVAL);
    assert_int_equal(logshare_options_set_buffer_bytes(o, ((size_t)1 << 30) + 1), LOGSHARE_EINVAL);
    assert_int_equal(logshare_options_set_buffer_bytes(o, SIZE_MAX), LOGSHARE_EINVAL);
    assert_int_equal(logshare_options_set_plaintext(NULL, 1), LOGSHARE_EINVAL);
    for (int i = 0; i < LOGSHARE_MAX_STREAMS - 1; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        assert_int_equal(logshare_options_add_stream(o, name), 0);
    }
    assert_int_equal(logshare_options_add_stream(o, "onetoomany"), LOGSHARE_ETOOLARGE);

    logshare *ls = tu_open(o);
    logshare_options_free(o);
    assert_int_equal(logshare_stream_index(ls, "app"), 0);
    assert_int_equal(logshare_stream_index(ls, "s14"), LOGSHARE_MAX_STREAMS - 1);
    assert_int_equal(logshare_stream_index(ls, "onetoomany"), LOGSHARE_ENOENT);
    assert_int_equal(logshare_stream_index(ls, LOGSHARE_DEFAULT_STREAM), LOGSHARE_ENOENT);
    assert_int_equal(logshare_stream_index(ls, NULL), LOGSHARE_EINVAL);
    assert_int_equal(logshare_stream_index(NULL, "app"), LOGSHARE_EINVAL);
    char pad[200];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (int i = 0; i < 2000; i++) {
        assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_TRACE, "trace %d", i), 0);
        assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_DEBUG, "debug %d %s", i, pad), 0);
    }
    logshare_close(ls);
    int seen[6] = {0};
    tu_read_dir(dir, NULL, count_level, seen, NULL);
    assert_int_equal(seen[LOGSHARE_LEVEL_TRACE], 0); /* min level DEBUG held */
    assert_int_equal(seen[LOGSHARE_LEVEL_DEBUG], 2000);
    logshare_support_file *files = NULL;
    size_t n = 0;
    assert_int_equal(logshare_list_support_files(dir, &files, &n), 0);
    assert_true(n > 2); /* 40000-byte files held: the store rotated */
    for (size_t i = 0; i < n; i++)
        assert_true(files[i].size <= 40000);
    logshare_support_files_free(files, n);
    tu_rmrf(dir);
    free(dir);
}

/* ---- flush -------------------------------------------------------- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A writer that cannot answer: a small timeout gives ETIMEDOUT after
 * about that long; a huge one and "no timeout" wait for the answer. */
static void flush_honours_its_timeout(void **state)
{
    (void)state;
    char *dir;
    logshare *ls = tu_open_plain("flushto", -1, &dir);
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "before %d", 1), 0);
    store_test_hold_writer(ls, 1);
    int64_t t0 = mono_ms();
    assert_int_equal(logshare_flush(ls, 1), LOGSHARE_ETIMEDOUT);
    assert_int_equal(logshare_flush(ls, 300), LOGSHARE_ETIMEDOUT);
    int64_t took = mono_ms() - t0;
    assert_true(took >= 290 && took < 5000);
    store_test_hold_writer(ls, 0);
    assert_int_equal(logshare_flush(ls, INT_MAX), 0);
    assert_int_equal(logshare_flush(ls, -1), 0);
    assert_int_equal(logshare_flush(ls, 0), 0);
    assert_int_equal(logshare_flush(NULL, 0), LOGSHARE_EINVAL);
    logshare_close(ls);
    assert_int_equal(tu_read_dir(dir, NULL, NULL, NULL, NULL), 1);
    tu_rmrf(dir);
    free(dir);
}

/* ---- errors ------------------------------------------------------- */

static void every_error_code_has_its_own_name_and_text(void **state)
{
    (void)state;
    for (int a = LOGSHARE_OK; a >= LOGSHARE_ETLS; a--) {
        assert_string_not_equal(logshare_strerror(a), "unknown error");
        assert_string_not_equal(logshare_error_name(a), "unknown_error");
        for (int b = a - 1; b >= LOGSHARE_ETLS; b--) {
            assert_string_not_equal(logshare_strerror(a), logshare_strerror(b));
            assert_string_not_equal(logshare_error_name(a), logshare_error_name(b));
        }
    }
    const int unknown[] = {1, LOGSHARE_FORMAT_AT_CALL, LOGSHARE_ETLS - 1, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_string_equal(logshare_strerror(unknown[i]), "unknown error");
        assert_string_equal(logshare_error_name(unknown[i]), "unknown_error");
    }
    assert_string_equal(logshare_version(), LOGSHARE_VERSION_STRING);
    assert_string_equal(logshare_level_name((logshare_level)-1), "unknown");
    assert_string_equal(logshare_level_name((logshare_level)6), "unknown");
    logshare_level lv = LOGSHARE_LEVEL_TRACE;
    assert_int_equal(logshare_level_parse("WARNING", &lv), 0);
    assert_int_equal(lv, LOGSHARE_LEVEL_WARN);
    assert_int_equal(logshare_level_parse("", &lv), LOGSHARE_EINVAL);
    assert_int_equal(logshare_level_parse(NULL, &lv), LOGSHARE_EINVAL);
    assert_int_equal(logshare_level_parse("info", NULL), LOGSHARE_EINVAL);
}

/* ---- LOGSHARE_LOG ------------------------------------------------- */

/* Counts its calls (i++ twice in one call would be unsequenced). */
static int bump(int *counter)
{
    return (*counter)++;
}

/* Every argument, the handle, stream and level included, is evaluated
 * exactly once, on the fast path, the >24-argument path and the
 * fallback. */
static void the_log_macro_evaluates_each_argument_once(void **state)
{
    (void)state;
    char *dir;
    logshare *ls = tu_open_plain("once-args", -1, &dir);
    int i = 0, handles = 0, streams = 0, levels = 0;
#define LS_ONCE (handles++, ls)
#define ST_ONCE (streams++, 0)
#define LV_ONCE (levels++, LOGSHARE_LEVEL_INFO)
    assert_int_equal(
        LOGSHARE_LOG(LS_ONCE, ST_ONCE, LV_ONCE, "a %d %d %s", bump(&i), bump(&i), (bump(&i), "s")),
        0);
    assert_int_equal(LOGSHARE_LOG(LS_ONCE, ST_ONCE, LV_ONCE, "b %Lf", (bump(&i), (long double)1.5)),
                     0);
    assert_int_equal(LOGSHARE_LOG(LS_ONCE, ST_ONCE, LV_ONCE, "c"), 0);
    assert_int_equal(LOGSHARE_LOG(LS_ONCE, ST_ONCE, LV_ONCE,
                                  "d %d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d", bump(&i),
                                  bump(&i), bump(&i), bump(&i), bump(&i), bump(&i), bump(&i),
                                  bump(&i), bump(&i), bump(&i), bump(&i), bump(&i), bump(&i),
                                  bump(&i), bump(&i), bump(&i), bump(&i), bump(&i), bump(&i),
                                  bump(&i), bump(&i), bump(&i), bump(&i), bump(&i), bump(&i)),
                     0);
#undef LS_ONCE
#undef ST_ONCE
#undef LV_ONCE
    assert_int_equal(i, 29);
    assert_int_equal(handles, 4);
    assert_int_equal(streams, 4);
    assert_int_equal(levels, 4);
    logshare_close(ls);
    assert_int_equal(tu_read_dir(dir, NULL, NULL, NULL, NULL), 4);
    tu_rmrf(dir);
    free(dir);
}

#define MAX_WANT 128
#define WANT_BYTES 8192

struct expect {
    char *want[MAX_WANT];
    int n, next, bad;
};

/* snprintf's text as a record keeps it: a NUL (from %c of 0) adds
 * nothing. */
static void want_add(struct expect *e, const char *text, int len)
{
    assert_true(e->n < MAX_WANT);
    assert_true(len >= 0 && len < WANT_BYTES);
    char *w = malloc((size_t)len + 1);
    int o = 0;
    for (int i = 0; i < len; i++)
        if (text[i])
            w[o++] = text[i];
    w[o] = '\0';
    e->want[e->n++] = w;
}

static void expect_record(const logshare_record *rec, void *ctx)
{
    struct expect *e = ctx;
    if (e->next < e->n && strcmp(rec->message, e->want[e->next]) != 0) {
        fprintf(stderr, "record %d:\n got  [%.200s] (%zu bytes)\n want [%.200s] (%zu bytes)\n",
                e->next, rec->message, strlen(rec->message), e->want[e->next],
                strlen(e->want[e->next]));
        e->bad++;
    }
    e->next++;
}

static void expect_free(struct expect *e)
{
    for (int i = 0; i < e->n; i++)
        free(e->want[i]);
}

/* The messages `logshare decrypt --json` prints for the files of dir
 * match e's, in order (the CLI is what support reads logs with).
 * Skipped when the test runs without LOGSHARE_BIN. */
static void expect_cli_messages(const char *dir, const char *sec, const struct expect *e)
{
    const char *bin = getenv("LOGSHARE_BIN");
    if (!bin)
        return;
    char keyfile[] = "/tmp/logshare-api-key-XXXXXX", outfile[] = "/tmp/logshare-api-out-XXXXXX";
    int kfd = mkstemp(keyfile), ofd = mkstemp(outfile);
    assert_true(kfd >= 0 && ofd >= 0);
    assert_int_equal(write(kfd, sec, strlen(sec)), (ssize_t)strlen(sec));
    close(kfd);
    close(ofd);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' decrypt --json --key '%s' '%s'/*.lslog > '%s'", bin, keyfile,
             dir, outfile);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(outfile, "re");
    assert_non_null(f);
    int n = 0;
    json_error_t err;
    json_t *line;
    while ((line = json_loadf(f, JSON_DISABLE_EOF_CHECK, &err)) != NULL) {
        const char *msg = json_string_value(json_object_get(line, "message"));
        assert_non_null(msg);
        assert_true(n < e->n);
        assert_string_equal(msg, e->want[n]);
        n++;
        json_decref(line);
    }
    fclose(f);
    unlink(keyfile);
    unlink(outfile);
    assert_int_equal(n, e->n);
}

/* The same call through LOGSHARE_LOG, logshare_log_static and
 * logshare_log, each wanted as snprintf prints it. */
#define ALL_THREE(e, buf, ...)                                                                     \
    do {                                                                                           \
        int len_ = snprintf(buf, WANT_BYTES, __VA_ARGS__);                                         \
        want_add(e, buf, len_);                                                                    \
        want_add(e, buf, len_);                                                                    \
        want_add(e, buf, len_);                                                                    \
        assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, __VA_ARGS__), 0);                \
        assert_int_equal(logshare_log_static(ls, 0, LOGSHARE_LEVEL_INFO, __VA_ARGS__), 0);         \
        assert_int_equal(logshare_log(ls, 0, LOGSHARE_LEVEL_INFO, __VA_ARGS__), 0);                \
    } while (0)

/* Every conversion the header calls supported, at the edges of its
 * type and of the documented width and precision (1024), reads back
 * through a real file exactly as snprintf prints it. */
static void every_supported_conversion_reads_back_as_snprintf_prints_it(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("printf-table");
    char *pub, *sec;
    tu_keys(&pub, &sec);
    logshare_options *o = tu_options(dir, pub, NULL);
    logshare *ls = tu_open(o);
    logshare_options_free(o);
    struct expect e = {0};
    char *buf = malloc(WANT_BYTES);
    const char *nul = getenv("LOGSHARE_TEST_SURELY_UNSET"); /* NULL, unseen by the compiler */
    double nan_v = NAN, inf_v = INFINITY;
    ALL_THREE(&e, buf, "[%d|%i|%5d|%-5d|%+d|% d|%05d]", INT_MIN, INT_MAX, -3, 4, 5, 6, -7);
    ALL_THREE(&e, buf, "[%lld|%llu|%llx|%#llo]", LLONG_MAX, ULLONG_MAX, LLONG_MIN, 0ULL);
    ALL_THREE(&e, buf, "[%ld|%lu|%zu|%zd|%td|%jd|%ju]", LONG_MIN, ULONG_MAX, SIZE_MAX, (ssize_t)-1,
              PTRDIFF_MIN, INTMAX_MIN, UINTMAX_MAX);
    ALL_THREE(&e, buf, "[%hd|%hu|%hhd|%hhu|%hhx]", (short)-32768, (unsigned short)65535,
              (signed char)-128, (unsigned char)255, (unsigned char)44);
    ALL_THREE(&e, buf, "[%u|%x|%X|%o|%#x|%#X|%#o|%.0d|%.0x]", 4294967295u, 0xdeadbeefu, 255u, 8u,
              0u, 255u, 0u, 0, 0u);
    ALL_THREE(&e, buf, "[%f|%e|%g|%a|%F|%E|%G|%A]", nan_v, -nan_v, inf_v, -inf_v, -0.0, -0.0,
              DBL_MAX, DBL_MIN);
    ALL_THREE(&e, buf, "[%f|%lf|%.3f|%10.2f|%-10.2e|%+g|% G|%#g]", 1.5f, 2.25, 3.14159, -0.5, 1e300,
              1e-300, 0.0, 100.0);
    ALL_THREE(&e, buf, "[%.1024f]", -DBL_MAX);
    ALL_THREE(&e, buf, "[%1024.1024e|%.1024a]", DBL_MAX, DBL_TRUE_MIN);
    ALL_THREE(&e, buf, "[%1024d|%-1024u]", INT_MIN, 1u);
    ALL_THREE(&e, buf, "[%.1024lld]", LLONG_MIN);
    ALL_THREE(&e, buf, "[%*d|%-*d|%.*d]", 1024, 1, -1024, 2, 1024, 3);
    ALL_THREE(&e, buf, "[%*.*f]", -1024, 1024, 0.1);
    ALL_THREE(&e, buf, "[%%|%c|%c|%5c|%-3c]", 0, 'A', 0, 'z');
    ALL_THREE(&e, buf, "[%s|%10s|%-10s|%.3s|%.10s]", nul, nul, nul, nul, nul);
    ALL_THREE(&e, buf, "[%s|%.*s|%*s|%.*s]", "", 3, "abcdef", -5, "ab", -1, "no precision");
    ALL_THREE(&e, buf, "[%p|%p|%20p|%-20p]", (void *)0, (void *)ls, (void *)0x1234, nul);
    ALL_THREE(&e, buf, "%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s", "1", "2", "3", "4", "5",
              "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19", "20",
              "21", "22", "23", "24");
    ALL_THREE(&e, buf, "no arguments %%");
    logshare_close(ls);
    tu_read_dir(dir, sec, expect_record, &e, NULL);
    assert_int_equal(e.next, e.n);
    assert_int_equal(e.bad, 0);
    expect_cli_messages(dir, sec, &e);
    expect_free(&e);
    free(buf);
    free(pub);
    free(sec);
    tu_rmrf(dir);
    free(dir);
}

/* The first FIRST_KEPT messages are kept; the rest must be "fmt<i> <i>"
 * for i = 0, 1, ... (counted in next, mismatches in bad). */
#define FIRST_KEPT 9

static void collect_messages(const logshare_record *rec, void *ctx)
{
    struct expect *e = ctx;
    if (e->n < FIRST_KEPT) {
        e->want[e->n++] = strdup(rec->message);
        return;
    }
    char line[64];
    snprintf(line, sizeof line, "fmt%d %d", e->next, e->next);
    e->bad += strcmp(rec->message, line) != 0;
    e->next++;
}

/* The documented fallbacks: %n, %ls, %lc and %Lf are formatted at the
 * call (and %n does its job), so is a '*' width the file form cannot
 * hold, of a %s too (it read back padded to 4096 only, neither as
 * printf prints it nor visibly cut); more than 4096 bytes of strings
 * are formatted at the call and cut visibly at 4000, 4096 are kept
 * whole; past 4096 formats the calls still log. */
static void documented_fallbacks_behave_as_documented(void **state)
{
    (void)state;
    char *dir;
    logshare *ls = tu_open_plain("fallbacks", -1, &dir);
    int count = -1;
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "abc%n def", &count), 0);
    assert_int_equal(count, 3);
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "[%Lf|%ls|%lc]", (long double)-2.5,
                                  L"wide", (wint_t)L'w'),
                     0);
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "[%*s]", 3000, "x"), 0);
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "[%*s]", 5000, "x"), 0);
    assert_int_equal(logshare_log_static(ls, 0, LOGSHARE_LEVEL_INFO, "[%-*s]", -4097, "y"), 0);
    char *s4096 = malloc(4098);
    memset(s4096, 'q', 4097);
    s4096[4096] = '\0';
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "%s", s4096), 0);
    s4096[4096] = 'q';
    s4096[4097] = '\0';
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "%s", s4096), 0);
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "[%2000d]", -5), 0);
    static char long_format[1200];
    memset(long_format, 'f', 1100);
    strcpy(long_format + 1100, " %d");
    assert_int_equal(logshare_log_static(ls, 0, LOGSHARE_LEVEL_INFO, long_format, 42), 0);
    /* Formats in storage that never changes: 5000 addresses. */
    static char formats[5000][16];
    for (int i = 0; i < 5000; i++) {
        snprintf(formats[i], sizeof formats[i], "fmt%d %%d", i);
        assert_int_equal(logshare_log_static(ls, 0, LOGSHARE_LEVEL_INFO, formats[i], i), 0);
    }
    logshare_close(ls);

    struct expect got = {0};
    size_t total = tu_read_dir(dir, NULL, collect_messages, &got, NULL);
    assert_int_equal(total, FIRST_KEPT + 5000);
    assert_int_equal(got.next, 5000); /* past 4096 formats too */
    assert_int_equal(got.bad, 0);
    assert_string_equal(got.want[0], "abc def");
    assert_string_equal(got.want[1], "[-2.500000|wide|w]");
    char *want = malloc(WANT_BYTES);
    snprintf(want, WANT_BYTES, "[%*s]", 3000, "x");
    assert_string_equal(got.want[2], want);
    for (int i = 3; i <= 4; i++) { /* over 4000 bytes: cut, and says so */
        assert_int_equal(strlen(got.want[i]), 4000 + strlen("...[truncated]"));
        assert_non_null(strstr(got.want[i], "...[truncated]"));
    }
    assert_int_equal(strlen(got.want[5]), 4096);
    assert_int_equal(strlen(got.want[6]), 4000 + strlen("...[truncated]"));
    snprintf(want, WANT_BYTES, "[%2000d]", -5);
    assert_string_equal(got.want[7], want);
    snprintf(want, WANT_BYTES, long_format, 42);
    assert_string_equal(got.want[8], want);
    expect_free(&got);
    free(want);
    free(s4096);
    tu_rmrf(dir);
    free(dir);
}

/* ---- support files under load ------------------------------------- */

struct flood {
    logshare *ls;
    int thread;
    atomic_int *stop;
};

static void *flood_thread(void *arg)
{
    struct flood *f = arg;
    char pad[160];
    memset(pad, 'p', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (long i = 0; !atomic_load(f->stop); i++)
        (void)LOGSHARE_LOG(f->ls, f->thread % 2, LOGSHARE_LEVEL_INFO, "t%d r%ld %s", f->thread, i,
                           pad);
    return NULL;
}

/* One support file checked against itself: its size is the file's (it
 * is finished: nothing is added later), its stream and seq are the
 * header's, its times those of its first and last records, and it
 * reads to a clean end. 1 checked, 0 rotated away since the call. */
static int check_support_file(const logshare_support_file *f, const char *sec)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        assert_int_equal(errno, ENOENT); /* the quota took it: documented */
        return 0;
    }
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal((uint64_t)st.st_size, f->size);
    char fdpath[64];
    snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
    logshare_reader *r = NULL;
    assert_int_equal(logshare_reader_open(fdpath, sec, &r), 0);
    const char *stream = NULL;
    uint64_t seq = 0;
    logshare_reader_info(r, &stream, &seq, NULL);
    assert_string_equal(stream, f->stream);
    assert_int_equal(seq, f->seq);
    logshare_record rec;
    int rc, n = 0;
    int64_t first = 0, last = 0;
    while ((rc = logshare_reader_next(r, &rec)) == 1) {
        if (n++ == 0)
            first = rec.time_us;
        last = rec.time_us;
    }
    assert_int_equal(rc, 0); /* complete: no torn tail */
    assert_int_equal(first, f->first_time_us);
    assert_int_equal(last, f->last_time_us);
    logshare_reader_close(r);
    close(fd);
    return 1;
}

/* `logshare decrypt` reads a listed file to its end (exit 0). */
static void decrypt_with_the_cli(const char *path, const char *sec)
{
    const char *bin = getenv("LOGSHARE_BIN");
    if (!bin)
        return;
    char keyfile[] = "/tmp/logshare-api-key-XXXXXX";
    int kfd = mkstemp(keyfile);
    assert_true(kfd >= 0);
    assert_int_equal(write(kfd, sec, strlen(sec)), (ssize_t)strlen(sec));
    close(kfd);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' decrypt --key '%s' '%s' > /dev/null 2>&1", bin, keyfile, path);
    int st = system(cmd);
    unlink(keyfile);
    /* 0; or the file rotated away meanwhile, which the CLI calls unreadable */
    if (access(path, F_OK) == 0)
        assert_int_equal(WEXITSTATUS(st), 0);
}

/* An encrypted store of streams "a" and "b" in a fresh directory whose
 * 64 KiB files rotate within a 512 KiB quota: listing races rotation. */
struct rotating_store {
    logshare *ls;
    char *dir, *pub, *sec;
};

static struct rotating_store rotating_store_open(const char *tag)
{
    struct rotating_store rs;
    rs.dir = tu_tmpdir(tag);
    tu_keys(&rs.pub, &rs.sec);
    const char *streams[] = {"a", "b", NULL};
    logshare_options *o = tu_options(rs.dir, rs.pub, streams);
    assert_int_equal(logshare_options_set_max_total_bytes(o, 512 * 1024), 0);
    assert_int_equal(logshare_options_set_max_file_bytes(o, 64 * 1024), 0);
    rs.ls = tu_open(o);
    logshare_options_free(o);
    return rs;
}

static void rotating_store_close(struct rotating_store *rs)
{
    logshare_close(rs->ls);
    free(rs->pub);
    free(rs->sec);
    tu_rmrf(rs->dir);
    free(rs->dir);
}

static void support_files_hold_while_four_threads_log_at_full_speed(void **state)
{
    (void)state;
    struct rotating_store rs = rotating_store_open("gsf-load");
    logshare *ls = rs.ls;
    const char *sec = rs.sec;
    atomic_int stop = 0;
    pthread_t t[4];
    struct flood f[4];
    for (int i = 0; i < 4; i++) {
        f[i] = (struct flood){ls, i, &stop};
        assert_int_equal(pthread_create(&t[i], NULL, flood_thread, &f[i]), 0);
    }
    long rounds = tu_scale(40, 10), checked = 0;
    for (long it = 0; it < rounds; it++) {
        logshare_support_file *files = NULL;
        size_t n = 0;
        assert_int_equal(logshare_get_support_files(ls, &files, &n), 0);
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                assert_true(files[i].seq > files[i - 1].seq);
            checked += check_support_file(&files[i], sec);
        }
        if (n > 0 && it % 10 == 0)
            decrypt_with_the_cli(files[n - 1].path, sec);
        logshare_support_files_free(files, n);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_true(checked > rounds); /* most files outlive the check */
    rotating_store_close(&rs);
}

struct lister {
    logshare *ls;
    const char *sec;
    long checked;
};

static void *list_repeatedly(void *arg)
{
    struct lister *l = arg;
    for (int it = 0; it < 15; it++) {
        logshare_support_file *files = NULL;
        size_t n = 0;
        assert_int_equal(logshare_get_support_files(l->ls, &files, &n), 0);
        for (size_t i = 0; i < n; i++)
            l->checked += check_support_file(&files[i], l->sec);
        logshare_support_files_free(files, n);
        assert_int_equal(logshare_flush(l->ls, 0), 0);
    }
    return NULL;
}

/* Two threads listing (and flushing) at once while two log: each list
 * holds only finished files, whoever's rotation finished them. */
static void support_files_from_two_threads_at_once(void **state)
{
    (void)state;
    struct rotating_store rs = rotating_store_open("gsf-two");
    logshare *ls = rs.ls;
    const char *sec = rs.sec;
    atomic_int stop = 0;
    pthread_t loggers[2], listers[2];
    struct flood f[2];
    struct lister l[2];
    for (int i = 0; i < 2; i++) {
        f[i] = (struct flood){ls, i, &stop};
        assert_int_equal(pthread_create(&loggers[i], NULL, flood_thread, &f[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        l[i] = (struct lister){ls, sec, 0};
        assert_int_equal(pthread_create(&listers[i], NULL, list_repeatedly, &l[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(listers[i], NULL), 0);
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(loggers[i], NULL), 0);
    assert_true(l[0].checked > 0 && l[1].checked > 0);
    rotating_store_close(&rs);
}

/* ---- keys and sharing --------------------------------------------- */

/* "On error both outs are NULL", also the one given when the other is
 * missing (it was left as the caller had it). */
static void keygen_errors_leave_both_outs_null(void **state)
{
    (void)state;
    char junk = 'j';
    char *pub = &junk, *sec = &junk;
    assert_int_equal(logshare_keygen(NULL, &sec), LOGSHARE_EINVAL);
    assert_null(sec);
    assert_int_equal(logshare_keygen(&pub, NULL), LOGSHARE_EINVAL);
    assert_null(pub);
    assert_int_equal(logshare_keygen_files(NULL, NULL), LOGSHARE_EINVAL);
    assert_int_equal(logshare_keygen_files("", NULL), LOGSHARE_EINVAL);
    /* A directory where PREFIX.key belongs: refused, nothing written. */
    char *dir = tu_tmpdir("keygen");
    char *prefix = tu_path(dir, "support"), *key = tu_path(dir, "support.key");
    assert_int_equal(mkdir(key, 0700), 0);
    pub = &junk;
    assert_int_equal(logshare_keygen_files(prefix, &pub), LOGSHARE_EEXIST);
    assert_null(pub);
    assert_int_equal(entries(dir), 1);
    free(prefix);
    free(key);
    tu_rmrf(dir);
    free(dir);
}

/* The header's convention: a call that fails sets each out-parameter
 * it was given to NULL (0 for a count), whatever the failure, so a
 * caller may free what it got back. Each out starts as a sentinel. */
static void failed_calls_clear_their_out_parameters(void **state)
{
    (void)state;
    static char junk;
#define SENTINEL(p) ((p) = (void *)&junk)
    char *dir;
    logshare *ls = tu_open_plain("outs", -1, &dir);
    char *missing = tu_path(dir, "no-such-file.lslog");
    logshare_share_options *so = logshare_share_options_new();
    assert_non_null(so);

    logshare *other;
    SENTINEL(other);
    assert_int_equal(logshare_open(NULL, &other), LOGSHARE_EINVAL);
    assert_null(other);
    logshare_reader *r;
    SENTINEL(r);
    assert_int_equal(logshare_reader_open(missing, NULL, &r), LOGSHARE_ENOENT);
    assert_null(r);
    SENTINEL(r);
    assert_int_equal(logshare_reader_open(NULL, NULL, &r), LOGSHARE_EINVAL);
    assert_null(r);
    SENTINEL(r);
    assert_int_equal(logshare_reader_open_buffer("not a log file", 14, NULL, &r), LOGSHARE_EFORMAT);
    assert_null(r);
    SENTINEL(r);
    assert_int_equal(logshare_reader_open_buffer(NULL, 3, NULL, &r), LOGSHARE_EINVAL);
    assert_null(r);

    logshare_support_file *files;
    size_t count = 7;
    SENTINEL(files);
    assert_int_equal(logshare_list_support_files(NULL, &files, &count), LOGSHARE_EINVAL);
    assert_true(files == NULL && count == 0);
    count = 7;
    SENTINEL(files);
    assert_int_equal(logshare_list_support_files(missing, &files, &count), LOGSHARE_ENOENT);
    assert_true(files == NULL && count == 0);
    count = 7;
    SENTINEL(files);
    assert_int_equal(logshare_get_support_files(NULL, &files, &count), LOGSHARE_EINVAL);
    assert_true(files == NULL && count == 0);

    char *id;
    SENTINEL(id);
    assert_int_equal(logshare_outbox_add(NULL, so, &id), LOGSHARE_EINVAL);
    assert_null(id);
    SENTINEL(id);
    assert_int_equal(logshare_outbox_add(ls, NULL, &id), LOGSHARE_EINVAL);
    assert_null(id);
    SENTINEL(id);
    assert_int_equal(logshare_outbox_add_dir(NULL, so, &id), LOGSHARE_EINVAL);
    assert_null(id);
    assert_int_equal(logshare_share_options_add_file(so, "/nonexistent/shot.png", NULL), 0);
    SENTINEL(id);
    assert_int_equal(logshare_outbox_add(ls, so, &id), LOGSHARE_ENOENT);
    assert_null(id);
    SENTINEL(id);
    assert_int_equal(logshare_outbox_add_dir(dir, so, &id), LOGSHARE_ENOENT);
    assert_null(id);

    size_t sent = 5, left = 6;
    assert_int_equal(logshare_flush_outbox(NULL, so, 0, &sent, &left), LOGSHARE_EINVAL);
    assert_true(sent == 0 && left == 0);
    sent = 5, left = 6;
    assert_int_equal(logshare_outbox_flush_dir(dir, NULL, 0, &sent, &left), LOGSHARE_EINVAL);
    assert_true(sent == 0 && left == 0);

    logshare_outbox_sender *sender;
    SENTINEL(sender);
    assert_int_equal(logshare_outbox_sender_start(NULL, so, &sender), LOGSHARE_EINVAL);
    assert_null(sender);
    SENTINEL(sender);
    assert_int_equal(logshare_outbox_sender_start_dir(dir, NULL, &sender), LOGSHARE_EINVAL);
    assert_null(sender);

    logshare_report_result *res;
    SENTINEL(res);
    assert_int_equal(logshare_report(NULL, so, &res), LOGSHARE_EINVAL);
    assert_null(res);
    SENTINEL(res);
    assert_int_equal(logshare_submit_survey(NULL, so, "{\"call_id\": \"c\"}", &res),
                     LOGSHARE_EINVAL);
    assert_null(res);
    SENTINEL(res);
    assert_int_equal(logshare_submit_survey_dir(NULL, so, "{\"call_id\": \"c\"}", &res),
                     LOGSHARE_EINVAL);
    assert_null(res);

    char *json;
    SENTINEL(json);
    assert_int_equal(logshare_outbox_list_json(NULL, &json), LOGSHARE_EINVAL);
    assert_null(json);
#undef SENTINEL
    logshare_share_options_free(so);
    logshare_close(ls);
    free(missing);
    tu_rmrf(dir);
    free(dir);
}

/* Entries directly in dir, hidden ones (a ".tmp-" item being built)
 * included, but not the lock: for "nothing left behind". 0 when dir is
 * missing. */
static int files_in(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
             strcmp(e->d_name, ".lock") != 0;
    closedir(d);
    return n;
}

/* The sharing calls refuse NULL and empty arguments with
 * LOGSHARE_EINVAL, a failed export leaves no file (final or partial)
 * beside its target, and a refused queueing leaves the outbox empty. */
static void sharing_calls_refuse_bad_arguments_and_leave_nothing(void **state)
{
    (void)state;
    char *dir;
    logshare *ls = tu_open_plain("share-args", -1, &dir);
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "to share %d", 1), 0);
    char *out = tu_tmpdir("share-out");
    char *zip = tu_path(out, "logs.zip");
    logshare_share_options *so = logshare_share_options_new();
    assert_non_null(so);

    logshare_export_format fmt = LOGSHARE_EXPORT_ZIP;
    assert_int_equal(logshare_export_format_parse("tzst", &fmt), 0);
    assert_int_equal(fmt, LOGSHARE_EXPORT_TAR_ZSTD);
    assert_int_equal(logshare_export_format_parse("zip", &fmt), 0);
    assert_int_equal(fmt, LOGSHARE_EXPORT_ZIP);
    assert_int_equal(logshare_export_format_parse("ZIP", &fmt), LOGSHARE_EINVAL);
    assert_int_equal(logshare_export_format_parse(NULL, &fmt), LOGSHARE_EINVAL);
    assert_int_equal(logshare_export_format_parse("zip", NULL), LOGSHARE_EINVAL);
    assert_int_equal(logshare_export(NULL, so, zip, LOGSHARE_EXPORT_ZIP), LOGSHARE_EINVAL);
    assert_int_equal(logshare_export(ls, so, NULL, LOGSHARE_EXPORT_ZIP), LOGSHARE_EINVAL);
    assert_int_equal(logshare_export(ls, so, "", LOGSHARE_EXPORT_ZIP), LOGSHARE_EINVAL);
    assert_int_equal(logshare_export(ls, so, zip, (logshare_export_format)7), LOGSHARE_EINVAL);
    assert_int_equal(logshare_export_dir(NULL, so, zip, LOGSHARE_EXPORT_ZIP), LOGSHARE_EINVAL);
    char *missing = tu_path(out, "no-store");
    assert_int_equal(logshare_export_dir(missing, so, zip, LOGSHARE_EXPORT_ZIP), LOGSHARE_ENOENT);
    assert_int_equal(logshare_share_options_add_file(so, "/nonexistent/shot.png", NULL), 0);
    assert_int_equal(logshare_export(ls, so, zip, LOGSHARE_EXPORT_ZIP), LOGSHARE_ENOENT);
    assert_int_equal(logshare_export(ls, so, zip, LOGSHARE_EXPORT_TAR_ZSTD), LOGSHARE_ENOENT);
    assert_int_equal(files_in(out), 0);

    char *id = NULL;
    assert_int_equal(logshare_outbox_add(ls, so, &id), LOGSHARE_ENOENT);
    assert_int_equal(logshare_outbox_add(NULL, so, &id), LOGSHARE_EINVAL);
    assert_int_equal(logshare_outbox_add(ls, NULL, &id), LOGSHARE_EINVAL);
    assert_int_equal(logshare_outbox_add(ls, so, NULL), LOGSHARE_EINVAL);
    assert_int_equal(logshare_outbox_add_dir(NULL, so, &id), LOGSHARE_EINVAL);
    logshare_share_options_free(so);
    so = logshare_share_options_new();
    assert_int_equal(logshare_share_options_set_outbox_limits(so, 1, 1), 0);
    assert_int_equal(logshare_outbox_add(ls, so, &id), LOGSHARE_ENOSPC);
    char *outbox = tu_path(dir, "outbox");
    assert_int_equal(files_in(outbox), 0);
    /* A directory given as a file: a bad argument, not an I/O error. */
    logshare_share_options_free(so);
    so = logshare_share_options_new();
    assert_int_equal(logshare_share_options_add_file(so, out, "not-a-file"), 0);
    assert_int_equal(logshare_export(ls, so, zip, LOGSHARE_EXPORT_ZIP), LOGSHARE_EINVAL);
    assert_int_equal(logshare_export(ls, so, zip, LOGSHARE_EXPORT_TAR_ZSTD), LOGSHARE_EINVAL);
    assert_int_equal(files_in(out), 0);
    assert_int_equal(logshare_outbox_add(ls, so, &id), LOGSHARE_EINVAL);
    assert_int_equal(files_in(outbox), 0);
    char *json = NULL;
    assert_int_equal(logshare_outbox_list_json(dir, &json), 0);
    assert_string_equal(json, "[]");
    logshare_string_free(json);
    assert_int_equal(logshare_outbox_list_json(NULL, &json), LOGSHARE_EINVAL);
    assert_int_equal(logshare_outbox_list_json(dir, NULL), LOGSHARE_EINVAL);
    assert_int_equal(logshare_outbox_remove(NULL, "x"), LOGSHARE_EINVAL);
    assert_int_equal(logshare_outbox_remove(dir, NULL), LOGSHARE_EINVAL);
    assert_int_equal(logshare_outbox_remove(dir, "nope"), LOGSHARE_ENOENT);

    logshare_report_result *res = (logshare_report_result *)so;
    assert_int_equal(logshare_report(ls, NULL, &res), LOGSHARE_EINVAL);
    assert_null(res);
    assert_int_equal(logshare_report(ls, so, &res), LOGSHARE_EINVAL); /* no server, no text */
    assert_int_equal(logshare_report_dir(NULL, so, NULL), LOGSHARE_EINVAL);
    assert_int_equal(logshare_share_options_set_server(so, "http://127.0.0.1:9", "token"), 0);
    assert_int_equal(logshare_report(ls, so, NULL), LOGSHARE_EINVAL); /* no description */
    assert_int_equal(logshare_share_options_set_description(so, ""), 0);
    assert_int_equal(logshare_report(ls, so, NULL), LOGSHARE_EINVAL);
    assert_int_equal(logshare_flush_outbox(NULL, so, 0, NULL, NULL), LOGSHARE_EINVAL);
    assert_int_equal(logshare_outbox_flush_dir(dir, NULL, 0, NULL, NULL), LOGSHARE_EINVAL);
    assert_int_equal(logshare_submit_survey(ls, so, NULL, NULL), LOGSHARE_EINVAL);
    assert_int_equal(logshare_submit_survey(ls, so, "[]", NULL), LOGSHARE_EINVAL);
    assert_int_equal(logshare_submit_survey(ls, so, "{\"call_id\": 7}", NULL), LOGSHARE_EINVAL);
    assert_int_equal(logshare_submit_survey(NULL, so, "{\"call_id\": \"c\"}", NULL),
                     LOGSHARE_EINVAL);
    assert_int_equal(logshare_decline_log_request(so, NULL), LOGSHARE_EINVAL);
    assert_int_equal(logshare_decline_log_request(so, ""), LOGSHARE_EINVAL);
    assert_int_equal(logshare_decline_log_request(so, "../x"), LOGSHARE_EINVAL);
    assert_int_equal(logshare_decline_log_request(NULL, "lr_1"), LOGSHARE_EINVAL);
    logshare_outbox_sender *sender = NULL;
    assert_int_equal(logshare_outbox_sender_start(NULL, so, &sender), LOGSHARE_EINVAL);
    assert_int_equal(logshare_outbox_sender_start(ls, NULL, &sender), LOGSHARE_EINVAL);
    assert_int_equal(logshare_outbox_sender_start(ls, so, NULL), LOGSHARE_EINVAL);
    logshare_outbox_sender_wake(NULL);
    logshare_outbox_sender_stop(NULL);
    logshare_outbox_sender_stop_grace(NULL, 10);
    assert_int_equal(logshare_outbox_list_json(dir, &json), 0);
    assert_string_equal(json, "[]"); /* nothing refused was queued */
    logshare_string_free(json);
    assert_int_equal(files_in(outbox), 0);
    free(outbox);

    /* The share options' documented ranges. */
    assert_int_equal(logshare_share_options_set_server(so, "ftp://h", "t"), LOGSHARE_EINVAL);
    assert_int_equal(logshare_share_options_set_server(so, "https://h", ""), LOGSHARE_EINVAL);
    assert_int_equal(logshare_share_options_set_server(so, "https://h", "a\nb"), LOGSHARE_EINVAL);
    assert_int_equal(logshare_share_options_set_server(so, NULL, "t"), LOGSHARE_EINVAL);
    assert_int_equal(logshare_share_options_set_ca_file(so, NULL), 0);
    assert_int_equal(logshare_share_options_set_timeouts(so, 0, 1, 1, 0), LOGSHARE_EINVAL);
    assert_int_equal(logshare_share_options_set_timeouts(so, 1, -1, 1, 0), LOGSHARE_EINVAL);
    assert_int_equal(logshare_share_options_set_timeouts(so, 1, 1, 1, -1), LOGSHARE_EINVAL);
    assert_int_equal(logshare_share_options_set_retry(so, 0, 1, 1), LOGSHARE_EINVAL);
    assert_int_equal(logshare_share_options_set_retry(so, 101, 1, 1), LOGSHARE_EINVAL);
    assert_int_equal(logshare_share_options_set_retry(so, 1, 10, 9), LOGSHARE_EINVAL);
    assert_int_equal(logshare_share_options_set_retry(so, 100, 0, 0), 0);
    assert_int_equal(logshare_share_options_set_outbox_limits(so, 0, 1), LOGSHARE_EINVAL);
    assert_int_equal(logshare_share_options_set_outbox_limits(so, 1, 0), LOGSHARE_EINVAL);
    assert_int_equal(logshare_share_options_set_max_files_per_request(so, 1), LOGSHARE_EINVAL);
    char *long_text = malloc(32 * 1024 + 2);
    memset(long_text, 'd', 32 * 1024 + 1);
    long_text[32 * 1024 + 1] = '\0';
    assert_int_equal(logshare_share_options_set_description(so, long_text), LOGSHARE_ETOOLARGE);
    long_text[32 * 1024] = '\0';
    assert_int_equal(logshare_share_options_set_description(so, long_text), 0);
    free(long_text);
    assert_int_equal(logshare_share_options_set_description(so, "bell\a"), LOGSHARE_EINVAL);
    assert_int_equal(logshare_share_options_add_call_id(so, "two\nlines"), LOGSHARE_EINVAL);

    logshare_watcher *w = logshare_watcher_new();
    assert_non_null(w);
    assert_int_equal(logshare_watch(w), LOGSHARE_EINVAL); /* nothing set */
    assert_int_equal(logshare_watch(NULL), LOGSHARE_EINVAL);
    assert_int_equal(logshare_watcher_set_dir(w, ""), LOGSHARE_EINVAL);
    assert_int_equal(logshare_watcher_set_dir(w, NULL), LOGSHARE_EINVAL);
    assert_int_equal(logshare_watcher_set_store(w, NULL), LOGSHARE_EINVAL);
    assert_int_equal(logshare_watcher_set_share_options(w, NULL), LOGSHARE_EINVAL);
    assert_int_equal(logshare_watcher_set_request_callback(w, NULL, NULL), LOGSHARE_EINVAL);
    assert_int_equal(logshare_watcher_set_reconnect(w, 9, 100), LOGSHARE_EINVAL);
    assert_int_equal(logshare_watcher_set_reconnect(w, 100, 99), LOGSHARE_EINVAL);
    assert_int_equal(logshare_watcher_set_idle_timeout(w, 999), LOGSHARE_EINVAL);
    logshare_watcher_stop(NULL);
    logshare_watcher_free(w);
    logshare_watcher_free(NULL);

    logshare_share_options_free(so);
    logshare_share_options_free(NULL);
    logshare_report_result_free(NULL);
    logshare_close(ls);
    tu_rmrf(out);
    free(out);
    free(zip);
    free(missing);
    tu_rmrf(dir);
    free(dir);
}

/* "" is no store directory: every call taking one refuses it. Before,
 * the outbox calls took "/outbox" (at the root of the file system) for
 * its outbox: listed it, removed from it, queued reports there. The
 * calls that only read come first, so that on a build without the check
 * the test stops before one writes there. */
static void an_empty_store_directory_is_refused(void **state)
{
    (void)state;
    char *json = NULL;
    assert_int_equal(logshare_outbox_list_json("", &json), LOGSHARE_EINVAL);
    assert_null(json);
    assert_int_equal(logshare_outbox_remove("", "1-2"), LOGSHARE_EINVAL);
    logshare_share_options *so = logshare_share_options_new();
    assert_int_equal(logshare_share_options_set_server(so, "http://127.0.0.1:9", "token"), 0);
    assert_int_equal(logshare_share_options_set_description(so, "empty dir"), 0);
    assert_int_equal(logshare_share_options_set_include_logs(so, 0), 0);
    assert_int_equal(logshare_share_options_set_retry(so, 1, 10, 10), 0);
    assert_int_equal(logshare_outbox_flush_dir("", so, 0, NULL, NULL), LOGSHARE_EINVAL);
    logshare_outbox_sender *sender = NULL;
    assert_int_equal(logshare_outbox_sender_start_dir("", so, &sender), LOGSHARE_EINVAL);
    assert_null(sender);
    char *id = NULL;
    assert_int_equal(logshare_outbox_add_dir("", so, &id), LOGSHARE_EINVAL);
    assert_null(id);
    logshare_report_result *res = NULL;
    assert_int_equal(logshare_report_dir("", so, &res), LOGSHARE_EINVAL);
    assert_null(res);
    assert_int_equal(logshare_submit_survey_dir("", so, "{\"call_id\": \"c\"}", &res),
                     LOGSHARE_EINVAL);
    assert_null(res);
    char *out = tu_tmpdir("empty-dir-export");
    char *zip = tu_path(out, "x.zip");
    assert_int_equal(logshare_export_dir("", so, zip, LOGSHARE_EXPORT_ZIP), LOGSHARE_EINVAL);
    assert_int_equal(files_in(out), 0);
    logshare_support_file *files = NULL;
    size_t n = 0;
    assert_int_equal(logshare_list_support_files("", &files, &n), LOGSHARE_ENOENT);
    free(zip);
    tu_rmrf(out);
    free(out);
    logshare_share_options_free(so);
}

static logshare_consent never_asked(void *user, const logshare_log_request *request)
{
    (void)user;
    (void)request;
    fail_msg("no request can come from a closed port");
    return LOGSHARE_CONSENT_IGNORE;
}

static void count_disconnects(void *user, logshare_watch_event event, const char *request_id,
                              int status, const char *detail)
{
    (void)request_id;
    (void)status;
    (void)detail;
    if (event == LOGSHARE_WATCH_DISCONNECTED)
        atomic_fetch_add((atomic_int *)user, 1);
}

struct watch_run {
    logshare_watcher *w;
    int rc;
};

static void *run_watch(void *arg)
{
    struct watch_run *r = arg;
    r->rc = logshare_watch(r->w);
    return NULL;
}

/* A stop made before a run is kept for it: the run returns 0 at once,
 * without trying the server. The next run tries it again (here a closed
 * port: disconnected, retried) until its own stop. */
static void a_stop_before_a_run_ends_that_run(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("watch-stop");
    logshare_share_options *so = logshare_share_options_new();
    assert_int_equal(logshare_share_options_set_server(so, "http://127.0.0.1:9", "token"), 0);
    logshare_watcher *w = logshare_watcher_new();
    atomic_int disconnects = 0;
    assert_int_equal(logshare_watcher_set_dir(w, dir), 0);
    assert_int_equal(logshare_watcher_set_share_options(w, so), 0);
    assert_int_equal(logshare_watcher_set_request_callback(w, never_asked, NULL), 0);
    assert_int_equal(logshare_watcher_set_event_callback(w, count_disconnects, &disconnects), 0);
    assert_int_equal(logshare_watcher_set_reconnect(w, 10, 50), 0);
    logshare_watcher_stop(w);
    int64_t t0 = mono_ms();
    assert_int_equal(logshare_watch(w), 0);
    assert_true(mono_ms() - t0 < 1000);
    assert_int_equal(atomic_load(&disconnects), 0);
    struct watch_run r = {w, -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_watch, &r), 0);
    while (atomic_load(&disconnects) < 2)
        usleep(10000);
    logshare_watcher_stop(w);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(r.rc, 0);
    logshare_watcher_free(w);
    logshare_share_options_free(so);
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(open_and_close_thousands_of_times_grows_nothing),
        cmocka_unit_test(two_stores_share_the_same_threads),
        cmocka_unit_test(a_directory_opens_once_however_spelled),
        cmocka_unit_test(a_refused_setter_changes_nothing),
        cmocka_unit_test(flush_honours_its_timeout),
        cmocka_unit_test(every_error_code_has_its_own_name_and_text),
        cmocka_unit_test(the_log_macro_evaluates_each_argument_once),
        cmocka_unit_test(every_supported_conversion_reads_back_as_snprintf_prints_it),
        cmocka_unit_test(documented_fallbacks_behave_as_documented),
        cmocka_unit_test(support_files_hold_while_four_threads_log_at_full_speed),
        cmocka_unit_test(support_files_from_two_threads_at_once),
        cmocka_unit_test(keygen_errors_leave_both_outs_null),
        cmocka_unit_test(failed_calls_clear_their_out_parameters),
        cmocka_unit_test(sharing_calls_refuse_bad_arguments_and_leave_nothing),
        cmocka_unit_test(an_empty_store_directory_is_refused),
        cmocka_unit_test(a_stop_before_a_run_ends_that_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
