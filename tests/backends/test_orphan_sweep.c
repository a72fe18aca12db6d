/*
 * test_orphan_sweep.c - orphan_sweep_run against a real blob directory
 * and a real SQLite ticket store: old unreferenced blobs go, referenced
 * and young ones stay, a database that references nothing removes
 * nothing, and a stop request ends the sweep before its next blob.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backends_testlib.h"
#include "blob_store.h"
#include "logshare.h"
#include "orphan_sweep.h"
#include "ticket_store.h"

struct fixture {
    char *dir;
    char *blobs;
    struct blob_store *bs;
    struct ticket_store *ts;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = tmpdir_new();
    f->blobs = path_join(f->dir, BLOB_FS_DIRNAME);
    char *db = path_join(f->dir, "t.db");
    struct ticket_store_sqlite_options o = {.durable = 1};
    if (blob_fs_open(f->dir, &f->bs) != 0 || ticket_store_sqlite_open(db, &o, &f->ts) != 0 ||
        ticket_store_migrate(f->ts, NULL) != 0)
        return -1;
    free(db);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    ticket_store_destroy(f->ts);
    blob_store_destroy(f->bs);
    tmpdir_remove(f->dir);
    free(f->blobs);
    free(f->dir);
    free(f);
    return 0;
}

/* Commits a blob through the store, then ages it by age_s seconds, as
 * a blob committed that long ago. Writes its key into key. */
static void blob_aged(struct fixture *f, int64_t age_s, char key[BLOB_KEY_MAX])
{
    char tid[TICKET_ID_MAX], aid[TICKET_ID_MAX];
    assert_int_equal(ticket_id_new(TICKET_ID_PREFIX, tid), 0);
    assert_int_equal(ticket_id_new(ATTACHMENT_ID_PREFIX, aid), 0);
    assert_int_equal(blob_key_for_attachment(tid, aid, key, BLOB_KEY_MAX), 0);
    struct blob_writer *w;
    assert_int_equal(blob_store_put_open(f->bs, key, &w), 0);
    assert_int_equal(blob_writer_write(w, "bytes", 5), 0);
    assert_int_equal(blob_writer_commit(w), 0);
    if (age_s) {
        char *p = path_join(f->blobs, key);
        time_t t = time(NULL) - (time_t)age_s;
        struct timespec ts[2] = {{t, 0}, {t, 0}};
        assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
        free(p);
    }
}

/* A ticket whose one attachment names key. */
static void reference(struct fixture *f, const char *key)
{
    char tid[TICKET_ID_MAX], aid[TICKET_ID_MAX];
    assert_int_equal(ticket_id_new(TICKET_ID_PREFIX, tid), 0);
    assert_int_equal(ticket_id_new(ATTACHMENT_ID_PREFIX, aid), 0);
    struct ticket_attachment a = {
        .id = aid, .name = (char *)"log", .size = 5, .blob_key = (char *)key};
    memset(a.sha256, 'a', 64);
    struct ticket t = {.id = tid,
                       .user_id = (char *)"u",
                       .description = (char *)"d",
                       .attachments = &a,
                       .n_attachments = 1};
    assert_int_equal(ticket_store_create(f->ts, &t, NULL, NULL, NULL), 0);
}

static int exists(struct fixture *f, const char *key)
{
    char *p = path_join(f->blobs, key);
    struct stat st;
    int ok = stat(p, &st) == 0;
    free(p);
    return ok;
}

static void old_unreferenced_blobs_go_and_the_rest_stays(void **state)
{
    struct fixture *f = *state;
    char kept[BLOB_KEY_MAX], orphan1[BLOB_KEY_MAX], orphan2[BLOB_KEY_MAX], young[BLOB_KEY_MAX],
        fresh[BLOB_KEY_MAX];
    blob_aged(f, 7200, kept);
    reference(f, kept);
    blob_aged(f, 7200, orphan1);
    blob_aged(f, 4000, orphan2);
    blob_aged(f, 60, young);
    blob_aged(f, 0, fresh); /* as if committed right now: its ticket is not yet */
    struct orphan_sweep_result r;
    assert_int_equal(orphan_sweep_run(f->bs, f->ts, 3600, time(NULL), NULL, &r), 0);
    assert_int_equal(r.checked, 5);
    assert_int_equal(r.removed, 2);
    assert_int_equal(r.referenced, 1);
    assert_int_equal(r.young, 2);
    assert_int_equal(r.held_back, 0);
    assert_int_equal(r.stopped, 0);
    assert_true(exists(f, kept));
    assert_false(exists(f, orphan1));
    assert_false(exists(f, orphan2));
    assert_true(exists(f, young));
    assert_true(exists(f, fresh));
    /* Run again: nothing more to do. */
    assert_int_equal(orphan_sweep_run(f->bs, f->ts, 3600, time(NULL), NULL, &r), 0);
    assert_int_equal(r.removed, 0);
    assert_int_equal(r.checked, 3);
}

