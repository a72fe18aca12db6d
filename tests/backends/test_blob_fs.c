/*
 * test_blob_fs.c - the directory blob store against real files: what is
 * committed reads back byte for byte (whole and by range), what is
 * aborted or never committed leaves nothing, keys cannot escape the
 * root, and many writers at once do not disturb each other.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backends_testlib.h"
#include "blob_testlib.h"
#include "blob_store.h"
#include "logshare.h"

struct fixture {
    char *dir;
    char *blobs;
    struct blob_store *bs;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = tmpdir_new();
    f->blobs = path_join(f->dir, BLOB_FS_DIRNAME);
    if (blob_fs_open(f->dir, &f->bs) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    blob_store_destroy(f->bs);
    tmpdir_remove(f->dir);
    free(f->blobs);
    free(f->dir);
    free(f);
    return 0;
}

static void committed_blob_reads_back_whole(void **state)
{
    struct fixture *f = *state;
    size_t size = 3 * 1024 * 1024 + 17;
    assert_int_equal(blob_test_put(f->bs, "t/tk_1/at_1", 1, size), 0);
    blob_test_expect_range(f->bs, "t/tk_1/at_1", 1, 0, BLOB_TO_END, size, size);
    char *path = path_join(f->blobs, "t/tk_1/at_1");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((uint64_t)st.st_size, size);
    assert_int_equal(st.st_mode & 0777, 0600);
    free(path);
    assert_int_equal(tmpdir_count_files(f->blobs), 1); /* no temporary left */
}

static void empty_blob_is_a_blob(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(blob_test_put(f->bs, "empty", 2, 0), 0);
    blob_test_expect_range(f->bs, "empty", 2, 0, BLOB_TO_END, 0, 0);
}

static void ranges_are_exact_and_clipped(void **state)
{
    struct fixture *f = *state;
    size_t size = 100000;
    assert_int_equal(blob_test_put(f->bs, "r/blob", 3, size), 0);
    blob_test_expect_range(f->bs, "r/blob", 3, 0, 1, 1, size);
    blob_test_expect_range(f->bs, "r/blob", 3, 500, 1000, 1000, size);
    blob_test_expect_range(f->bs, "r/blob", 3, 99990, BLOB_TO_END, 10, size);
    blob_test_expect_range(f->bs, "r/blob", 3, 99990, 1000, 10, size); /* clipped to the end */
    blob_test_expect_range(f->bs, "r/blob", 3, size, BLOB_TO_END, 0,
                           size); /* empty, not an error */
    struct blob_reader *r = NULL;
    uint64_t total = 0;
    assert_int_equal(blob_store_get_open(f->bs, "r/blob", size + 1, 1, &r, &total),
                     LOGSHARE_EINVAL);
    assert_null(r);
    assert_int_equal(total, size); /* for Content-Range: bytes * / size */
}

static void aborted_blob_leaves_nothing(void **state)
{
    struct fixture *f = *state;
    struct blob_writer *w;
    assert_int_equal(blob_store_put_open(f->bs, "t/tk_2/at_1", &w), 0);
    char data[65536];
    memset(data, 'x', sizeof data);
    for (int i = 0; i < 16; i++)
        assert_int_equal(blob_writer_write(w, data, sizeof data), 0);
    assert_int_equal(w->bytes_written, 16 * sizeof data);
    assert_int_equal(tmpdir_count_files(f->blobs), 1); /* the hidden temporary */
    blob_writer_abort(w);
    assert_int_equal(tmpdir_count_files(f->blobs), 0);
    struct blob_reader *r;
    assert_int_equal(blob_store_get_open(f->bs, "t/tk_2/at_1", 0, BLOB_TO_END, &r, NULL),
                     LOGSHARE_ENOENT);
    /* The key is still free for a later, successful upload. */
    assert_int_equal(blob_test_put(f->bs, "t/tk_2/at_1", 4, 10), 0);
    blob_writer_abort(NULL);
}

static void uncommitted_blob_is_invisible(void **state)
{
    struct fixture *f = *state;
    struct blob_writer *w;
    assert_int_equal(blob_store_put_open(f->bs, "pending", &w), 0);
    assert_int_equal(blob_writer_write(w, "hello", 5), 0);
    struct blob_reader *r;
    assert_int_equal(blob_store_get_open(f->bs, "pending", 0, BLOB_TO_END, &r, NULL),
                     LOGSHARE_ENOENT);
    assert_int_equal(blob_writer_commit(w), 0);
    assert_int_equal(blob_store_get_open(f->bs, "pending", 0, BLOB_TO_END, &r, NULL), 0);
    char buf[16];
    size_t got;
    assert_int_equal(blob_reader_read(r, buf, sizeof buf, &got), 0);
    assert_int_equal(got, 5);
    assert_memory_equal(buf, "hello", 5);
    blob_reader_close(r);
}

