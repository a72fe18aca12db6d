/*
 * test_store_roundtrip.c - what goes in comes out: many threads, many
 * records, two streams, both logging calls, plaintext and encrypted
 * files, levels, and the support file list with its time ranges.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>

#include <wchar.h>

#include "store_testutil.h"

#define THREADS 8

struct rt_ctx {
    logshare *ls;
    int thread;
    long per_thread;
    long dropped;
};

static void *rt_thread(void *arg)
{
    struct rt_ctx *c = arg;
    int stream = c->thread % 2;
    for (long i = 0; i < c->per_thread; i++) {
        int rc = LOGSHARE_LOG(c->ls, stream, LOGSHARE_LEVEL_INFO,
                              "call t%d seq %ld codec %s jitter %.2f", c->thread, i, "opus",
                              (double)i / 8.0);
        if (rc != 0)
            c->dropped++;
    }
    return NULL;
}

struct rt_check {
    long next[THREADS];
    long total;
    long bad;
};

static void rt_record(const logshare_record *rec, void *ctx)
{
    struct rt_check *k = ctx;
    int t;
    long seq;
    char codec[16];
    double jitter;
    if (sscanf(rec->message, "call t%d seq %ld codec %15s jitter %lf", &t, &seq, codec, &jitter) !=
            4 ||
        t < 0 || t >= THREADS) {
        k->bad++;
        return;
    }
    const char *want_stream = t % 2 ? "media" : "calling";
    /* Within a thread: none lost, none reordered. */
    if (seq != k->next[t] || strcmp(codec, "opus") != 0 || strcmp(rec->stream, want_stream) != 0)
        k->bad++;
    k->next[t] = seq + 1;
    k->total++;
}

