/*
 * test_session.c - dashboard sessions and the login limiter, as the
 * server uses them: revocation and expiry really end a session, tokens
 * and CSRF tokens are checked exactly, sessions live in a SQLite file
 * that two stores (two servers) share and that outlives them, and login
 * attempts run out per user name and per address.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "dashboard_login_limit.h"
#include "logshare.h"
#include "session.h"

/* A fresh sessions file per test, as the server has it. */
static char db_dir[] = "/tmp/test_session.XXXXXX";
static char db_path[sizeof db_dir + 32];

static int make_db_dir(void **state)
{
    (void)state;
    strcpy(db_dir, "/tmp/test_session.XXXXXX");
    if (!mkdtemp(db_dir))
        return -1;
    snprintf(db_path, sizeof db_path, "%s/sessions.db", db_dir);
    return 0;
}

static int remove_db_dir(void **state)
{
    (void)state;
    const char *suffix[] = {"", "-wal", "-shm"};
    char p[sizeof db_path + 8];
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", db_path, suffix[i]);
        unlink(p);
    }
    return rmdir(db_dir);
}

/* A store on this test's file, with cfg (may be NULL) otherwise. */
static struct session_store *open_store(const struct session_store_config *cfg)
{
    struct session_store_config c = cfg ? *cfg : (struct session_store_config){0};
    c.path = db_path;
    struct session_store *ss = NULL;
    assert_int_equal(session_store_new(&c, &ss), 0);
    return ss;
}

/* last_used of the only session in the file, read behind the store. */
static long long stored_last_used(void)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    long long v = -1;
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT last_used FROM sessions", -1, &st, NULL),
                     SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void session_lookup_returns_the_login(void **state)
{
    (void)state;
    struct session_store *ss;
    ss = open_store(NULL);
    char token[SESSION_TOKEN_LEN + 1];
    struct session_info made, found;
    assert_int_equal(session_create(ss, "alice", "support", 1000, token, &made), 0);
    assert_int_equal(strlen(token), SESSION_TOKEN_LEN);
    assert_int_equal(session_lookup(ss, token, 1001, &found), 0);
    assert_string_equal(found.user, "alice");
    assert_string_equal(found.role, "support");
    assert_string_equal(found.csrf, made.csrf);
    assert_int_equal(strlen(found.csrf), SESSION_CSRF_LEN);
    assert_string_not_equal(found.csrf, token);
    session_store_free(ss);
}

static void revoked_session_is_gone(void **state)
{
    (void)state;
    struct session_store *ss;
    ss = open_store(NULL);
    char token[SESSION_TOKEN_LEN + 1];
    assert_int_equal(session_create(ss, "alice", "support", 1000, token, NULL), 0);
    assert_int_equal(session_revoke(ss, token), 0);
    assert_int_equal(session_lookup(ss, token, 1001, NULL), LOGSHARE_EAUTH);
    assert_int_equal(session_revoke(ss, token), LOGSHARE_EAUTH);
    assert_int_equal(session_count(ss), 0);
    session_store_free(ss);
}

static void idle_and_absolute_expiry_end_sessions(void **state)
{
    (void)state;
    struct session_store_config cfg = {.idle_ttl_s = 100, .absolute_ttl_s = 250};
    struct session_store *ss;
    ss = open_store(&cfg);
    char token[SESSION_TOKEN_LEN + 1];
    assert_int_equal(session_create(ss, "bob", "admin", 1000, token, NULL), 0);
    /* Used every 90 s it stays alive, but never past 250 s after login. */
    assert_int_equal(session_lookup(ss, token, 1090, NULL), 0);
    assert_int_equal(session_lookup(ss, token, 1180, NULL), 0);
    struct session_info info;
    assert_int_equal(session_lookup(ss, token, 1240, &info), 0);
    assert_int_equal(info.expires_at, 1250);
    assert_int_equal(session_lookup(ss, token, 1250, NULL), LOGSHARE_EAUTH);
    /* Idle: 100 s without use ends it. */
    assert_int_equal(session_create(ss, "bob", "admin", 2000, token, NULL), 0);
    assert_int_equal(session_lookup(ss, token, 2100, NULL), LOGSHARE_EAUTH);
    assert_int_equal(session_count(ss), 0);
    session_store_free(ss);
}

