/*
 * store_backend_pg.c - test_ticket_store.c against a real PostgreSQL
 * server that this program starts on a free port in a temporary
 * directory and stops at the end (see store_backend.h). Each test gets
 * its own fresh database.
 *
 * PostgreSQL refuses to run as root, so when the tests run as root the
 * cluster belongs to the "postgres" system user and initdb / pg_ctl run
 * through runuser. Only when that is impossible (no PostgreSQL binaries,
 * no such user) does the program skip, saying why (exit 77).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backends_testlib.h"
#include "logshare.h"
#include "store_backend.h"

static char *cluster_dir;
static char bin_dir[256];
static char as_user[64]; /* "runuser -u postgres -- " or "" */
static int port;
static int db_counter;

static int find_bin_dir(void)
{
    const char *candidates[] = {"/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin",
                                "/usr/lib/postgresql/15/bin", "/usr/local/bin", "/usr/bin"};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        char p[300];
        snprintf(p, sizeof p, "%s/initdb", candidates[i]);
        if (access(p, X_OK) == 0) {
            snprintf(p, sizeof p, "%s/pg_ctl", candidates[i]);
            if (access(p, X_OK) == 0) {
                snprintf(bin_dir, sizeof bin_dir, "%s", candidates[i]);
                return 0;
            }
        }
    }
    return -1;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static char *conninfo_for(const char *db)
{
    char *s;
    if (asprintf(&s, "host=127.0.0.1 port=%d user=logshare dbname=%s connect_timeout=5", port, db) <
        0)
        abort();
    return s;
}

int backend_global_setup(void)
{
    if (find_bin_dir() != 0) {
        printf("SKIP: no PostgreSQL initdb/pg_ctl found (install postgresql)\n");
        return 77;
    }
    cluster_dir = tmpdir_new();
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("postgres");
        if (!pw) {
            printf("SKIP: running as root and there is no 'postgres' user to own the cluster\n");
            tmpdir_remove(cluster_dir);
            free(cluster_dir);
            return 77;
        }
        if (chown(cluster_dir, pw->pw_uid, pw->pw_gid) != 0)
            return -1;
        snprintf(as_user, sizeof as_user, "runuser -u postgres -- ");
    }
    if (run("%s%s/initdb -D %s/data -U logshare -A trust -E UTF8 --locale=C --no-sync "
            ">%s/initdb.log 2>&1",
            as_user, bin_dir, cluster_dir, cluster_dir) != 0) {
        fprintf(stderr, "initdb failed; see %s/initdb.log\n", cluster_dir);
        return -1;
    }
    for (int attempt = 0; attempt < 5; attempt++) {
        port = free_port();
        if (port > 0 && run("%s%s/pg_ctl -D %s/data -l %s/server.log -w -t 60 -o \"-p %d -k %s"
                            " -c listen_addresses=127.0.0.1\" start >/dev/null 2>&1",
                            as_user, bin_dir, cluster_dir, cluster_dir, port, cluster_dir) == 0)
            return 0;
    }
    fprintf(stderr, "postgres did not start; see %s/server.log\n", cluster_dir);
    return -1;
}

void backend_global_teardown(void)
{
    if (!cluster_dir)
        return;
    run("%s%s/pg_ctl -D %s/data -m fast -w stop >/dev/null 2>&1", as_user, bin_dir, cluster_dir);
    tmpdir_remove(cluster_dir);
    free(cluster_dir);
    cluster_dir = NULL;
}

static void admin_exec(const char *db, const char *sql)
{
    char *ci = conninfo_for(db);
    PGconn *c = PQconnectdb(ci);
    free(ci);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

int backend_open_fresh(const char *dir, char **locator, struct ticket_store **ts)
{
    (void)dir;
    char db[32], sql[64];
    snprintf(db, sizeof db, "t%d", ++db_counter);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    admin_exec("postgres", sql);
    *locator = conninfo_for(db);
    int rc = ticket_store_pg_open(*locator, 8, ts);
    if (rc == 0)
        rc = ticket_store_migrate(*ts, NULL);
    return rc;
}

int backend_reopen(const char *locator, struct ticket_store **ts)
{
    return ticket_store_pg_open(locator, 8, ts);
}

int backend_count_rows(const char *locator, const char *table)
{
    PGconn *c = PQconnectdb(locator);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return n;
}

void backend_exec(const char *locator, const char *sql)
{
    PGconn *c = PQconnectdb(locator);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
}

char *backend_url(const char *locator)
{
    return strdup(locator);
}

void backend_check_bad_locations(const char *dir)
{
    (void)dir;
    struct ticket_store *ts = (struct ticket_store *)1;
    /* Nothing listens there (the port was free a moment ago). */
    char ci[128];
    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%d user=logshare dbname=x connect_timeout=2",
             free_port());
    assert_int_equal(ticket_store_pg_open(ci, 2, &ts), LOGSHARE_EUNAVAILABLE);
    assert_null(ts);
    ts = (struct ticket_store *)1;
    char *missing = conninfo_for("no_such_database");
    assert_int_equal(ticket_store_pg_open(missing, 2, &ts), LOGSHARE_EUNAVAILABLE);
    assert_null(ts);
    free(missing);
    assert_int_equal(ticket_store_pg_open("this is not = a valid conninfo '", 2, &ts),
                     LOGSHARE_EUNAVAILABLE);
}