static void blobs_are_never_overwritten(void **state)
{
    struct fixture *f = *state;
    struct blob_writer *a, *b;
    /* Two writers race for one key: the first commit wins, the second
     * fails and leaves nothing; the winner's bytes are intact. */
    assert_int_equal(blob_store_put_open(f->bs, "k/same", &a), 0);
    assert_int_equal(blob_store_put_open(f->bs, "k/same", &b), 0);
    assert_int_equal(blob_writer_write(a, "first", 5), 0);
    assert_int_equal(blob_writer_write(b, "second", 6), 0);
    assert_int_equal(blob_writer_commit(a), 0);
    assert_int_equal(blob_writer_commit(b), LOGSHARE_EEXIST);
    struct blob_writer *c;
    assert_int_equal(blob_store_put_open(f->bs, "k/same", &c), LOGSHARE_EEXIST);
    assert_null(c);
    uint64_t total;
    struct blob_reader *r;
    assert_int_equal(blob_store_get_open(f->bs, "k/same", 0, BLOB_TO_END, &r, &total), 0);
    assert_int_equal(total, 5);
    blob_reader_close(r);
    assert_int_equal(tmpdir_count_files(f->blobs), 1);
}

static void keys_that_could_escape_are_refused(void **state)
{
    struct fixture *f = *state;
    const char *bad[] = {"",    "../escape", "a/../../escape", "/etc/passwd", "a//b",    "a/",
                         "./a", "a/./b",     ".hidden",        "a/.tmp-x",    "..",      "a/..",
                         "a b", "a\\b",      "a\nb",           "caf\xc3\xa9", "a/b/\x01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct blob_writer *w = (struct blob_writer *)1;
        struct blob_reader *r = (struct blob_reader *)1;
        assert_false(blob_key_valid(bad[i]));
        assert_int_equal(blob_store_put_open(f->bs, bad[i], &w), LOGSHARE_EINVAL);
        assert_null(w);
        assert_int_equal(blob_store_get_open(f->bs, bad[i], 0, BLOB_TO_END, &r, NULL),
                         LOGSHARE_EINVAL);
        assert_null(r);
        assert_int_equal(blob_store_remove(f->bs, bad[i]), LOGSHARE_EINVAL);
    }
    char longkey[BLOB_KEY_MAX + 2];
    memset(longkey, 'a', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    assert_false(blob_key_valid(longkey));
    longkey[BLOB_KEY_MAX] = '\0';
    assert_true(blob_key_valid(longkey));
    assert_false(blob_key_valid(NULL));
    /* Nothing was created anywhere: not in the root, not beside it. */
    assert_int_equal(tmpdir_count_files(f->dir), 0);
}

static void attachment_keys_are_built_safely(void **state)
{
    (void)state;
    char key[BLOB_KEY_MAX + 1];
    /* The day directory is the UTC day of the id's milliseconds:
     * 0x019ab2c3d4e5 ms is 2025-11-23 22:09:29 UTC. */
    const char *at = "at_019ab2c3d4e5f0011223344556677889";
    assert_int_equal(blob_key_for_attachment("tk_01", at, key, sizeof key), 0);
    assert_string_equal(key, "a/20251123/at_019ab2c3d4e5f0011223344556677889");
    /* ...the same whenever it is computed (upload start and commit). */
    char again[BLOB_KEY_MAX + 1];
    assert_int_equal(blob_key_for_attachment("tk_01", at, again, sizeof again), 0);
    assert_string_equal(key, again);
    /* 0x000000000000 ms: the epoch's day. */
    assert_int_equal(blob_key_for_attachment("tk", "at_000000000000ff", key, sizeof key), 0);
    assert_string_equal(key, "a/19700101/at_000000000000ff");
    assert_int_equal(blob_key_for_attachment("..", at, key, sizeof key), LOGSHARE_EINVAL);
    assert_int_equal(blob_key_for_attachment("tk/x", at, key, sizeof key), LOGSHARE_EINVAL);
    assert_int_equal(blob_key_for_attachment("tk", "at/019ab2c3d4e5f0", key, sizeof key),
                     LOGSHARE_EINVAL);
    /* No time in the id: no day to file it under. */
    assert_int_equal(blob_key_for_attachment("tk", "at_02", key, sizeof key), LOGSHARE_EINVAL);
    assert_int_equal(blob_key_for_attachment("tk", "at_zzzzzzzzzzzz", key, sizeof key),
                     LOGSHARE_EINVAL);
    assert_int_equal(blob_key_for_attachment("tk", "..", key, sizeof key), LOGSHARE_EINVAL);
    assert_int_equal(blob_key_for_attachment("tk", at, key, 20), LOGSHARE_EINVAL);
}

static void remove_deletes_committed_blobs_only(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(blob_test_put(f->bs, "t/x/y", 5, 1000), 0);
    assert_int_equal(blob_store_remove(f->bs, "t/x/y"), 0);
    struct blob_reader *r;
    assert_int_equal(blob_store_get_open(f->bs, "t/x/y", 0, BLOB_TO_END, &r, NULL),
                     LOGSHARE_ENOENT);
    assert_int_equal(blob_store_remove(f->bs, "t/x/y"), LOGSHARE_ENOENT);
    /* A directory on the way is not a blob. */
    assert_int_equal(blob_store_remove(f->bs, "t/x"), LOGSHARE_ENOENT);
    assert_int_equal(tmpdir_count_files(f->blobs), 0);
}

static void readiness_and_signed_urls(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(blob_store_check(f->bs), 0);
    char *url = (char *)1;
    assert_int_equal(blob_store_signed_url(f->bs, "t/a/b", 1, &url), LOGSHARE_EUNSUPPORTED);
    assert_null(url);
    assert_string_equal(f->bs->ops->name, "fs");
}

/* Sets the modification time of every ".tmp-<prefix>..." file in the
 * staging directory to ago_s seconds ago; returns how many there were. */
static int age_staged(struct fixture *f, const char *prefix, time_t ago_s)
{
    char *sdir = path_join(f->blobs, ".incoming");
    DIR *d = opendir(sdir);
    assert_non_null(d);
    char want[64];
    snprintf(want, sizeof want, ".tmp-%s", prefix);
    struct dirent *e;
    int aged = 0;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, want, strlen(want)) == 0) {
            char *p = path_join(sdir, e->d_name);
            struct timespec ts[2] = {{time(NULL) - ago_s, 0}, {time(NULL) - ago_s, 0}};
            assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
            free(p);
            aged++;
        }
    }
    closedir(d);
    free(sdir);
    return aged;
}

