/*
 * test_push_db.c - the push tables on a real SQLite file: the log
 * request state machine (decline, fulfil, expiry, ownership), the
 * webhook queue surviving a reopen, schema migration being idempotent,
 * survey idempotency and stats that equal what was stored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logshare.h"
#include "push_db.h"

#define SEC 1000000LL

struct fixture {
    char dir[64];
    char path[128];
    struct push_db *db;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/logshare-test-push-db-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/logshare.db", f->dir);
    if (push_db_open(f->path, &f->db))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    push_db_close(f->db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static void create(struct fixture *f, const char *user, int64_t expires_in, int64_t now,
                   const char *hook_url, struct log_request *out)
{
    struct log_request_new in = {user, "please send logs", NULL, "agent", expires_in};
    struct push_db_webhook hook = {hook_url};
    assert_int_equal(push_db_log_request_create(f->db, &in, &hook, now, out), 0);
}

static void a_new_request_is_pending_and_owned(void **state)
{
    struct fixture *f = *state;
    struct log_request r;
    create(f, "alice", 60, 1000 * SEC, NULL, &r);
    assert_true(push_id_valid(r.id));
    assert_int_equal(strncmp(r.id, "lr_", 3), 0);
    assert_int_equal(r.status, LOG_REQUEST_PENDING);
    assert_string_equal(r.user_id, "alice");
    assert_int_equal(r.expires_at, 1060 * SEC);
    assert_true(r.seq > 0);
    assert_int_equal(push_db_log_request_check_owner(f->db, r.id, "alice"), 0);
    assert_int_equal(push_db_log_request_check_owner(f->db, r.id, "bob"), LOGSHARE_EPERM);
    assert_int_equal(push_db_log_request_check_owner(f->db, "lr_00", "alice"), LOGSHARE_ENOENT);
    log_request_clear(&r);
}

static void only_the_owner_declines_and_only_once(void **state)
{
    struct fixture *f = *state;
    struct log_request r, after;
    create(f, "alice", 60, 1000 * SEC, NULL, &r);
    assert_int_equal(push_db_log_request_decline(f->db, r.id, "bob", 1001 * SEC, &after),
                     LOGSHARE_EPERM);
    assert_int_equal(push_db_log_request_decline(f->db, r.id, "alice", 1001 * SEC, &after), 0);
    assert_int_equal(after.status, LOG_REQUEST_DECLINED);
    assert_int_equal(after.updated_at, 1001 * SEC);
    log_request_clear(&after);
    assert_int_equal(push_db_log_request_decline(f->db, r.id, "alice", 1002 * SEC, &after),
                     LOGSHARE_ECONFLICT);
    log_request_clear(&after);
    /* a declined request is not fulfilled by a late upload */
    assert_int_equal(push_db_log_request_fulfil(f->db, r.id, "alice", "tk_1", 1003 * SEC, NULL),
                     LOGSHARE_ECONFLICT);
    log_request_clear(&r);
}

static void a_ticket_fulfils_even_after_expiry_but_not_twice(void **state)
{
    struct fixture *f = *state;
    struct log_request r, after;
    create(f, "alice", 5, 1000 * SEC, NULL, &r);
    assert_int_equal(push_db_log_request_get(f->db, r.id, 1006 * SEC, &after), 0);
    assert_int_equal(after.status, LOG_REQUEST_EXPIRED);
    log_request_clear(&after);
    assert_int_equal(push_db_log_request_fulfil(f->db, r.id, "mallory", "tk_x", 1007 * SEC, NULL),
                     LOGSHARE_EPERM);
    assert_int_equal(push_db_log_request_fulfil(f->db, r.id, "alice", "tk_1", 1007 * SEC, &after),
                     0);
    assert_int_equal(after.status, LOG_REQUEST_FULFILLED);
    assert_string_equal(after.fulfilled_ticket_id, "tk_1");
    log_request_clear(&after);
    assert_int_equal(push_db_log_request_fulfil(f->db, r.id, "alice", "tk_2", 1008 * SEC, &after),
                     LOGSHARE_ECONFLICT);
    assert_string_equal(after.fulfilled_ticket_id, "tk_1");
    log_request_clear(&after);
    log_request_clear(&r);
}

