/*
 * test_ticket_store.c - a ticket store against a real database: round
 * trips, filters and paging, updates, idempotency (also under
 * concurrency), migrations, and that a failed transaction leaves nothing
 * behind. Built twice: against SQLite files (test_ticket_store) and
 * against a PostgreSQL server started for the run (test_ticket_store_pg),
 * through store_backend.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backends_testlib.h"
#include "logshare.h"
#include "store_backend.h"
#include "ticket_store.h"

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

/* A ticket to create, with borrowed strings from static storage and
 * fresh ids (the caller's attachment array, n of them). */
struct draft {
    struct ticket t;
    char id[TICKET_ID_MAX];
    char att_ids[4][TICKET_ID_MAX];
    char keys[4][128];
    struct ticket_attachment atts[4];
    char *call_ids[4];
};

static void draft_init(struct draft *d, const char *user, const char *description,
                       const char *call_id, size_t n_attachments)
{
    memset(d, 0, sizeof *d);
    assert_int_equal(ticket_id_new(TICKET_ID_PREFIX, d->id), 0);
    d->t.id = d->id;
    d->t.user_id = (char *)user;
    d->t.description = (char *)description;
    if (call_id) {
        d->call_ids[0] = (char *)call_id;
        d->call_ids[1] = (char *)"shared-call";
        d->t.call_ids = d->call_ids;
        d->t.n_call_ids = 2;
    }
    d->t.customer_name = (char *)"Ada Lovelace";
    d->t.customer_email = (char *)"ada@example.com";
    d->t.app_version = (char *)"1.2.3";
    d->t.platform = (char *)"android";
    d->t.source = (char *)"report";
    for (size_t i = 0; i < n_attachments; i++) {
        assert_int_equal(ticket_id_new(ATTACHMENT_ID_PREFIX, d->att_ids[i]), 0);
        snprintf(d->keys[i], sizeof d->keys[i], "t/%s/%s", d->id, d->att_ids[i]);
        d->atts[i].id = d->att_ids[i];
        d->atts[i].name = (char *)(i == 0 ? "calling.log" : "../../media \xe2\x9c\x93.log");
        d->atts[i].size = 1000 + i;
        memset(d->atts[i].sha256, 'a' + (int)i, 64);
        d->atts[i].content_type = i == 0 ? (char *)"text/plain" : NULL;
        d->atts[i].blob_key = d->keys[i];
    }
    d->t.attachments = n_attachments ? d->atts : NULL;
    d->t.n_attachments = n_attachments;
}

static struct ticket *create(struct ticket_store *ts, struct draft *d, const char *idem,
                             int *replayed)
{
    struct ticket *out = NULL;
    assert_int_equal(ticket_store_create(ts, &d->t, idem, &out, replayed), 0);
    assert_non_null(out);
    return out;
}

static void ids_sort_by_time_and_are_unique(void **state)
{
    (void)state;
    char a[TICKET_ID_MAX], b[TICKET_ID_MAX];
    assert_int_equal(ticket_id_new("tk", a), 0);
    assert_true(ticket_id_valid(a));
    assert_int_equal(strlen(a), 3 + 32);
    struct timespec pause = {0, 2000000};
    nanosleep(&pause, NULL);
    assert_int_equal(ticket_id_new("tk", b), 0);
    assert_true(strcmp(a, b) < 0);
    assert_string_not_equal(a + 15, b + 15); /* the random part differs */
    assert_int_equal(ticket_id_new("TK", a), LOGSHARE_EINVAL);
    assert_int_equal(ticket_id_new("", a), LOGSHARE_EINVAL);
    assert_false(ticket_id_valid("tk_../../etc"));
    assert_false(ticket_id_valid("tk_0123"));
    assert_false(ticket_id_valid(NULL));
    enum ticket_status s;
    assert_int_equal(ticket_status_parse("in_progress", &s), 0);
    assert_int_equal(s, TICKET_STATUS_IN_PROGRESS);
    assert_string_equal(ticket_status_name(TICKET_STATUS_CLOSED), "closed");
    assert_int_equal(ticket_status_parse("Closed", &s), LOGSHARE_EINVAL);
}

static void created_ticket_reads_back_with_everything(void **state)
{
    struct fixture *f = *state;
    struct draft d;
    draft_init(&d, "user-1", "no audio after reconnect", "call-abc", 2);
    int replayed = -1;
    struct ticket *made = create(f->ts, &d, NULL, &replayed);
    assert_int_equal(replayed, 0);
    struct ticket *t = NULL;
    assert_int_equal(ticket_store_get(f->ts, d.id, &t), 0);
    assert_string_equal(t->id, d.id);
    assert_int_equal(t->status, TICKET_STATUS_OPEN);
    assert_true(t->created_at > 0);
    assert_int_equal(t->created_at, t->updated_at);
    assert_int_equal(t->created_at, made->created_at);
    assert_string_equal(t->user_id, "user-1");
    assert_string_equal(t->description, "no audio after reconnect");
    assert_int_equal(t->n_call_ids, 2);
    assert_string_equal(t->call_ids[0], "call-abc");
    assert_string_equal(t->call_ids[1], "shared-call");
    assert_string_equal(t->customer_name, "Ada Lovelace");
    assert_string_equal(t->customer_email, "ada@example.com");
    assert_string_equal(t->app_version, "1.2.3");
    assert_string_equal(t->platform, "android");
    assert_string_equal(t->source, "report");
    assert_null(t->log_request_id);
    assert_null(t->assignee);
    assert_null(t->tracker_url);
    assert_int_equal(t->n_notes, 0);
    assert_int_equal(t->n_attachments, 2);
    assert_string_equal(t->attachments[0].id, d.att_ids[0]);
    assert_string_equal(t->attachments[0].ticket_id, d.id);
    assert_string_equal(t->attachments[0].name, "calling.log");
    assert_string_equal(t->attachments[1].name, "../../media \xe2\x9c\x93.log");
    assert_int_equal(t->attachments[1].size, 1001);
    assert_string_equal(t->attachments[0].content_type, "text/plain");
    assert_null(t->attachments[1].content_type);
    assert_int_equal(strlen(t->attachments[0].sha256), 64);
    assert_string_equal(t->attachments[1].blob_key, d.keys[1]);
    struct ticket_attachment *a = NULL;
    assert_int_equal(ticket_store_get_attachment(f->ts, d.id, d.att_ids[1], &a), 0);
    assert_string_equal(a->blob_key, d.keys[1]);
    ticket_attachment_free(a);
    ticket_free(t);
    ticket_free(made);
    ticket_free(NULL);
}

