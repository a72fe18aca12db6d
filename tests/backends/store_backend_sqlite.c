/*
 * store_backend_sqlite.c - test_ticket_store.c against a SQLite file in
 * the test's temporary directory (see store_backend.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "backends_testlib.h"
#include "logshare.h"
#include "store_backend.h"

int backend_global_setup(void)
{
    return 0;
}

void backend_global_teardown(void) {}

int backend_open_fresh(const char *dir, char **locator, struct ticket_store **ts)
{
    *locator = path_join(dir, TICKET_STORE_SQLITE_FILENAME);
    int rc = ticket_store_sqlite_open(*locator, NULL, ts);
    if (rc == 0)
        rc = ticket_store_migrate(*ts, NULL);
    if (rc == 0) {
        struct stat st;
        if (stat(*locator, &st) != 0 || (st.st_mode & 0777) != 0600)
            rc = -1; /* the database holds customer data: owner only */
    }
    return rc;
}

int backend_reopen(const char *locator, struct ticket_store **ts)
{
    return ticket_store_sqlite_open(locator, NULL, ts);
}

int backend_count_rows(const char *locator, const char *table)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(locator, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

void backend_exec(const char *locator, const char *sql)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open(locator, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
}

char *backend_url(const char *locator)
{
    char *url;
    if (asprintf(&url, "sqlite:%s", locator) < 0)
        abort();
    return url;
}

void backend_check_bad_locations(const char *dir)
{
    struct ticket_store *ts = (struct ticket_store *)1;
    char *p = path_join(dir, "no/such/dir/db");
    assert_int_equal(ticket_store_sqlite_open(p, NULL, &ts), LOGSHARE_EUNAVAILABLE);
    assert_null(ts);
    free(p);
    /* A file that is not a database: refused at open or at migrate,
     * never crashing and never overwritten. */
    p = path_join(dir, "junk.db");
    FILE *j = fopen(p, "w");
    for (int i = 0; i < 200; i++)
        fputs("this is not an sqlite database at all\n", j);
    fclose(j);
    int rc = ticket_store_sqlite_open(p, NULL, &ts);
    if (rc == 0) {
        assert_int_not_equal(ticket_store_migrate(ts, NULL), 0);
        ticket_store_destroy(ts);
    } else {
        assert_null(ts);
    }
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 200 * 38);
    free(p);
}
