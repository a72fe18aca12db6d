/*
 * test_store_reader_input.c - the reader on the inputs it is handed
 * besides a store's own small files: a file of 16 MiB and more (read
 * through a window, not whole), such a file cut while it is being read
 * (it must end as a torn tail, not a SIGBUS), and a log that arrives
 * through a pipe (`logshare decrypt /dev/stdin`).
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>

#include "store_testutil.h"

#define BIG_RECORDS 16000
#define BIG_TEXT 2000

/* A store file of well over 16 MiB: random text does not compress. The
 * records are "n <i> <text>". Returns its path (caller frees). */
static char *big_file(char **dir)
{
    *dir = tu_tmpdir("reader-big");
    logshare_options *o = tu_options(*dir, NULL, NULL);
    assert_int_equal(logshare_options_set_max_file_bytes(o, 64u << 20), 0);
    assert_int_equal(logshare_options_set_max_total_bytes(o, 256u << 20), 0);
    assert_int_equal(logshare_options_set_buffer_bytes(o, 64u << 20), 0);
    logshare *ls = tu_open(o);
    logshare_options_free(o);
    static const char alphabet[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
    char text[BIG_TEXT + 1];
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < BIG_RECORDS; i++) {
        for (int k = 0; k < BIG_TEXT; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            text[k] = alphabet[x & 63];
        }
        text[BIG_TEXT] = '\0';
        assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "n %d %s", i, text), 0);
        if (i % 1000 == 999)
            assert_int_equal(logshare_flush(ls, 0), 0);
    }
    logshare_close(ls);
    logshare_support_file *files;
    size_t n;
    assert_int_equal(logshare_list_support_files(*dir, &files, &n), 0);
    assert_int_equal(n, 1);
    assert_true(files[0].size > (20u << 20));
    char *path = strdup(files[0].path);
    logshare_support_files_free(files, n);
    return path;
}

/* Reads the rest of the records; checks they are "n <count> ...",
 * "n <count + 1> ...", in order, counting on from *count. Returns the
 * reader's last status (0 at a clean end). */
static int read_all(logshare_reader *r, int *count)
{
    logshare_record rec;
    int rc;
    while ((rc = logshare_reader_next(r, &rec)) == 1) {
        char want[32];
        int n = snprintf(want, sizeof want, "n %d ", *count);
        assert_int_equal(strncmp(rec.message, want, (size_t)n), 0);
        assert_int_equal(rec.message_len, (size_t)n + BIG_TEXT);
        (*count)++;
    }
    return rc;
}

static void a_large_file_reads_whole_through_its_window(void **state)
{
    (void)state;
    char *dir, *path = big_file(&dir);
    logshare_reader *r = NULL;
    assert_int_equal(logshare_reader_open(path, NULL, &r), 0);
    int count = 0;
    assert_int_equal(read_all(r, &count), 0);
    assert_int_equal(count, BIG_RECORDS);
    logshare_reader_close(r);
    tu_rmrf(dir);
    free(dir);
    free(path);
}

/* Cut after the reader opened it (to 17 MiB, so that it is still read
 * through a window when opened again), and cut again: the records
 * before the cut come back, then a torn tail. */
static void a_large_file_cut_while_read_is_a_torn_tail(void **state)
{
    (void)state;
    char *dir, *path = big_file(&dir);
    logshare_reader *r = NULL;
    assert_int_equal(logshare_reader_open(path, NULL, &r), 0);
    logshare_record rec;
    for (int i = 0; i < 100; i++)
        assert_int_equal(logshare_reader_next(r, &rec), 1);
    assert_int_equal(truncate(path, 17u << 20), 0);
    int count = 100;
    assert_int_equal(read_all(r, &count), LOGSHARE_ETRUNCATED);
    assert_true(count > 1000 && count < BIG_RECORDS);
    logshare_reader_close(r);
    /* Cut to just past the header right after open: what the reader had
     * already read (its first window) comes back, then the torn tail. */
    assert_int_equal(logshare_reader_open(path, NULL, &r), 0);
    assert_int_equal(truncate(path, 300), 0);
    count = 0;
    assert_int_equal(read_all(r, &count), LOGSHARE_ETRUNCATED);
    assert_true(count < BIG_RECORDS / 8);
    logshare_reader_close(r);
    tu_rmrf(dir);
    free(dir);
    free(path);
}

/* A large file whose end was zero-filled (the size reached the disk, the
 * data did not) is a torn tail too, found through the window. */
static void a_large_file_with_a_zero_filled_tail_is_a_torn_tail(void **state)
{
    (void)state;
    char *dir, *path = big_file(&dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    size_t zeros = 3u << 20; /* more than a window */
    char *z = calloc(1, zeros);
    assert_int_equal(pwrite(fd, z, zeros, st.st_size - (off_t)zeros), (ssize_t)zeros);
    close(fd);
    free(z);
    logshare_reader *r = NULL;
    assert_int_equal(logshare_reader_open(path, NULL, &r), 0);
    int count = 0;
    assert_int_equal(read_all(r, &count), LOGSHARE_ETRUNCATED);
    assert_true(count > 1000 && count < BIG_RECORDS);
    logshare_reader_close(r);
    tu_rmrf(dir);
    free(dir);
    free(path);
}

struct feeder {
    int fd;
    const char *path;
};

static void *feed(void *arg)
{
    struct feeder *f = arg;
    FILE *in = fopen(f->path, "rb");
    char buf[4096];
    size_t n;
    while (in && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (write(f->fd, buf, n) != (ssize_t)n)
            break;
    if (in)
        fclose(in);
    close(f->fd);
    return NULL;
}

/* `logshare decrypt /dev/stdin` and process substitution hand the reader
 * a pipe: it reads it to its end. */
static void a_log_read_from_a_pipe(void **state)
{
    (void)state;
    char *dir;
    logshare *ls = tu_open_plain("reader-pipe", -1, &dir);
    for (int i = 0; i < 50; i++)
        assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "piped %d", i), 0);
    logshare_close(ls);
    logshare_support_file *files;
    size_t n;
    assert_int_equal(logshare_list_support_files(dir, &files, &n), 0);
    assert_int_equal(n, 1);
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct feeder f = {p[1], files[0].path};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, feed, &f), 0);
    char dev[64];
    snprintf(dev, sizeof dev, "/dev/fd/%d", p[0]);
    logshare_reader *r = NULL;
    assert_int_equal(logshare_reader_open(dev, NULL, &r), 0);
    logshare_record rec;
    int count = 0, rc;
    while ((rc = logshare_reader_next(r, &rec)) == 1) {
        char want[32];
        snprintf(want, sizeof want, "piped %d", count++);
        assert_string_equal(rec.message, want);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(count, 50);
    logshare_reader_close(r);
    pthread_join(t, NULL);
    close(p[0]);
    /* An empty pipe is an empty file: torn (no header), not "unknown format". */
    assert_int_equal(pipe(p), 0);
    close(p[1]);
    snprintf(dev, sizeof dev, "/dev/fd/%d", p[0]);
    assert_int_equal(logshare_reader_open(dev, NULL, &r), LOGSHARE_ETRUNCATED);
    close(p[0]);
    logshare_support_files_free(files, n);
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_large_file_reads_whole_through_its_window),
        cmocka_unit_test(a_large_file_cut_while_read_is_a_torn_tail),
        cmocka_unit_test(a_large_file_with_a_zero_filled_tail_is_a_torn_tail),
        cmocka_unit_test(a_log_read_from_a_pipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
