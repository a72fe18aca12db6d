/*
 * test_share_export.c - the export archive read back with libarchive's
 * reader: every file is there with the snapshot's bytes, the manifest
 * lists each with the right size and SHA-256, and a failed export leaves
 * no file behind. (tests/report/export_tools.sh checks the same with
 * unzip and bsdtar.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "export.h"
#include "ls_fs.h"
#include "ls_hex.h"

struct entry {
    char name[256];
    unsigned char *data;
    size_t len;
};

static size_t read_archive(const char *path, struct entry *out, size_t max)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_all(a);
    archive_read_support_filter_all(a);
    assert_int_equal(archive_read_open_filename(a, path, 16384), ARCHIVE_OK);
    struct archive_entry *e;
    size_t n = 0;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        assert_true(n < max);
        snprintf(out[n].name, sizeof out[n].name, "%s", archive_entry_pathname(e));
        size_t cap = 1 << 16, len = 0;
        unsigned char *buf = malloc(cap);
        for (;;) {
            if (len == cap)
                buf = realloc(buf, cap *= 2);
            la_ssize_t r = archive_read_data(a, buf + len, cap - len);
            assert_true(r >= 0);
            if (r == 0)
                break;
            len += (size_t)r;
        }
        out[n].data = buf;
        out[n].len = len;
        n++;
    }
    archive_read_free(a);
    return n;
}

static void check_export(logshare_export_format format, const char *suffix)
{
    char dir[] = "/tmp/logshare-export-XXXXXX";
    assert_non_null(mkdtemp(dir));
    unsigned char big[200000], small[1000];
    randombytes_buf(big, sizeof big);
    memset(small, 'x', sizeof small);
    char p1[512], p2[512], out[512];
    snprintf(p1, sizeof p1, "%s/calling.1.lslog", dir);
    snprintf(p2, sizeof p2, "%s/media.2.lslog", dir);
    snprintf(out, sizeof out, "%s/export%s", dir, suffix);
    assert_int_equal(ls_fs_write_atomic(p1, big, sizeof big, 0600), 0);
    assert_int_equal(ls_fs_write_atomic(p2, small, sizeof small, 0600), 0);
    share_file_list files = {0};
    share_file_list_add(&files, p1, "calling.1.lslog", "calling", sizeof big, 1764045409000000,
                        1764045410000000);
    share_file_list_add(&files, p2, "media.2.lslog", "media", 600, 0,
                        0); /* snapshot shorter than the file */
    share_fields fields = {0};
    share_string_set(&fields.description, "export test");
    share_string_set(&fields.app_version, "9.9");
    share_string_set(&fields.platform, "linux");
    share_fields_add_call_id(&fields, "c-1");
    assert_int_equal(export_write_archive(&fields, &files, out, format, NULL, NULL), 0);

    struct entry e[8];
    size_t n = read_archive(out, e, 8);
    assert_int_equal(n, 3);
    assert_string_equal(e[0].name, "calling.1.lslog");
    assert_int_equal(e[0].len, sizeof big);
    assert_memory_equal(e[0].data, big, sizeof big);
    assert_string_equal(e[1].name, "media.2.lslog");
    assert_int_equal(e[1].len, 600);
    assert_string_equal(e[2].name, "manifest.json");

    json_t *m = json_loadb((const char *)e[2].data, e[2].len, 0, NULL);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "description")), "export test");
    assert_string_equal(json_string_value(json_object_get(m, "app_version")), "9.9");
    assert_string_equal(json_string_value(json_object_get(m, "platform")), "linux");
    assert_string_equal(json_string_value(json_array_get(json_object_get(m, "call_ids"), 0)),
                        "c-1");
    assert_string_equal(json_string_value(json_object_get(m, "library_version")),
                        logshare_version());
    assert_non_null(json_string_value(json_object_get(m, "created_at")));
    json_t *mf = json_object_get(m, "files");
    assert_int_equal(json_array_size(mf), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *f = json_array_get(mf, i);
        assert_string_equal(json_string_value(json_object_get(f, "name")), e[i].name);
        assert_int_equal(json_integer_value(json_object_get(f, "size")), e[i].len);
        unsigned char d[32];
        char hex[65];
        crypto_hash_sha256(d, e[i].data, e[i].len);
        ls_hex_encode(d, 32, hex);
        assert_string_equal(json_string_value(json_object_get(f, "sha256")), hex);
    }
    assert_string_equal(json_string_value(json_object_get(json_array_get(mf, 0), "stream")),
                        "calling");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(mf, 0), "first_record_at")),
        "2025-11-25T04:36:49.000000Z");
    assert_true(json_is_null(json_object_get(json_array_get(mf, 1), "first_record_at")));
    json_decref(m);
    for (size_t i = 0; i < n; i++)
        free(e[i].data);
    share_fields_clear(&fields);
    share_file_list_clear(&files);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void zip_export_holds_every_file_and_a_matching_manifest(void **state)
{
    (void)state;
    check_export(LOGSHARE_EXPORT_ZIP, ".zip");
}

