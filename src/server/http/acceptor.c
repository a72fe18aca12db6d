/*
 * acceptor.c - the accept thread (see acceptor.h for why it exists).
 *
 * It sleeps in poll() on the listen socket and an eventfd that
 * http_acceptor_destroy writes to, then accepts until EAGAIN, so a burst
 * costs one wake-up. Out of descriptors (EMFILE/ENFILE) or kernel memory,
 * the pending connection stays in the backlog and the listen socket stays
 * readable: polling it again would spin, so the thread waits on the
 * eventfd alone for a moment, and logs once per such episode.
 */
#include "http/acceptor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "logshare.h"

#define BACKOFF_MS 100

struct http_acceptor {
    int listen_fd;
    int wake_fd;
    int quit;
    struct MHD_Daemon *daemon;
    pthread_t thread;
};

/* Errors of accept(2) that concern one connection (it was reset, or
 * Linux passes a pending network error on): take the next one. */
static int transient(int e)
{
    switch (e) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case EPERM:
    case ENETDOWN:
    case ENETUNREACH:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case EHOSTUNREACH:
    case ENONET:
    case EOPNOTSUPP:
        return 1;
    default:
        return 0;
    }
}

static void *acceptor_main(void *arg)
{
    struct http_acceptor *a = arg;
    int backoff = 0, logged = 0;
    while (!__atomic_load_n(&a->quit, __ATOMIC_ACQUIRE)) {
        struct pollfd p[2] = {{a->wake_fd, POLLIN, 0}, {a->listen_fd, POLLIN, 0}};
        /* while backing off, only the wake-up fd (and the timeout) */
        if (poll(p, backoff ? 1 : 2, backoff ? BACKOFF_MS : -1) < 0) {
            if (errno != EINTR)
                usleep(BACKOFF_MS * 1000); /* poll itself failed (ENOMEM): no spinning */
            continue;
        }
        if (p[0].revents)
            break;
        backoff = 0;
        while (!backoff && !__atomic_load_n(&a->quit, __ATOMIC_ACQUIRE)) {
            struct sockaddr_storage addr;
            socklen_t len = sizeof addr;
            int fd =
                accept4(a->listen_fd, (struct sockaddr *)&addr, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                if (transient(errno))
                    continue;
                if (!logged)
                    fprintf(stderr,
                            "level=warn msg=\"cannot accept connections, retrying\" error=\"%s\"\n",
                            strerror(errno));
                logged = 1;
                backoff = 1;
                break;
            }
            logged = 0;
            /* MHD closes fd itself when it refuses it (connection limits,
             * memory) and logs why through the daemon's logger. */
            MHD_add_connection(a->daemon, fd, (const struct sockaddr *)&addr, len);
        }
    }
    return NULL;
}

int http_acceptor_create(int listen_fd, struct MHD_Daemon *daemon, struct http_acceptor **out)
{
    *out = NULL;
    struct http_acceptor *a = calloc(1, sizeof *a);
    if (!a) {
        close(listen_fd);
        return LOGSHARE_ENOMEM;
    }
    a->listen_fd = listen_fd;
    a->daemon = daemon;
    a->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    /* accept4's SOCK_NONBLOCK is for the new socket: the listen socket
     * itself must not block either, or the drain loop and stop hang. */
    int fl = fcntl(listen_fd, F_GETFL);
    if (a->wake_fd < 0 || fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        pthread_create(&a->thread, NULL, acceptor_main, a) != 0) {
        if (a->wake_fd >= 0)
            close(a->wake_fd);
        close(listen_fd);
        free(a);
        return LOGSHARE_EIO;
    }
    pthread_setname_np(a->thread, "ls-accept"); /* in top -H and /proc */
    *out = a;
    return 0;
}

void http_acceptor_destroy(struct http_acceptor *a)
{
    if (!a)
        return;
    __atomic_store_n(&a->quit, 1, __ATOMIC_RELEASE);
    uint64_t one = 1;
    while (write(a->wake_fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
    pthread_join(a->thread, NULL);
    close(a->listen_fd);
    close(a->wake_fd);
    free(a);
}
