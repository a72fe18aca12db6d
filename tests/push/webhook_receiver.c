/*
 * webhook_receiver.c - a small webhook receiver for the push tests: a
 * libmicrohttpd server on 127.0.0.1 that checks each POST's
 * X-Logshare-Signature against the shared secret and logs one line per
 * request to LOG:
 *
 *   <status> <delivery id> <event> <sig ok|sig bad> <log_request id>
 *
 * It answers 503 to the first FAIL_FIRST posts (to make the sender
 * retry) and 200 after. Runs until SIGTERM.
 *
 *   webhook_receiver PORT SECRET_FILE LOG FAIL_FIRST [PORT_FILE]
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ls_buf.h"
#include "ls_fs.h"
#include "ls_time.h"
#include "webhook_sign.h"

static char *secret;
static size_t secret_len;
static FILE *log_file;
static int fail_first;
static int seen;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **state)
{
    (void)cls;
    (void)url;
    (void)version;
    if (!*state) {
        ls_buf *b = calloc(1, sizeof *b);
        *state = b;
        return MHD_YES;
    }
    ls_buf *b = *state;
    if (*size) {
        ls_buf_append(b, data, *size);
        *size = 0;
        return MHD_YES;
    }
    unsigned status = 200;
    if (strcmp(method, "POST") != 0) {
        status = 405;
    } else {
        const char *ts = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Logshare-Timestamp");
        const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Logshare-Signature");
        const char *id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Logshare-Delivery");
        const char *ev = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Logshare-Event");
        long long t = ts ? atoll(ts) : 0;
        long long now = ls_time_now_us() / 1000000;
        int ok = ts && t > now - 300 && t < now + 300 &&
                 webhook_verify((const unsigned char *)secret, secret_len, t,
                                b->data ? b->data : "", b->len, sig);
        json_t *doc = json_loadb(b->data ? b->data : "", b->len, 0, NULL);
        const char *lr =
            json_string_value(json_object_get(json_object_get(doc, "log_request"), "id"));
        status = seen++ < fail_first ? 503 : 200;
        fprintf(log_file, "%u %s %s %s %s\n", status, id ? id : "-", ev ? ev : "-",
                ok ? "sig_ok" : "sig_bad", lr ? lr : "-");
        fflush(log_file);
        json_decref(doc);
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(2, (void *)"{}", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static void on_done(void *cls, struct MHD_Connection *c, void **state,
                    enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)c;
    (void)code;
    if (*state) {
        ls_buf_free(*state);
        free(*state);
        *state = NULL;
    }
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s PORT SECRET_FILE LOG FAIL_FIRST [PORT_FILE]\n", argv[0]);
        return 2;
    }
    size_t len;
    if (ls_fs_read_file(argv[2], 4096, &secret, &len)) {
        fprintf(stderr, "cannot read %s\n", argv[2]);
        return 1;
    }
    while (len && (secret[len - 1] == '\n' || secret[len - 1] == ' '))
        secret[--len] = '\0';
    secret_len = len;
    log_file = fopen(argv[3], "a");
    fail_first = atoi(argv[4]);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)atoi(argv[1]));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, NULL,
                         MHD_OPTION_SOCK_ADDR, &a, MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
                         MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_END);
    if (!d || !log_file) {
        fprintf(stderr, "cannot listen on port %s\n", argv[1]);
        return 1;
    }
    if (argc > 5) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        char text[16];
        int n = snprintf(text, sizeof text, "%u\n", info ? info->port : 0);
        ls_fs_write_atomic(argv[5], text, (size_t)n, 0644);
    }
    int sig;
    sigwait(&sigs, &sig);
    MHD_stop_daemon(d);
    fclose(log_file);
    free(secret);
    return 0;
}