static void assert_same_string(const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

/* Every member, so an answer built without reading the database back
 * cannot drift from what the database holds. */
static void assert_tickets_equal(const struct ticket *a, const struct ticket *b)
{
    assert_same_string(a->id, b->id);
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->created_at, b->created_at);
    assert_int_equal(a->updated_at, b->updated_at);
    assert_same_string(a->user_id, b->user_id);
    assert_same_string(a->description, b->description);
    assert_int_equal(a->n_call_ids, b->n_call_ids);
    for (size_t i = 0; i < a->n_call_ids; i++)
        assert_same_string(a->call_ids[i], b->call_ids[i]);
    assert_same_string(a->customer_name, b->customer_name);
    assert_same_string(a->customer_email, b->customer_email);
    assert_same_string(a->app_version, b->app_version);
    assert_same_string(a->platform, b->platform);
    assert_same_string(a->source, b->source);
    assert_same_string(a->log_request_id, b->log_request_id);
    assert_same_string(a->assignee, b->assignee);
    assert_same_string(a->tracker_url, b->tracker_url);
    assert_int_equal(a->n_notes, b->n_notes);
    for (size_t i = 0; i < a->n_notes; i++) {
        assert_same_string(a->notes[i].author, b->notes[i].author);
        assert_same_string(a->notes[i].text, b->notes[i].text);
        assert_int_equal(a->notes[i].created_at, b->notes[i].created_at);
    }
    assert_int_equal(a->n_attachments, b->n_attachments);
    for (size_t i = 0; i < a->n_attachments; i++) {
        const struct ticket_attachment *x = &a->attachments[i], *y = &b->attachments[i];
        assert_same_string(x->id, y->id);
        assert_same_string(x->ticket_id, y->ticket_id);
        assert_same_string(x->name, y->name);
        assert_int_equal(x->size, y->size);
        assert_string_equal(x->sha256, y->sha256);
        assert_same_string(x->content_type, y->content_type);
        assert_same_string(x->blob_key, y->blob_key);
        assert_int_equal(x->created_at, y->created_at);
    }
}

/* create answers with the ticket as stored: the same as a later get,
 * including what the store fills in (status, times, the attachments'
 * ticket id) and what it ignores on input (notes, assignee). */
static void create_answers_with_what_get_reads(void **state)
{
    struct fixture *f = *state;
    for (int variant = 0; variant < 3; variant++) {
        struct draft d;
        draft_init(&d, "user-1", "answered as stored", variant == 1 ? NULL : "call-xyz",
                   variant == 2 ? 0 : 2);
        struct ticket_note note = {(char *)"someone", (char *)"ignored on create", 42};
        if (variant == 0) {
            d.t.notes = &note;
            d.t.n_notes = 1;
            d.t.assignee = (char *)"ignored too";
            d.t.status = TICKET_STATUS_CLOSED;
            d.t.log_request_id = (char *)"lr_whatever";
            d.atts[1].created_at = 1234567; /* given: kept; the other: the commit's */
        }
        if (variant == 1)
            d.t.created_at = 1700000000000000; /* given: kept */
        struct ticket *made = create(f->ts, &d, variant == 2 ? "answer-key" : NULL, NULL);
        struct ticket *got = NULL;
        assert_int_equal(ticket_store_get(f->ts, d.id, &got), 0);
        assert_tickets_equal(made, got);
        if (variant == 1)
            assert_int_equal(made->created_at, 1700000000000000);
        ticket_free(got);
        ticket_free(made);
    }
}

static void unknown_ids_are_not_found(void **state)
{
    struct fixture *f = *state;
    struct ticket *t = NULL;
    char id[TICKET_ID_MAX];
    ticket_id_new("tk", id);
    assert_int_equal(ticket_store_get(f->ts, id, &t), LOGSHARE_ENOENT);
    assert_int_equal(ticket_store_get(f->ts, "' OR 1=1 --", &t), LOGSHARE_ENOENT);
    assert_null(t);
    struct draft d;
    draft_init(&d, "u", "d", NULL, 1);
    ticket_free(create(f->ts, &d, NULL, NULL));
    struct ticket_attachment *a = NULL;
    /* The attachment exists, but not under another ticket. */
    assert_int_equal(ticket_store_get_attachment(f->ts, id, d.att_ids[0], &a), LOGSHARE_ENOENT);
    assert_null(a);
}

