/*
 * main.c - logshared, the support backend: argument parsing and the
 * serve loop. With no arguments it serves on 127.0.0.1:8080 with data in
 * ./logshare-data.
 */
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "logshare.h"
#include "ls_fs.h"
#include "server_version.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: logshared [--config FILE] [--listen HOST:PORT] [--data-dir DIR]\n"
            "                 [--port-file FILE]\n"
            "       logshared --version | --help\n\n"
            "The logshare support backend.\n\n"
            "  --listen HOST:PORT  address to serve on (default 127.0.0.1:8080; port 0 picks a\n"
            "                      free port)\n"
            "  --data-dir DIR      database, blobs and signing secret (default ./logshare-data)\n"
            "  --port-file FILE    write the port actually bound to FILE once serving\n");
}

static int parse_listen(const char *text, struct sockaddr_in *addr)
{
    const char *colon = strrchr(text, ':');
    if (!colon)
        return -1;
    char host[64];
    size_t hlen = (size_t)(colon - text);
    if (hlen == 0 || hlen >= sizeof host)
        return -1;
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return -1;
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &addr->sin_addr) != 1)
        return -1;
    return 0;
}

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status, const char *body,
                                 const char *type)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle_request(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **req_cls)
{
    (void)cls;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    if (*req_cls == NULL) {
        *req_cls = (void *)1;
        return MHD_YES;
    }
    if (strcmp(url, "/healthz") == 0 && strcmp(method, "GET") == 0)
        return send_text(conn, MHD_HTTP_OK, "{\"status\":\"ok\"}\n", "application/json");
    return send_text(conn, MHD_HTTP_NOT_FOUND,
                     "{\"error\":{\"code\":\"not_found\",\"message\":\"no such route\"}}\n",
                     "application/json");
}

int main(int argc, char **argv)
{
    const char *listen_text = "127.0.0.1:8080";
    const char *data_dir = "./logshare-data";
    const char *port_file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("logshared %s\n", logshared_version());
            return 0;
        } else if (strcmp(a, "--listen") == 0 && i + 1 < argc) {
            listen_text = argv[++i];
        } else if (strcmp(a, "--data-dir") == 0 && i + 1 < argc) {
            data_dir = argv[++i];
        } else if (strcmp(a, "--port-file") == 0 && i + 1 < argc) {
            port_file = argv[++i];
        } else {
            fprintf(stderr, "logshared: unknown or incomplete option '%s' (try --help)\n", a);
            return 2;
        }
    }
    struct sockaddr_in addr;
    if (parse_listen(listen_text, &addr) != 0) {
        fprintf(stderr, "logshared: --listen wants HOST:PORT, got '%s'\n", listen_text);
        return 2;
    }
    int rc = ls_fs_mkdir_p(data_dir, 0700);
    if (rc) {
        fprintf(stderr, "logshared: cannot create data dir %s: %s\n", data_dir,
                logshare_strerror(rc));
        return 1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 128) != 0) {
        fprintf(stderr, "logshared: cannot listen on %s: %s\n", listen_text, strerror(errno));
        return 1;
    }
    socklen_t alen = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &alen);
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
                         handle_request, NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "logshared: cannot start the HTTP server\n");
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    fprintf(stderr, "logshared: serving on http://%s:%u (data dir %s)\n", inet_ntoa(addr.sin_addr),
            ntohs(addr.sin_port), data_dir);
    if (port_file) {
        char text[16];
        int n = snprintf(text, sizeof text, "%u\n", ntohs(addr.sin_port));
        ls_fs_write_atomic(port_file, text, (size_t)n, 0644);
    }
    while (!stop_requested)
        pause();
    MHD_stop_daemon(d);
    close(fd);
    fprintf(stderr, "logshared: stopped\n");
    return 0;
}
