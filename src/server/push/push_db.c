/*
 * push_db.c - opens the push tables' connection and holds the helpers
 * the other push_db_*.c files share (see push_db.h for the design).
 */
#include "push_db_internal.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logshare.h"
#include "ls_hex.h"
#include "ls_time.h"

int push_db_error(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return LOGSHARE_EBUSY;
    case SQLITE_NOMEM:
        return LOGSHARE_ENOMEM;
    case SQLITE_FULL:
        return LOGSHARE_ENOSPC;
    case SQLITE_CONSTRAINT:
        return LOGSHARE_EEXIST;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
        return LOGSHARE_EPERM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return LOGSHARE_ECORRUPT;
    default:
        return LOGSHARE_EIO;
    }
}

int push_db_prepare(struct push_db *db, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(db->conn, sql, -1, st, NULL);
    return rc == SQLITE_OK ? 0 : push_db_error(rc);
}

int push_db_exec(struct push_db *db, const char *sql)
{
    int rc = sqlite3_exec(db->conn, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : push_db_error(rc);
}

int push_db_exec_at(struct push_db *db, const char *sql, int64_t t, int *changes)
{
    sqlite3_stmt *st;
    int rc = push_db_prepare(db, sql, &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, t);
    rc = push_db_error(sqlite3_step(st));
    sqlite3_finalize(st);
    if (!rc && changes)
        *changes = sqlite3_changes(db->conn);
    return rc;
}

int push_db_bind_text(sqlite3_stmt *st, int idx, const char *s)
{
    int rc = s ? sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, idx);
    return rc == SQLITE_OK ? 0 : push_db_error(rc);
}

char *push_db_column_strdup(sqlite3_stmt *st, int col, int *oom)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    if (!t)
        return NULL;
    char *copy = strdup((const char *)t);
    if (!copy)
        *oom = 1;
    return copy;
}

int push_db_open(const char *path, struct push_db **out)
{
    *out = NULL;
    /* Create the file 0600 ourselves: SQLite would use the umask, and
     * the database holds user ids and free text. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return LOGSHARE_EIO;
    close(fd);
    struct push_db *db = calloc(1, sizeof *db);
    if (!db)
        return LOGSHARE_ENOMEM;
    pthread_mutex_init(&db->lock, NULL);
    int rc = sqlite3_open_v2(
        path, &db->conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = push_db_error(rc);
        push_db_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db->conn, 5000);
    /* WAL lets the ticket store's connections and this one work side by
     * side; synchronous=FULL because a 201 or a queued webhook must
     * survive a power loss (PITFALLS, durability). */
    rc = push_db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                          " PRAGMA foreign_keys=ON;");
    if (!rc)
        rc = push_db_migrate(db);
    if (rc) {
        push_db_close(db);
        return rc;
    }
    *out = db;
    return 0;
}

void push_db_close(struct push_db *db)
{
    if (!db)
        return;
    if (db->conn)
        sqlite3_close_v2(db->conn);
    pthread_mutex_destroy(&db->lock);
    free(db);
}

int push_db_schema_version(struct push_db *db)
{
    return db->schema_version;
}

int push_id_new(const char *prefix, char out[PUSH_ID_MAX])
{
    size_t plen = strlen(prefix);
    if (plen < 1 || plen > 8)
        return LOGSHARE_EINVAL;
    for (size_t i = 0; i < plen; i++)
        if (prefix[i] < 'a' || prefix[i] > 'z')
            return LOGSHARE_EINVAL;
    if (sodium_init() < 0)
        return LOGSHARE_EINTERNAL;
    uint64_t ms = (uint64_t)(ls_time_now_us() / 1000);
    unsigned char raw[16];
    for (int i = 0; i < 6; i++)
        raw[i] = (unsigned char)(ms >> (8 * (5 - i)));
    randombytes_buf(raw + 6, 10);
    memcpy(out, prefix, plen);
    out[plen] = '_';
    ls_hex_encode(raw, sizeof raw, out + plen + 1);
    return 0;
}

int push_id_valid(const char *id)
{
    if (!id)
        return 0;
    size_t plen = 0;
    while (id[plen] >= 'a' && id[plen] <= 'z')
        plen++;
    if (plen < 1 || plen > 8 || id[plen] != '_')
        return 0;
    const char *hex = id + plen + 1;
    size_t n = 0;
    for (; hex[n]; n++)
        if (!((hex[n] >= '0' && hex[n] <= '9') || (hex[n] >= 'a' && hex[n] <= 'f')))
            return 0;
    return n == 32;
}