static void malformed_and_foreign_tokens_are_refused(void **state)
{
    (void)state;
    struct session_store *ss;
    ss = open_store(NULL);
    char token[SESSION_TOKEN_LEN + 1];
    assert_int_equal(session_create(ss, "alice", "support", 1000, token, NULL), 0);
    char other[SESSION_TOKEN_LEN + 1];
    memcpy(other, token, sizeof other);
    other[10] = other[10] == 'a' ? 'b' : 'a';
    assert_int_equal(session_lookup(ss, other, 1001, NULL), LOGSHARE_EAUTH);
    assert_int_equal(session_lookup(ss, "", 1001, NULL), LOGSHARE_EAUTH);
    assert_int_equal(session_lookup(ss, NULL, 1001, NULL), LOGSHARE_EAUTH);
    char upper[SESSION_TOKEN_LEN + 2];
    memcpy(upper, token, SESSION_TOKEN_LEN);
    upper[SESSION_TOKEN_LEN] = '0';
    upper[SESSION_TOKEN_LEN + 1] = '\0';
    assert_int_equal(session_lookup(ss, upper, 1001, NULL), LOGSHARE_EAUTH);
    memset(other, 'z', SESSION_TOKEN_LEN);
    assert_int_equal(session_lookup(ss, other, 1001, NULL), LOGSHARE_EAUTH);
    session_store_free(ss);
}

/* A passive lookup (a page refreshing itself) answers but does not keep
 * the session from going idle. */
static void passive_lookups_do_not_extend_idle_expiry(void **state)
{
    (void)state;
    struct session_store_config cfg = {.idle_ttl_s = 10, .absolute_ttl_s = 100};
    struct session_store *ss;
    ss = open_store(&cfg);
    char token[SESSION_TOKEN_LEN + 1];
    assert_int_equal(session_create(ss, "alice", "support", 1000, token, NULL), 0);
    struct session_info info;
    for (int64_t t = 1003; t < 1010; t += 3) {
        assert_int_equal(session_lookup_passive(ss, token, t, &info), 0);
        assert_int_equal(info.expires_at, 1010);
    }
    assert_int_equal(session_lookup_passive(ss, token, 1010, &info), LOGSHARE_EAUTH);
    assert_int_equal(session_lookup(ss, token, 1005, &info), LOGSHARE_EAUTH); /* gone */
    session_store_free(ss);
}

static void csrf_must_match_exactly(void **state)
{
    (void)state;
    struct session_store *ss;
    ss = open_store(NULL);
    char token[SESSION_TOKEN_LEN + 1];
    struct session_info info;
    assert_int_equal(session_create(ss, "alice", "support", 1000, token, &info), 0);
    assert_true(session_csrf_matches(&info, info.csrf));
    assert_false(session_csrf_matches(&info, NULL));
    assert_false(session_csrf_matches(&info, ""));
    assert_false(session_csrf_matches(&info, token));
    char wrong[SESSION_CSRF_LEN + 1];
    memcpy(wrong, info.csrf, sizeof wrong);
    wrong[SESSION_CSRF_LEN - 1] = wrong[SESSION_CSRF_LEN - 1] == '0' ? '1' : '0';
    assert_false(session_csrf_matches(&info, wrong));
    session_store_free(ss);
}

static void a_full_table_drops_the_oldest_session(void **state)
{
    (void)state;
    struct session_store_config cfg = {.max_sessions = 3};
    struct session_store *ss;
    ss = open_store(&cfg);
    char t[4][SESSION_TOKEN_LEN + 1];
    for (int i = 0; i < 4; i++)
        assert_int_equal(session_create(ss, "u", "support", 1000 + i, t[i], NULL), 0);
    assert_int_equal(session_count(ss), 3);
    assert_int_equal(session_lookup(ss, t[0], 1010, NULL), LOGSHARE_EAUTH);
    for (int i = 1; i < 4; i++)
        assert_int_equal(session_lookup(ss, t[i], 1010, NULL), 0);
    session_store_free(ss);
}