static void lists_filter_by_user_status_and_sequence(void **state)
{
    struct fixture *f = *state;
    struct log_request a1, a2, b1;
    create(f, "alice", 10, 1000 * SEC, NULL, &a1);
    create(f, "alice", 100, 1000 * SEC, NULL, &a2);
    create(f, "bob", 100, 1000 * SEC, NULL, &b1);
    struct log_request_list l;
    /* at 1050 s the first of alice's has expired, lazily */
    assert_int_equal(push_db_log_request_list(f->db, "alice", -1, 0, 100, 1050 * SEC, &l), 0);
    assert_int_equal(l.count, 2);
    assert_string_equal(l.items[0].id, a1.id);
    assert_int_equal(l.items[0].status, LOG_REQUEST_EXPIRED);
    assert_int_equal(l.items[1].status, LOG_REQUEST_PENDING);
    log_request_list_clear(&l);
    assert_int_equal(
        push_db_log_request_list(f->db, "alice", LOG_REQUEST_PENDING, 0, 100, 1050 * SEC, &l), 0);
    assert_int_equal(l.count, 1);
    assert_string_equal(l.items[0].id, a2.id);
    log_request_list_clear(&l);
    assert_int_equal(push_db_log_request_list(f->db, NULL, -1, a1.seq, 100, 1050 * SEC, &l), 0);
    assert_int_equal(l.count, 2);
    assert_string_equal(l.items[1].id, b1.id);
    log_request_list_clear(&l);
    assert_int_equal(push_db_log_request_list(f->db, NULL, -1, 0, 0, 1050 * SEC, &l),
                     LOGSHARE_EINVAL);
    log_request_clear(&a1);
    log_request_clear(&a2);
    log_request_clear(&b1);
}

static void bad_new_requests_store_nothing(void **state)
{
    struct fixture *f = *state;
    struct log_request r;
    struct log_request_new in = {"alice", "why", NULL, "agent", 0};
    assert_int_equal(push_db_log_request_create(f->db, &in, NULL, SEC, &r), LOGSHARE_EINVAL);
    in.expires_in_s = LOG_REQUEST_MAX_EXPIRES_S + 1;
    assert_int_equal(push_db_log_request_create(f->db, &in, NULL, SEC, &r), LOGSHARE_EINVAL);
    in.expires_in_s = 10;
    in.user_id = "";
    assert_int_equal(push_db_log_request_create(f->db, &in, NULL, SEC, &r), LOGSHARE_EINVAL);
    struct log_request_list l;
    assert_int_equal(push_db_log_request_list(f->db, NULL, -1, 0, 10, SEC, &l), 0);
    assert_int_equal(l.count, 0);
    log_request_list_clear(&l);
}

static void webhook_deliveries_are_queued_with_the_request_and_survive_reopen(void **state)
{
    struct fixture *f = *state;
    struct log_request r;
    create(f, "alice", 3600, 1000 * SEC, "http://127.0.0.1:9/hook", &r);
    struct webhook_delivery d;
    assert_int_equal(push_db_delivery_next(f->db, 1500 * SEC, &d), 0);
    assert_string_equal(d.url, "http://127.0.0.1:9/hook");
    assert_string_equal(d.event, "log_request.created");
    json_t *body = json_loads(d.payload, 0, NULL);
    assert_non_null(body);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(body, "log_request"), "id")), r.id);
    assert_string_equal(json_string_value(json_object_get(body, "delivery_id")), d.id);
    json_decref(body);
    /* a failed attempt keeps it pending, due later */
    assert_int_equal(
        push_db_delivery_record(f->db, d.row, 0, 0, 503, "busy", 2000 * SEC, 1001 * SEC), 0);
    int64_t row = d.row;
    webhook_delivery_clear(&d);
    push_db_close(f->db);
    assert_int_equal(push_db_open(f->path, &f->db), 0);
    assert_int_equal(push_db_delivery_next(f->db, 1500 * SEC, &d), 0);
    assert_int_equal(d.row, row);
    assert_int_equal(d.attempts, 1);
    assert_int_equal(d.next_attempt_at, 2000 * SEC);
    assert_int_equal(push_db_delivery_record(f->db, d.row, 0, 1, 200, NULL, 0, 2001 * SEC), 0);
    webhook_delivery_clear(&d);
    assert_int_equal(push_db_delivery_next(f->db, 1500 * SEC, &d), LOGSHARE_ENOENT);
    int64_t p, ok, failed;
    assert_int_equal(push_db_delivery_counts(f->db, &p, &ok, &failed, NULL), 0);
    assert_int_equal(p, 0);
    assert_int_equal(ok, 1);
    assert_int_equal(failed, 0);
    log_request_clear(&r);
}

