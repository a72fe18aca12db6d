/*
 * store_backend.h - what test_ticket_store.c needs from the database
 * under test, so the same tests run against SQLite (store_backend_sqlite.c)
 * and a real PostgreSQL server (store_backend_pg.c). A "locator" is a
 * database file path or a libpq connection string.
 */
#ifndef STORE_BACKEND_H
#define STORE_BACKEND_H

#include "ticket_store.h"

/* Once per test program: 0, or 77 (skip: printed why), or -1. */
int backend_global_setup(void);
void backend_global_teardown(void);

/* A fresh, empty database for one test (dir is the test's own temporary
 * directory); *locator is the caller's to free. Opens and migrates it. */
int backend_open_fresh(const char *dir, char **locator, struct ticket_store **ts);
/* Opens the same database again (without migrating). */
int backend_reopen(const char *locator, struct ticket_store **ts);
/* SELECT count(*) FROM table, read independently of the store. */
int backend_count_rows(const char *locator, const char *table);
/* Runs one SQL statement independently of the store. */
void backend_exec(const char *locator, const char *sql);
/* The database URL (ticket_store_open_url) of a locator; caller frees. */
char *backend_url(const char *locator);
/* Asserts that unusable database locations fail cleanly. */
void backend_check_bad_locations(const char *dir);

#endif