/* A temporary file as a crashed upload leaves it: no writer holds it. */
static void plant_crashed(struct fixture *f, const char *name, size_t size)
{
    char *sdir = path_join(f->blobs, ".incoming");
    char *p = path_join(sdir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    char *buf = calloc(1, size);
    assert_int_equal(write(fd, buf, size), (ssize_t)size);
    close(fd);
    free(buf);
    free(p);
    free(sdir);
}

/* Appends bytes [from, to) of pattern seed to w. */
static void write_pattern(struct blob_writer *w, unsigned seed, uint64_t from, uint64_t to)
{
    unsigned char b[64];
    assert_true(to - from <= sizeof b);
    for (uint64_t i = from; i < to; i++)
        b[i - from] = blob_test_byte(seed, i);
    assert_int_equal(blob_writer_write(w, b, (size_t)(to - from)), 0);
}

/* Open removes a crash's stale leftovers, but not the file of an upload
 * that is still open, however long it has been untouched: a request's
 * first file waits, untouched and uncommitted, while its later files
 * arrive (before the writer's lock, open removed it after an hour). */
static void stale_temporaries_are_swept_on_open(void **state)
{
    struct fixture *f = *state;
    struct blob_writer *stalled, *live;
    assert_int_equal(blob_store_put_open(f->bs, "t/s/stalled", &stalled), 0);
    write_pattern(stalled, 7, 0, 3);
    assert_int_equal(blob_store_put_open(f->bs, "t/s/live", &live), 0);
    assert_int_equal(blob_writer_write(live, "abc", 3), 0);
    plant_crashed(f, ".tmp-crashed-0123456789abcdef", 1000);
    assert_int_equal(age_staged(f, "crashed", 7200), 1);
    assert_int_equal(age_staged(f, "stalled", 7200), 1);
    struct blob_store *again;
    assert_int_equal(blob_fs_open(f->dir, &again), 0);
    assert_int_equal(tmpdir_count_files(f->blobs), 2); /* the stalled and the live one */
    blob_store_destroy(again);
    assert_int_equal(blob_writer_commit(live), 0);
    write_pattern(stalled, 7, 3, 6);
    assert_int_equal(blob_writer_commit(stalled), 0);
    blob_test_expect_range(f->bs, "t/s/stalled", 7, 0, BLOB_TO_END, 6, 6);
    assert_int_equal(tmpdir_count_files(f->blobs), 2);
}

/* blob_store_sweep_uploads, as the server runs it periodically: the
 * stale leftover goes (and is counted with its size), a fresh one and a
 * stalled upload's file stay, and a stop request ends it at once. */
static void sweep_uploads_removes_only_what_no_upload_holds(void **state)
{
    struct fixture *f = *state;
    struct blob_writer *stalled;
    assert_int_equal(blob_store_put_open(f->bs, "t/s/stalled", &stalled), 0);
    write_pattern(stalled, 7, 0, 3);
    plant_crashed(f, ".tmp-crashed-0123456789abcdef", 5000);
    plant_crashed(f, ".tmp-fresh-0123456789abcdef", 10);
    assert_int_equal(age_staged(f, "crashed", 7200), 1);
    assert_int_equal(age_staged(f, "stalled", 7200), 1);
    struct blob_upload_sweep r;
    atomic_int stop;
    atomic_init(&stop, 1);
    assert_int_equal(blob_store_sweep_uploads(f->bs, time(NULL) - BLOB_STALE_UPLOAD_S, &stop, &r),
                     0);
    assert_int_equal(r.stopped, 1);
    assert_int_equal(r.removed, 0);
    assert_int_equal(tmpdir_count_files(f->blobs), 3);
    assert_int_equal(blob_store_sweep_uploads(f->bs, time(NULL) - BLOB_STALE_UPLOAD_S, NULL, &r),
                     0);
    assert_int_equal(r.removed, 1);
    assert_int_equal(r.bytes, 5000);
    assert_int_equal(r.stopped, 0);
    assert_int_equal(tmpdir_count_files(f->blobs), 2);
    assert_int_equal(blob_writer_commit(stalled), 0);
    blob_test_expect_range(f->bs, "t/s/stalled", 7, 0, BLOB_TO_END, 3, 3);
    assert_int_equal(blob_store_sweep_uploads(NULL, 0, NULL, &r), LOGSHARE_EINVAL);
    assert_int_equal(blob_store_sweep_uploads(f->bs, 0, NULL, NULL), LOGSHARE_EINVAL);
}

/* A process killed right after commit returned has its blob; one killed
 * mid-upload leaves only a hidden temporary that no reader sees and that
 * a later open sweeps once it is stale. */
static void sigkill_keeps_committed_blobs_and_nothing_partial(void **state)
{
    struct fixture *f = *state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct blob_store *bs;
        if (blob_fs_open(f->dir, &bs) != 0 || blob_test_put(bs, "t/k/done", 9, 200000) != 0)
            _exit(1);
        struct blob_writer *w;
        if (blob_store_put_open(bs, "t/k/partial", &w) != 0 || blob_writer_write(w, "half", 4))
            _exit(1);
        raise(SIGKILL);
        _exit(2);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    blob_test_expect_range(f->bs, "t/k/done", 9, 0, BLOB_TO_END, 200000, 200000);
    struct blob_reader *r;
    assert_int_equal(blob_store_get_open(f->bs, "t/k/partial", 0, BLOB_TO_END, &r, NULL),
                     LOGSHARE_ENOENT);
    assert_int_equal(tmpdir_count_files(f->blobs), 2); /* the blob and the orphan temporary */
    char *kdir = path_join(f->blobs, ".incoming");
    DIR *d = opendir(kdir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, ".tmp-", 5) == 0) {
            char *p = path_join(kdir, e->d_name);
            struct timespec ts[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
            assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
            free(p);
        }
    }
    closedir(d);
    free(kdir);
    struct blob_store *again;
    assert_int_equal(blob_fs_open(f->dir, &again), 0);
    blob_store_destroy(again);
    assert_int_equal(tmpdir_count_files(f->blobs), 1);
    /* The key of the killed upload is free for its retry. */
    assert_int_equal(blob_test_put(f->bs, "t/k/partial", 10, 5), 0);
}

