/*
 * fd_limit.h - lets logshared use every file descriptor it is allowed.
 *
 * Each open connection (an idle log-request stream is one) holds a
 * socket, and the soft RLIMIT_NOFILE a service starts with is often
 * 1024 (systemd's default) although the hard limit is far higher, which
 * would cap limits.max_connections and push.max_streams far below their
 * defaults. Raising the soft limit up to the hard one needs no
 * privilege.
 */
#ifndef FD_LIMIT_H
#define FD_LIMIT_H

#include <stdint.h>

/* Raises the soft RLIMIT_NOFILE to the hard limit when it is lower.
 * *before and *after (may be NULL) get the soft limit on entry and on
 * return. 0, or LOGSHARE_EIO when the limits cannot be read or set
 * (the process keeps the limit it had). */
int fd_limit_raise(uint64_t *before, uint64_t *after);

#endif
