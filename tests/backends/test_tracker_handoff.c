/*
 * test_tracker_handoff.c - the ticket store's tracker hand-off rows
 * (ticket_store.h, "tracker hand-offs") against a real database: a row
 * exactly when a ticket is created with a tracker set, claims with a
 * lease that only their holder can record or release, retries, giving
 * up, the tracker_url a delivery sets, and concurrent claimers taking
 * each row once. Built twice, like test_ticket_store.c: SQLite
 * (test_tracker_handoff) and PostgreSQL (test_tracker_handoff_pg).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends_testlib.h"
#include "logshare.h"
#include "ls_time.h"
#include "store_backend.h"
#include "ticket_store.h"
#include "tracker_worker.h"

/* A fixed "now" an hour after the run started: after every created_at. */
static int64_t NOW;
#define LEASE 30000000LL

struct fixture {
    char *dir;
    char *db;
    struct ticket_store *ts;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = tmpdir_new();
    if (backend_open_fresh(f->dir, &f->db, &f->ts) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    ticket_store_destroy(f->ts);
    tmpdir_remove(f->dir);
    free(f->db);
    free(f->dir);
    free(f);
    return 0;
}

/* Creates a ticket for user "u" (with idempotency key key, may be NULL)
 * and returns what create answered. */
static struct ticket *create(struct ticket_store *ts, char id[TICKET_ID_MAX], const char *key)
{
    assert_int_equal(ticket_id_new(TICKET_ID_PREFIX, id), 0);
    struct ticket t = {0};
    t.id = id;
    t.user_id = (char *)"u";
    t.description = (char *)"hand me off";
    struct ticket *out = NULL;
    assert_int_equal(ticket_store_create(ts, &t, key, &out, NULL), 0);
    return out;
}

static char *status_of(struct ticket_store *ts, const char *id)
{
    struct ticket *t = NULL;
    assert_int_equal(ticket_store_get(ts, id, &t), 0);
    static char buf[32];
    snprintf(buf, sizeof buf, "%s", t->tracker_status ? t->tracker_status : "(none)");
    ticket_free(t);
    return buf;
}

static void no_tracker_no_handoff(void **state)
{
    struct fixture *f = *state;
    char id[TICKET_ID_MAX];
    struct ticket *t = create(f->ts, id, NULL);
    assert_null(t->tracker_status);
    ticket_free(t);
    assert_string_equal(status_of(f->ts, id), "(none)");
    struct ticket_handoff h;
    int64_t next = -1;
    assert_int_equal(ticket_store_handoff_claim(f->ts, NOW, NOW + LEASE, &h, &next),
                     LOGSHARE_ENOENT);
    assert_int_equal(next, 0);
    assert_int_equal(backend_count_rows(f->db, "tracker_handoffs"), 0);
}

static void a_claim_is_held_until_recorded_and_only_by_its_holder(void **state)
{
    struct fixture *f = *state;
    ticket_store_set_tracker(f->ts, "webhook");
    char id[TICKET_ID_MAX];
    struct ticket *t = create(f->ts, id, "k1");
    assert_string_equal(t->tracker_status, "pending");
    ticket_free(t);
    /* A retry of the same create queues nothing more. */
    char again[TICKET_ID_MAX];
    ticket_free(create(f->ts, again, "k1"));
    assert_int_equal(backend_count_rows(f->db, "tracker_handoffs"), 1);
    assert_string_equal(status_of(f->ts, id), "pending");

    struct ticket_handoff h, other;
    int64_t next = 0;
    assert_int_equal(ticket_store_handoff_claim(f->ts, NOW, NOW + LEASE, &h, &next), 0);
    assert_string_equal(h.ticket_id, id);
    assert_int_equal(strncmp(h.delivery_id, "td_", 3), 0);
    assert_true(ticket_id_valid(h.delivery_id));
    assert_int_equal(h.attempts, 0);
    /* Held: nobody else gets it, and it falls due when the lease ends. */
    assert_int_equal(ticket_store_handoff_claim(f->ts, NOW + 1, NOW + 1 + LEASE, &other, &next),
                     LOGSHARE_ENOENT);
    assert_int_equal(next, NOW + LEASE);
    /* A claim that is not the holder's records nothing. */
    struct ticket_handoff stale = h;
    stale.lease_until = NOW + 5;
    struct ticket_handoff_result fail = {
        0, NULL, 503, "the receiver answered 503", NOW + 2000000, NOW + 10};
    assert_int_equal(ticket_store_handoff_record(f->ts, &stale, &fail), LOGSHARE_ENOENT);
    /* The holder's failed attempt: pending until its retry time. */
    assert_int_equal(ticket_store_handoff_record(f->ts, &h, &fail), 0);
    assert_string_equal(status_of(f->ts, id), "pending");
    assert_int_equal(ticket_store_handoff_claim(f->ts, NOW + 20, NOW + 20 + LEASE, &other, &next),
                     LOGSHARE_ENOENT);
    assert_int_equal(next, NOW + 2000000);
    /* Due again: the same delivery id, one attempt counted. */
    int64_t later = NOW + 2000000;
    assert_int_equal(ticket_store_handoff_claim(f->ts, later, later + LEASE, &other, NULL), 0);
    assert_string_equal(other.delivery_id, h.delivery_id);
    assert_int_equal(other.attempts, 1);
    struct ticket_handoff_result ok = {1,         "https://tracker.example/item/1", 200, NULL, 0,
                                       later + 10};
    assert_int_equal(ticket_store_handoff_record(f->ts, &other, &ok), 0);
    assert_int_equal(ticket_store_handoff_record(f->ts, &other, &ok), LOGSHARE_ENOENT);
    struct ticket *done = NULL;
    assert_int_equal(ticket_store_get(f->ts, id, &done), 0);
    assert_string_equal(done->tracker_status, "delivered");
    assert_string_equal(done->tracker_url, "https://tracker.example/item/1");
    ticket_free(done);
    assert_int_equal(
        ticket_store_handoff_claim(f->ts, later + LEASE * 2, later + LEASE * 3, &other, &next),
        LOGSHARE_ENOENT);
    assert_int_equal(next, 0);
    struct ticket_handoff_counts c;
    assert_int_equal(ticket_store_handoff_counts(f->ts, &c), 0);
    assert_int_equal(c.pending, 0);
    assert_int_equal(c.delivered, 1);
    assert_int_equal(c.failed, 0);
}

static void a_released_claim_is_due_at_once_and_a_last_failure_gives_up(void **state)
{
    struct fixture *f = *state;
    ticket_store_set_tracker(f->ts, "webhook");
    char id[TICKET_ID_MAX];
    ticket_free(create(f->ts, id, NULL));
    struct ticket_handoff h;
    assert_int_equal(ticket_store_handoff_claim(f->ts, NOW, NOW + LEASE, &h, NULL), 0);
    assert_int_equal(ticket_store_handoff_release(f->ts, &h), 0);
    assert_int_equal(ticket_store_handoff_claim(f->ts, NOW + 1, NOW + 1 + LEASE, &h, NULL), 0);
    assert_int_equal(h.attempts, 0); /* a release is no attempt */
    struct ticket_handoff_result last = {0, NULL, 0, "connection refused", 0, NOW + 5};
    assert_int_equal(ticket_store_handoff_record(f->ts, &h, &last), 0);
    assert_string_equal(status_of(f->ts, id), "failed");
    int64_t next = -1;
    assert_int_equal(
        ticket_store_handoff_claim(f->ts, NOW + LEASE * 10, NOW + LEASE * 11, &h, &next),
        LOGSHARE_ENOENT);
    assert_int_equal(next, 0);
    struct ticket_handoff_counts c;
    assert_int_equal(ticket_store_handoff_counts(f->ts, &c), 0);
    assert_int_equal(c.failed, 1);
}

#define CLAIMERS 4
#define ROWS 40

struct claimer {
    struct ticket_store *ts;
    char got[ROWS][TICKET_ID_MAX];
    int n;
};

/* Claims and records until nothing is due, as a server's worker does. */
static void *claim_all(void *arg)
{
    struct claimer *c = arg;
    for (;;) {
        struct ticket_handoff h;
        int rc = ticket_store_handoff_claim(c->ts, NOW, NOW + LEASE, &h, NULL);
        if (rc == LOGSHARE_ENOENT)
            break;
        if (rc == LOGSHARE_EBUSY)
            continue;
        if (rc != 0 || c->n >= ROWS)
            return (void *)1;
        snprintf(c->got[c->n++], TICKET_ID_MAX, "%s", h.ticket_id);
        struct ticket_handoff_result ok = {1, NULL, 200, NULL, 0, NOW};
        if (ticket_store_handoff_record(c->ts, &h, &ok) != 0)
            return (void *)1;
    }
    return NULL;
}

static void concurrent_claimers_take_each_row_once(void **state)
{
    struct fixture *f = *state;
    ticket_store_set_tracker(f->ts, "webhook");
    char ids[ROWS][TICKET_ID_MAX];
    for (int i = 0; i < ROWS; i++)
        ticket_free(create(f->ts, ids[i], NULL));
    struct claimer c[CLAIMERS];
    pthread_t th[CLAIMERS];
    memset(c, 0, sizeof c);
    /* Each claimer its own store, as separate servers would be. */
    for (int i = 0; i < CLAIMERS; i++) {
        assert_int_equal(backend_reopen(f->db, &c[i].ts), 0);
        assert_int_equal(pthread_create(&th[i], NULL, claim_all, &c[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < CLAIMERS; i++) {
        void *r;
        pthread_join(th[i], &r);
        assert_null(r);
        total += c[i].n;
        ticket_store_destroy(c[i].ts);
    }
    assert_int_equal(total, ROWS);
    for (int r = 0; r < ROWS; r++) {
        int seen = 0;
        for (int i = 0; i < CLAIMERS; i++)
            for (int k = 0; k < c[i].n; k++)
                seen += strcmp(c[i].got[k], ids[r]) == 0;
        assert_int_equal(seen, 1);
    }
    struct ticket_handoff_counts counts;
    assert_int_equal(ticket_store_handoff_counts(f->ts, &counts), 0);
    assert_int_equal(counts.delivered, ROWS);
    ls_buf b = LS_BUF_INIT;
    assert_int_equal(tracker_metrics_render(f->ts, &b), 0);
    assert_non_null(strstr(b.data, "logshared_tracker_handoffs{status=\"delivered\"} 40\n"));
    assert_non_null(strstr(b.data, "logshared_tracker_handoffs{status=\"pending\"} 0\n"));
    ls_buf_free(&b);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(no_tracker_no_handoff),
        T(a_claim_is_held_until_recorded_and_only_by_its_holder),
        T(a_released_claim_is_due_at_once_and_a_last_failure_gives_up),
        T(concurrent_claimers_take_each_row_once),
    };
    NOW = ls_time_now_us() + 3600LL * 1000000;
    int rc = backend_global_setup();
    if (rc != 0)
        return rc;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    backend_global_teardown();
    return rc;
}
