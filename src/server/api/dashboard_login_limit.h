/*
 * dashboard_login_limit.h - slows down password guessing on the
 * dashboard's login.
 *
 * Two token buckets per attempt: one for the client address and one for
 * the user name tried, so neither one address trying many names nor many
 * addresses trying one name get far. Every attempt takes a token from
 * both; a successful login refills the user name's bucket (an agent who
 * mistyped twice is not punished afterwards).
 *
 * A browser that has logged in as a user before (it holds that user's
 * device cookie, see dashboard_login.c) is charged to a second bucket of
 * that name instead, so that anyone spending the ordinary one (five
 * wrong guesses a minute lock a name out) cannot keep the agent out. Checked before the
 * password hash is computed, so a flood also cannot burn the CPU on
 * Argon2.
 *
 * The buckets live in a SQLite file (cfg->path: the sessions file,
 * <data_dir>/sessions.db) that every server on the data dir shares, so
 * the limits hold for all of them together and survive a restart; NULL
 * path: in memory, this limiter only. The same file keeps the device
 * cookies' key (login_limit_device_key), so a device cookie made by one
 * server is honoured by all.
 *
 * Size is bounded: at most max_keys names and addresses are tracked;
 * past that the entries idle longest go (they have the most tokens back
 * anyway), and entries that would be full by now are dropped.
 *
 * Thread safety: every call may be made from many threads at once.
 */
#ifndef LOGSHARED_DASHBOARD_LOGIN_LIMIT_H
#define LOGSHARED_DASHBOARD_LOGIN_LIMIT_H

#include <stddef.h>
#include <stdint.h>

struct login_limit_config {
    double per_user_burst;      /* 0: 5 attempts at once per user name */
    double per_user_per_minute; /* 0: 5 more a minute */
    double per_addr_burst;      /* 0: 20 per address */
    double per_addr_per_minute; /* 0: 20 a minute */
    size_t max_keys;            /* under 16: 4096 */
    const char *path;           /* the shared SQLite file; NULL: in memory */
};

#define LOGIN_LIMIT_KEY_LEN 32

struct login_limit;

/* cfg may be NULL for the defaults. Opens or creates cfg->path (call it
 * under the servers' startup lock). *out: login_limit_free it. */
int login_limit_new(const struct login_limit_config *cfg, struct login_limit **out);
void login_limit_free(struct login_limit *l); /* NULL is a no-op */

/* Takes one attempt for (addr, user) at now_us (monotonic or wall clock
 * µs, as long as it is the same clock every call). 0 when allowed;
 * LOGSHARE_ERATELIMIT with *retry_after_s (seconds until the next
 * attempt may pass, at least 1) when either bucket is empty; nothing is
 * taken from either bucket then. Another error: the file could not be
 * read or written (the caller must refuse the attempt). Every server on
 * the file must use the wall clock. */
int login_limit_take(struct login_limit *l, const char *addr, const char *user, int64_t now_us,
                     int *retry_after_s);

/* The same with the user name's bucket for browsers that have logged in
 * as user before (their device cookie was verified). */
int login_limit_take_device(struct login_limit *l, const char *addr, const char *user,
                            int64_t now_us, int *retry_after_s);

/* A login as user succeeded: the bucket it was charged to is full
 * again (login_limit_take's, or login_limit_take_device's). */
void login_limit_success(struct login_limit *l, const char *user, int64_t now_us);
void login_limit_success_device(struct login_limit *l, const char *user, int64_t now_us);

/* The key of the device cookies: made at random by the first server on
 * the file, then the same for all of them and over restarts. 0, or the
 * database's error. */
int login_limit_device_key(struct login_limit *l, unsigned char key[LOGIN_LIMIT_KEY_LEN]);

#endif