static void invalid_tickets_are_refused(void **state)
{
    struct fixture *f = *state;
    struct draft d;
    draft_init(&d, "u", "d", NULL, 1);
    d.t.description = NULL;
    assert_int_equal(ticket_store_create(f->ts, &d.t, NULL, NULL, NULL), LOGSHARE_EINVAL);
    d.t.description = (char *)"d";
    d.t.user_id = (char *)"";
    assert_int_equal(ticket_store_create(f->ts, &d.t, NULL, NULL, NULL), LOGSHARE_EINVAL);
    d.t.user_id = (char *)"u";
    d.atts[0].sha256[10] = 'Z';
    assert_int_equal(ticket_store_create(f->ts, &d.t, NULL, NULL, NULL), LOGSHARE_EINVAL);
    d.atts[0].sha256[10] = 'a';
    d.t.id = (char *)"not-an-id";
    assert_int_equal(ticket_store_create(f->ts, &d.t, NULL, NULL, NULL), LOGSHARE_EINVAL);
    d.t.id = d.id;
    assert_int_equal(ticket_store_create(f->ts, &d.t, "", NULL, NULL), LOGSHARE_EINVAL);
    assert_int_equal(ticket_store_create(f->ts, &d.t, NULL, NULL, NULL), 0);
    /* The same id twice is a conflict, not a second ticket. */
    draft_init(&d, "u", "d", NULL, 0);
    assert_int_equal(ticket_store_create(f->ts, &d.t, NULL, NULL, NULL), 0);
    assert_int_equal(ticket_store_create(f->ts, &d.t, NULL, NULL, NULL), LOGSHARE_EEXIST);
}

static int count_rows(const char *db, const char *table)
{
    return backend_count_rows(db, table);
}

static void failed_create_leaves_nothing(void **state)
{
    struct fixture *f = *state;
    struct draft first;
    draft_init(&first, "u", "first", "c1", 1);
    ticket_free(create(f->ts, &first, NULL, NULL));
    /* The second ticket's LAST attachment reuses an existing attachment
     * id: the insert fails after the ticket row, its call ids and its
     * first attachment were written. All of it must roll back. */
    struct draft second;
    draft_init(&second, "u", "second", "c2", 3);
    strcpy(second.att_ids[2], first.att_ids[0]);
    assert_int_equal(ticket_store_create(f->ts, &second.t, "key-1", NULL, NULL), LOGSHARE_EEXIST);
    struct ticket *t = NULL;
    assert_int_equal(ticket_store_get(f->ts, second.id, &t), LOGSHARE_ENOENT);
    assert_int_equal(count_rows(f->db, "tickets"), 1);
    assert_int_equal(count_rows(f->db, "ticket_call_ids"), 2);
    assert_int_equal(count_rows(f->db, "attachments"), 1);
    assert_int_equal(count_rows(f->db, "idempotency_keys"), 0);
    assert_int_equal(ticket_store_find_idempotent(f->ts, "u", "key-1", &t), LOGSHARE_ENOENT);
    /* The key is still usable for a retry that succeeds. */
    draft_init(&second, "u", "second", "c2", 2);
    int replayed = -1;
    ticket_free(create(f->ts, &second, "key-1", &replayed));
    assert_int_equal(replayed, 0);
}

static void one_idempotency_key_five_times_is_one_ticket(void **state)
{
    struct fixture *f = *state;
    char first_id[TICKET_ID_MAX] = "";
    for (int i = 0; i < 5; i++) {
        struct draft d; /* each retry generates new ids, as the API does */
        draft_init(&d, "user-7", "retry me", "call-r", 1);
        int replayed = -1;
        struct ticket *t = create(f->ts, &d, "idem-123", &replayed);
        assert_int_equal(replayed, i == 0 ? 0 : 1);
        if (i == 0)
            strcpy(first_id, t->id);
        assert_string_equal(t->id, first_id);
        assert_int_equal(t->n_attachments, 1);
        ticket_free(t);
    }
    assert_int_equal(count_rows(f->db, "tickets"), 1);
    assert_int_equal(count_rows(f->db, "attachments"), 1);
    struct ticket *t = NULL;
    assert_int_equal(ticket_store_find_idempotent(f->ts, "user-7", "idem-123", &t), 0);
    assert_string_equal(t->id, first_id);
    ticket_free(t);
}

static void same_key_from_two_users_is_two_tickets(void **state)
{
    struct fixture *f = *state;
    struct draft a, b;
    draft_init(&a, "alice", "a", NULL, 0);
    draft_init(&b, "bob", "b", NULL, 0);
    int ra = -1, rb = -1;
    struct ticket *ta = create(f->ts, &a, "same-key", &ra);
    struct ticket *tb = create(f->ts, &b, "same-key", &rb);
    assert_int_equal(ra, 0);
    assert_int_equal(rb, 0);
    assert_string_not_equal(ta->id, tb->id);
    struct ticket *t = NULL;
    assert_int_equal(ticket_store_find_idempotent(f->ts, "bob", "same-key", &t), 0);
    assert_string_equal(t->id, tb->id);
    ticket_free(t);
    assert_int_equal(ticket_store_find_idempotent(f->ts, "carol", "same-key", &t), LOGSHARE_ENOENT);
    ticket_free(ta);
    ticket_free(tb);
}

struct idem_job {
    struct ticket_store *ts;
    char id[TICKET_ID_MAX];
    int replayed;
    int rc;
};

static void *idem_thread(void *arg)
{
    struct idem_job *j = arg;
    struct draft d;
    memset(&d, 0, sizeof d);
    ticket_id_new("tk", d.id);
    d.t.id = d.id;
    d.t.user_id = (char *)"racer";
    d.t.description = (char *)"concurrent retry";
    struct ticket *t = NULL;
    j->rc = ticket_store_create(j->ts, &d.t, "race-key", &t, &j->replayed);
    if (t)
        strcpy(j->id, t->id);
    ticket_free(t);
    return NULL;
}

static void concurrent_retries_create_one_ticket(void **state)
{
    struct fixture *f = *state;
    enum { N = 8 };
    pthread_t th[N];
    struct idem_job jobs[N];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < N; i++) {
        jobs[i].ts = f->ts;
        assert_int_equal(pthread_create(&th[i], NULL, idem_thread, &jobs[i]), 0);
    }
    int created = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(jobs[i].rc, 0);
        created += !jobs[i].replayed;
        assert_string_equal(jobs[i].id, jobs[0].id);
    }
    assert_int_equal(created, 1);
    assert_int_equal(count_rows(f->db, "tickets"), 1);
}

