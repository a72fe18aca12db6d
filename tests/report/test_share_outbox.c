/*
 * test_share_outbox.c - the durable outbox on real files: what is queued
 * is a byte-exact snapshot with the right hashes, the quota refuses
 * instead of dropping, removal is final, and a kill -9 at any moment of
 * queueing leaves a complete item or none.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ls_fs.h"
#include "ls_hex.h"
#include "outbox.h"

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/logshare-outbox-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void rm_rf(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Writes n random bytes to dir/name; returns the path (caller frees). */
static char *write_random(const char *dir, const char *name, size_t n, unsigned char **bytes)
{
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(path, "%s/%s", dir, name);
    unsigned char *buf = malloc(n ? n : 1);
    randombytes_buf(buf, n);
    assert_int_equal(ls_fs_write_atomic(path, buf, n, 0600), 0);
    if (bytes)
        *bytes = buf;
    else
        free(buf);
    return path;
}

static void sha_hex(const unsigned char *data, size_t n, char out[65])
{
    unsigned char d[32];
    crypto_hash_sha256(d, data, n);
    ls_hex_encode(d, 32, out);
}

static void queued_item_is_a_byte_exact_snapshot_with_hashes(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    unsigned char *a, *b;
    char *pa = write_random(dir, "calling.1.lslog", 100000, &a);
    char *pb = write_random(dir, "media.2.lslog", 5000, &b);
    share_file_list files = {0};
    /* the snapshot of b is its first 3000 bytes: the file grew after the listing */
    assert_int_equal(share_file_list_add(&files, pa, "calling.1.lslog", "calling", 100000, 1, 2),
                     0);
    assert_int_equal(share_file_list_add(&files, pb, "media.2.lslog", "media", 3000, 0, 0), 0);
    share_fields fields = {0};
    share_string_set(&fields.description, "no audio");
    share_fields_add_call_id(&fields, "call-1");
    share_fields_add_call_id(&fields, "call-2");
    char *id = NULL;
    assert_int_equal(outbox_queue(dir, &fields, &files, 1 << 20, 8, 0, &id), 0);

    /* the originals may now vanish (rotation) without harming the item */
    unlink(pa);
    unlink(pb);
    outbox_item *it = NULL;
    assert_int_equal(outbox_load(dir, id, &it), 0);
    assert_string_equal(it->fields.description, "no audio");
    assert_int_equal(it->fields.call_id_count, 2);
    assert_int_equal(it->files.count, 2);
    assert_int_equal(it->bytes, 103000);
    assert_int_equal(strlen(it->idempotency_key), 32);
    char want[65];
    sha_hex(a, 100000, want);
    assert_string_equal(it->files.items[0].sha256, want);
    sha_hex(b, 3000, want);
    assert_string_equal(it->files.items[1].sha256, want);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(ls_fs_read_file(it->files.items[1].path, 1 << 20, &data, &len), 0);
    assert_int_equal(len, 3000);
    assert_memory_equal(data, b, 3000);
    free(data);

    /* a second item gets its own key; ids sort oldest first */
    char *id2 = NULL;
    assert_int_equal(outbox_queue(dir, &fields, &(share_file_list){0}, 1 << 20, 8, 0, &id2), 0);
    outbox_item **items;
    size_t n;
    assert_int_equal(outbox_scan(dir, &items, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(items[0]->id, id);
    assert_string_equal(items[1]->id, id2);
    assert_string_not_equal(items[0]->idempotency_key, items[1]->idempotency_key);
    outbox_items_free(items, n);

    /* state survives a reload */
    it->state.attempts = 3;
    it->state.failed = 1;
    share_string_set(&it->state.error_message, "bad token");
    assert_int_equal(outbox_save_state(it), 0);
    outbox_item *again = NULL;
    assert_int_equal(outbox_load(dir, id, &again), 0);
    assert_int_equal(again->state.attempts, 3);
    assert_true(again->state.failed);
    assert_string_equal(again->state.error_message, "bad token");
    outbox_item_free(again);

    assert_int_equal(outbox_remove(dir, id), 0);
    assert_int_equal(outbox_load(dir, id, &again), LOGSHARE_ENOENT);
    assert_int_equal(outbox_remove(dir, id), LOGSHARE_ENOENT);

    outbox_item_free(it);
    share_fields_clear(&fields);
    share_file_list_clear(&files);
    free(a);
    free(b);
    free(pa);
    free(pb);
    free(id);
    free(id2);
    rm_rf(dir);
    free(dir);
}

static void quota_refuses_new_items_and_keeps_old_ones(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char *p = write_random(dir, "x.lslog", 40000, NULL);
    share_file_list files = {0};
    share_file_list_add(&files, p, "x.lslog", "main", 40000, 0, 0);
    share_fields fields = {0};
    share_string_set(&fields.description, "d");
    char *id1 = NULL, *id2 = NULL, *id3 = NULL;
    assert_int_equal(outbox_queue(dir, &fields, &files, 100000, 10, 0, &id1), 0);
    assert_int_equal(outbox_queue(dir, &fields, &files, 100000, 10, 0, &id2), 0);
    /* a third would make 120000 bytes > 100000 */
    assert_int_equal(outbox_queue(dir, &fields, &files, 100000, 10, 0, &id3), LOGSHARE_ENOSPC);
    assert_null(id3);
    /* the item count is a limit too */
    assert_int_equal(outbox_queue(dir, &fields, &(share_file_list){0}, 1 << 30, 2, 0, &id3),
                     LOGSHARE_ENOSPC);
    outbox_item **items;
    size_t n;
    assert_int_equal(outbox_scan(dir, &items, &n), 0);
    assert_int_equal(n, 2); /* nothing dropped, nothing half-made */
    outbox_items_free(items, n);
    /* sending (removing) one makes room again */
    assert_int_equal(outbox_remove(dir, id1), 0);
    assert_int_equal(outbox_queue(dir, &fields, &files, 100000, 10, 0, &id3), 0);
    share_fields_clear(&fields);
    share_file_list_clear(&files);
    free(p);
    free(id1);
    free(id2);
    free(id3);
    rm_rf(dir);
    free(dir);
}

static size_t count_items(const char *dir)
{
    outbox_item **items;
    size_t n = 0;
    if (outbox_scan(dir, &items, &n) == 0)
        outbox_items_free(items, n);
    return n;
}

/* Every visible item must load and its files must match their hashes. */
static size_t check_all_items_complete(const char *dir)
{
    outbox_item **items;
    size_t n;
    assert_int_equal(outbox_scan(dir, &items, &n), 0);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < items[i]->files.count; j++) {
            share_file *f = &items[i]->files.items[j];
            int fd = open(f->path, O_RDONLY);
            assert_true(fd >= 0);
            char hex[65];
            assert_int_equal(share_sha256_fd(fd, f->size, hex), 0);
            close(fd);
            assert_string_equal(hex, f->sha256);
        }
        char mpath[4096];
        snprintf(mpath, sizeof mpath, "%s/files/manifest.json", items[i]->dir);
        assert_int_equal(access(mpath, R_OK), 0);
    }
    outbox_items_free(items, n);
    return n;
}

