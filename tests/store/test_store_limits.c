/*
 * test_store_limits.c - the store stays within its bounds and survives
 * bad conditions: quota and rotation over many opens (the outbox left
 * alone), maximum age, drops counted while the writer is held back, an
 * unwritable directory and a full disk that turn into counted drops and
 * recover when the condition goes away.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "ls_hex.h"
#include "sodium.h"
#include "store.h"
#include "store_testutil.h"

static void random_hex(char *out, size_t bytes)
{
    unsigned char b[128];
    randombytes_buf(b, bytes);
    ls_hex_encode(b, bytes, out);
}

static void quota_and_rotation_hold_over_many_opens(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("quota");
    char *pub, *sec;
    tu_keys(&pub, &sec);
    const uint64_t max_total = 160 * 1024, max_file = 32 * 1024;
    /* The outbox belongs to the sharing code: never counted or touched. */
    char *outbox = tu_path(dir, "outbox");
    assert_int_equal(mkdir(outbox, 0700), 0);
    char *queued = tu_path(outbox, "report-1.json");
    FILE *f = fopen(queued, "w");
    for (int i = 0; i < 40000; i++)
        fputs("queued report bytes\n", f);
    fclose(f);
    const char *streams[] = {"calling", "media", NULL};
    uint64_t last_seq = 0;
    int rotated = 0;
    for (int open_no = 0; open_no < 25; open_no++) {
        logshare_options *o = tu_options(dir, pub, streams);
        assert_int_equal(logshare_options_set_max_total_bytes(o, max_total), 0);
        assert_int_equal(logshare_options_set_max_file_bytes(o, max_file), 0);
        logshare *ls = tu_open(o);
        logshare_options_free(o);
        for (int i = 0; i < 1500; i++) {
            char hex[129];
            random_hex(hex, 60); /* incompressible, so files really fill */
            assert_int_equal(
                LOGSHARE_LOG(ls, i % 2, LOGSHARE_LEVEL_INFO, "open %d rec %d %s", open_no, i, hex),
                0);
            if (i % 300 == 299) {
                assert_int_equal(logshare_flush(ls, 0), 0);
                assert_true(tu_log_bytes(dir, NULL) <= max_total);
            }
        }
        logshare_close(ls);
        size_t n;
        uint64_t total = tu_log_bytes(dir, &n);
        assert_true(total <= max_total);
        logshare_support_file *files;
        assert_int_equal(logshare_list_support_files(dir, &files, &n), 0);
        for (size_t i = 0; i < n; i++) {
            assert_true(files[i].size <= max_file);
            if (i)
                assert_true(files[i].seq > files[i - 1].seq);
        }
        /* The newest files survive: oldest go first. */
        assert_true(files[n - 1].seq > last_seq);
        if (files[n - 1].seq - last_seq > 2)
            rotated = 1;
        last_seq = files[n - 1].seq;
        logshare_support_files_free(files, n);
    }
    assert_true(rotated);
    struct stat st;
    assert_int_equal(stat(queued, &st), 0);
    assert_int_equal(st.st_size, 40000 * 20);
    int torn = 0;
    size_t records = tu_read_dir(dir, sec, NULL, NULL, &torn);
    assert_int_equal(torn, 0);
    assert_true(records > 0);
    free(queued);
    free(outbox);
    free(pub);
    free(sec);
    tu_rmrf(dir);
    free(dir);
}

static void files_older_than_the_maximum_age_are_deleted(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("age");
    logshare_options *o = tu_options(dir, NULL, NULL);
    logshare *ls = tu_open(o);
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "old news"), 0);
    logshare_close(ls);
    logshare_support_file *files;
    size_t n;
    assert_int_equal(logshare_list_support_files(dir, &files, &n), 0);
    assert_int_equal(n, 1);
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= 10 * 86400;
    tv[1] = tv[0];
    assert_int_equal(utimes(files[0].path, tv), 0);
    char *old_path = strdup(files[0].path);
    logshare_support_files_free(files, n);
    assert_int_equal(logshare_options_set_max_age_seconds(o, 7 * 86400), 0);
    ls = tu_open(o);
    logshare_options_free(o);
    assert_int_equal(access(old_path, F_OK), -1);
    assert_int_equal(logshare_get_support_files(ls, &files, &n), 0);
    assert_int_equal(n, 1); /* only this open's new file */
    logshare_support_files_free(files, n);
    logshare_close(ls);
    free(old_path);
    tu_rmrf(dir);
    free(dir);
}

