/*
 * push_db_internal.h - what the push_db_*.c files share: the handle's
 * layout and small statement helpers. Not for use outside push/.
 */
#ifndef PUSH_DB_INTERNAL_H
#define PUSH_DB_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>

#include "push_db.h"

struct push_db {
    sqlite3 *conn;
    pthread_mutex_t lock; /* serializes every use of conn */
    int schema_version;
};

/* Maps an SQLite result code to a LOGSHARE_E* code. */
int push_db_error(int sqlite_rc);

/* Prepares sql on db->conn (lock held). 0 or an error. */
int push_db_prepare(struct push_db *db, const char *sql, sqlite3_stmt **st);

/* Runs sql with no parameters and no rows (lock held). */
int push_db_exec(struct push_db *db, const char *sql);

/* Runs one UPDATE or DELETE whose only parameter, ?1, is the time t
 * (lock held); *changes (may be NULL) gets the rows it changed. */
int push_db_exec_at(struct push_db *db, const char *sql, int64_t t, int *changes);

/* Binds text, or NULL when s is NULL. */
int push_db_bind_text(sqlite3_stmt *st, int idx, const char *s);

/* A copy of column col as a new string, or NULL when it is NULL. Sets
 * *oom when the copy failed on a non-NULL value. */
char *push_db_column_strdup(sqlite3_stmt *st, int col, int *oom);

/* The schema steps (push_db_schema.c). */
int push_db_migrate(struct push_db *db);

#endif