static void kill_9_while_queueing_leaves_whole_items_or_none(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char *p1 = write_random(dir, "a.lslog", 300000, NULL);
    char *p2 = write_random(dir, "b.lslog", 200000, NULL);
    int rounds = getenv("LOGSHARE_SANITIZED") ? 6 : 12;
    size_t seen = 0;
    for (int r = 0; r < rounds; r++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            share_file_list files = {0};
            share_file_list_add(&files, p1, "a.lslog", "calling", 300000, 0, 0);
            share_file_list_add(&files, p2, "b.lslog", "media", 200000, 0, 0);
            share_fields fields = {0};
            share_string_set(&fields.description, "crash test");
            for (;;) {
                char *id = NULL;
                if (outbox_queue(dir, &fields, &files, 1ull << 40, 100000, 0, &id) != 0)
                    _exit(3);
                free(id);
            }
        }
        /* kill at a different moment each round; the last round waits
         * long enough (even under sanitizers and slow fsync) for some
         * items to be complete */
        if (r == rounds - 1) {
            for (int w = 0; w < 500 && count_items(dir) <= seen; w++)
                nanosleep(&(struct timespec){0, 20000000L}, NULL);
        }
        struct timespec ts = {0, (long)(1000000L + (long)randombytes_uniform(60000000))};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status));
        size_t n = check_all_items_complete(dir);
        assert_true(n >= seen);
        seen = n;
    }
    assert_true(seen > 0); /* the kills did land after some items were complete */
    /* leftovers of the interrupted builds are invisible, and cleared once old */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "touch -d '2 minutes ago' %s/outbox/.tmp-* 2>/dev/null; true", dir);
    assert_int_equal(system(cmd), 0);
    check_all_items_complete(dir);
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s/outbox | grep '^\\.tmp-')\"", dir);
    assert_int_equal(system(cmd), 0);
    free(p1);
    free(p2);
    rm_rf(dir);
    free(dir);
}