/* The largest maximum age the setter takes means "never": files of
 * earlier opens stay (the cutoff overflowed into the future and every
 * file not being written was deleted at open). */
static void a_maximum_age_of_centuries_deletes_nothing(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("age-max");
    logshare_options *o = tu_options(dir, NULL, NULL);
    const int64_t ages[] = {INT64_MAX, INT64_MAX / 1000000 + 1, 9223372036854LL};
    for (size_t i = 0; i < sizeof ages / sizeof ages[0]; i++) {
        assert_int_equal(logshare_options_set_max_age_seconds(o, ages[i]), 0);
        logshare *ls = tu_open(o);
        assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "open %d", (int)i), 0);
        logshare_close(ls);
    }
    logshare_options_free(o);
    size_t n;
    tu_log_bytes(dir, &n);
    assert_int_equal(n, 3); /* one file per open, none deleted */
    tu_rmrf(dir);
    free(dir);
}

/* Only the names the store makes are its files: another spelling of a
 * sequence number is not taken for (and listed as) the store's own. */
static void files_with_other_names_are_not_the_stores(void **state)
{
    (void)state;
    char *dir;
    logshare *ls = tu_open_plain("names", -1, &dir);
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "mine"), 0);
    logshare_close(ls);
    const char *foreign[] = {"main.00000000001.lslog", "main.1.lslog", "main.000000001.lslog"};
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
        char *p = tu_path(dir, foreign[i]);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs("not a log", f);
        fclose(f);
        free(p);
    }
    logshare_support_file *files;
    size_t n;
    assert_int_equal(logshare_list_support_files(dir, &files, &n), 0);
    assert_int_equal(n, 1);
    assert_non_null(strstr(files[0].path, "/main.0000000001.lslog"));
    logshare_support_files_free(files, n);
    tu_rmrf(dir);
    free(dir);
}

/* A huge max_file_bytes is lowered to what the quota can hold per
 * stream (the product with the stream count used to overflow and leave
 * it huge: the file never rotated and the quota refused its writes).
 * Also: a negative flush timeout waits as long as it takes. */
static void a_huge_file_size_is_lowered_to_fit_the_quota(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("hugefile");
    const char *streams[] = {"calling", "media", NULL};
    logshare_options *o = tu_options(dir, NULL, streams);
    assert_int_equal(logshare_options_set_max_total_bytes(o, 96 * 1024), 0);
    assert_int_equal(logshare_options_set_max_file_bytes(o, (1ull << 63) + 4096), 0);
    logshare *ls = tu_open(o);
    logshare_options_free(o);
    for (int i = 0; i < 3000; i++) {
        char hex[129];
        random_hex(hex, 60);
        assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "rec %d %s", i, hex), 0);
        if (i % 200 == 199)
            assert_int_equal(logshare_flush(ls, -1), 0);
    }
    assert_int_equal(logshare_flush(ls, -1), 0);
    uint64_t failed;
    logshare_get_counts(ls, NULL, NULL, &failed);
    assert_int_equal(failed, 0);
    logshare_close(ls);
    size_t nfiles;
    assert_true(tu_log_bytes(dir, &nfiles) <= 96 * 1024);
    assert_true(nfiles > 2); /* rotated */
    tu_rmrf(dir);
    free(dir);
}

struct small_file_check {
    long records, notes, bad;
    uint64_t noted;
};

static void small_file_record(const logshare_record *rec, void *ctx)
{
    struct small_file_check *c = ctx;
    unsigned long long n;
    if (sscanf(rec->message, "logshare: %llu records dropped", &n) == 1) {
        c->notes++;
        c->noted += n;
    } else if (strncmp(rec->message, "rec ", 4) == 0) {
        c->records++;
    } else {
        c->bad++;
    }
}