static void tar_zst_export_holds_every_file_and_a_matching_manifest(void **state)
{
    (void)state;
    check_export(LOGSHARE_EXPORT_TAR_ZSTD, ".tar.zst");
}

static void failed_export_leaves_no_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/logshare-export-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[512], out[512];
    snprintf(p, sizeof p, "%s/short.lslog", dir);
    snprintf(out, sizeof out, "%s/out.zip", dir);
    assert_int_equal(ls_fs_write_atomic(p, "abc", 3, 0600), 0);
    share_file_list files = {0};
    share_file_list_add(&files, p, "short.lslog", "main", 100, 0,
                        0); /* claims more than there is */
    share_fields fields = {0};
    assert_int_equal(export_write_archive(&fields, &files, out, LOGSHARE_EXPORT_ZIP, NULL, NULL),
                     LOGSHARE_ETRUNCATED);
    assert_int_not_equal(access(out, F_OK), 0);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1 && rm -rf '%s'", dir, dir);
    assert_int_equal(system(cmd), 0); /* no temporary left either */
    share_file_list_clear(&files);
}

/* An export of more files than the process may hold open at once (iOS
 * allows 256 descriptors): every file is in the archive and the
 * manifest, except a log rotated away after the listing, which neither
 * claims. */
static void an_export_of_more_files_than_descriptors_is_complete(void **state)
{
    (void)state;
    enum { N = 300 };
    char dir[] = "/tmp/logshare-export-XXXXXX";
    assert_non_null(mkdtemp(dir));
    share_file_list files = {0};
    char p[512], out[512];
    for (int i = 0; i < N; i++) {
        snprintf(p, sizeof p, "%s/main.%04d.lslog", dir, i);
        char body[64];
        int len = snprintf(body, sizeof body, "file %d", i);
        assert_int_equal(ls_fs_write_atomic(p, body, (size_t)len, 0600), 0);
        assert_int_equal(
            share_file_list_add(&files, p, strrchr(p, '/') + 1, "main", (uint64_t)len, 0, 0), 0);
    }
    snprintf(p, sizeof p, "%s/main.0007.lslog", dir);
    unlink(p); /* rotated away between the listing and the export */
    snprintf(out, sizeof out, "%s/many.zip", dir);
    share_fields fields = {0};
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = 64;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    int rc = export_write_archive(&fields, &files, out, LOGSHARE_EXPORT_ZIP, NULL, NULL);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(files.count, N - 1);

    static struct entry e[N + 1];
    size_t n = read_archive(out, e, N + 1);
    assert_int_equal(n, N); /* N - 1 logs and the manifest */
    json_t *m = json_loadb((const char *)e[n - 1].data, e[n - 1].len, 0, NULL);
    json_t *mf = json_object_get(m, "files");
    assert_int_equal(json_array_size(mf), N - 1);
    for (size_t i = 0; i + 1 < n; i++) {
        assert_string_not_equal(e[i].name, "main.0007.lslog");
        assert_string_equal(json_string_value(json_object_get(json_array_get(mf, i), "name")),
                            e[i].name);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(mf, i), "size")),
                         e[i].len);
    }
    json_decref(m);
    for (size_t i = 0; i < n; i++)
        free(e[i].data);
    share_file_list_clear(&files);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void names_are_made_safe_and_unique(void **state)
{
    (void)state;
    share_file_list l = {0};
    share_file_list_add(&l, "/a", "../../etc/passwd", "s", 0, 0, 0);
    share_file_list_add(&l, "/b", "passwd", "s", 0, 0, 0);
    share_file_list_add(&l, "/c", ".hidden", "s", 0, 0, 0);
    share_file_list_add(&l, "/d", "manifest.json", "attachment", 0, 0, 0);
    share_file_list_add(&l, "/e", "sp ace\"q", "s", 0, 0, 0);
    assert_string_equal(l.items[0].name, "passwd");
    assert_string_equal(l.items[1].name, "passwd.1");
    assert_string_equal(l.items[2].name, "f_.hidden");
    assert_string_equal(l.items[3].name, "manifest.json.1");
    assert_string_equal(l.items[4].name, "sp_ace_q");
    share_file_list_clear(&l);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(zip_export_holds_every_file_and_a_matching_manifest),
        cmocka_unit_test(tar_zst_export_holds_every_file_and_a_matching_manifest),
        cmocka_unit_test(failed_export_leaves_no_file),
        cmocka_unit_test(names_are_made_safe_and_unique),
        cmocka_unit_test(an_export_of_more_files_than_descriptors_is_complete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