/* The store rotates (or its quota deletes) a log file between the
 * listing and the copy: the report is still queued, without that file,
 * and neither request.json nor the manifest claims it. An app's own
 * file that is missing is still an error. */
static void a_log_file_rotated_away_before_the_copy_is_left_out(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    unsigned char *b;
    char *pa = write_random(dir, "main.1.lslog", 7000, NULL);
    char *pb = write_random(dir, "main.2.lslog", 9000, &b);
    share_file_list files = {0};
    assert_int_equal(share_file_list_add(&files, pa, "main.1.lslog", "main", 7000, 0, 0), 0);
    assert_int_equal(share_file_list_add(&files, pb, "main.2.lslog", "main", 9000, 0, 0), 0);
    unlink(pa); /* rotated away after the listing */
    share_fields fields = {0};
    share_string_set(&fields.description, "rotated");
    char *id = NULL;
    assert_int_equal(outbox_queue(dir, &fields, &files, 1 << 20, 8, 0, &id), 0);
    outbox_item *it = NULL;
    assert_int_equal(outbox_load(dir, id, &it), 0);
    assert_int_equal(it->files.count, 1);
    assert_string_equal(it->files.items[0].name, "main.2.lslog");
    assert_int_equal(it->bytes, 9000);
    char want[65];
    sha_hex(b, 9000, want);
    assert_string_equal(it->files.items[0].sha256, want);
    char mpath[4096], *manifest = NULL;
    size_t len = 0;
    snprintf(mpath, sizeof mpath, "%s/files/manifest.json", it->dir);
    assert_int_equal(ls_fs_read_file(mpath, 1 << 20, &manifest, &len), 0);
    assert_null(strstr(manifest, "main.1.lslog"));
    assert_non_null(strstr(manifest, "main.2.lslog"));
    free(manifest);
    outbox_item_free(it);
    free(id);
    id = NULL;

    /* a missing attachment is the app's mistake: nothing is queued */
    share_file_list att = {0};
    assert_int_equal(share_file_list_add(&att, pa, "shot.png", "attachment", 0, 0, 0), 0);
    assert_int_equal(outbox_queue(dir, &fields, &att, 1 << 20, 8, 0, &id), LOGSHARE_ENOENT);
    assert_null(id);
    assert_int_equal(count_items(dir), 1);
    share_file_list_clear(&att);
    share_fields_clear(&fields);
    share_file_list_clear(&files);
    free(b);
    free(pa);
    free(pb);
    rm_rf(dir);
    free(dir);
}

static void hostile_item_ids_are_refused(void **state)
{
    (void)state;
    outbox_item *it = NULL;
    assert_int_equal(outbox_load("/tmp", "../etc", &it), LOGSHARE_EINVAL);
    assert_int_equal(outbox_load("/tmp", ".tmp-x", &it), LOGSHARE_EINVAL);
    assert_int_equal(outbox_remove("/tmp", "a/b"), LOGSHARE_EINVAL);
    assert_int_equal(outbox_remove("/tmp", ""), LOGSHARE_EINVAL);
}