/* A write the file system refuses (here: the file size limit, as a full
 * disk would) is reported, and the aborted upload leaves nothing. Run
 * in a child so the limit stays there. */
static void failed_write_reports_and_abort_cleans_up(void **state)
{
    struct fixture *f = *state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = {1 << 20, 1 << 20};
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
            _exit(10);
        struct blob_writer *w;
        if (blob_store_put_open(f->bs, "t/full/blob", &w) != 0)
            _exit(11);
        static char chunk[256 * 1024];
        int rc = 0;
        for (int i = 0; i < 8 && rc == 0; i++)
            rc = blob_writer_write(w, chunk, sizeof chunk);
        blob_writer_abort(w);
        _exit(rc == LOGSHARE_ETOOLARGE ? 0 : 12);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(tmpdir_count_files(f->blobs), 0);
    struct blob_reader *r;
    assert_int_equal(blob_store_get_open(f->bs, "t/full/blob", 0, BLOB_TO_END, &r, NULL),
                     LOGSHARE_ENOENT);
}

struct writer_job {
    struct blob_store *bs;
    int thread;
    int blobs;
    size_t size;
    int failures;
};

static void *writer_thread(void *arg)
{
    struct writer_job *j = arg;
    for (int i = 0; i < j->blobs; i++) {
        char key[64];
        snprintf(key, sizeof key, "t/thread%d/blob%d", j->thread, i);
        unsigned seed = (unsigned)(j->thread * 1000 + i);
        /* Every third upload is abandoned halfway, like a client that
         * disconnects: it must not disturb the others. */
        if (i % 3 == 2) {
            struct blob_writer *w;
            if (blob_store_put_open(j->bs, key, &w) != 0 || blob_writer_write(w, "part", 4) != 0)
                j->failures++;
            blob_writer_abort(w);
            continue;
        }
        if (blob_test_put(j->bs, key, seed, j->size + (size_t)i) != 0)
            j->failures++;
    }
    return NULL;
}