/* 16 streams in the smallest quota: open lowers max_file_bytes to
 * 2 KiB. A record no file that small can hold used to go into a file of
 * its own anyway, past max_file_bytes (and the quota had to delete the
 * others to make room): now it is dropped and counted like a record the
 * disk refused, and no file ever exceeds max_file_bytes. */
static void no_file_outgrows_a_max_file_size_lowered_below_a_record(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("smallfiles");
    const char *streams[] = {"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8",
                             "s9", "sa", "sb", "sc", "sd", "se", "sf", NULL};
    logshare_options *o = tu_options(dir, NULL, streams);
    const uint64_t max_total = 32768, max_file = max_total / 16;
    assert_int_equal(logshare_options_set_max_total_bytes(o, max_total), 0);
    logshare *ls = tu_open(o);
    logshare_options_free(o);
    long logged = 0;
    for (int round = 0; round < 40; round++) {
        for (int s = 0; s < 16; s++) {
            char hex[129];
            random_hex(hex, 40); /* 80 incompressible characters: fits */
            assert_int_equal(LOGSHARE_LOG(ls, s, LOGSHARE_LEVEL_INFO, "rec %s", hex), 0);
            logged++;
        }
        if (round % 4 == 0) {
            /* 3900 random characters of 64: about 2.9 KiB however
             * compressed, which no 2 KiB file holds. */
            static const char abc[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            unsigned char raw[3900];
            char big[3901];
            randombytes_buf(raw, sizeof raw);
            for (size_t i = 0; i < sizeof raw; i++)
                big[i] = abc[raw[i] % 64];
            big[sizeof raw] = '\0';
            assert_int_equal(logshare_log(ls, round % 16, LOGSHARE_LEVEL_INFO, "rec %s", big), 0);
            logged++;
        }
        /* The flush says a record was lost since the last one, and why. */
        assert_int_equal(logshare_flush(ls, 0), round % 4 == 0 ? LOGSHARE_ETOOLARGE : 0);
        logshare_support_file *files;
        size_t n;
        assert_int_equal(logshare_list_support_files(dir, &files, &n), 0);
        uint64_t total = 0;
        for (size_t i = 0; i < n; i++) {
            assert_true(files[i].size <= max_file);
            total += files[i].size;
        }
        assert_true(total <= max_total);
        logshare_support_files_free(files, n);
    }
    uint64_t written, full, failed;
    logshare_get_counts(ls, &written, &full, &failed);
    assert_int_equal(full, 0);
    assert_int_equal(failed, 10); /* the big ones, and only they */
    assert_int_equal(written + failed, (uint64_t)logged);
    logshare_close(ls);
    /* What is left reads back whole; the newest drop notes are there. */
    struct small_file_check c = {0, 0, 0, 0};
    tu_read_dir(dir, NULL, small_file_record, &c, NULL);
    assert_int_equal(c.bad, 0);
    assert_true(c.records > 0);
    assert_true(c.notes > 0);
    size_t nfiles;
    assert_true(tu_log_bytes(dir, &nfiles) <= max_total);
    tu_rmrf(dir);
    free(dir);
}

struct drop_check {
    long records;
    int note_before_after;
    char note[256];
    char prev[256];
};

static void drop_record(const logshare_record *rec, void *ctx)
{
    struct drop_check *c = ctx;
    if (strcmp(rec->message, "after the hold") == 0 && strstr(c->prev, "records dropped")) {
        c->note_before_after = 1;
        snprintf(c->note, sizeof c->note, "%s", c->prev);
    }
    snprintf(c->prev, sizeof c->prev, "%s", rec->message);
    c->records++;
}

static void records_are_dropped_and_counted_while_the_writer_is_held_back(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("drops");
    logshare_options *o = tu_options(dir, NULL, NULL);
    assert_int_equal(logshare_options_set_buffer_bytes(o, 65536), 0);
    logshare *ls = tu_open(o);
    logshare_options_free(o);
    store_test_hold_writer(ls, 1);
    long ok = 0, dropped = 0;
    for (int i = 0; i < 10000; i++) {
        int rc = LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "burst %d", i);
        if (rc == 0)
            ok++;
        else if (rc == LOGSHARE_ENOSPC)
            dropped++;
        else
            fail_msg("unexpected %d", rc);
    }
    assert_true(dropped > 0 && ok > 0);
    uint64_t full;
    logshare_get_counts(ls, NULL, &full, NULL);
    assert_int_equal(full, (uint64_t)dropped);
    store_test_hold_writer(ls, 0);
    assert_int_equal(logshare_flush(ls, 0), 0);
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "after the hold"), 0);
    logshare_close(ls);
    struct drop_check c;
    memset(&c, 0, sizeof c);
    tu_read_dir(dir, NULL, drop_record, &c, NULL);
    assert_int_equal(c.records, ok + 2); /* + the note + "after" */
    assert_true(c.note_before_after);
    char want[128];
    snprintf(want, sizeof want,
             "logshare: %ld records dropped because the logging thread's buffer was full", dropped);
    assert_string_equal(c.note, want);
    tu_rmrf(dir);
    free(dir);
}