struct create_job {
    struct ticket_store *ts;
    int count;
    int failures;
    const char *contested_id; /* every thread also tries to create this one */
    int contested_won;
    int contested_conflicts;
};

static void *create_thread(void *arg)
{
    struct create_job *j = arg;
    for (int i = 0; i < j->count; i++) {
        struct draft d;
        memset(&d, 0, sizeof d);
        ticket_id_new("tk", d.id);
        d.t.id = d.id;
        d.t.user_id = (char *)"many";
        d.t.description = (char *)"parallel";
        if (ticket_store_create(j->ts, &d.t, NULL, NULL, NULL) != 0)
            j->failures++;
        if (i == j->count / 2) {
            /* Lands in a group commit beside other tickets: its conflict
             * must fail it alone. */
            d.t.id = (char *)j->contested_id;
            int rc = ticket_store_create(j->ts, &d.t, NULL, NULL, NULL);
            if (rc == 0)
                j->contested_won++;
            else if (rc == LOGSHARE_EEXIST)
                j->contested_conflicts++;
            else
                j->failures++;
        }
    }
    return NULL;
}

static void concurrent_creates_all_land_and_conflicts_fail_alone(void **state)
{
    struct fixture *f = *state;
    enum { N = 6 };
    int per = sanitized() ? 10 : 40;
    pthread_t th[N];
    struct create_job jobs[N];
    char contested[TICKET_ID_MAX];
    ticket_id_new("tk", contested);
    for (int i = 0; i < N; i++) {
        jobs[i] = (struct create_job){f->ts, per, 0, contested, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, create_thread, &jobs[i]), 0);
    }
    int won = 0, conflicts = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(jobs[i].failures, 0);
        won += jobs[i].contested_won;
        conflicts += jobs[i].contested_conflicts;
    }
    assert_int_equal(won, 1);
    assert_int_equal(conflicts, N - 1);
    assert_int_equal(count_rows(f->db, "tickets"), N * per + 1);
}

/* Creates tickets with increasing created_at so the order is known. */
static void seed_tickets(struct ticket_store *ts, int n, char ids[][TICKET_ID_MAX])
{
    for (int i = 0; i < n; i++) {
        struct draft d;
        char call[32];
        snprintf(call, sizeof call, "call-%d", i);
        draft_init(&d, i % 2 ? "odd" : "even", i % 3 == 0 ? "Echo on the LINE" : "frozen video",
                   call, 0);
        d.t.created_at = 1700000000000000LL + (int64_t)(i / 2) * 1000; /* pairs share a time */
        if (i == 4)
            d.t.customer_name = (char *)"100% Zoe_Q";
        ticket_free(create(ts, &d, NULL, NULL));
        strcpy(ids[i], d.id);
    }
}

static void list_pages_newest_first_without_gaps(void **state)
{
    struct fixture *f = *state;
    enum { N = 25 };
    char ids[N][TICKET_ID_MAX];
    seed_tickets(f->ts, N, ids);
    struct ticket_filter filter = {.status = -1, .limit = 10};
    char *cursor = NULL;
    int seen = 0, pages = 0;
    int64_t last_time = INT64_MAX;
    const char *last_id = NULL;
    char last_buf[TICKET_ID_MAX] = "";
    int found[N] = {0};
    do {
        struct ticket_list page;
        filter.cursor = cursor;
        assert_int_equal(ticket_store_list(f->ts, &filter, &page), 0);
        pages++;
        for (size_t i = 0; i < page.count; i++) {
            struct ticket *t = page.items[i];
            assert_true(t->created_at < last_time ||
                        (t->created_at == last_time && strcmp(t->id, last_id) < 0));
            last_time = t->created_at;
            strcpy(last_buf, t->id);
            last_id = last_buf;
            for (int k = 0; k < N; k++)
                if (strcmp(ids[k], t->id) == 0)
                    found[k]++;
            seen++;
        }
        assert_int_equal(page.count, pages < 3 ? 10 : 5);
        free(cursor);
        cursor = page.next_cursor ? strdup(page.next_cursor) : NULL;
        ticket_list_clear(&page);
    } while (cursor);
    assert_int_equal(pages, 3);
    assert_int_equal(seen, N);
    for (int k = 0; k < N; k++)
        assert_int_equal(found[k], 1);
    struct ticket_list bad;
    filter.cursor = "12.nonsense";
    assert_int_equal(ticket_store_list(f->ts, &filter, &bad), LOGSHARE_EINVAL);
    filter.cursor = "x";
    assert_int_equal(ticket_store_list(f->ts, &filter, &bad), LOGSHARE_EINVAL);
    filter.cursor = NULL;
    filter.limit = TICKET_LIST_MAX_LIMIT + 1;
    assert_int_equal(ticket_store_list(f->ts, &filter, &bad), LOGSHARE_EINVAL);
}

/* A listed ticket that cannot be loaded any more (deleted between the
 * page query and the load) leaves no hole: items are dense and count is
 * what they hold. The race is made deterministic with a row whose id is
 * longer than the store's id buffer (as a hand-edited or foreign row
 * could be): SQLite lists it, then cannot load it by its cut id, which is
 * the same path as a ticket deleted in between. */
static void list_skips_vanished_tickets_without_holes(void **state)
{
    struct fixture *f = *state;
    enum { N = 3 };
    char ids[N][TICKET_ID_MAX];
    seed_tickets(f->ts, N, ids);
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO tickets (id, status, created_at, updated_at, user_id, description)"
             " VALUES ('tk_%064d', 0, 1800000000000000, 1800000000000000, 'odd', 'vanishing')",
             0);
    backend_exec(f->db, sql); /* the newest: first on the page */
    struct ticket_list page;
    struct ticket_filter filter = {.status = -1, .limit = 10};
    assert_int_equal(ticket_store_list(f->ts, &filter, &page), 0);
    assert_true(page.count >= N && page.count <= N + 1);
    int found[N] = {0};
    for (size_t i = 0; i < page.count; i++) {
        assert_non_null(page.items[i]);
        for (int k = 0; k < N; k++)
            if (strcmp(page.items[i]->id, ids[k]) == 0)
                found[k]++;
    }
    for (int k = 0; k < N; k++)
        assert_int_equal(found[k], 1);
    ticket_list_clear(&page);
}