static void concurrent_writers_store_every_blob_intact(void **state)
{
    struct fixture *f = *state;
    enum { THREADS = 8 };
    int per_thread = sanitized() ? 6 : 15;
    pthread_t th[THREADS];
    struct writer_job jobs[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (struct writer_job){f->bs, t, per_thread, 64 * 1024, 0};
        assert_int_equal(pthread_create(&th[t], NULL, writer_thread, &jobs[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(jobs[t].failures, 0);
    }
    int committed = 0;
    for (int t = 0; t < THREADS; t++) {
        for (int i = 0; i < per_thread; i++) {
            char key[64];
            snprintf(key, sizeof key, "t/thread%d/blob%d", t, i);
            if (i % 3 == 2) {
                struct blob_reader *r;
                assert_int_equal(blob_store_get_open(f->bs, key, 0, BLOB_TO_END, &r, NULL),
                                 LOGSHARE_ENOENT);
                continue;
            }
            size_t size = 64 * 1024 + (size_t)i;
            blob_test_expect_range(f->bs, key, (unsigned)(t * 1000 + i), 0, BLOB_TO_END, size,
                                   size);
            committed++;
        }
    }
    assert_int_equal(tmpdir_count_files(f->blobs), committed);
}

/* Directories under dir (dir itself not counted), and how many of them
 * are empty. */
static int count_dirs(const char *dir, int *empty)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0, entries = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        entries++;
        char *p = path_join(dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            int sub_entries = 0;
            DIR *sd = opendir(p);
            for (struct dirent *se; sd && (se = readdir(sd));)
                sub_entries += strcmp(se->d_name, ".") != 0 && strcmp(se->d_name, "..") != 0;
            if (sd)
                closedir(sd);
            if (sub_entries == 0)
                (*empty)++;
            n += 1 + count_dirs(p, empty);
        }
        free(p);
    }
    closedir(d);
    return n;
}

static int path_exists(const char *dir, const char *name)
{
    char *p = path_join(dir, name);
    struct stat st;
    int ok = lstat(p, &st) == 0;
    free(p);
    return ok;
}

/* The upload path (put_open, on an HTTP thread) makes no directory: the
 * temporary file goes to .incoming, and the day directory appears with
 * the first commit. An aborted upload therefore leaves no directory. */
static void uploads_make_no_directory_until_commit(void **state)
{
    struct fixture *f = *state;
    char key[BLOB_KEY_MAX + 1], other[BLOB_KEY_MAX + 1];
    assert_int_equal(
        blob_key_for_attachment("tk_1", "at_019ab2c3d4e5f0011223344556677889", key, sizeof key), 0);
    assert_int_equal(blob_key_for_attachment("tk_1", "at_019a000000000f0011223344556677889", other,
                                             sizeof other),
                     0);
    struct blob_writer *w, *cut;
    assert_int_equal(blob_store_put_open(f->bs, key, &w), 0);
    assert_int_equal(blob_store_put_open(f->bs, other, &cut), 0);
    assert_int_equal(blob_writer_write(w, "hello", 5), 0);
    assert_int_equal(blob_writer_write(cut, "half", 4), 0);
    assert_false(path_exists(f->blobs, "a"));
    int empty = 0;
    assert_int_equal(count_dirs(f->blobs, &empty), 1); /* .incoming only */
    blob_writer_abort(cut);
    assert_int_equal(blob_writer_commit(w), 0);
    assert_true(path_exists(f->blobs, "a/20251123/at_019ab2c3d4e5f0011223344556677889"));
    empty = 0;
    assert_int_equal(count_dirs(f->blobs, &empty), 3); /* .incoming, a, a/20251123 */
    assert_int_equal(empty, 1);                        /* .incoming, nothing in flight */
    assert_int_equal(tmpdir_count_files(f->blobs), 1);
    struct blob_reader *r;
    uint64_t total = 0;
    assert_int_equal(blob_store_get_open(f->bs, key, 0, BLOB_TO_END, &r, &total), 0);
    assert_int_equal(total, 5);
    blob_reader_close(r);
    assert_int_equal(blob_store_get_open(f->bs, other, 0, BLOB_TO_END, &r, NULL), LOGSHARE_ENOENT);
}

/* A data dir written by the old layout (a directory per ticket) keeps
 * working: its blobs read back by their stored keys, and removing the
 * last blob of a ticket removes the ticket's directory too. */
static void old_layout_blobs_stay_readable_and_removable(void **state)
{
    struct fixture *f = *state;
    char *t = path_join(f->blobs, "t");
    char *tk = path_join(t, "tk_old");
    char *blob = path_join(tk, "at_old");
    assert_int_equal(mkdir(t, 0700), 0);
    assert_int_equal(mkdir(tk, 0700), 0);
    FILE *fp = fopen(blob, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite("old bytes", 1, 9, fp), 9);
    assert_int_equal(fclose(fp), 0);
    struct blob_reader *r;
    uint64_t total = 0;
    assert_int_equal(blob_store_get_open(f->bs, "t/tk_old/at_old", 4, BLOB_TO_END, &r, &total), 0);
    char buf[16];
    size_t got = 0;
    assert_int_equal(blob_reader_read(r, buf, sizeof buf, &got), 0);
    assert_int_equal(got, 5);
    assert_memory_equal(buf, "bytes", 5);
    blob_reader_close(r);
    assert_int_equal(total, 9);
    assert_int_equal(blob_store_remove(f->bs, "t/tk_old/at_old"), 0);
    assert_false(path_exists(f->blobs, "t/tk_old"));
    assert_true(path_exists(f->blobs, "t"));
    free(blob);
    free(tk);
    free(t);
}

enum { GROUP_THREADS = 16, GROUP_BLOBS = 20 };

struct group_job {
    struct blob_store *bs;
    pthread_barrier_t *start;
    int thread;
    int failures;
    int two_days; /* odd threads commit into a second directory */
};

static void group_key(char *key, size_t cap, int thread, int i, int two_days)
{
    snprintf(key, cap, "a/%s/at_%02d_%02d", two_days && thread % 2 ? "20251124" : "20251123",
             thread, i);
}

/* Every thread writes its blobs, then all commit at the same moment. */
static void *group_thread(void *arg)
{
    struct group_job *j = arg;
    struct blob_writer *w[GROUP_BLOBS];
    for (int i = 0; i < GROUP_BLOBS; i++) {
        char key[64], data[64];
        group_key(key, sizeof key, j->thread, i, j->two_days);
        int n = snprintf(data, sizeof data, "blob %d of thread %d", i, j->thread);
        if (blob_store_put_open(j->bs, key, &w[i]) != 0 ||
            blob_writer_write(w[i], data, (size_t)n) != 0)
            j->failures++;
    }
    pthread_barrier_wait(j->start);
    for (int i = 0; i < GROUP_BLOBS; i++)
        if (w[i] && blob_writer_commit(w[i]) != 0)
            j->failures++;
    return NULL;
}

/* Many threads committing at once (into one directory, or into two, as
 * at a day boundary, where only one at a time can be handed to the
 * store's syncer thread and the other commits sync theirs themselves):
 * every blob is there and reads back, every commit was covered by
 * exactly one directory fsync that started after its rename, and sharing
 * happened, so there were fewer fsyncs than commits. */
static void run_group(struct fixture *f, int two_days)
{
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, GROUP_THREADS);
    pthread_t th[GROUP_THREADS];
    struct group_job jobs[GROUP_THREADS];
    for (int t = 0; t < GROUP_THREADS; t++) {
        jobs[t] = (struct group_job){f->bs, &start, t, 0, two_days};
        assert_int_equal(pthread_create(&th[t], NULL, group_thread, &jobs[t]), 0);
    }
    for (int t = 0; t < GROUP_THREADS; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(jobs[t].failures, 0);
    }
    pthread_barrier_destroy(&start);
    for (int t = 0; t < GROUP_THREADS; t++)
        for (int i = 0; i < GROUP_BLOBS; i++) {
            char key[64], want[64], buf[64];
            group_key(key, sizeof key, t, i, two_days);
            int n = snprintf(want, sizeof want, "blob %d of thread %d", i, t);
            struct blob_reader *r;
            uint64_t total = 0;
            size_t got = 0;
            assert_int_equal(blob_store_get_open(f->bs, key, 0, BLOB_TO_END, &r, &total), 0);
            assert_int_equal(blob_reader_read(r, buf, sizeof buf, &got), 0);
            blob_reader_close(r);
            assert_int_equal(got, (size_t)n);
            assert_memory_equal(buf, want, got);
        }
    assert_int_equal(tmpdir_count_files(f->blobs), GROUP_THREADS * GROUP_BLOBS);
    uint64_t fsyncs = 0, shared = 0;
    assert_int_equal(blob_fs_stats(f->bs, &fsyncs, &shared), 0);
    assert_int_equal(fsyncs + shared, GROUP_THREADS * GROUP_BLOBS);
    assert_true(shared > 0);
    assert_true(fsyncs < GROUP_THREADS * GROUP_BLOBS);
}

