/*
 * sessions_db.c - opening the dashboard's shared SQLite file and naming
 * its errors (sessions_db.h).
 */
#include "sessions_db.h"

#include <fcntl.h>
#include <unistd.h>

#include "logshare.h"

int sessions_db_error(int rc)
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
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
        return LOGSHARE_EPERM;
    default:
        return LOGSHARE_EIO;
    }
}

int sessions_db_open(const char *path, const char *pragmas, const char *schema, sqlite3 **db)
{
    *db = NULL;
    if (path) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            return LOGSHARE_EIO;
        close(fd);
    }
    int rc =
        sqlite3_open_v2(path ? path : ":memory:", db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK)
        return sessions_db_error(rc);
    sqlite3_busy_timeout(*db, 5000);
    rc = sqlite3_exec(*db, pragmas, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(*db, schema, NULL, NULL, NULL);
    return sessions_db_error(rc);
}
