/*
 * sqlite_store.c - the SQLite ticket store's connection pool, its
 * pragmas, and the ops table (see ticket_store.h for the contract and
 * sqlite_store.h for the design).
 *
 * Every connection runs in WAL mode (readers never block the writer),
 * with foreign keys on and a busy timeout; writers take the write lock
 * up front (BEGIN IMMEDIATE) so two transactions never deadlock upgrading
 * a read lock. synchronous=FULL makes each commit durable before it
 * returns, as a 201 promises (PITFALLS, Durability).
 */
#include "sqlite_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logshare.h"
#include "ls_fs.h"

int sq_error(int sqlite_rc)
{
    switch (sqlite_rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_NOMEM:
        return LOGSHARE_ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return LOGSHARE_EBUSY;
    case SQLITE_CONSTRAINT:
        if (sqlite_rc == SQLITE_CONSTRAINT_PRIMARYKEY || sqlite_rc == SQLITE_CONSTRAINT_UNIQUE)
            return LOGSHARE_EEXIST;
        if (sqlite_rc == SQLITE_CONSTRAINT_FOREIGNKEY)
            return LOGSHARE_ENOENT;
        return LOGSHARE_EINVAL;
    case SQLITE_FULL:
        return LOGSHARE_ENOSPC;
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
        return LOGSHARE_EPERM;
    case SQLITE_CANTOPEN:
        return LOGSHARE_EUNAVAILABLE;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return LOGSHARE_ECORRUPT;
    case SQLITE_TOOBIG:
        return LOGSHARE_ETOOLARGE;
    default:
        return LOGSHARE_EIO;
    }
}

int sq_exec(struct sq_conn *c, const char *sql)
{
    return sq_error(sqlite3_exec(c->db, sql, NULL, NULL, NULL));
}

int sq_commit(struct sq_conn *c)
{
    int rc = sq_exec(c, "COMMIT");
    if (rc == 0)
        return 0;
    /* Still in the transaction (busy, locked): nothing was written. */
    if (!sqlite3_get_autocommit(c->db)) {
        sq_exec(c, "ROLLBACK");
        return rc;
    }
    /* SQLite ended the transaction itself (an I/O error, a full disk):
     * the commit frame may already be in the WAL, which the next
     * recovery would replay. Even a full disk can come after it: the
     * frames are written before the wal-index (-shm) grows, and growing
     * that file can fail with SQLITE_FULL; the blobs must then stay. */
    return TICKET_STORE_EUNKNOWN;
}

int sq_bind_text(sqlite3_stmt *st, int idx, const char *text)
{
    if (!text)
        return sq_error(sqlite3_bind_null(st, idx));
    return sq_error(sqlite3_bind_text(st, idx, text, -1, SQLITE_TRANSIENT));
}

char *sq_column_dup(sqlite3_stmt *st, int col, int *rc)
{
    const unsigned char *text = sqlite3_column_text(st, col);
    if (!text)
        return NULL;
    char *copy = strdup((const char *)text);
    if (!copy)
        *rc = LOGSHARE_ENOMEM;
    return copy;
}

sqlite3_stmt *sq_prepare(struct sq_conn *c, const char *sql, int *rc)
{
    int free_slot = -1;
    for (int i = 0; i < SQ_STMT_CACHE; i++) {
        if (c->cache[i].sql == sql) {
            sqlite3_stmt *st = c->cache[i].stmt;
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return st;
        }
        if (!c->cache[i].sql && free_slot < 0)
            free_slot = i;
    }
    sqlite3_stmt *st = NULL;
    int r = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (r != SQLITE_OK) {
        *rc = sq_error(r);
        return NULL;
    }
    if (free_slot < 0) {
        /* Every statement the store uses fits the cache; this is a bug. */
        sqlite3_finalize(st);
        *rc = LOGSHARE_EINTERNAL;
        return NULL;
    }
    c->cache[free_slot].sql = sql;
    c->cache[free_slot].stmt = st;
    return st;
}

static void conn_close(struct sq_conn *c)
{
    for (int i = 0; i < SQ_STMT_CACHE; i++)
        sqlite3_finalize(c->cache[i].stmt);
    sqlite3_close_v2(c->db);
    free(c);
}