static void concurrent_commits_share_directory_fsyncs(void **state)
{
    run_group(*state, 0);
}

static void concurrent_commits_into_two_directories(void **state)
{
    run_group(*state, 1);
}

/* One commit alone: one directory fsync (the syncer thread's or its
 * own), covering just it; and a store closed straight after a commit
 * stops its syncer cleanly (ASan/LSan: no leak, no use after free). */
static void lone_commit_costs_one_directory_fsync(void **state)
{
    struct fixture *f = *state;
    struct blob_writer *w;
    assert_int_equal(blob_store_put_open(f->bs, "a/20251123/at_lone", &w), 0);
    assert_int_equal(blob_writer_write(w, "alone", 5), 0);
    assert_int_equal(blob_writer_commit(w), 0);
    uint64_t fsyncs = 0, shared = 0;
    assert_int_equal(blob_fs_stats(f->bs, &fsyncs, &shared), 0);
    assert_int_equal(fsyncs, 1);
    assert_int_equal(shared, 0);
    assert_true(path_exists(f->blobs, "a/20251123/at_lone"));
    assert_int_equal(blob_store_remove(f->bs, "a/20251123/at_lone"), 0);
    assert_int_equal(blob_fs_stats(f->bs, &fsyncs, &shared), 0);
    assert_int_equal(fsyncs, 2); /* the unlink's */
    for (int i = 0; i < 20; i++) {
        struct blob_store *bs;
        assert_int_equal(blob_fs_open(f->dir, &bs), 0);
        char key[64];
        snprintf(key, sizeof key, "a/20251125/at_%02d", i);
        assert_int_equal(blob_store_put_open(bs, key, &w), 0);
        assert_int_equal(blob_writer_write(w, "x", 1), 0);
        assert_int_equal(blob_writer_commit(w), 0);
        blob_store_destroy(bs);
    }
}

/* A target directory that already exists (made by another server on
 * the same data dir, or by a run that crashed before fsyncing its
 * parent) gets its parent fsynced like one the store makes, once: a
 * rename into it must not be lost with the directory's entry. */