struct seen {
    char msgs[32][256];
    int n;
};

static void seen_record(const logshare_record *rec, void *ctx);

/* Reads dir and expects exactly two records: the note of `lost` records
 * that could not be written, then `next`. torn may be NULL (a torn file
 * is then an error). */
static void expect_lost_note_then(const char *dir, int lost, const char *next, int *torn)
{
    struct seen s;
    memset(&s, 0, sizeof s);
    tu_read_dir(dir, NULL, seen_record, &s, torn);
    char note[128];
    snprintf(note, sizeof note,
             "logshare: %d records dropped because they could not be written (a disk error, or a "
             "record too large for a log file)",
             lost);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.msgs[0], note);
    assert_string_equal(s.msgs[1], next);
}

/* The count reaches the file although the thread that dropped never
 * logs again: the writer notes it when it next drains (here at close),
 * not the next call of the same thread. Two threads, two streams: each
 * stream gets its own exact count. */
struct burst {
    logshare *ls;
    int stream;
    long ok, dropped;
};

static void *burst_thread(void *arg)
{
    struct burst *b = arg;
    for (int i = 0; i < 10000; i++) {
        int rc = LOGSHARE_LOG(b->ls, b->stream, LOGSHARE_LEVEL_INFO, "burst %d", i);
        if (rc == 0)
            b->ok++;
        else if (rc == LOGSHARE_ENOSPC)
            b->dropped++;
    }
    return NULL;
}