static void million_records_from_eight_threads_round_trip_in_order(void **state)
{
    (void)state;
    long total = 1000000; /* fast enough under ASan too (~2 s): never scaled */
    char *dir = tu_tmpdir("rt");
    char *pub, *sec;
    tu_keys(&pub, &sec);
    const char *streams[] = {"calling", "media", NULL};
    logshare_options *o = tu_options(dir, pub, streams);
    /* Rings big enough for a thread's whole share: this test is about
     * losing nothing when there is room, not about bursts. */
    assert_int_equal(logshare_options_set_buffer_bytes(o, 16u << 20), 0);
    assert_int_equal(logshare_options_set_max_total_bytes(o, 1ull << 30), 0);
    assert_int_equal(logshare_options_set_max_file_bytes(o, 128u << 10), 0);
    logshare *ls = tu_open(o);
    logshare_options_free(o);

    pthread_t th[THREADS];
    struct rt_ctx ctx[THREADS];
    for (int i = 0; i < THREADS; i++) {
        ctx[i] = (struct rt_ctx){ls, i, total / THREADS, 0};
        assert_int_equal(pthread_create(&th[i], NULL, rt_thread, &ctx[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(ctx[i].dropped, 0);
    }
    assert_int_equal(logshare_flush(ls, 0), 0);
    uint64_t written, full, failed;
    logshare_get_counts(ls, &written, &full, &failed);
    assert_int_equal(written, (uint64_t)total);
    assert_int_equal(full, 0);
    assert_int_equal(failed, 0);
    logshare_close(ls);

    size_t nfiles;
    tu_log_bytes(dir, &nfiles);
    assert_true(nfiles > 2); /* rotated by size */
    struct rt_check k;
    memset(&k, 0, sizeof k);
    int torn = 0;
    tu_read_dir(dir, sec, rt_record, &k, &torn);
    assert_int_equal(torn, 0);
    assert_int_equal(k.bad, 0);
    assert_int_equal(k.total, total);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(k.next[i], total / THREADS);
    free(pub);
    free(sec);
    tu_rmrf(dir);
    free(dir);
}

struct collect {
    char msgs[64][256];
    int levels[64];
    char streams[64][40];
    int n;
};

static void collect_record(const logshare_record *rec, void *ctx)
{
    struct collect *c = ctx;
    if (c->n < 64) {
        snprintf(c->msgs[c->n], sizeof c->msgs[0], "%s", rec->message);
        snprintf(c->streams[c->n], sizeof c->streams[0], "%s", rec->stream);
        c->levels[c->n] = rec->level;
    }
    c->n++;
}

/* Every record in dir (decrypted with sec, NULL for plaintext) into a
 * fresh *c; torn (may be NULL) as tu_read_dir. */
static void collect_dir(const char *dir, const char *sec, struct collect *c, int *torn)
{
    memset(c, 0, sizeof *c);
    tu_read_dir(dir, sec, collect_record, c, torn);
}

/* Whole messages (collect keeps 255 bytes of each), new copies. */
struct full_messages {
    char *msg[8];
    size_t len[8];
    int n;
};

static void full_record(const logshare_record *rec, void *ctx)
{
    struct full_messages *f = ctx;
    if (f->n < 8) {
        f->msg[f->n] = strdup(rec->message);
        f->len[f->n] = rec->message_len;
    }
    f->n++;
}

static void full_messages_free(struct full_messages *f)
{
    for (int i = 0; i < f->n && i < 8; i++)
        free(f->msg[i]);
}

/* A fresh directory with an encrypted store of streams "calling" and
 * "media" open on it; *pub and *sec are its keys (caller frees all). */
static logshare *open_two_streams(const char *name, char **dir, char **pub, char **sec)
{
    *dir = tu_tmpdir(name);
    tu_keys(pub, sec);
    const char *streams[] = {"calling", "media", NULL};
    logshare_options *o = tu_options(*dir, *pub, streams);
    logshare *ls = tu_open(o);
    logshare_options_free(o);
    return ls;
}

/* Closes ls, reads its plaintext directory back and checks that the
 * messages are want[0..n), in order; then removes and frees dir. */
static void close_and_expect(logshare *ls, char *dir, char want[][256], int n)
{
    logshare_close(ls);
    struct collect c;
    collect_dir(dir, NULL, &c, NULL);
    assert_int_equal(c.n, n);
    for (int i = 0; i < n; i++)
        assert_string_equal(c.msgs[i], want[i]);
    tu_rmrf(dir);
    free(dir);
}

/* Logs one record at level with the format and arguments given, and
 * keeps what snprintf makes of them in want[n++] (locals of the test). */
#define LOG_AND_WANT(level, ...)                                                                   \
    do {                                                                                           \
        snprintf(want[n++], sizeof want[0], __VA_ARGS__);                                          \
        assert_int_equal(LOGSHARE_LOG(ls, 0, level, __VA_ARGS__), 0);                              \
    } while (0)

static void plaintext_files_read_back_without_a_key(void **state)
{
    (void)state;
    char *dir;
    logshare *ls = tu_open_plain("plain", -1, &dir);
    assert_int_equal(logshare_stream_index(ls, LOGSHARE_DEFAULT_STREAM), 0);
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_WARN, "plain %d", 1), 0);
    assert_int_equal(logshare_log(ls, 0, LOGSHARE_LEVEL_ERROR, "eager %s", "two"), 0);
    logshare_close(ls);
    struct collect c;
    collect_dir(dir, NULL, &c, NULL);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.msgs[0], "plain 1");
    assert_int_equal(c.levels[0], LOGSHARE_LEVEL_WARN);
    assert_string_equal(c.msgs[1], "eager two");
    assert_string_equal(c.streams[1], "main");
    /* A key given anyway does not hurt a plaintext file. */
    char *pub, *sec;
    tu_keys(&pub, &sec);
    collect_dir(dir, sec, &c, NULL);
    assert_int_equal(c.n, 2);
    free(pub);
    free(sec);
    tu_rmrf(dir);
    free(dir);
}

