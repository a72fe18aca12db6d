/*
 * sessions_db.h - the dashboard's shared SQLite file (<data_dir>/sessions.db):
 * the session store (session.c) and the login-attempt limiter
 * (dashboard_login_limit.c) each open their own connection to it, and
 * both open and report errors the same way (sessions_db.c).
 */
#ifndef LOGSHARED_SESSIONS_DB_H
#define LOGSHARED_SESSIONS_DB_H

#include <sqlite3.h>

/* Opens path (NULL: a private in-memory database) read-write, creating
 * the file with mode 0600 first (SQLite would follow the umask; its -wal
 * and -shm files take the file's mode), with a 5 s busy timeout, then
 * runs pragmas and schema (both may hold several statements). On
 * success *db is the caller's (sqlite3_close_v2); on failure *db may
 * still need closing. Returns 0 or a negative LOGSHARE_E* code. */
int sessions_db_open(const char *path, const char *pragmas, const char *schema, sqlite3 **db);

/* A SQLite result code as a LOGSHARE_E* code (0 for OK, DONE and ROW):
 * EBUSY (busy, locked), ENOMEM, ENOSPC, EPERM (cannot open, permission,
 * read-only), EIO otherwise. */
int sessions_db_error(int rc);

#endif
