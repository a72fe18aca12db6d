/*
 * sqlite_batch.c - creating tickets with group commit.
 *
 * A durable commit costs an fsync of the WAL, and SQLite commits one
 * transaction at a time, so one ticket per transaction caps the rate at
 * the disk's fsync rate. Instead, concurrent creates queue up and one of
 * the callers (the leader; no extra thread) writes the whole queue in
 * ONE transaction, each ticket inside its own SAVEPOINT, and commits
 * once: one fsync for the batch. A ticket that fails (duplicate id, a
 * constraint) is rolled back to its savepoint alone; if the COMMIT
 * fails, every ticket of the batch fails and none is visible, or, when
 * the failure may have written it (sq_commit), every ticket of the batch
 * gets TICKET_STORE_EUNKNOWN. Every
 * caller returns only after the commit that holds its ticket returned,
 * so "created" still means durable.
 *
 * The idempotency lookup runs inside the batch's transaction, after the
 * tickets before it in the same batch, so two retries with the same key
 * in one batch still make one ticket.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logshare.h"
#include "ls_time.h"
#include "sqlite_store.h"
#include "ticket_store_impl.h"

#define SQ_BATCH_MAX 128

static void run_one(struct sq_conn *c, struct sq_pending *p, int64_t now)
{
    p->now = now;
    p->rc = sq_exec(c, "SAVEPOINT one_ticket");
    if (p->rc != 0)
        return;
    int rc = 0;
    if (p->idempotency_key) {
        rc = sq_find_idempotent_id(c, p->t->user_id, p->idempotency_key, p->stored_id);
        if (rc == 0)
            p->replayed = 1;
        else if (rc == LOGSHARE_ENOENT)
            rc = 0;
    }
    if (rc == 0 && !p->replayed) {
        rc = sq_insert_ticket(c, p->t, p->idempotency_key, now);
        if (rc == 0 && p->tracker)
            rc = sq_handoff_insert(c, p->t->id, p->tracker, now);
        if (rc == 0)
            snprintf(p->stored_id, sizeof p->stored_id, "%s", p->t->id);
    }
    if (rc != 0) {
        sq_exec(c, "ROLLBACK TO one_ticket");
        p->replayed = 0;
    }
    sq_exec(c, "RELEASE one_ticket");
    p->rc = rc;
}

static void run_batch(struct sq_store *s, struct sq_pending *batch)
{
    struct sq_conn *c;
    int rc = sq_acquire(s, &c);
    if (rc == 0) {
        rc = sq_exec(c, "BEGIN IMMEDIATE");
        if (rc == 0) {
            int64_t now = ls_time_now_us();
            for (struct sq_pending *p = batch; p && rc == 0; p = p->next) {
                run_one(c, p, now);
                /* Some errors (disk full, I/O, out of memory) make SQLite
                 * roll back the WHOLE transaction, not just the savepoint:
                 * then the tickets before this one are gone too, so the
                 * batch fails as a whole. */
                if (sqlite3_get_autocommit(c->db))
                    rc = p->rc ? p->rc : LOGSHARE_EIO;
            }
            if (rc == 0)
                rc = sq_commit(c);
            else
                sq_exec(c, "ROLLBACK");
        }
        sq_release(s, c);
    }
    if (rc != 0) {
        for (struct sq_pending *p = batch; p; p = p->next) {
            p->rc = rc;
            p->replayed = 0;
        }
    }
}

/* Waits until p was committed (or failed) by some leader, leading a
 * batch itself whenever no one else is. */
static void create_queued(struct sq_store *s, struct sq_pending *p)
{
    pthread_mutex_lock(&s->batch_lock);
    if (s->queue_tail)
        s->queue_tail->next = p;
    else
        s->queue_head = p;
    s->queue_tail = p;
    while (!p->done) {
        if (s->batch_leader_active) {
            pthread_cond_wait(&s->batch_done, &s->batch_lock);
            continue;
        }
        s->batch_leader_active = 1;
        struct sq_pending *batch = s->queue_head, *last = batch;
        for (int n = 1; n < SQ_BATCH_MAX && last->next; n++)
            last = last->next;
        s->queue_head = last->next;
        if (!s->queue_head)
            s->queue_tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&s->batch_lock);
        run_batch(s, batch);
        pthread_mutex_lock(&s->batch_lock);
        for (struct sq_pending *q = batch; q;) {
            struct sq_pending *next = q->next; /* q may return and vanish once done */
            q->done = 1;
            q = next;
        }
        s->batch_leader_active = 0;
        pthread_cond_broadcast(&s->batch_done);
    }
    pthread_mutex_unlock(&s->batch_lock);
}

int sq_create(struct ticket_store *ts, const struct ticket *t, const char *idempotency_key,
              struct ticket **out, int *replayed)
{
    struct sq_store *s = ts->state;
    struct sq_pending p = {.t = t, .idempotency_key = idempotency_key, .tracker = ts->tracker};
    create_queued(s, &p);
    if (p.rc != 0)
        return p.rc;
    if (out && !p.replayed) {
        int rc = ticket_created_copy(ts, p.t, p.now, out);
        if (rc != 0)
            return rc;
    } else if (out) { /* the first request's ticket: only the database has it */
        struct sq_conn *c;
        int rc = sq_acquire(s, &c);
        if (rc != 0)
            return rc;
        rc = sq_load_ticket(c, p.stored_id, out);
        sq_release(s, c);
        if (rc != 0)
            return rc;
    }
    if (replayed)
        *replayed = p.replayed;
    return 0;
}