static void deferred_formatting_matches_printf(void **state)
{
    (void)state;
    char *dir;
    logshare *ls = tu_open_plain("fmt", LOGSHARE_LEVEL_TRACE, &dir);
    char want[16][256];
    int n = 0;
    int x = -42;
    unsigned long long big = 18446744073709551615ull;
    size_t sz = 123456789;
    double d = 3.14159265358979;
    const char *nul = getenv("LOGSHARE_TEST_SURELY_UNSET"); /* NULL, unseen by the compiler */
#define BOTH(...) LOG_AND_WANT(LOGSHARE_LEVEL_TRACE, __VA_ARGS__)
    BOTH("ints %d %i %u %x %X %o|%5d|%-5d|%05d", x, x, 7u, 255u, 255u, 8u, 12, 12, 12);
    BOTH("longs %ld %lu %lld %llu %zu %zd %td %jd", -5L, 5UL, -6LL, big, sz, (ssize_t)-7,
         (ptrdiff_t)-8, (intmax_t)-9);
    BOTH("short %hd %hhu %hhd", (short)-3, (unsigned char)250, (signed char)-100);
    BOTH("floats %f %.3f %e %g %10.1f %a", d, d, d, d, d, 1.0);
    BOTH("strings [%s] [%10s] [%-6s] [%.2s] [%*s] [%.*s]", "abc", "right", "left", "cut", 6, "st",
         2, "prec");
    BOTH("char %c pct %% ptr-free %s", 'Z', "end");
    BOTH("no args at all");
    BOTH("%s", "");
#undef BOTH
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_TRACE, "null %s", nul), 0);
    snprintf(want[n++], sizeof want[0], "null (null)");
    /* As glibc: a precision too short for "(null)" prints nothing. */
    assert_int_equal(
        LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_TRACE, "cut [%.3s] [%.*s] [%.6s]", nul, 2, nul, nul), 0);
    snprintf(want[n++], sizeof want[0], "cut [] [] [(null)]");
    /* %n has no binary form: formatted at the call... and refused by the
     * compiler's checker, so only through a format it cannot see. */
    close_and_expect(ls, dir, want, n);
}

/* LOGSHARE_LOG widens each argument by its own C type at the call site
 * (logshare_log_args); what is read back must still be what printf
 * makes of the same call, whatever the type: promoted small types,
 * bit-fields, arrays, float, signedness that differs from the
 * conversion's, conversions with no binary form, and more arguments
 * than the fast path takes. Every argument is evaluated once. */
struct bits {
    unsigned u3 : 3;
    int s5 : 5;
};
enum colour { RED, GREEN = 7 };

static void call_site_arguments_match_printf(void **state)
{
    (void)state;
    char *dir;
    logshare *ls = tu_open_plain("args", LOGSHARE_LEVEL_TRACE, &dir);
    char want[16][256];
    int n = 0;
    char ch = 'q';
    signed char sc = -7;
    unsigned char uc = 200;
    short sh = -300;
    unsigned short us = 65000;
    _Bool yes = 1;
    struct bits b = {5, -3};
    enum colour col = GREEN;
    float f = 2.5f;
    char arr[8] = "array";
    const char *const_str = "const";
    unsigned all_ones = 4294967295u;
    int minus_one = -1;
    int seen = 0;
    long double ld = 1.25L;
    int *ptr = NULL;
#define BOTH(...) LOG_AND_WANT(LOGSHARE_LEVEL_TRACE, __VA_ARGS__)
    BOTH("small %c %d %u %hd %hu %d %d %d", ch, sc, uc, sh, us, yes, b.u3, b.s5);
    BOTH("enum %d float %.2f array %s const %s", col, f, arr, const_str);
    BOTH("mixed %d %u %x %hhd", (int)all_ones, (unsigned)minus_one, (unsigned)minus_one, (char)-1);
    BOTH("long double %.2Lf and %d", ld, 3);
    BOTH("pointer %p", (void *)ptr);
    BOTH("%d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d", 1, 2, 3, 4, 5,
         6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24);
    BOTH("%d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d", 1, 2, 3, 4,
         5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25);
#undef BOTH
    /* Signedness unlike the conversion's (what -Wformat lets through
     * without -Wformat-signedness): printf reads the conversion's type. */
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_TRACE, "as int %d", all_ones), 0);
    snprintf(want[n++], sizeof want[0], "as int -1");
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_TRACE, "as unsigned %u", minus_one), 0);
    snprintf(want[n++], sizeof want[0], "as unsigned 4294967295");
    /* Evaluated once, also on the path that formats at the call. */
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_TRACE, "once %d", ++seen), 0);
    snprintf(want[n++], sizeof want[0], "once 1");
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_TRACE, "once more %.1Lf %d", ld, ++seen),
                     0);
    snprintf(want[n++], sizeof want[0], "once more 1.2 2");
    assert_int_equal(seen, 2);
    /* Called by hand: an argument count that does not match the format
     * is sent back to be formatted at the call, never read past. */
    uint64_t one = 5;
    assert_int_equal(logshare_log_args(ls, 0, LOGSHARE_LEVEL_TRACE, "two %d %d", &one, 1, 0),
                     LOGSHARE_FORMAT_AT_CALL);
    assert_int_equal(logshare_log_args(ls, 0, LOGSHARE_LEVEL_TRACE, "none", NULL, 0, 0), 0);
    snprintf(want[n++], sizeof want[0], "none");
    /* A strmask that calls a %p argument a string is not believed: the
     * pointer (which points nowhere) is never read. */
    uint64_t wild = 0x1234;
    assert_int_equal(logshare_log_args(ls, 0, LOGSHARE_LEVEL_TRACE, "wild %p", &wild, 1, 1u), 0);
    snprintf(want[n++], sizeof want[0], "wild %p", (void *)0x1234);
    /* And one that misses a string only costs speed. */
    const char *str = "named";
    uint64_t named = (uint64_t)(uintptr_t)str;
    assert_int_equal(logshare_log_args(ls, 0, LOGSHARE_LEVEL_TRACE, "str %s", &named, 1, 0), 0);
    snprintf(want[n++], sizeof want[0], "str named");
    assert_int_equal(logshare_log_args(ls, 0, LOGSHARE_LEVEL_TRACE, "%d", NULL, 1, 0),
                     LOGSHARE_EINVAL);
    close_and_expect(ls, dir, want, n);
}