static size_t list_count(struct ticket_store *ts, struct ticket_filter filter)
{
    struct ticket_list page;
    filter.limit = TICKET_LIST_MAX_LIMIT;
    assert_int_equal(ticket_store_list(ts, &filter, &page), 0);
    assert_null(page.next_cursor);
    size_t n = page.count;
    ticket_list_clear(&page);
    return n;
}

static void list_filters_combine(void **state)
{
    struct fixture *f = *state;
    enum { N = 12 };
    char ids[N][TICKET_ID_MAX];
    seed_tickets(f->ts, N, ids);
    struct ticket_update close = TICKET_UPDATE_INIT;
    close.status = TICKET_STATUS_CLOSED;
    assert_int_equal(ticket_store_update(f->ts, ids[3], &close, NULL), 0);
    assert_int_equal(ticket_store_update(f->ts, ids[5], &close, NULL), 0);

    assert_int_equal(list_count(f->ts, (struct ticket_filter){.status = -1}), N);
    assert_int_equal(list_count(f->ts, (struct ticket_filter){.status = -1, .user_id = "odd"}), 6);
    assert_int_equal(list_count(f->ts, (struct ticket_filter){.status = TICKET_STATUS_CLOSED}), 2);
    assert_int_equal(
        list_count(f->ts, (struct ticket_filter){.status = TICKET_STATUS_OPEN, .user_id = "odd"}),
        4);
    assert_int_equal(list_count(f->ts, (struct ticket_filter){.status = -1, .call_id = "call-7"}),
                     1);
    assert_int_equal(
        list_count(f->ts, (struct ticket_filter){.status = -1, .call_id = "shared-call"}), N);
    assert_int_equal(list_count(f->ts, (struct ticket_filter){.status = -1, .call_id = "call-"}),
                     0); /* call_id is exact */
    /* q: case-insensitive substring over description, customer fields
     * and call ids; LIKE wildcards in q are literal. */
    assert_int_equal(list_count(f->ts, (struct ticket_filter){.status = -1, .q = "echo on"}), 4);
    assert_int_equal(list_count(f->ts, (struct ticket_filter){.status = -1, .q = "CALL-1"}),
                     3); /* call-1, call-10, call-11 */
    assert_int_equal(list_count(f->ts, (struct ticket_filter){.status = -1, .q = "100%"}), 1);
    assert_int_equal(list_count(f->ts, (struct ticket_filter){.status = -1, .q = "%"}), 1);
    assert_int_equal(list_count(f->ts, (struct ticket_filter){.status = -1, .q = "e_Q"}), 1);
    assert_int_equal(list_count(f->ts, (struct ticket_filter){.status = -1, .q = "ada@EXAMPLE"}),
                     N);
    assert_int_equal(list_count(f->ts, (struct ticket_filter){.status = -1, .q = "nothing"}), 0);
    struct ticket_list empty;
    struct ticket_filter none = {.status = -1, .user_id = "nobody"};
    assert_int_equal(ticket_store_list(f->ts, &none, &empty), 0);
    assert_int_equal(empty.count, 0);
    assert_null(empty.next_cursor);
    ticket_list_clear(&empty);
}

static void updates_change_status_assignee_and_append_notes(void **state)
{
    struct fixture *f = *state;
    struct draft d;
    draft_init(&d, "u", "d", NULL, 0);
    d.t.created_at = 1000;
    ticket_free(create(f->ts, &d, NULL, NULL));
    struct ticket_update u = TICKET_UPDATE_INIT;
    u.status = TICKET_STATUS_IN_PROGRESS;
    u.assignee = "agent-smith";
    u.note = "looking into it";
    u.note_author = "agent-smith";
    struct ticket *t = NULL;
    assert_int_equal(ticket_store_update(f->ts, d.id, &u, &t), 0);
    assert_int_equal(t->status, TICKET_STATUS_IN_PROGRESS);
    assert_string_equal(t->assignee, "agent-smith");
    assert_int_equal(t->n_notes, 1);
    assert_string_equal(t->notes[0].text, "looking into it");
    assert_string_equal(t->notes[0].author, "agent-smith");
    assert_true(t->updated_at > t->created_at);
    ticket_free(t);
    /* A note alone keeps status and assignee; "" clears the assignee. */
    struct ticket_update u2 = TICKET_UPDATE_INIT;
    u2.note = "second";
    assert_int_equal(ticket_store_update(f->ts, d.id, &u2, &t), 0);
    assert_int_equal(t->status, TICKET_STATUS_IN_PROGRESS);
    assert_string_equal(t->assignee, "agent-smith");
    assert_int_equal(t->n_notes, 2);
    assert_string_equal(t->notes[1].text, "second");
    assert_null(t->notes[1].author);
    ticket_free(t);
    struct ticket_update u3 = TICKET_UPDATE_INIT;
    u3.assignee = "";
    u3.status = TICKET_STATUS_CLOSED;
    u3.tracker_url = "https://dev.azure.com/x/_workitems/edit/7";
    assert_int_equal(ticket_store_update(f->ts, d.id, &u3, &t), 0);
    assert_null(t->assignee);
    assert_int_equal(t->status, TICKET_STATUS_CLOSED);
    assert_string_equal(t->tracker_url, "https://dev.azure.com/x/_workitems/edit/7");
    ticket_free(t);

    struct ticket_update bad = TICKET_UPDATE_INIT;
    bad.status = 7;
    assert_int_equal(ticket_store_update(f->ts, d.id, &bad, NULL), LOGSHARE_EINVAL);
    bad.status = -1;
    bad.note = "";
    assert_int_equal(ticket_store_update(f->ts, d.id, &bad, NULL), LOGSHARE_EINVAL);
    char missing[TICKET_ID_MAX];
    ticket_id_new("tk", missing);
    assert_int_equal(ticket_store_update(f->ts, missing, &u, NULL), LOGSHARE_ENOENT);
}