static void login_attempts_run_out_per_user_name(void **state)
{
    (void)state;
    struct login_limit *l;
    assert_int_equal(login_limit_new(NULL, &l), 0);
    int retry = 0;
    int64_t now = 5000000000;
    for (int i = 0; i < 5; i++)
        assert_int_equal(login_limit_take(l, "10.0.0.1", "alice", now, &retry), 0);
    assert_int_equal(login_limit_take(l, "10.0.0.2", "alice", now, &retry), LOGSHARE_ERATELIMIT);
    assert_in_range(retry, 1, 12);
    /* Another name from the same address is still allowed. */
    assert_int_equal(login_limit_take(l, "10.0.0.1", "bob", now, &retry), 0);
    /* 12 s later one more attempt for alice (5 a minute). */
    assert_int_equal(login_limit_take(l, "10.0.0.3", "alice", now + 12000000, &retry), 0);
    assert_int_equal(login_limit_take(l, "10.0.0.3", "alice", now + 12000000, &retry),
                     LOGSHARE_ERATELIMIT);
    login_limit_free(l);
}

static void login_attempts_run_out_per_address(void **state)
{
    (void)state;
    struct login_limit *l;
    assert_int_equal(login_limit_new(NULL, &l), 0);
    int retry = 0;
    char name[32];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "user%d", i);
        assert_int_equal(login_limit_take(l, "192.0.2.7", name, 1000, &retry), 0);
    }
    assert_int_equal(login_limit_take(l, "192.0.2.7", "fresh", 1000, &retry), LOGSHARE_ERATELIMIT);
    assert_true(retry >= 1);
    assert_int_equal(login_limit_take(l, "192.0.2.8", "fresh", 1000, &retry), 0);
    login_limit_free(l);
}

static void success_refills_the_user_name(void **state)
{
    (void)state;
    struct login_limit *l;
    assert_int_equal(login_limit_new(NULL, &l), 0);
    int retry;
    for (int i = 0; i < 4; i++)
        assert_int_equal(login_limit_take(l, "10.0.0.1", "carol", 1000, &retry), 0);
    login_limit_success(l, "carol", 1000);
    for (int i = 0; i < 5; i++)
        assert_int_equal(login_limit_take(l, "10.0.0.1", "carol", 1000, &retry), 0);
    assert_int_equal(login_limit_take(l, "10.0.0.1", "carol", 1000, &retry), LOGSHARE_ERATELIMIT);
    login_limit_free(l);
}

/* A known browser's bucket is its own: a stranger emptying the name's
 * ordinary bucket does not touch it, and it runs out the same way. */
static void a_known_device_has_its_own_bucket(void **state)
{
    (void)state;
    struct login_limit *l;
    assert_int_equal(login_limit_new(NULL, &l), 0);
    int retry;
    for (int i = 0; i < 5; i++)
        assert_int_equal(login_limit_take(l, "10.0.0.9", "erin", 1000, &retry), 0);
    assert_int_equal(login_limit_take(l, "10.0.0.9", "erin", 1000, &retry), LOGSHARE_ERATELIMIT);
    for (int i = 0; i < 5; i++)
        assert_int_equal(login_limit_take_device(l, "10.0.0.1", "erin", 1000, &retry), 0);
    assert_int_equal(login_limit_take_device(l, "10.0.0.1", "erin", 1000, &retry),
                     LOGSHARE_ERATELIMIT);
    login_limit_success_device(l, "erin", 1000);
    assert_int_equal(login_limit_take_device(l, "10.0.0.1", "erin", 1000, &retry), 0);
    /* the device's success gave the stranger nothing back */
    assert_int_equal(login_limit_take(l, "10.0.0.9", "erin", 1000, &retry), LOGSHARE_ERATELIMIT);
    login_limit_free(l);
}

/* Two stores on one file are two servers on one data dir: a session
 * made by one works on the other with the same CSRF token, a logout
 * through one ends it for the other at once, and it outlives both. */