/* A server paused past its claim must not record (or release) over the
 * claim another server took meanwhile: that one's attempt decides. */
static void only_the_current_claim_records_or_releases_a_delivery(void **state)
{
    struct fixture *f = *state;
    struct log_request r;
    create(f, "alice", 3600, 1000 * SEC, "http://127.0.0.1:9/hook", &r);
    struct webhook_delivery d;
    assert_int_equal(push_db_delivery_next(f->db, 1000 * SEC, &d), 0);
    int64_t row = d.row;
    webhook_delivery_clear(&d);
    assert_int_equal(push_db_delivery_claim(f->db, row, 1000 * SEC, 1011 * SEC), 0); /* A */
    assert_int_equal(push_db_delivery_claim(f->db, row, 1005 * SEC, 1016 * SEC),
                     LOGSHARE_ECONFLICT); /* B, while A's claim lasts */
    assert_int_equal(push_db_delivery_claim(f->db, row, 1012 * SEC, 1023 * SEC), 0); /* B */
    /* A wakes: its result and its release are dropped */
    assert_int_equal(
        push_db_delivery_record(f->db, row, 1011 * SEC, 0, 0, "timeout", 1013 * SEC, 1013 * SEC),
        LOGSHARE_ENOENT);
    assert_int_equal(push_db_delivery_release(f->db, row, 1011 * SEC), 0);
    assert_int_equal(push_db_delivery_claim(f->db, row, 1014 * SEC, 1025 * SEC),
                     LOGSHARE_ECONFLICT); /* B's claim is still there */
    assert_int_equal(push_db_delivery_next(f->db, 1014 * SEC, &d), 0);
    assert_int_equal(d.attempts, 0);
    assert_int_equal(d.next_attempt_at, 1023 * SEC); /* due when B's claim ends */
    webhook_delivery_clear(&d);
    /* B's own result counts */
    assert_int_equal(push_db_delivery_record(f->db, row, 1023 * SEC, 1, 200, NULL, 0, 1015 * SEC),
                     0);
    int64_t p, ok, failed;
    assert_int_equal(push_db_delivery_counts(f->db, &p, &ok, &failed, NULL), 0);
    assert_int_equal(p, 0);
    assert_int_equal(ok, 1);
    log_request_clear(&r);
}

static void deliveries_of_answered_or_expired_requests_are_dropped(void **state)
{
    struct fixture *f = *state;
    struct log_request a, b, c;
    create(f, "alice", 60, 1000 * SEC, "http://127.0.0.1:9/hook", &a);
    create(f, "bob", 60, 1000 * SEC, "http://127.0.0.1:9/hook", &b);
    create(f, "carol", 600, 1000 * SEC, "http://127.0.0.1:9/hook", &c);
    struct log_request out;
    assert_int_equal(push_db_log_request_decline(f->db, a.id, "alice", 1001 * SEC, &out), 0);
    log_request_clear(&out);
    /* at 1070 s: alice's was declined, bob's expired; carol's is due */
    struct webhook_delivery d;
    assert_int_equal(push_db_delivery_next(f->db, 1070 * SEC, &d), 0);
    json_t *body = json_loads(d.payload, 0, NULL);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(body, "log_request"), "id")), c.id);
    json_decref(body);
    int64_t p, ok, failed, dropped;
    assert_int_equal(push_db_delivery_counts(f->db, &p, &ok, &failed, &dropped), 0);
    assert_int_equal(p, 1);
    assert_int_equal(dropped, 2);
    assert_int_equal(failed, 0);
    webhook_delivery_clear(&d);
    log_request_clear(&a);
    log_request_clear(&b);
    log_request_clear(&c);
}

static void reopening_keeps_the_schema_version(void **state)
{
    struct fixture *f = *state;
    int v = push_db_schema_version(f->db);
    assert_true(v >= 4);
    push_db_close(f->db);
    assert_int_equal(push_db_open(f->path, &f->db), 0);
    assert_int_equal(push_db_schema_version(f->db), v);
}

static void parse_survey(const char *json, survey *s)
{
    char err[256];
    int rc = surveys_parse(json, strlen(json), s, err, sizeof err);
    if (rc)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
}