/* PATCH's Idempotency-Key: a retry whose answer was lost applies
 * nothing; the key is per caller and per ticket; a key needs its user. */
static void an_update_with_a_used_key_applies_nothing(void **state)
{
    struct fixture *f = *state;
    struct draft d, e;
    draft_init(&d, "u", "d", NULL, 0);
    draft_init(&e, "u", "e", NULL, 0);
    ticket_free(create(f->ts, &d, NULL, NULL));
    ticket_free(create(f->ts, &e, NULL, NULL));
    struct ticket_update u = TICKET_UPDATE_INIT;
    u.note = "once";
    u.note_author = "sam";
    u.idempotency_key = "k-1";
    u.key_user = "sam";
    struct ticket *t = NULL;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ticket_store_update(f->ts, d.id, &u, &t), 0);
        assert_int_equal(t->n_notes, 1);
        ticket_free(t);
    }
    u.status = TICKET_STATUS_CLOSED; /* whatever a retry carries */
    assert_int_equal(ticket_store_update(f->ts, d.id, &u, &t), 0);
    assert_int_equal(t->status, TICKET_STATUS_OPEN);
    ticket_free(t);
    u.status = -1;
    assert_int_equal(ticket_store_update(f->ts, e.id, &u, &t), 0); /* another ticket */
    assert_int_equal(t->n_notes, 1);
    ticket_free(t);
    u.key_user = "kim"; /* another caller */
    assert_int_equal(ticket_store_update(f->ts, d.id, &u, &t), 0);
    assert_int_equal(t->n_notes, 2);
    ticket_free(t);
    u.idempotency_key = "k-2";
    assert_int_equal(ticket_store_update(f->ts, d.id, &u, &t), 0);
    assert_int_equal(t->n_notes, 3);
    ticket_free(t);
    u.key_user = NULL;
    assert_int_equal(ticket_store_update(f->ts, d.id, &u, NULL), LOGSHARE_EINVAL);
    u.key_user = "sam";
    u.idempotency_key = "";
    assert_int_equal(ticket_store_update(f->ts, d.id, &u, NULL), LOGSHARE_EINVAL);
}

static void more_attachments_join_an_existing_ticket(void **state)
{
    struct fixture *f = *state;
    struct draft d;
    draft_init(&d, "u", "d", NULL, 1);
    ticket_free(create(f->ts, &d, NULL, NULL));
    struct draft more;
    draft_init(&more, "u", "x", NULL, 2);
    struct ticket *t = NULL;
    assert_int_equal(ticket_store_add_attachments(f->ts, d.id, more.atts, 2, &t), 0);
    assert_int_equal(t->n_attachments, 3);
    assert_string_equal(t->attachments[0].id, d.att_ids[0]);
    assert_string_equal(t->attachments[2].id, more.att_ids[1]);
    assert_string_equal(t->attachments[2].ticket_id, d.id);
    ticket_free(t);
    /* To a missing ticket: nothing stored. */
    char missing[TICKET_ID_MAX];
    ticket_id_new("tk", missing);
    struct draft orphan;
    draft_init(&orphan, "u", "x", NULL, 1);
    assert_int_equal(ticket_store_add_attachments(f->ts, missing, orphan.atts, 1, NULL),
                     LOGSHARE_ENOENT);
    /* A batch with one duplicate id: none of the batch is stored. */
    struct draft dup;
    draft_init(&dup, "u", "x", NULL, 2);
    strcpy(dup.att_ids[1], more.att_ids[0]);
    assert_int_equal(ticket_store_add_attachments(f->ts, d.id, dup.atts, 2, NULL), LOGSHARE_EEXIST);
    assert_int_equal(count_rows(f->db, "attachments"), 3);
}

/* PostgreSQL only: a deferred trigger makes COMMIT itself fail. When
 * the server refuses the COMMIT and stays connected, the transaction
 * rolled back: a plain error. When the connection is lost during the
 * COMMIT (here the backend terminates itself), the outcome is unknown to
 * the store, which must say so: the caller then keeps the blobs. */
static void a_commit_that_loses_its_connection_has_an_unknown_outcome(void **state)
{
    struct fixture *f = *state;
    if (strcmp(f->ts->ops->name, "postgres") != 0)
        skip();
    struct draft first;
    draft_init(&first, "u", "before the trigger", NULL, 0);
    ticket_free(create(f->ts, &first, NULL, NULL));
    backend_exec(f->db, "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
                        " $$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$;"
                        "CREATE CONSTRAINT TRIGGER at_commit AFTER INSERT ON attachments"
                        " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse()");
    struct draft d;
    draft_init(&d, "u", "refused", NULL, 1);
    struct ticket *out = NULL;
    int rc = ticket_store_create(f->ts, &d.t, "k-refused", &out, NULL);
    assert_int_not_equal(rc, 0);
    assert_int_not_equal(rc, TICKET_STORE_EUNKNOWN);
    assert_null(out);

    backend_exec(f->db, "CREATE OR REPLACE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
                        " $$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid());"
                        " PERFORM pg_sleep(10); RETURN NULL; END $$");
    draft_init(&d, "u", "lost", NULL, 1);
    assert_int_equal(ticket_store_create(f->ts, &d.t, "k-lost", &out, NULL), TICKET_STORE_EUNKNOWN);
    assert_null(out);
    struct draft more;
    draft_init(&more, "u", "x", NULL, 1);
    assert_int_equal(ticket_store_add_attachments(f->ts, first.id, more.atts, 1, &out),
                     TICKET_STORE_EUNKNOWN);
    assert_null(out);
    /* Terminated before its commit record: nothing was written here. */
    assert_int_equal(count_rows(f->db, "tickets"), 1);
    assert_int_equal(count_rows(f->db, "attachments"), 0);

    /* The pool reconnects and the next upload lands. */
    backend_exec(f->db, "DROP TRIGGER at_commit ON attachments");
    draft_init(&d, "u", "after", NULL, 1);
    ticket_free(create(f->ts, &d, "k-lost", NULL));
    assert_int_equal(ticket_store_add_attachments(f->ts, first.id, more.atts, 1, &out), 0);
    assert_int_equal(out->n_attachments, 1);
    ticket_free(out);
}