static int conn_open(struct sq_store *s, struct sq_conn **out)
{
    struct sq_conn *c = calloc(1, sizeof *c);
    if (!c)
        return LOGSHARE_ENOMEM;
    int r = sqlite3_open_v2(s->path, &c->db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    int rc = sq_error(r);
    if (rc == 0) {
        sqlite3_extended_result_codes(c->db, 1);
        sqlite3_busy_timeout(c->db, s->busy_timeout_ms);
        rc = sq_exec(c, "PRAGMA journal_mode=WAL");
    }
    if (rc == 0)
        rc = sq_exec(c, s->durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    if (rc == 0)
        rc = sq_exec(c, "PRAGMA foreign_keys=ON");
    if (rc == 0)
        rc = sq_register_fold(c->db);
    if (rc != 0) {
        conn_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

int sq_acquire(struct sq_store *s, struct sq_conn **out)
{
    pthread_mutex_lock(&s->lock);
    for (;;) {
        if (s->idle) {
            *out = s->idle;
            s->idle = s->idle->next_idle;
            pthread_mutex_unlock(&s->lock);
            return 0;
        }
        if (s->open_connections < s->max_connections) {
            s->open_connections++;
            pthread_mutex_unlock(&s->lock);
            int rc = conn_open(s, out);
            if (rc != 0) {
                pthread_mutex_lock(&s->lock);
                s->open_connections--;
                pthread_cond_signal(&s->idle_available);
                pthread_mutex_unlock(&s->lock);
            }
            return rc;
        }
        pthread_cond_wait(&s->idle_available, &s->lock);
    }
}

void sq_release(struct sq_store *s, struct sq_conn *c)
{
    /* A connection must never go back with a transaction open. */
    if (!sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_lock(&s->lock);
    c->next_idle = s->idle;
    s->idle = c;
    pthread_cond_signal(&s->idle_available);
    pthread_mutex_unlock(&s->lock);
}

static int sq_check(struct ticket_store *ts)
{
    struct sq_store *s = ts->state;
    struct sq_conn *c;
    int rc = sq_acquire(s, &c);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = sq_prepare(c, "SELECT count(*) FROM schema_version", &rc);
    if (st) {
        int r = sqlite3_step(st);
        rc = r == SQLITE_ROW ? 0 : sq_error(r);
        sqlite3_reset(st);
    }
    sq_release(s, c);
    return rc == 0 ? 0 : LOGSHARE_EUNAVAILABLE;
}

static int sq_identity(struct ticket_store *ts, char out[TICKET_STORE_IDENTITY_MAX])
{
    struct sq_store *s = ts->state;
    struct sq_conn *c;
    int rc = sq_acquire(s, &c);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st =
        sq_prepare(c, "SELECT applied_at FROM schema_version WHERE version = 1", &rc);
    if (st) {
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW)
            snprintf(out, TICKET_STORE_IDENTITY_MAX, "sqlite:%lld",
                     (long long)sqlite3_column_int64(st, 0));
        rc = r == SQLITE_ROW ? 0 : r == SQLITE_DONE ? LOGSHARE_ENOENT : sq_error(r);
        sqlite3_reset(st);
    }
    sq_release(s, c);
    return rc;
}

static void sq_destroy(struct ticket_store *ts)
{
    struct sq_store *s = ts->state;
    while (s->idle) {
        struct sq_conn *c = s->idle;
        s->idle = c->next_idle;
        conn_close(c);
    }
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->idle_available);
    pthread_mutex_destroy(&s->batch_lock);
    pthread_cond_destroy(&s->batch_done);
    free(s->path);
    free(s);
}

static const struct ticket_store_ops sq_ops = {
    .name = "sqlite",
    .migrate = sq_migrate,
    .create = sq_create,
    .find_idempotent = sq_find_idempotent,
    .get = sq_get,
    .list = sq_list,
    .update = sq_update,
    .add_attachments = sq_add_attachments,
    .get_attachment = sq_get_attachment,
    .blob_referenced = sq_blob_referenced,
    .user_create = sq_user_create,
    .user_get = sq_user_get,
    .user_update = sq_user_update,
    .user_delete = sq_user_delete,
    .check = sq_check,
    .identity = sq_identity,
    .handoff_claim = sq_handoff_claim,
    .handoff_record = sq_handoff_record,
    .handoff_release = sq_handoff_release,
    .handoff_counts = sq_handoff_counts,
    .destroy = sq_destroy,
};

int ticket_store_sqlite_open(const char *path, const struct ticket_store_sqlite_options *opts,
                             struct ticket_store **out)
{
    if (!path || !*path || !out)
        return LOGSHARE_EINVAL;
    *out = NULL;
    if (!sqlite3_threadsafe())
        return LOGSHARE_EUNSUPPORTED;
    /* Create the file ourselves so it is 0600 from its first byte, and
     * make its directory entry durable (SQLite syncs the directory for
     * the WAL it creates, not for the main file). */
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        char *dir = ls_fs_dirname(path);
        int rc = dir ? ls_fs_fsync_dir(dir) : LOGSHARE_ENOMEM;
        free(dir);
        if (rc != 0)
            return rc;
    } else if (errno == EEXIST) {
        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
            return LOGSHARE_EUNAVAILABLE;
        close(fd);
    } else {
        return LOGSHARE_EUNAVAILABLE;
    }
    struct sq_store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return LOGSHARE_ENOMEM;
    }
    s->busy_timeout_ms = opts && opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : 5000;
    s->max_connections = opts && opts->max_connections > 0 ? opts->max_connections : 16;
    s->durable = opts ? opts->durable != 0 : 1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->idle_available, NULL);
    pthread_mutex_init(&s->batch_lock, NULL);
    pthread_cond_init(&s->batch_done, NULL);
    s->base.ops = &sq_ops;
    s->base.state = s;
    /* Open one connection now so a bad path fails here, not later. */
    struct sq_conn *c;
    int rc = sq_acquire(s, &c);
    if (rc != 0) {
        sq_destroy(&s->base);
        return rc;
    }
    sq_release(s, c);
    *out = &s->base;
    return 0;
}