/* Compares every record read back with want[], in order. */
struct compare_all {
    char (*want)[128];
    int n, seen, bad;
};

static void compare_record(const logshare_record *rec, void *ctx)
{
    struct compare_all *k = ctx;
    if (k->seen >= k->n || strcmp(rec->message, k->want[k->seen]) != 0) {
        if (k->bad++ < 5)
            fprintf(stderr, "record %d: got \"%s\", want \"%s\"\n", k->seen, rec->message,
                    k->seen < k->n ? k->want[k->seen] : "(none)");
    }
    k->seen++;
}

/* A writable page followed by one that cannot be read: a byte read past
 * the first is a SIGSEGV. munmap both (2 * page) when done. */
static char *guarded_page(size_t page)
{
    char *map = mmap(NULL, page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(map != MAP_FAILED);
    assert_int_equal(mprotect(map + page, page, PROT_NONE), 0);
    return map;
}

/* Strings of every length from 0 to 100 at every alignment, and ones
 * that end on the last byte of a page followed by one that cannot be
 * read: the call measures and copies them without libc and must
 * neither miss a byte nor read past the page. */
static void strings_of_every_length_and_alignment_round_trip(void **state)
{
    (void)state;
    char *dir;
    logshare *ls = tu_open_plain("strlen", -1, &dir);
    long page = sysconf(_SC_PAGESIZE);
    char *map = guarded_page((size_t)page);
    static char want[101 * 16 + 40][128];
    int n = 0;
    char src[160];
    for (int i = 0; i < (int)sizeof src; i++)
        src[i] = (char)('a' + i % 26);
    for (int len = 0; len <= 100; len++) {
        for (int align = 0; align < 16; align++) {
            char *s = map + 64 + align;
            memcpy(s, src + len % 7, (size_t)len);
            s[len] = '\0';
            assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "<%s>", s), 0);
            snprintf(want[n++], sizeof want[0], "<%s>", s);
        }
    }
    for (int len = 0; len < 40; len++) {
        char *s = map + page - 1 - len;
        memcpy(s, src, (size_t)len);
        s[len] = '\0';
        assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "<%s>", s), 0);
        snprintf(want[n++], sizeof want[0], "<%s>", s);
    }
    logshare_close(ls);
    munmap(map, (size_t)page * 2);
    struct compare_all k = {want, n, 0, 0};
    tu_read_dir(dir, NULL, compare_record, &k, NULL);
    assert_int_equal(k.seen, n);
    assert_int_equal(k.bad, 0);
    tu_rmrf(dir);
    free(dir);
}

/* "%.*s" and "%.5s" may be given an array with no NUL: the call must
 * read no further than the precision. The bytes end right before a
 * page that cannot be read, so one byte too many is a SIGSEGV. */