static void drop_counts_reach_the_file_with_no_later_record(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("dropnote");
    const char *streams[] = {"calling", "media", NULL};
    logshare_options *o = tu_options(dir, NULL, streams);
    assert_int_equal(logshare_options_set_buffer_bytes(o, 65536), 0);
    logshare *ls = tu_open(o);
    logshare_options_free(o);
    store_test_hold_writer(ls, 1);
    struct burst b[2] = {{ls, 0, 0, 0}, {ls, 1, 0, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, burst_thread, &b[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_true(b[0].dropped > 0 && b[1].dropped > 0);
    store_test_hold_writer(ls, 0);
    logshare_close(ls); /* no record after the drops */
    logshare_support_file *files;
    size_t nf;
    assert_int_equal(logshare_list_support_files(dir, &files, &nf), 0);
    assert_int_equal(nf, 2);
    for (size_t f = 0; f < nf; f++) {
        struct seen s;
        memset(&s, 0, sizeof s);
        logshare_reader *r;
        assert_int_equal(logshare_reader_open(files[f].path, NULL, &r), 0);
        logshare_record rec;
        char last[256] = "";
        long n = 0;
        while (logshare_reader_next(r, &rec) == 1) {
            snprintf(last, sizeof last, "%s", rec.message);
            n++;
        }
        logshare_reader_close(r);
        int i = strcmp(files[f].stream, "calling") == 0 ? 0 : 1;
        assert_int_equal(n, b[i].ok + 1);
        char want[128];
        snprintf(want, sizeof want,
                 "logshare: %ld records dropped because the logging thread's buffer was full",
                 b[i].dropped);
        assert_string_equal(last, want);
    }
    logshare_support_files_free(files, nf);
    tu_rmrf(dir);
    free(dir);
}

static void seen_record(const logshare_record *rec, void *ctx)
{
    struct seen *s = ctx;
    if (s->n < 32)
        snprintf(s->msgs[s->n], sizeof s->msgs[0], "%s", rec->message);
    s->n++;
}

static void an_unwritable_directory_drops_and_counts_then_recovers(void **state)
{
    (void)state;
    char *base = tu_tmpdir("unwritable");
    char *blocker = tu_path(base, "blocker");
    char *dir = tu_path(blocker, "store");
    FILE *f = fopen(blocker, "w"); /* a file where a directory must go: works even as root */
    fclose(f);
    logshare_options *o = tu_options(dir, NULL, NULL);
    logshare *ls = tu_open(o); /* opens anyway: logging must not fail the app */
    logshare_options_free(o);
    assert_int_not_equal(logshare_last_error(ls), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "lost %d", i), 0);
    assert_int_not_equal(logshare_flush(ls, 0), 0);
    uint64_t written, full, failed;
    logshare_get_counts(ls, &written, &full, &failed);
    assert_int_equal(failed, 10);
    assert_int_equal(written, 0);
    /* Listing a directory that does not exist says so. */
    logshare_support_file *files;
    size_t n;
    assert_int_not_equal(logshare_get_support_files(ls, &files, &n), 0);
    /* The condition goes away; the writer retries about once a second. */
    assert_int_equal(unlink(blocker), 0);
    usleep(1200 * 1000);
    /* The loss is noted by the writer, without waiting for a record. */
    assert_int_equal(logshare_flush(ls, 0), 0);
    struct seen early;
    memset(&early, 0, sizeof early);
    int torn_now; /* the file is still being written: no final frame yet */
    tu_read_dir(dir, NULL, seen_record, &early, &torn_now);
    assert_int_equal(early.n, 1);
    assert_string_equal(early.msgs[0],
                        "logshare: 10 records dropped because they could not be written (a disk "
                        "error, or a record too large for a log file)");
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "back %d", 1), 0);
    assert_int_equal(logshare_flush(ls, 0), 0);
    assert_int_equal(logshare_last_error(ls), 0);
    logshare_close(ls);
    expect_lost_note_then(dir, 10, "back 1", NULL);
    tu_rmrf(base);
    free(dir);
    free(blocker);
    free(base);
}

/* Opens a plaintext store, logs 5 records and flushes them, removes the
 * store directory, and logs 3 more: what the writer must now count as
 * lost. */
static logshare *log_then_remove_dir(const char *name, char **dir)
{
    logshare *ls = tu_open_plain(name, -1, dir);
    for (int i = 0; i < 5; i++)
        assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "before %d", i), 0);
    assert_int_equal(logshare_flush(ls, 0), 0);
    tu_rmrf(*dir);
    for (int i = 0; i < 3; i++)
        assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "into the void %d", i), 0);
    return ls;
}

/* The store directory removed under a running store: the writer
 * notices (at flush, or within about a second), reports it, counts what
 * it could not keep, makes the directory, lock and files anew, and
 * logging goes on there. */
static void a_removed_directory_is_reported_and_made_again(void **state)
{
    (void)state;
    char *dir;
    logshare *ls = log_then_remove_dir("removed", &dir);
    assert_int_equal(logshare_flush(ls, 0), LOGSHARE_ENOENT);
    assert_int_equal(logshare_last_error(ls), LOGSHARE_ENOENT);
    uint64_t written, failed;
    logshare_get_counts(ls, &written, NULL, &failed);
    assert_int_equal(written, 5);
    assert_int_equal(failed, 3);
    /* The directory is back, locked again. */
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    logshare_options *o = tu_options(dir, NULL, NULL);
    logshare *other = NULL;
    assert_int_equal(logshare_open(o, &other), LOGSHARE_EBUSY);
    logshare_options_free(o);
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "after %d", 1), 0);
    assert_int_equal(logshare_flush(ls, 0), 0);
    assert_int_equal(logshare_last_error(ls), 0);
    int torn = 0; /* still being written: no final frame yet */
    expect_lost_note_then(dir, 3, "after 1", &torn);
    /* Without a flush, the once-a-second check finds it too. */
    tu_rmrf(dir);
    for (int i = 0; i < 100 && logshare_last_error(ls) != LOGSHARE_ENOENT; i++)
        usleep(100 * 1000); /* about a second; up to 10 on a loaded machine */
    assert_int_equal(logshare_last_error(ls), LOGSHARE_ENOENT);
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "after %d", 2), 0);
    logshare_close(ls);
    struct seen s;
    memset(&s, 0, sizeof s);
    tu_read_dir(dir, NULL, seen_record, &s, &torn);
    assert_int_equal(torn, 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.msgs[0], "after 2");
    tu_rmrf(dir);
    free(dir);
}