static void surveys_are_idempotent_and_stats_equal_the_input(void **state)
{
    struct fixture *f = *state;
    const char *bodies[] = {
        "{\"call_id\":\"c1\",\"overall\":{\"score\":1,\"issues\":[\"HadToRejoin\"]},"
        "\"audio\":{\"score\":2,\"issues\":[\"Echo\",\"LowVolume\"]}}",
        "{\"call_id\":\"c2\",\"overall\":{\"score\":5},\"audio\":{\"score\":4,\"issues\":"
        "[\"Echo\"]}}",
        "{\"call_id\":\"c3\",\"overall\":{\"score\":3,\"scale\":{\"lower\":0,\"upper\":10,"
        "\"low_threshold\":3}},\"video\":{\"score\":1,\"issues\":[\"Freezes\"]},"
        "\"report_issue\":true}",
    };
    struct survey_record rec;
    for (int i = 0; i < 3; i++) {
        survey s;
        parse_survey(bodies[i], &s);
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(push_db_survey_insert(f->db, "alice", &s, i == 2 ? "tk_9" : NULL, key,
                                               (1000 + i * 86400) * SEC, &rec),
                         0);
        assert_false(rec.replayed);
        assert_true(push_id_valid(rec.id));
        survey_record_clear(&rec);
        surveys_clear(&s);
    }
    survey s;
    parse_survey(bodies[0], &s);
    assert_int_equal(push_db_survey_insert(f->db, "alice", &s, NULL, "k0", 5000 * SEC, &rec), 0);
    assert_true(rec.replayed);
    assert_int_equal(rec.created_at, 1000 * SEC);
    survey_record_clear(&rec);
    surveys_clear(&s);

    char *text;
    assert_int_equal(push_db_survey_stats(f->db, 0, 0, 86400, &text), 0);
    json_t *st = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(st);
    assert_int_equal(json_integer_value(json_object_get(st, "total")), 3);
    assert_int_equal(json_integer_value(json_object_get(st, "report_issue")), 1);
    assert_int_equal(json_integer_value(json_object_get(st, "with_ticket")), 1);
    json_t *overall = json_object_get(json_object_get(st, "categories"), "overall");
    assert_int_equal(json_integer_value(json_object_get(overall, "count")), 3);
    /* 1 (<=2), 5, 3 on 0..10 with threshold 3 (low) */
    assert_int_equal(json_integer_value(json_object_get(overall, "low")), 2);
    json_t *dist = json_object_get(overall, "distribution");
    assert_int_equal(json_array_size(dist), 3);
    json_t *first = json_array_get(dist, 0);
    assert_int_equal(json_integer_value(json_object_get(first, "lower")), 0);
    assert_int_equal(json_integer_value(json_object_get(first, "score")), 3);
    json_t *screenshare = json_object_get(json_object_get(st, "categories"), "screenshare");
    assert_int_equal(json_integer_value(json_object_get(screenshare, "count")), 0);
    json_t *issues = json_object_get(st, "issues");
    assert_int_equal(json_array_size(issues), 4);
    json_t *top = json_array_get(issues, 0);
    assert_string_equal(json_string_value(json_object_get(top, "issue")), "Echo");
    assert_int_equal(json_integer_value(json_object_get(top, "count")), 2);
    json_t *timeline = json_object_get(st, "timeline");
    assert_int_equal(json_array_size(timeline), 3);
    json_t *day0 = json_array_get(timeline, 0);
    assert_int_equal(json_integer_value(json_object_get(day0, "ratings")), 2);
    assert_int_equal(json_integer_value(json_object_get(day0, "low")), 2);
    json_decref(st);

    /* a time window counts only what falls in it */
    assert_int_equal(push_db_survey_stats(f->db, 2000 * SEC, 0, 3600, &text), 0);
    st = json_loads(text, 0, NULL);
    free(text);
    assert_int_equal(json_integer_value(json_object_get(st, "total")), 2);
    json_decref(st);
    assert_int_equal(push_db_survey_stats(f->db, 0, 0, 1, &text), LOGSHARE_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_new_request_is_pending_and_owned, setup, teardown),
        cmocka_unit_test_setup_teardown(only_the_owner_declines_and_only_once, setup, teardown),
        cmocka_unit_test_setup_teardown(a_ticket_fulfils_even_after_expiry_but_not_twice, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(lists_filter_by_user_status_and_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_new_requests_store_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(
            webhook_deliveries_are_queued_with_the_request_and_survive_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(only_the_current_claim_records_or_releases_a_delivery,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(deliveries_of_answered_or_expired_requests_are_dropped,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(reopening_keeps_the_schema_version, setup, teardown),
        cmocka_unit_test_setup_teardown(surveys_are_idempotent_and_stats_equal_the_input, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