static void precision_strings_are_read_only_up_to_the_precision(void **state)
{
    (void)state;
    char *dir;
    logshare *ls = tu_open_plain("prec", -1, &dir);
    long page = sysconf(_SC_PAGESIZE);
    char *map = guarded_page((size_t)page);
    char *buf = map + page - 8;
    memcpy(buf, "ABCDEFGH", 8); /* no NUL before the guard page */
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "star [%.*s]", 8, buf), 0);
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "fixed [%.5s]", buf + 3), 0);
    assert_int_equal(
        LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "both [%4.*s] [%.8s]", 2, buf + 6, buf), 0);
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "negative [%.*s]", -1, "whole"), 0);
    logshare_close(ls);
    struct collect c;
    collect_dir(dir, NULL, &c, NULL);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.msgs[0], "star [ABCDEFGH]");
    assert_string_equal(c.msgs[1], "fixed [DEFGH]");
    assert_string_equal(c.msgs[2], "both [  GH] [ABCDEFGH]");
    assert_string_equal(c.msgs[3], "negative [whole]");
    munmap(map, (size_t)page * 2);
    tu_rmrf(dir);
    free(dir);
}

/* Reads dir and expects exactly the n messages of want, whole. */
static void expect_full_messages(const char *dir, char want[][4000], int n)
{
    struct full_messages f = {0};
    tu_read_dir(dir, NULL, full_record, &f, NULL);
    assert_int_equal(f.n, n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(f.len[i], strlen(want[i]));
        assert_string_equal(f.msg[i], want[i]);
    }
    full_messages_free(&f);
}

/* A width or precision on a long string pads or cuts as printf does,
 * with no hidden limit (it used to stop at 1024 characters). */
static void long_strings_keep_their_width_and_precision(void **state)
{
    (void)state;
    char *dir;
    logshare *ls = tu_open_plain("longfmt", -1, &dir);
    char *big = malloc(3001);
    for (int i = 0; i < 3000; i++)
        big[i] = (char)('a' + i % 26);
    big[3000] = '\0';
    char want[5][4000];
    int n = 0;
#define BOTH(...) LOG_AND_WANT(LOGSHARE_LEVEL_INFO, __VA_ARGS__)
    BOTH("[%-6s]", big);
    BOTH("[%10s]", big);
    BOTH("[%.*s]", 2500, big);
    BOTH("[%*s]", 3500, "x");
    BOTH("[%-*.*s]", -3200, 2100, big);
#undef BOTH
    logshare_close(ls);
    expect_full_messages(dir, want, n);
    free(big);
    tu_rmrf(dir);
    free(dir);
}

/* A '*' width or precision over what the binary form holds (1024) is
 * formatted at the call, so it still reads back as printf prints it (it
 * was cut to 1024); a %c of 0 in a call formatted at once renders as
 * nothing instead of putting a NUL in the record (which made readers
 * refuse the frame, and with it the rest of the file). */
static void wide_stars_and_nul_characters_read_back_as_printf_prints_them(void **state)
{
    (void)state;
    char *dir;
    logshare *ls = tu_open_plain("stars", -1, &dir);
    char want[9][4000];
    int n = 0;
#define BOTH(...) LOG_AND_WANT(LOGSHARE_LEVEL_INFO, __VA_ARGS__)
    BOTH("[%*d]", 2000, 1);
    BOTH("[%.*f]", 1100, 1.0);
    BOTH("[%-*d|%*.*e]", -1500, 7, 5, 1030, 2.5);
    BOTH("[%*d]", 1024, 3); /* at the limit: still the binary form */
#undef BOTH
    snprintf(want[n++], sizeof want[0], "[%*d]", 3000, 4);
    assert_int_equal(logshare_log_static(ls, 0, LOGSHARE_LEVEL_INFO, "[%*d]", 3000, 4), 0);
    assert_int_equal(logshare_log(ls, 0, LOGSHARE_LEVEL_INFO, "x%cy", 0), 0);
    snprintf(want[n++], sizeof want[0], "xy");
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "x%cy %ls", 0, L"w"), 0);
    snprintf(want[n++], sizeof want[0], "xy w");
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "after"), 0);
    snprintf(want[n++], sizeof want[0], "after");
    logshare_close(ls);
    expect_full_messages(dir, want, n);
    tu_rmrf(dir);
    free(dir);
}

static void long_messages_are_cut_visibly(void **state)
{
    (void)state;
    char *dir;
    logshare *ls = tu_open_plain("long", -1, &dir);
    char *big = malloc(10001);
    memset(big, 'a', 10000);
    big[10000] = '\0';
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "deferred %s", big), 0);
    assert_int_equal(logshare_log(ls, 0, LOGSHARE_LEVEL_INFO, "eager %s", big), 0);
    logshare_close(ls);
    struct full_messages f = {0};
    tu_read_dir(dir, NULL, full_record, &f, NULL);
    assert_int_equal(f.n, 2);
    for (int i = 0; i < 2; i++) {
        assert_true(f.len[i] < 4100 && f.len[i] > 3900);
        assert_non_null(strstr(f.msg[i], "...[truncated]"));
    }
    full_messages_free(&f);
    free(big);
    tu_rmrf(dir);
    free(dir);
}