/* Records the writer writes by itself (its frame timer, no flush) after
 * the directory was removed go into a file nobody can read: they are
 * counted as lost, not as written, and the count reaches the new file. */
static void records_written_into_a_removed_directory_are_counted(void **state)
{
    (void)state;
    char *dir;
    logshare *ls = log_then_remove_dir("removed-timer", &dir);
    uint64_t written = 0, failed = 0;
    for (int i = 0; i < 200 && written + failed < 8; i++) {
        usleep(50 * 1000); /* the frame timer is 250 ms; up to 10 s on a loaded machine */
        logshare_get_counts(ls, &written, NULL, &failed);
    }
    assert_int_equal(written, 5);
    assert_int_equal(failed, 3);
    for (int i = 0; i < 200 && logshare_last_error(ls) != LOGSHARE_ENOENT; i++)
        usleep(50 * 1000);
    assert_int_equal(logshare_last_error(ls), LOGSHARE_ENOENT);
    assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "after %d", 1), 0);
    logshare_close(ls);
    expect_lost_note_then(dir, 3, "after 1", NULL);
    tu_rmrf(dir);
    free(dir);
}

/* Runs in a child (RLIMIT_FSIZE is per process): the file size limit
 * plays the full disk. Returns the exit status for the parent. */
static int full_disk_child(const char *dir)
{
    logshare_options *o = tu_options(dir, NULL, NULL);
    logshare *ls = NULL;
    if (logshare_open(o, &ls) != 0)
        return 10;
    logshare_options_free(o);
    for (int i = 0; i < 5; i++)
        LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "before %d", i);
    if (logshare_flush(ls, 0) != 0)
        return 11;
    signal(SIGXFSZ, SIG_IGN);
    logshare_support_file *files;
    size_t n;
    if (logshare_list_support_files(dir, &files, &n) != 0 || n != 1)
        return 12;
    struct rlimit rl = {(rlim_t)files[0].size + 100, RLIM_INFINITY};
    logshare_support_files_free(files, n);
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 13;
    for (int i = 0; i < 200; i++) {
        char hex[129];
        random_hex(hex, 60);
        LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "full %d %s", i, hex);
    }
    if (logshare_flush(ls, 0) == 0 || logshare_last_error(ls) == 0)
        return 14;
    uint64_t failed;
    logshare_get_counts(ls, NULL, NULL, &failed);
    if (failed != 200)
        return 15;
    rl.rlim_cur = RLIM_INFINITY;
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 16;
    LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "space is back");
    if (logshare_flush(ls, 0) != 0 || logshare_last_error(ls) != 0)
        return 17;
    logshare_close(ls);
    return 0;
}

/* Runs in a child (RLIMIT_FSIZE is per process): the "big" stream's
 * file is at the size limit, the "small" stream's file far below it. */