static void a_corrupt_item_is_reported_not_guessed(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    share_fields fields = {0};
    share_string_set(&fields.description, "d");
    char *id = NULL;
    assert_int_equal(outbox_queue(dir, &fields, &(share_file_list){0}, 1 << 20, 8, 0, &id), 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/outbox/%s/request.json", dir, id);
    assert_int_equal(ls_fs_write_atomic(path, "{\"version\":1,", 13, 0600), 0);
    outbox_item *it = NULL;
    assert_int_equal(outbox_load(dir, id, &it), LOGSHARE_ECORRUPT);
    share_fields_clear(&fields);
    free(id);
    rm_rf(dir);
    free(dir);
}

/* Damage on disk never makes an item vanish unseen: a torn state.json
 * (the item is whole otherwise) starts over as pending with the same
 * idempotency key; a torn request.json, or none, is listed as failed
 * with the reason, counts against the quota and can be removed. They
 * used to drop out of the list, the flush and the quota silently. */
static void damaged_items_are_recovered_or_listed_never_lost(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    share_fields fields = {0};
    share_string_set(&fields.description, "d");
    char *id1 = NULL, *id2 = NULL, *id3 = NULL;
    share_file_list none = {0};
    assert_int_equal(outbox_queue(dir, &fields, &none, 1 << 20, 8, 0, &id1), 0);
    assert_int_equal(outbox_queue(dir, &fields, &none, 1 << 20, 8, 0, &id2), 0);
    assert_int_equal(outbox_queue(dir, &fields, &none, 1 << 20, 8, 0, &id3), 0);
    outbox_item *it = NULL;
    assert_int_equal(outbox_load(dir, id1, &it), 0);
    char *key1 = strdup(it->idempotency_key);
    it->state.attempts = 2;
    assert_int_equal(outbox_save_state(it), 0);
    outbox_item_free(it);
    char path[4096];
    snprintf(path, sizeof path, "%s/outbox/%s/state.json", dir, id1);
    assert_int_equal(ls_fs_write_atomic(path, "{\"vers", 6, 0600), 0);
    snprintf(path, sizeof path, "%s/outbox/%s/request.json", dir, id2);
    assert_int_equal(ls_fs_write_atomic(path, "{\"version\":1,", 13, 0600), 0);
    snprintf(path, sizeof path, "%s/outbox/%s/request.json", dir, id3);
    assert_int_equal(unlink(path), 0);

    outbox_item **items;
    size_t n;
    assert_int_equal(outbox_scan(dir, &items, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(items[0]->id, id1); /* recovered: pending, same key */
    assert_false(items[0]->state.failed);
    assert_int_equal(items[0]->state.attempts, 0);
    assert_string_equal(items[0]->idempotency_key, key1);
    for (size_t i = 1; i < 3; i++) { /* listed as damaged */
        assert_string_equal(items[i]->id, i == 1 ? id2 : id3);
        assert_true(items[i]->state.failed);
        assert_string_equal(items[i]->state.error_code, "corrupt");
        assert_true(items[i]->created_us > 0);
    }
    outbox_items_free(items, n);
    /* the recovered state was written back */
    assert_int_equal(outbox_load(dir, id1, &it), 0);
    outbox_item_free(it);
    snprintf(path, sizeof path, "%s/outbox/%s/state.json", dir, id1);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(ls_fs_read_file(path, 1 << 20, &text, &len), 0);
    assert_non_null(strstr(text, "\"pending\""));
    free(text);

    char *json = NULL;
    assert_int_equal(logshare_outbox_list_json(dir, &json), 0);
    assert_non_null(strstr(json, id2));
    assert_non_null(strstr(json, "damaged"));
    logshare_string_free(json);
    /* they take their place in the quota, and go when removed */
    char *id4 = NULL;
    assert_int_equal(outbox_queue(dir, &fields, &none, 1 << 20, 3, 0, &id4), LOGSHARE_ENOSPC);
    assert_int_equal(outbox_remove(dir, id2), 0);
    assert_int_equal(outbox_remove(dir, id3), 0);
    assert_int_equal(count_items(dir), 1);
    share_fields_clear(&fields);
    free(key1);
    free(id1);
    free(id2);
    free(id3);
    rm_rf(dir);
    free(dir);
}

static int setup(void **state)
{
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(queued_item_is_a_byte_exact_snapshot_with_hashes),
        cmocka_unit_test(quota_refuses_new_items_and_keeps_old_ones),
        cmocka_unit_test(kill_9_while_queueing_leaves_whole_items_or_none),
        cmocka_unit_test(a_log_file_rotated_away_before_the_copy_is_left_out),
        cmocka_unit_test(hostile_item_ids_are_refused),
        cmocka_unit_test(a_corrupt_item_is_reported_not_guessed),
        cmocka_unit_test(damaged_items_are_recovered_or_listed_never_lost),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