static void records_below_the_minimum_level_are_discarded(void **state)
{
    (void)state;
    char *dir;
    logshare *ls = tu_open_plain("level", LOGSHARE_LEVEL_WARN, &dir);
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_DEBUG, "hidden %d", 1), 0);
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_ERROR, "shown %d", 2), 0);
    assert_int_equal(LOGSHARE_LOG(ls, 1, LOGSHARE_LEVEL_ERROR, "no such stream"), LOGSHARE_EINVAL);
    assert_int_equal(LOGSHARE_LOG(ls, 0, (logshare_level)9, "bad level"), LOGSHARE_EINVAL);
    uint64_t full;
    logshare_get_counts(ls, NULL, &full, NULL);
    assert_int_equal(full, 0);
    logshare_close(ls);
    struct collect c;
    collect_dir(dir, NULL, &c, NULL);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.msgs[0], "shown 2");
    tu_rmrf(dir);
    free(dir);
}

static void support_files_are_flushed_and_carry_time_ranges(void **state)
{
    (void)state;
    char *dir, *pub, *sec;
    logshare *ls = open_two_streams("support", &dir, &pub, &sec);
    struct timespec before;
    clock_gettime(CLOCK_REALTIME, &before);
    int64_t t0 = (int64_t)before.tv_sec * 1000000 + before.tv_nsec / 1000;
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "call %s started", "c-1"), 0);
    usleep(20000);
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "call %s ended", "c-1"), 0);
    /* No flush: get_support_files must flush by itself. */
    logshare_support_file *files = NULL;
    size_t n = 0;
    assert_int_equal(logshare_get_support_files(ls, &files, &n), 0);
    assert_int_equal(n, 2); /* a new file per stream at open */
    assert_string_equal(files[0].stream, "calling");
    assert_string_equal(files[1].stream, "media");
    assert_true(files[0].seq < files[1].seq);
    assert_true(files[0].first_time_us >= t0 - 1000); /* cycle-counter time: within 1 ms */
    assert_true(files[0].last_time_us >= files[0].first_time_us + 20000);
    assert_int_equal(files[1].first_time_us, 0); /* nothing logged to media */
    struct stat st;
    assert_int_equal(stat(files[0].path, &st), 0);
    assert_int_equal((uint64_t)st.st_size, files[0].size);
    logshare_support_files_free(files, n);
    logshare_support_files_free(NULL, 0);
    /* A second handle on the same directory is refused. */
    const char *streams[] = {"calling", "media", NULL};
    logshare_options *o = tu_options(dir, pub, streams);
    logshare *other = NULL;
    assert_int_equal(logshare_open(o, &other), LOGSHARE_EBUSY);
    assert_null(other);
    logshare_options_free(o);
    logshare_close(ls);
    logshare_close(NULL);
    free(pub);
    free(sec);
    tu_rmrf(dir);
    free(dir);
}

/* Reads a whole file; the number of records, failing on anything but a
 * clean end (a torn tail included). */
static long read_complete_file(const char *path, const char *sec)
{
    logshare_reader *r = NULL;
    assert_int_equal(logshare_reader_open(path, sec, &r), 0);
    logshare_record rec;
    long n = 0;
    int rc;
    while ((rc = logshare_reader_next(r, &rec)) == 1)
        n++;
    assert_int_equal(rc, 0); /* not LOGSHARE_ETRUNCATED: the file is finished */
    logshare_reader_close(r);
    return n;
}

/* The files handed out for a support request are complete: the ones
 * being written are finished first, so none reads as a torn tail, and
 * logging goes on into new files. */