static int one_stream_full_child(const char *dir)
{
    const char *streams[] = {"big", "small", NULL};
    logshare_options *o = tu_options(dir, NULL, streams);
    logshare *ls = NULL;
    if (logshare_open(o, &ls) != 0)
        return 10;
    logshare_options_free(o);
    for (int i = 0; i < 300; i++) {
        char hex[129];
        random_hex(hex, 60);
        LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "before %d %s", i, hex);
    }
    LOGSHARE_LOG(ls, 1, LOGSHARE_LEVEL_INFO, "small before");
    if (logshare_flush(ls, 0) != 0)
        return 11;
    signal(SIGXFSZ, SIG_IGN);
    logshare_support_file *files;
    size_t n;
    if (logshare_list_support_files(dir, &files, &n) != 0 || n != 2 ||
        files[0].size < files[1].size + 1000)
        return 12;
    struct rlimit rl = {(rlim_t)files[0].size, RLIM_INFINITY};
    logshare_support_files_free(files, n);
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 13;
    for (int i = 0; i < 200; i++) {
        char hex[129];
        random_hex(hex, 60);
        LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "lost %d %s", i, hex);
    }
    LOGSHARE_LOG(ls, 1, LOGSHARE_LEVEL_INFO, "small after");
    /* The small stream's frame, written after the big one failed, set
     * last_error back to 0: the flush used to return 0 with 200 records
     * logged before it lost. */
    int rc = logshare_flush(ls, 0);
    uint64_t written, failed;
    logshare_get_counts(ls, &written, NULL, &failed);
    if (failed != 200 || written != 302)
        return 14;
    if (rc == 0)
        return 15;
    /* The big stream still cannot write, not even its loss note: the
     * small stream's good writes do not hide that (they cleared it). */
    LOGSHARE_LOG(ls, 1, LOGSHARE_LEVEL_INFO, "small again");
    if (logshare_flush(ls, 0) == 0 || logshare_last_error(ls) == 0)
        return 16;
    /* The limit goes: the note is written, the error cleared, and the
     * loss, already reported, is not reported again. */
    rl.rlim_cur = RLIM_INFINITY;
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 17;
    if (logshare_flush(ls, 0) != 0 || logshare_last_error(ls) != 0)
        return 18;
    logshare_close(ls);
    return 0;
}

/* Runs child(dir) in a forked process (its resource limits stay there)
 * and checks that it exited 0. */
static void run_child(int (*child)(const char *), const char *dir)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child(dir));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void a_flush_reports_records_lost_even_after_another_stream_wrote(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("onefull");
    run_child(one_stream_full_child, dir);
    tu_rmrf(dir);
    free(dir);
}

static void a_full_disk_drops_and_counts_then_recovers_in_the_same_file(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("full");
    run_child(full_disk_child, dir);
    struct seen s;
    memset(&s, 0, sizeof s);
    int torn = 0;
    tu_read_dir(dir, NULL, seen_record, &s, &torn);
    assert_int_equal(torn, 0);
    assert_int_equal(s.n, 7);
    assert_string_equal(s.msgs[4], "before 4");
    assert_string_equal(s.msgs[5], "logshare: 200 records dropped because they could not be "
                                   "written (a disk error, or a record too large for a log file)");
    assert_string_equal(s.msgs[6], "space is back");
    size_t nfiles;
    tu_log_bytes(dir, &nfiles);
    assert_int_equal(nfiles, 1); /* the file was cut back and went on */
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quota_and_rotation_hold_over_many_opens),
        cmocka_unit_test(files_older_than_the_maximum_age_are_deleted),
        cmocka_unit_test(a_maximum_age_of_centuries_deletes_nothing),
        cmocka_unit_test(files_with_other_names_are_not_the_stores),
        cmocka_unit_test(a_huge_file_size_is_lowered_to_fit_the_quota),
        cmocka_unit_test(no_file_outgrows_a_max_file_size_lowered_below_a_record),
        cmocka_unit_test(records_are_dropped_and_counted_while_the_writer_is_held_back),
        cmocka_unit_test(drop_counts_reach_the_file_with_no_later_record),
        cmocka_unit_test(an_unwritable_directory_drops_and_counts_then_recovers),
        cmocka_unit_test(a_full_disk_drops_and_counts_then_recovers_in_the_same_file),
        cmocka_unit_test(a_flush_reports_records_lost_even_after_another_stream_wrote),
        cmocka_unit_test(a_removed_directory_is_reported_and_made_again),
        cmocka_unit_test(records_written_into_a_removed_directory_are_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