static void existing_directories_get_their_parents_synced(void **state)
{
    struct fixture *f = *state;
    char *a = path_join(f->blobs, "a");
    char *day = path_join(a, "20251127");
    assert_int_equal(mkdir(a, 0700) == 0 || errno == EEXIST, 1);
    assert_int_equal(mkdir(day, 0700), 0);
    uint64_t before = 0, after = 0;
    assert_int_equal(blob_fs_parent_fsyncs(f->bs, &before), 0);
    struct blob_writer *w;
    for (int i = 0; i < 3; i++) {
        char key[64];
        snprintf(key, sizeof key, "a/20251127/at_found_%d", i);
        assert_int_equal(blob_store_put_open(f->bs, key, &w), 0);
        assert_int_equal(blob_writer_write(w, "found", 5), 0);
        assert_int_equal(blob_writer_commit(w), 0);
        assert_true(path_exists(f->blobs, key));
    }
    assert_int_equal(blob_fs_parent_fsyncs(f->bs, &after), 0);
    assert_int_equal(after - before, 2); /* blobs/ for a, a/ for the day: once */
    free(day);
    free(a);
}

/* blob_writer_end (the "no more bytes" hint) changes nothing a caller
 * can see: the blob still commits whole, or aborts to nothing. */
static void end_hint_then_commit_or_abort(void **state)
{
    struct fixture *f = *state;
    static unsigned char buf[300 * 1024 + 7];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = blob_test_byte(21, i);
    struct blob_writer *w, *cut;
    assert_int_equal(blob_store_put_open(f->bs, "a/20251123/at_end", &w), 0);
    assert_int_equal(blob_writer_write(w, buf, sizeof buf), 0);
    blob_writer_end(w);
    blob_writer_end(w); /* twice is harmless */
    assert_int_equal(blob_writer_commit(w), 0);
    blob_test_expect_range(f->bs, "a/20251123/at_end", 21, 0, BLOB_TO_END, sizeof buf, sizeof buf);
    assert_int_equal(blob_store_put_open(f->bs, "a/20251123/at_cut", &cut), 0);
    assert_int_equal(blob_writer_write(cut, buf, sizeof buf), 0);
    blob_writer_end(cut);
    blob_writer_abort(cut);
    blob_writer_end(NULL);
    assert_int_equal(tmpdir_count_files(f->blobs), 1);
}

/* ---- listing ------------------------------------------------------- */

#define LIST_MAX 16

struct listed {
    size_t n;
    char *keys[LIST_MAX];
    int64_t mtimes[LIST_MAX];
    uint64_t sizes[LIST_MAX];
    struct blob_store *remove_from; /* non-NULL: remove each blob as it is listed */
    int stop_with;                  /* non-zero: return it from the first call */
};

static int collect(void *arg, const char *key, int64_t mtime, uint64_t size)
{
    struct listed *l = arg;
    assert_true(l->n < LIST_MAX);
    l->keys[l->n] = strdup(key);
    l->mtimes[l->n] = mtime;
    l->sizes[l->n] = size;
    l->n++;
    if (l->remove_from)
        assert_int_equal(blob_store_remove(l->remove_from, key), 0);
    return l->stop_with;
}

static ssize_t listed_index(const struct listed *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->keys[i], key) == 0)
            return (ssize_t)i;
    return -1;
}

static void listed_clear(struct listed *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->keys[i]);
    memset(l, 0, sizeof *l);
}

/* Plants a file of the old layout by hand, as an old server left it,
 * with its modification time set to mtime. */
