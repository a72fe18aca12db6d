/*
 * acceptor.h - our own accept loop in front of the libmicrohttpd daemon.
 *
 * Why: with a thread pool, each MHD worker polls the shared listen socket
 * and, once woken, accepts up to ~10 connections in a row, so a burst of
 * new connections (a client or a reverse proxy opening its keep-alive
 * pool) lands on one worker for its whole life while the others idle.
 * MHD spreads connections added with MHD_add_connection over its pool
 * instead, so the daemon runs with MHD_USE_NO_LISTEN_SOCKET and one
 * thread of ours accepts and hands every connection over, with its real
 * peer address (per-address limits, trusted proxies and logs use it).
 *
 * Ownership: http_acceptor_create takes listen_fd in every case (closed
 * on failure, else by http_acceptor_destroy); the daemon stays the
 * caller's and must outlive the acceptor. Accepted sockets belong to MHD
 * as soon as they are handed over (it closes them even on failure).
 */
#ifndef LOGSHARED_ACCEPTOR_H
#define LOGSHARED_ACCEPTOR_H

#include <microhttpd.h>

struct http_acceptor;

/* Starts the accept thread on listen_fd (a listening stream socket).
 * 0, LOGSHARE_ENOMEM or LOGSHARE_EIO (no eventfd or thread). */
int http_acceptor_create(int listen_fd, struct MHD_Daemon *daemon, struct http_acceptor **out);

/* Stops accepting: wakes and joins the thread, then closes listen_fd, so
 * new connections are refused from here on. NULL is a no-op. */
void http_acceptor_destroy(struct http_acceptor *a);

#endif