static void two_stores_on_one_file_share_sessions(void **state)
{
    (void)state;
    struct session_store *a = open_store(NULL), *b = open_store(NULL);
    char token[SESSION_TOKEN_LEN + 1], kept[SESSION_TOKEN_LEN + 1];
    struct session_info made, found;
    assert_int_equal(session_create(a, "alice", "support", 1000, token, &made), 0);
    assert_int_equal(session_create(a, "bob", "admin", 1000, kept, NULL), 0);
    assert_int_equal(session_lookup(b, token, 1001, &found), 0);
    assert_string_equal(found.user, "alice");
    assert_true(session_csrf_matches(&found, made.csrf));
    assert_int_equal(session_revoke(b, token), 0);
    assert_int_equal(session_lookup(a, token, 1002, NULL), LOGSHARE_EAUTH);
    session_store_free(a);
    session_store_free(b);
    /* a restart */
    a = open_store(NULL);
    assert_int_equal(session_lookup(a, kept, 1003, &found), 0);
    assert_string_equal(found.user, "bob");
    assert_int_equal(session_count(a), 1);
    session_store_free(a);
    struct stat st;
    assert_int_equal(stat(db_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

/* Nothing in the file could be replayed: neither the token nor the
 * CSRF token is stored, in any form but the token's digest. */
static void the_file_holds_no_token(void **state)
{
    (void)state;
    struct session_store *ss = open_store(NULL);
    char token[SESSION_TOKEN_LEN + 1];
    struct session_info info;
    assert_int_equal(session_create(ss, "alice", "support", 1000, token, &info), 0);
    session_store_free(ss);
    FILE *f = fopen(db_path, "rb");
    assert_non_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    unsigned char raw[SESSION_TOKEN_LEN / 2];
    for (size_t i = 0; i < sizeof raw; i++) {
        unsigned v;
        sscanf(token + 2 * i, "%2x", &v);
        raw[i] = (unsigned char)v;
    }
    assert_non_null(memmem(buf, n, "alice", 5)); /* the row is in the main file */
    assert_null(memmem(buf, n, token, SESSION_TOKEN_LEN));
    assert_null(memmem(buf, n, info.csrf, SESSION_CSRF_LEN));
    assert_null(memmem(buf, n, raw, sizeof raw));
}

/* An active session is not a write per request: last_used is written
 * when it moved by more than a minute, and expires_at says what is
 * stored (a minute early at worst, never late). */
static void last_used_is_written_once_a_minute(void **state)
{
    (void)state;
    struct session_store_config cfg = {.idle_ttl_s = 3600, .absolute_ttl_s = 86400};
    struct session_store *ss = open_store(&cfg);
    char token[SESSION_TOKEN_LEN + 1];
    struct session_info info;
    assert_int_equal(session_create(ss, "alice", "support", 1000, token, NULL), 0);
    assert_int_equal(session_lookup(ss, token, 1030, &info), 0);
    assert_int_equal(stored_last_used(), 1000);
    assert_int_equal(info.expires_at, 4600);
    assert_int_equal(session_lookup(ss, token, 1060, &info), 0);
    assert_int_equal(stored_last_used(), 1000);
    assert_int_equal(session_lookup(ss, token, 1061, &info), 0);
    assert_int_equal(stored_last_used(), 1061);
    assert_int_equal(info.expires_at, 4661);
    session_store_free(ss);
}

/* Two limiters on one file are two servers: the guesses made through
 * one count for the other, a success through one refills the name for
 * both, and both sign device cookies with one key. */
static void two_limiters_on_one_file_share_buckets(void **state)
{
    (void)state;
    struct login_limit_config cfg = {.path = db_path};
    struct login_limit *a, *b;
    assert_int_equal(login_limit_new(&cfg, &a), 0);
    assert_int_equal(login_limit_new(&cfg, &b), 0);
    int retry = 0;
    int64_t now = 5000000000;
    for (int i = 0; i < 5; i++)
        assert_int_equal(login_limit_take(i % 2 ? a : b, "10.0.0.1", "alice", now, &retry), 0);
    assert_int_equal(login_limit_take(a, "10.0.0.2", "alice", now, &retry), LOGSHARE_ERATELIMIT);
    assert_int_equal(login_limit_take(b, "10.0.0.2", "alice", now, &retry), LOGSHARE_ERATELIMIT);
    assert_in_range(retry, 1, 12);
    login_limit_success(a, "alice", now);
    assert_int_equal(login_limit_take(b, "10.0.0.2", "alice", now, &retry), 0);
    unsigned char ka[LOGIN_LIMIT_KEY_LEN], kb[LOGIN_LIMIT_KEY_LEN];
    assert_int_equal(login_limit_device_key(a, ka), 0);
    assert_int_equal(login_limit_device_key(b, kb), 0);
    assert_memory_equal(ka, kb, sizeof ka);
    login_limit_free(a);
    login_limit_free(b);
    /* a restart keeps both */
    assert_int_equal(login_limit_new(&cfg, &a), 0);
    assert_int_equal(login_limit_device_key(a, kb), 0);
    assert_memory_equal(ka, kb, sizeof ka);
    for (int i = 0; i < 4; i++)
        assert_int_equal(login_limit_take(a, "10.0.0.3", "alice", now, &retry), 0);
    assert_int_equal(login_limit_take(a, "10.0.0.3", "alice", now, &retry), LOGSHARE_ERATELIMIT);
    login_limit_free(a);
}

/* A flood of names and addresses cannot grow the shared table past
 * max_keys rows. */
static void the_bucket_table_stays_bounded(void **state)
{
    (void)state;
    struct login_limit_config cfg = {.path = db_path, .max_keys = 16};
    struct login_limit *l;
    assert_int_equal(login_limit_new(&cfg, &l), 0);
    int retry;
    char addr[32], name[32];
    for (int i = 0; i < 40; i++) {
        snprintf(addr, sizeof addr, "10.1.0.%d", i);
        snprintf(name, sizeof name, "user%d", i);
        assert_int_equal(login_limit_take(l, addr, name, 1000 + i, &retry), 0);
    }
    login_limit_free(l);
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM login_buckets", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_in_range(sqlite3_column_int64(st, 0), 2, 16);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(session_lookup_returns_the_login, make_db_dir,
                                        remove_db_dir),
        cmocka_unit_test_setup_teardown(revoked_session_is_gone, make_db_dir, remove_db_dir),
        cmocka_unit_test_setup_teardown(idle_and_absolute_expiry_end_sessions, make_db_dir,
                                        remove_db_dir),
        cmocka_unit_test_setup_teardown(malformed_and_foreign_tokens_are_refused, make_db_dir,
                                        remove_db_dir),
        cmocka_unit_test_setup_teardown(passive_lookups_do_not_extend_idle_expiry, make_db_dir,
                                        remove_db_dir),
        cmocka_unit_test_setup_teardown(csrf_must_match_exactly, make_db_dir, remove_db_dir),
        cmocka_unit_test_setup_teardown(a_full_table_drops_the_oldest_session, make_db_dir,
                                        remove_db_dir),
        cmocka_unit_test_setup_teardown(two_stores_on_one_file_share_sessions, make_db_dir,
                                        remove_db_dir),
        cmocka_unit_test_setup_teardown(the_file_holds_no_token, make_db_dir, remove_db_dir),
        cmocka_unit_test_setup_teardown(last_used_is_written_once_a_minute, make_db_dir,
                                        remove_db_dir),
        cmocka_unit_test(login_attempts_run_out_per_user_name),
        cmocka_unit_test(login_attempts_run_out_per_address),
        cmocka_unit_test(success_refills_the_user_name),
        cmocka_unit_test(a_known_device_has_its_own_bucket),
        cmocka_unit_test_setup_teardown(two_limiters_on_one_file_share_buckets, make_db_dir,
                                        remove_db_dir),
        cmocka_unit_test_setup_teardown(the_bucket_table_stays_bounded, make_db_dir, remove_db_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