static void plant_file(const char *blobs, const char *key, const char *bytes, time_t mtime)
{
    char *p = path_join(blobs, key);
    for (char *slash = strchr(p + strlen(blobs) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(p, 0700);
        *slash = '/';
    }
    FILE *fp = fopen(p, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(bytes, 1, strlen(bytes), fp), strlen(bytes));
    assert_int_equal(fclose(fp), 0);
    struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
    assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
    free(p);
}

/* Both layouts are listed with their times and sizes; uploads in
 * progress, temporary files and anything no key could name are not. */
static void list_shows_committed_blobs_of_both_layouts(void **state)
{
    struct fixture *f = *state;
    time_t before = time(NULL);
    assert_int_equal(blob_test_put(f->bs, "a/20260101/at_one", 1, 1000), 0);
    assert_int_equal(blob_test_put(f->bs, "a/20260102/at_two", 2, 0), 0);
    plant_file(f->blobs, "t/tk_old/at_old", "old bytes", 1000000000);
    plant_file(f->blobs, "a/20260101/.hidden", "x", 1000000000);
    plant_file(f->blobs, "a/20260101/bad name", "x", 1000000000);
    struct blob_writer *live;
    assert_int_equal(blob_store_put_open(f->bs, "a/20260101/at_live", &live), 0);
    assert_int_equal(blob_writer_write(live, "partial", 7), 0);

    struct listed l = {0};
    assert_int_equal(blob_store_list(f->bs, collect, &l), 0);
    assert_int_equal(l.n, 3);
    ssize_t one = listed_index(&l, "a/20260101/at_one");
    ssize_t two = listed_index(&l, "a/20260102/at_two");
    ssize_t old = listed_index(&l, "t/tk_old/at_old");
    assert_true(one >= 0 && two >= 0 && old >= 0);
    assert_int_equal(l.sizes[one], 1000);
    assert_int_equal(l.sizes[two], 0);
    assert_int_equal(l.sizes[old], 9);
    assert_int_equal(l.mtimes[old], 1000000000);
    assert_true(l.mtimes[one] >= before && l.mtimes[one] <= time(NULL));
    listed_clear(&l);

    assert_int_equal(blob_writer_commit(live), 0);
    assert_int_equal(blob_store_list(f->bs, collect, &l), 0);
    assert_int_equal(l.n, 4);
    assert_true(listed_index(&l, "a/20260101/at_live") >= 0);
    listed_clear(&l);

    assert_int_equal(blob_store_list(NULL, collect, &l), LOGSHARE_EINVAL);
    assert_int_equal(blob_store_list(f->bs, NULL, &l), LOGSHARE_EINVAL);
}

/* A blob's time is its commit's, however long ago its bytes were
 * written: the orphan sweep's age check depends on it. */
static void commit_sets_the_modification_time(void **state)
{
    struct fixture *f = *state;
    struct blob_writer *w;
    assert_int_equal(blob_store_put_open(f->bs, "a/20260101/at_slow", &w), 0);
    assert_int_equal(blob_writer_write(w, "slow bytes", 10), 0);
    /* As if the body had ended a day ago: age the temporary file. */
    char *incoming = path_join(f->blobs, ".incoming");
    DIR *d = opendir(incoming);
    assert_non_null(d);
    int aged = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.' && e->d_name[1] == 't') {
            char *p = path_join(incoming, e->d_name);
            struct timespec ts[2] = {{time(NULL) - 86400, 0}, {time(NULL) - 86400, 0}};
            assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
            free(p);
            aged++;
        }
    }
    closedir(d);
    free(incoming);
    assert_int_equal(aged, 1);
    time_t before = time(NULL);
    assert_int_equal(blob_writer_commit(w), 0);
    struct listed l = {0};
    assert_int_equal(blob_store_list(f->bs, collect, &l), 0);
    assert_int_equal(l.n, 1);
    assert_true(l.mtimes[0] >= before);
    listed_clear(&l);
}

/* The visitor may remove what it is given (the sweep does), and a
 * non-zero answer ends the listing with that value. */
static void list_visitor_may_remove_and_stop(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(blob_test_put(f->bs, "a/20260101/at_a", 1, 10), 0);
    assert_int_equal(blob_test_put(f->bs, "a/20260101/at_b", 2, 10), 0);
    assert_int_equal(blob_test_put(f->bs, "a/20260103/at_c", 3, 10), 0);
    plant_file(f->blobs, "t/tk_old/at_old", "old", 1000000000);

    struct listed l = {.stop_with = 7};
    assert_int_equal(blob_store_list(f->bs, collect, &l), 7);
    assert_int_equal(l.n, 1);
    listed_clear(&l);

    l.remove_from = f->bs;
    assert_int_equal(blob_store_list(f->bs, collect, &l), 0);
    assert_int_equal(l.n, 4);
    listed_clear(&l);
    assert_int_equal(blob_store_list(f->bs, collect, &l), 0);
    assert_int_equal(l.n, 0);
    assert_false(path_exists(f->blobs, "t/tk_old"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(committed_blob_reads_back_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(empty_blob_is_a_blob, setup, teardown),
        cmocka_unit_test_setup_teardown(ranges_are_exact_and_clipped, setup, teardown),
        cmocka_unit_test_setup_teardown(aborted_blob_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(uncommitted_blob_is_invisible, setup, teardown),
        cmocka_unit_test_setup_teardown(blobs_are_never_overwritten, setup, teardown),
        cmocka_unit_test_setup_teardown(keys_that_could_escape_are_refused, setup, teardown),
        cmocka_unit_test(attachment_keys_are_built_safely),
        cmocka_unit_test_setup_teardown(remove_deletes_committed_blobs_only, setup, teardown),
        cmocka_unit_test_setup_teardown(readiness_and_signed_urls, setup, teardown),
        cmocka_unit_test_setup_teardown(stale_temporaries_are_swept_on_open, setup, teardown),
        cmocka_unit_test_setup_teardown(sweep_uploads_removes_only_what_no_upload_holds, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(concurrent_writers_store_every_blob_intact, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(sigkill_keeps_committed_blobs_and_nothing_partial, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(failed_write_reports_and_abort_cleans_up, setup, teardown),
        cmocka_unit_test_setup_teardown(uploads_make_no_directory_until_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(old_layout_blobs_stay_readable_and_removable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(concurrent_commits_share_directory_fsyncs, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_commits_into_two_directories, setup, teardown),
        cmocka_unit_test_setup_teardown(lone_commit_costs_one_directory_fsync, setup, teardown),
        cmocka_unit_test_setup_teardown(end_hint_then_commit_or_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(existing_directories_get_their_parents_synced, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(list_shows_committed_blobs_of_both_layouts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(commit_sets_the_modification_time, setup, teardown),
        cmocka_unit_test_setup_teardown(list_visitor_may_remove_and_stop, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