/* The orphan sweep asks whether any attachment row names a blob key:
 * exact keys of created tickets and of added attachments are, keys of a
 * failed transaction, prefixes and patterns are not. */
static void blob_keys_are_referenced_only_by_stored_attachments(void **state)
{
    struct fixture *f = *state;
    struct draft d;
    draft_init(&d, "u", "d", NULL, 2);
    ticket_free(create(f->ts, &d, NULL, NULL));
    struct draft more;
    draft_init(&more, "u", "x", NULL, 1);
    assert_int_equal(ticket_store_add_attachments(f->ts, d.id, more.atts, 1, NULL), 0);
    int referenced = -1;
    assert_int_equal(ticket_store_blob_referenced(f->ts, d.keys[0], &referenced), 0);
    assert_int_equal(referenced, 1);
    assert_int_equal(ticket_store_blob_referenced(f->ts, d.keys[1], &referenced), 0);
    assert_int_equal(referenced, 1);
    assert_int_equal(ticket_store_blob_referenced(f->ts, more.keys[0], &referenced), 0);
    assert_int_equal(referenced, 1);

    /* A create that fails (its ticket id is taken) references nothing. */
    struct draft clash;
    draft_init(&clash, "u", "x", NULL, 1);
    strcpy(clash.id, d.id);
    assert_int_equal(ticket_store_create(f->ts, &clash.t, NULL, NULL, NULL), LOGSHARE_EEXIST);
    assert_int_equal(ticket_store_blob_referenced(f->ts, clash.keys[0], &referenced), 0);
    assert_int_equal(referenced, 0);

    char prefix[128];
    snprintf(prefix, sizeof prefix, "t/%s", d.id);
    assert_int_equal(ticket_store_blob_referenced(f->ts, prefix, &referenced), 0);
    assert_int_equal(referenced, 0);
    assert_int_equal(ticket_store_blob_referenced(f->ts, "t/%", &referenced), 0);
    assert_int_equal(referenced, 0);
    assert_int_equal(ticket_store_blob_referenced(f->ts, "a/20260101/at_none", &referenced), 0);
    assert_int_equal(referenced, 0);

    assert_int_equal(ticket_store_blob_referenced(f->ts, "", &referenced), LOGSHARE_EINVAL);
    assert_int_equal(ticket_store_blob_referenced(f->ts, NULL, &referenced), LOGSHARE_EINVAL);
    assert_int_equal(ticket_store_blob_referenced(f->ts, d.keys[0], NULL), LOGSHARE_EINVAL);
    assert_int_equal(ticket_store_blob_referenced(NULL, d.keys[0], &referenced), LOGSHARE_EINVAL);
}

static void migrations_run_once_and_reopen_is_idempotent(void **state)
{
    struct fixture *f = *state;
    int version = 0;
    assert_int_equal(ticket_store_migrate(f->ts, &version), 0);
    assert_int_equal(version, 3);
    assert_int_equal(count_rows(f->db, "schema_version"), 3);
    struct draft d;
    draft_init(&d, "u", "kept across reopen", NULL, 1);
    ticket_free(create(f->ts, &d, NULL, NULL));
    ticket_store_destroy(f->ts);
    f->ts = NULL;
    for (int i = 0; i < 2; i++) {
        struct ticket_store *again = NULL;
        assert_int_equal(backend_reopen(f->db, &again), 0);
        assert_int_equal(ticket_store_migrate(again, &version), 0);
        assert_int_equal(version, 3);
        struct ticket *t = NULL;
        assert_int_equal(ticket_store_get(again, d.id, &t), 0);
        assert_string_equal(t->description, "kept across reopen");
        ticket_free(t);
        assert_int_equal(ticket_store_check(again), 0);
        ticket_store_destroy(again);
    }
    assert_int_equal(count_rows(f->db, "schema_version"), 3);
    /* A database from a newer logshared is refused, not damaged. */
    backend_exec(f->db, "INSERT INTO schema_version VALUES (99, 0)");
    assert_int_equal(backend_reopen(f->db, &f->ts), 0);
    assert_int_equal(ticket_store_migrate(f->ts, &version), LOGSHARE_EFORMAT);
}

static void a_bad_database_fails_cleanly(void **state)
{
    struct fixture *f = *state;
    backend_check_bad_locations(f->dir);
}

/* What create returned is committed: a process killed right after it
 * loses nothing, and its idempotency key still answers a retry. */
static void created_ticket_survives_sigkill(void **state)
{
    struct fixture *f = *state;
    struct draft d;
    draft_init(&d, "killed", "made just before SIGKILL", "call-k", 2);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct ticket_store *ts; /* never share database connections across fork */
        if (backend_reopen(f->db, &ts) != 0 ||
            ticket_store_create(ts, &d.t, "kill-key", NULL, NULL) != 0)
            _exit(1);
        raise(SIGKILL);
        _exit(2);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    struct ticket *t = NULL;
    assert_int_equal(ticket_store_get(f->ts, d.id, &t), 0);
    assert_int_equal(t->n_attachments, 2);
    assert_int_equal(t->n_call_ids, 2);
    ticket_free(t);
    assert_int_equal(ticket_store_find_idempotent(f->ts, "killed", "kill-key", &t), 0);
    assert_string_equal(t->id, d.id);
    ticket_free(t);
}