static void support_files_are_complete_and_logging_goes_on(void **state)
{
    (void)state;
    char *dir, *pub, *sec;
    logshare *ls = open_two_streams("complete", &dir, &pub, &sec);
    for (int i = 0; i < 3; i++)
        assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "first %d", i), 0);
    logshare_support_file *files = NULL;
    size_t n = 0;
    assert_int_equal(logshare_get_support_files(ls, &files, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(read_complete_file(files[0].path, sec), 3);
    assert_int_equal(read_complete_file(files[1].path, sec), 0);
    uint64_t first_seq = files[0].seq;
    logshare_support_files_free(files, n);
    for (int i = 0; i < 2; i++)
        assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "second %d", i), 0);
    assert_int_equal(logshare_get_support_files(ls, &files, &n), 0);
    assert_int_equal(n, 3); /* the new calling file; media had nothing new */
    long total = 0;
    for (size_t i = 0; i < n; i++)
        total += read_complete_file(files[i].path, sec);
    assert_int_equal(total, 5);
    assert_string_equal(files[2].stream, "calling");
    assert_true(files[2].seq > first_seq);
    assert_int_equal(read_complete_file(files[2].path, sec), 2);
    logshare_support_files_free(files, n);
    assert_int_equal(LOGSHARE_LOG(ls, 1, LOGSHARE_LEVEL_INFO, "third %d", 0), 0);
    logshare_close(ls);
    struct collect c;
    int torn = 0;
    collect_dir(dir, sec, &c, &torn);
    assert_int_equal(torn, 0);
    assert_int_equal(c.n, 6);
    assert_string_equal(c.msgs[5], "third 0");
    free(pub);
    free(sec);
    tu_rmrf(dir);
    free(dir);
}

static void bad_options_are_refused_with_named_errors(void **state)
{
    (void)state;
    logshare_options *o = logshare_options_new();
    logshare *ls = NULL;
    assert_int_equal(logshare_options_set_dir(o, ""), LOGSHARE_EINVAL);
    assert_int_equal(logshare_options_add_stream(o, "Bad.Name"), LOGSHARE_EINVAL);
    assert_int_equal(logshare_options_add_stream(o, "calling"), 0);
    assert_int_equal(logshare_options_add_stream(o, "calling"), LOGSHARE_EINVAL);
    assert_int_equal(logshare_options_set_max_file_bytes(o, 100), LOGSHARE_EINVAL);
    assert_int_equal(logshare_options_set_buffer_bytes(o, 10), LOGSHARE_EINVAL);
    assert_int_equal(logshare_options_set_dir(o, "/tmp/logshare-never-made"), 0);
    assert_int_equal(logshare_open(o, &ls), LOGSHARE_EINVAL); /* no key, no plaintext */
    assert_int_equal(logshare_options_set_public_key(o, "logshare-pk-1:not base64!"),
                     LOGSHARE_EKEY);
    assert_int_equal(logshare_open(o, &ls), LOGSHARE_EKEY);
    /* Well-formed but unusable: a low-order point no seal accepts. */
    assert_int_equal(logshare_options_set_public_key(
                         o, "logshare-pk-1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"),
                     LOGSHARE_EKEY);
    assert_int_equal(logshare_open(o, &ls), LOGSHARE_EKEY);
    assert_null(ls);
    char *pub, *sec;
    tu_keys(&pub, &sec);
    /* A secret key where the public one belongs is refused, not used. */
    assert_int_equal(logshare_options_set_public_key(o, sec), LOGSHARE_EKEY);
    assert_int_equal(logshare_options_set_public_key_file(o, "/nonexistent/k.pub"),
                     LOGSHARE_ENOENT);
    assert_int_equal(logshare_open(o, &ls), LOGSHARE_ENOENT);
    assert_null(ls);
    logshare_options_free(o);
    logshare_options_free(NULL);
    free(pub);
    free(sec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(million_records_from_eight_threads_round_trip_in_order),
        cmocka_unit_test(plaintext_files_read_back_without_a_key),
        cmocka_unit_test(deferred_formatting_matches_printf),
        cmocka_unit_test(call_site_arguments_match_printf),
        cmocka_unit_test(strings_of_every_length_and_alignment_round_trip),
        cmocka_unit_test(precision_strings_are_read_only_up_to_the_precision),
        cmocka_unit_test(long_strings_keep_their_width_and_precision),
        cmocka_unit_test(wide_stars_and_nul_characters_read_back_as_printf_prints_them),
        cmocka_unit_test(long_messages_are_cut_visibly),
        cmocka_unit_test(records_below_the_minimum_level_are_discarded),
        cmocka_unit_test(support_files_are_flushed_and_carry_time_ranges),
        cmocka_unit_test(support_files_are_complete_and_logging_goes_on),
        cmocka_unit_test(bad_options_are_refused_with_named_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