/* Against a database that names none of the blobs (database.url changed
 * to a new one), removing would destroy every attachment: it keeps all. */
static void a_database_referencing_nothing_removes_nothing(void **state)
{
    struct fixture *f = *state;
    char a[BLOB_KEY_MAX], b[BLOB_KEY_MAX];
    blob_aged(f, 7200, a);
    blob_aged(f, 7200, b);
    struct orphan_sweep_result r;
    assert_int_equal(orphan_sweep_run(f->bs, f->ts, 3600, time(NULL), NULL, &r), 0);
    assert_int_equal(r.removed, 0);
    assert_int_equal(r.held_back, 2);
    assert_true(exists(f, a));
    assert_true(exists(f, b));
}

static void a_stop_request_ends_it_before_the_next_blob(void **state)
{
    struct fixture *f = *state;
    char k[BLOB_KEY_MAX];
    blob_aged(f, 7200, k);
    reference(f, k);
    for (int i = 0; i < 5; i++)
        blob_aged(f, 7200, k);
    atomic_int stop;
    atomic_init(&stop, 1);
    struct orphan_sweep_result r;
    assert_int_equal(orphan_sweep_run(f->bs, f->ts, 3600, time(NULL), &stop, &r), 0);
    assert_int_equal(r.stopped, 1);
    assert_int_equal(r.checked, 0);
    assert_int_equal(r.removed, 0);
    /* The thread version: started and stopped at once, joins cleanly;
     * also once its first pass is over and it waits an hour for the
     * next: the stop wakes it. */
    struct orphan_sweep *s = NULL;
    struct orphan_sweep_options o = {.grace_s = 3600, .interval_s = 3600, .stale_upload_s = 3600};
    assert_int_equal(orphan_sweep_start(f->bs, f->ts, &o, &s), 0);
    assert_non_null(s);
    orphan_sweep_stop(s);
    assert_int_equal(orphan_sweep_start(f->bs, f->ts, &o, &s), 0);
    usleep(300 * 1000);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    orphan_sweep_stop(s);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 2);
    /* No orphans and no periodic pass: nothing to start (blob_fs_open
     * swept the uploads); no orphans but a period: stale uploads. */
    o = (struct orphan_sweep_options){.grace_s = 0, .interval_s = 0, .stale_upload_s = 3600};
    assert_int_equal(orphan_sweep_start(f->bs, f->ts, &o, &s), 0);
    assert_null(s);
    o.interval_s = 60;
    assert_int_equal(orphan_sweep_start(f->bs, f->ts, &o, &s), 0);
    assert_non_null(s);
    orphan_sweep_stop(s);
}

static void bad_arguments_are_refused(void **state)
{
    struct fixture *f = *state;
    struct orphan_sweep_result r;
    assert_int_equal(orphan_sweep_run(f->bs, f->ts, 0, time(NULL), NULL, &r), LOGSHARE_EINVAL);
    assert_int_equal(orphan_sweep_run(f->bs, f->ts, -1, time(NULL), NULL, &r), LOGSHARE_EINVAL);
    assert_int_equal(orphan_sweep_run(NULL, f->ts, 10, time(NULL), NULL, &r), LOGSHARE_EINVAL);
    assert_int_equal(orphan_sweep_run(f->bs, NULL, 10, time(NULL), NULL, &r), LOGSHARE_EINVAL);
    struct orphan_sweep *s;
    struct orphan_sweep_options o = {.grace_s = -1, .interval_s = 60, .stale_upload_s = 60};
    assert_int_equal(orphan_sweep_start(f->bs, f->ts, &o, &s), LOGSHARE_EINVAL);
    o = (struct orphan_sweep_options){.grace_s = 60, .interval_s = -1, .stale_upload_s = 60};
    assert_int_equal(orphan_sweep_start(f->bs, f->ts, &o, &s), LOGSHARE_EINVAL);
    assert_int_equal(orphan_sweep_start(f->bs, f->ts, NULL, &s), LOGSHARE_EINVAL);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(old_unreferenced_blobs_go_and_the_rest_stays),
        T(a_database_referencing_nothing_removes_nothing),
        T(a_stop_request_ends_it_before_the_next_blob),
        T(bad_arguments_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