static void database_urls_choose_the_store(void **state)
{
    struct fixture *f = *state;
    struct draft d;
    draft_init(&d, "u", "seen through the URL", NULL, 0);
    ticket_free(create(f->ts, &d, NULL, NULL));
    char *url = backend_url(f->db);
    struct ticket_store *ts = NULL;
    assert_int_equal(ticket_store_open_url(url, f->dir, 1, &ts), 0);
    struct ticket *t = NULL;
    assert_int_equal(ticket_store_get(ts, d.id, &t), 0);
    ticket_free(t);
    ticket_store_destroy(ts);
    free(url);
    /* No URL: SQLite in the data dir, created and migrated. */
    char *sub = path_join(f->dir, "default");
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(ticket_store_open_url(NULL, sub, 1, &ts), 0);
    assert_string_equal(ts->ops->name, "sqlite");
    assert_int_equal(ticket_store_check(ts), 0);
    ticket_store_destroy(ts);
    char *file = path_join(sub, TICKET_STORE_SQLITE_FILENAME);
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    free(file);
    free(sub);
    ts = (struct ticket_store *)1;
    assert_int_equal(ticket_store_open_url("mysql://x", f->dir, 1, &ts), LOGSHARE_EINVAL);
    assert_null(ts);
    assert_int_equal(ticket_store_open_url("sqlite:", f->dir, 1, &ts), LOGSHARE_EINVAL);
    assert_int_equal(ticket_store_open_url(NULL, NULL, 1, &ts), LOGSHARE_EINVAL);
}

static void users_are_created_once(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(ticket_store_user_create(f->ts, "agent", "support", "$argon2id$fake"), 0);
    assert_int_equal(ticket_store_user_create(f->ts, "agent", "admin", "$argon2id$x"),
                     LOGSHARE_EEXIST);
    assert_int_equal(ticket_store_user_create(f->ts, "boss", "emperor", "h"), LOGSHARE_EINVAL);
    struct ticket_user *u = NULL;
    assert_int_equal(ticket_store_user_get(f->ts, "agent", &u), 0);
    assert_string_equal(u->role, "support");
    assert_string_equal(u->password_hash, "$argon2id$fake");
    assert_true(u->created_at > 0);
    ticket_user_free(u);
    assert_int_equal(ticket_store_user_get(f->ts, "nobody", &u), LOGSHARE_ENOENT);
    assert_null(u);
}

static void users_change_role_and_password_and_go(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(ticket_store_user_create(f->ts, "agent", "support", "$argon2id$one"), 0);
    struct ticket_user *u = NULL;
    assert_int_equal(ticket_store_user_get(f->ts, "agent", &u), 0);
    int64_t created = u->created_at;
    ticket_user_free(u);
    /* a role change keeps the password and the sessions' reference time */
    assert_int_equal(ticket_store_user_update(f->ts, "agent", "admin", NULL), 0);
    assert_int_equal(ticket_store_user_get(f->ts, "agent", &u), 0);
    assert_string_equal(u->role, "admin");
    assert_string_equal(u->password_hash, "$argon2id$one");
    assert_true(u->created_at == created);
    ticket_user_free(u);
    /* a new password moves created_at, which ends older sessions */
    usleep(2000);
    assert_int_equal(ticket_store_user_update(f->ts, "agent", NULL, "$argon2id$two"), 0);
    assert_int_equal(ticket_store_user_get(f->ts, "agent", &u), 0);
    assert_string_equal(u->role, "admin");
    assert_string_equal(u->password_hash, "$argon2id$two");
    assert_true(u->created_at > created);
    ticket_user_free(u);
    assert_int_equal(ticket_store_user_update(f->ts, "agent", "emperor", NULL), LOGSHARE_EINVAL);
    assert_int_equal(ticket_store_user_update(f->ts, "agent", NULL, NULL), LOGSHARE_EINVAL);
    assert_int_equal(ticket_store_user_update(f->ts, "nobody", "user", NULL), LOGSHARE_ENOENT);
    assert_int_equal(ticket_store_user_delete(f->ts, "nobody"), LOGSHARE_ENOENT);
    assert_int_equal(ticket_store_user_delete(f->ts, "agent"), 0);
    u = NULL;
    assert_int_equal(ticket_store_user_get(f->ts, "agent", &u), LOGSHARE_ENOENT);
    assert_int_equal(ticket_store_user_delete(f->ts, "agent"), LOGSHARE_ENOENT);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ids_sort_by_time_and_are_unique),
        T(created_ticket_reads_back_with_everything),
        T(create_answers_with_what_get_reads),
        T(unknown_ids_are_not_found),
        T(invalid_tickets_are_refused),
        T(failed_create_leaves_nothing),
        T(one_idempotency_key_five_times_is_one_ticket),
        T(same_key_from_two_users_is_two_tickets),
        T(concurrent_retries_create_one_ticket),
        T(concurrent_creates_all_land_and_conflicts_fail_alone),
        T(list_pages_newest_first_without_gaps),
        T(list_filters_combine),
        T(list_skips_vanished_tickets_without_holes),
        T(updates_change_status_assignee_and_append_notes),
        T(an_update_with_a_used_key_applies_nothing),
        T(more_attachments_join_an_existing_ticket),
        T(a_commit_that_loses_its_connection_has_an_unknown_outcome),
        T(blob_keys_are_referenced_only_by_stored_attachments),
        T(migrations_run_once_and_reopen_is_idempotent),
        T(a_bad_database_fails_cleanly),
        T(created_ticket_survives_sigkill),
        T(database_urls_choose_the_store),
        T(users_are_created_once),
        T(users_change_role_and_password_and_go),
    };
    int rc = backend_global_setup();
    if (rc != 0)
        return rc;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    backend_global_teardown();
    return rc;
}
