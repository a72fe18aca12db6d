/*
 * test_share_send.c - sending outbox items: the retry loop and the
 * request on the wire, against a scripted HTTP peer on 127.0.0.1 that
 * answers each connection with the next status of a script (503, 429
 * with Retry-After, 400, 201 ...). The real logshared cannot be made to
 * answer 503 or 429 on demand; the end-to-end tests (report_e2e.sh) run
 * the same code against it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ls_fs.h"
#include "ls_time.h"
#include "outbox.h"
#include "outbox_send.h"

#define MAX_REQ 8
/* the body holds binary file bytes (NULs), so search with memmem */
#define BODY_HAS(text) memmem(req, p.lengths[0], text, sizeof(text) - 1)

struct peer {
    int fd;
    int port;
    const char *const *script; /* full responses, one per connection */
    int count;
    char *requests[MAX_REQ];
    size_t lengths[MAX_REQ];
    int64_t at_us[MAX_REQ];
    pthread_t thread;
};

static char *read_request(int c, size_t *len_out)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    size_t body_at = 0, content_length = 0;
    int continued = 0;
    for (;;) {
        if (len == cap)
            buf = realloc(buf, (cap *= 2) + 1);
        ssize_t n = recv(c, buf + len, cap - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        if (!body_at) {
            char *end = strstr(buf, "\r\n\r\n");
            if (!end)
                continue;
            body_at = (size_t)(end - buf) + 4;
            char *cl = strcasestr(buf, "\r\nContent-Length:");
            if (cl)
                content_length = strtoul(cl + 17, NULL, 10);
            if (!continued && strcasestr(buf, "\r\nExpect: 100-continue")) {
                const char *go = "HTTP/1.1 100 Continue\r\n\r\n";
                send(c, go, strlen(go), MSG_NOSIGNAL);
                continued = 1;
            }
        }
        if (body_at && len >= body_at + content_length)
            break;
    }
    buf[len] = '\0';
    *len_out = len;
    return buf;
}

static void *peer_main(void *arg)
{
    struct peer *p = arg;
    for (int i = 0; p->script[i]; i++) {
        int c = accept(p->fd, NULL, NULL);
        if (c < 0)
            break;
        p->requests[i] = read_request(c, &p->lengths[i]);
        p->at_us[i] = ls_time_now_us();
        p->count = i + 1;
        send(c, p->script[i], strlen(p->script[i]), MSG_NOSIGNAL);
        close(c);
    }
    return NULL;
}

static void peer_start(struct peer *p, const char *const *script)
{
    memset(p, 0, sizeof *p);
    p->script = script;
    p->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(p->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(p->fd, 8), 0);
    socklen_t al = sizeof a;
    getsockname(p->fd, (struct sockaddr *)&a, &al);
    p->port = ntohs(a.sin_port);
    pthread_create(&p->thread, NULL, peer_main, p);
}

static void peer_stop(struct peer *p)
{
    shutdown(p->fd, SHUT_RDWR);
    pthread_join(p->thread, NULL);
    close(p->fd);
}

/* The recorded requests stay readable after peer_stop, until this. */
static void peer_release(struct peer *p)
{
    for (int i = 0; i < MAX_REQ; i++)
        free(p->requests[i]);
}

static const char *header(const char *req, const char *name, char *out, size_t outlen)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\r\n%s:", name);
    const char *h = strcasestr(req, pat);
    if (!h)
        return NULL;
    h += strlen(pat);
    while (*h == ' ')
        h++;
    size_t n = strcspn(h, "\r\n");
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, h, n);
    out[n] = '\0';
    return out;
}

struct fixture {
    char dir[64];
    char *id;
    unsigned char data[3000];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/logshare-send-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    randombytes_buf(f->data, sizeof f->data);
    char path[256];
    snprintf(path, sizeof path, "%s/calling.1.lslog", f->dir);
    ls_fs_write_atomic(path, f->data, sizeof f->data, 0600);
    share_file_list files = {0};
    share_file_list_add(&files, path, "calling.1.lslog", "calling", sizeof f->data, 0, 0);
    share_fields fields = {0};
    share_string_set(&fields.description, "line one\nline two");
    share_string_set(&fields.source, "report");
    share_fields_add_call_id(&fields, "call-a");
    share_fields_add_call_id(&fields, "call-b");
    int rc = outbox_queue(f->dir, &fields, &files, 1 << 20, 8, 0, &f->id);
    share_fields_clear(&fields);
    share_file_list_clear(&files);
    *state = f;
    return rc;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f->id);
    free(f);
    return rc;
}

static logshare_share_options *options_for(int port, int attempts)
{
    logshare_share_options *o = logshare_share_options_new();
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    logshare_share_options_set_server(o, url, "tok123");
    logshare_share_options_set_retry(o, attempts, 40, 400);
    logshare_share_options_set_timeouts(o, 2000, 1, 5, 10000);
    return o;
}

#define TICKET_201                                                                                 \
    "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 29\r\nConnection: " \
    "close\r\n\r\n"                                                                                \
    "{\"id\":\"t-42\",\"status\":\"open\"}"

static void request_carries_fields_files_token_and_key(void **state)
{
    struct fixture *f = *state;
    static const char *const script[] = {TICKET_201, NULL};
    struct peer p;
    peer_start(&p, script);
    logshare_share_options *o = options_for(p.port, 1);
    logshare_report_result *res = NULL;
    assert_int_equal(outbox_send_item(f->dir, f->id, o, NULL, &res), 0);
    peer_stop(&p);
    assert_int_equal(logshare_report_result_status(res), 0);
    assert_string_equal(logshare_report_result_ticket_id(res), "t-42");
    assert_int_equal(logshare_report_result_http_status(res), 201);
    const char *req = p.requests[0];
    assert_true(strncmp(req, "POST /api/v1/tickets HTTP/1.1\r\n", 31) == 0);
    char h[256];
    assert_string_equal(header(req, "Authorization", h, sizeof h), "Bearer tok123");
    assert_int_equal(strlen(header(req, "Idempotency-Key", h, sizeof h)), 32);
    assert_non_null(
        strstr(header(req, "Content-Type", h, sizeof h), "multipart/form-data; boundary="));
    assert_non_null(BODY_HAS("name=\"description\"\r\n\r\nline one\nline two\r\n"));
    assert_non_null(BODY_HAS("name=\"call_id\"\r\n\r\ncall-a\r\n"));
    assert_non_null(BODY_HAS("name=\"call_id\"\r\n\r\ncall-b\r\n"));
    assert_non_null(BODY_HAS("name=\"source\"\r\n\r\nreport\r\n"));
    assert_non_null(BODY_HAS("name=\"file\"; filename=\"calling.1.lslog\""));
    assert_non_null(BODY_HAS("name=\"file\"; filename=\"manifest.json\""));
    /* the file's bytes are in the body, unchanged */
    int found = 0;
    for (size_t i = 0; i + sizeof f->data <= p.lengths[0]; i++)
        if (memcmp(req + i, f->data, sizeof f->data) == 0)
            found = 1;
    assert_true(found);
    /* sent: the item left the outbox */
    outbox_item *it = NULL;
    assert_int_equal(outbox_load(f->dir, f->id, &it), LOGSHARE_ENOENT);
    logshare_report_result_free(res);
    logshare_share_options_free(o);
    peer_release(&p);
}

static void server_errors_are_retried_with_the_same_idempotency_key(void **state)
{
    struct fixture *f = *state;
    static const char *const script[] = {
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: "
        "close\r\n\r\n",
        TICKET_201, NULL};
    struct peer p;
    peer_start(&p, script);
    logshare_share_options *o = options_for(p.port, 4);
    logshare_share_options_set_retry(o, 4, 40, 2000);
    logshare_report_result *res = NULL;
    assert_int_equal(outbox_send_item(f->dir, f->id, o, NULL, &res), 0);
    peer_stop(&p);
    assert_int_equal(logshare_report_result_status(res), 0);
    assert_int_equal(p.count, 3);
    char k0[64], k1[64], k2[64];
    header(p.requests[0], "Idempotency-Key", k0, sizeof k0);
    header(p.requests[1], "Idempotency-Key", k1, sizeof k1);
    header(p.requests[2], "Idempotency-Key", k2, sizeof k2);
    assert_string_equal(k0, k1);
    assert_string_equal(k1, k2);
    /* Retry-After: 1 was honoured */
    assert_true(p.at_us[2] - p.at_us[1] >= 950000);
    logshare_report_result_free(res);
    logshare_share_options_free(o);
    peer_release(&p);
}

static void a_4xx_is_not_retried_and_the_item_is_kept_failed(void **state)
{
    struct fixture *f = *state;
    static const char *const script[] = {
        "HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\nContent-Length: "
        "58\r\nConnection: close\r\n\r\n"
        "{\"error\":{\"code\":\"too_large\",\"message\":\"too big by far!\"}}",
        NULL};
    struct peer p;
    peer_start(&p, script);
    logshare_share_options *o = options_for(p.port, 4);
    logshare_report_result *res = NULL;
    assert_int_equal(outbox_send_item(f->dir, f->id, o, NULL, &res), 0);
    peer_stop(&p);
    assert_int_equal(p.count, 1);
    assert_int_equal(logshare_report_result_status(res), LOGSHARE_ETOOLARGE);
    assert_int_equal(logshare_report_result_http_status(res), 413);
    assert_string_equal(logshare_report_result_error_code(res), "too_large");
    assert_string_equal(logshare_report_result_error_message(res), "too big by far!");
    outbox_item *it = NULL;
    assert_int_equal(outbox_load(f->dir, f->id, &it), 0);
    assert_true(it->state.failed);
    assert_int_equal(it->state.attempts, 1);
    assert_string_equal(it->state.error_message, "too big by far!");
    /* a failed item waits for an explicit (forced) flush */
    size_t sent = 9, left = 9;
    assert_int_equal(outbox_flush(f->dir, o, 0, NULL, &sent, &left), 0);
    assert_int_equal(sent, 0);
    assert_int_equal(left, 1);
    outbox_item_free(it);
    logshare_report_result_free(res);
    logshare_share_options_free(o);
    peer_release(&p);
}

/* A 401 is about the token (expired or revoked while the report
 * waited), not the report: not retried with that token, but kept
 * pending, and sent by the next flush that brings another token. */
static void a_401_waits_pending_for_another_token(void **state)
{
    struct fixture *f = *state;
    static const char *const script[] = {
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: "
        "61\r\nConnection: close\r\n\r\n"
        "{\"error\":{\"code\":\"unauthorized\",\"message\":\"token expired!!\"}}",
        NULL};
    struct peer p;
    peer_start(&p, script);
    logshare_share_options *o = options_for(p.port, 4);
    logshare_report_result *res = NULL;
    assert_int_equal(outbox_send_item(f->dir, f->id, o, NULL, &res), 0);
    assert_int_equal(logshare_report_result_status(res), LOGSHARE_EAUTH);
    assert_int_equal(logshare_report_result_http_status(res), 401);
    assert_string_equal(logshare_report_result_error_message(res), "token expired!!");
    logshare_report_result_free(res);
    outbox_item *it = NULL;
    assert_int_equal(outbox_load(f->dir, f->id, &it), 0);
    assert_false(it->state.failed);
    assert_int_equal(it->state.attempts, 1);
    assert_true(outbox_token_refused(it, "tok123"));
    assert_false(outbox_token_refused(it, "tok456"));
    assert_null(strstr(it->state.refused_token, "tok123")); /* a fingerprint, not the token */
    outbox_item_free(it);
    /* the same token: not tried again */
    size_t sent = 9, left = 9;
    assert_int_equal(outbox_flush(f->dir, o, OUTBOX_FLUSH_IGNORE_SCHEDULE, NULL, &sent, &left), 0);
    assert_int_equal(sent, 0);
    assert_int_equal(left, 1);
    assert_int_equal(outbox_load(f->dir, f->id, &it), 0);
    assert_int_equal(it->state.attempts, 1); /* no attempt was made */
    outbox_item_free(it);
    peer_stop(&p);
    assert_int_equal(p.count, 1);
    peer_release(&p);
    logshare_share_options_free(o);
    /* a new token: sent, without forcing */
    static const char *const ok[] = {TICKET_201, NULL};
    peer_start(&p, ok);
    o = options_for(p.port, 1);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", p.port);
    logshare_share_options_set_server(o, url, "tok456");
    assert_int_equal(outbox_flush(f->dir, o, OUTBOX_FLUSH_IGNORE_SCHEDULE, NULL, &sent, &left), 0);
    peer_stop(&p);
    assert_int_equal(sent, 1);
    assert_int_equal(left, 0);
    assert_int_equal(outbox_load(f->dir, f->id, &it), LOGSHARE_ENOENT);
    logshare_share_options_free(o);
    peer_release(&p);
}

static void unreachable_server_keeps_the_item_for_later(void **state)
{
    struct fixture *f = *state;
    /* a port nobody listens on: bind, note the port, close */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(s, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &al);
    close(s);
    logshare_share_options *o = options_for(ntohs(a.sin_port), 3);
    logshare_report_result *res = NULL;
    assert_int_equal(outbox_send_item(f->dir, f->id, o, NULL, &res), 0);
    assert_int_equal(logshare_report_result_status(res), LOGSHARE_EQUEUED);
    assert_int_equal(logshare_report_result_http_status(res), 0);
    assert_non_null(logshare_report_result_error_message(res));
    outbox_item *it = NULL;
    assert_int_equal(outbox_load(f->dir, f->id, &it), 0);
    assert_false(it->state.failed);
    assert_int_equal(it->state.attempts, 3);
    assert_true(it->state.next_attempt_us > it->state.last_attempt_us);
    /* not due yet: an unforced flush leaves it alone, a forced one tries */
    size_t sent = 9, left = 9;
    it->state.next_attempt_us = ls_time_now_us() + 3600 * 1000000LL;
    outbox_save_state(it);
    assert_int_equal(outbox_flush(f->dir, o, 0, NULL, &sent, &left), 0);
    assert_int_equal(left, 1);
    outbox_item_free(it);
    logshare_report_result_free(res);
    logshare_share_options_free(o);
}

static int cancel_at_once(void *user, uint64_t done, uint64_t total)
{
    (void)done;
    (void)total;
    return ++*(int *)user > 0;
}

static void a_canceled_upload_stays_pending(void **state)
{
    struct fixture *f = *state;
    /* the canceled attempt may or may not have reached the peer */
    static const char *const script[] = {TICKET_201, TICKET_201, NULL};
    struct peer p;
    peer_start(&p, script);
    logshare_share_options *o = options_for(p.port, 3);
    int calls = 0;
    logshare_share_options_set_progress(o, cancel_at_once, &calls);
    logshare_report_result *res = NULL;
    assert_int_equal(outbox_send_item(f->dir, f->id, o, NULL, &res), 0);
    assert_int_equal(logshare_report_result_status(res), LOGSHARE_ECANCELED);
    logshare_share_options_set_progress(o, NULL, NULL);
    logshare_report_result_free(res);
    assert_int_equal(outbox_send_item(f->dir, f->id, o, NULL, &res), 0);
    peer_stop(&p);
    assert_int_equal(logshare_report_result_status(res), 0);
    logshare_report_result_free(res);
    logshare_share_options_free(o);
    peer_release(&p);
}

static void other_endpoints_and_extra_fields_ride_the_outbox(void **state)
{
    struct fixture *f = *state;
    /* queue a survey-shaped request through the public options */
    logshare_share_options *q = logshare_share_options_new();
    assert_int_equal(logshare_share_options_set_endpoint(q, "/api/v1/surveys"), 0);
    assert_int_equal(logshare_share_options_set_endpoint(q, "http://evil/"), LOGSHARE_EINVAL);
    assert_int_equal(logshare_share_options_add_form_field(q, "survey", "{\"call_id\":\"c9\"}"), 0);
    assert_int_equal(logshare_share_options_add_form_field(q, "description", "x"), LOGSHARE_EINVAL);
    assert_int_equal(logshare_share_options_add_form_field(q, "Bad-Name", "x"), LOGSHARE_EINVAL);
    assert_int_equal(logshare_share_options_set_description(q, "survey with logs"), 0);
    assert_int_equal(logshare_share_options_set_source(q, "survey"), 0);
    assert_int_equal(logshare_share_options_set_include_logs(q, 0), 0);
    char *id = NULL;
    assert_int_equal(logshare_outbox_add_dir(f->dir, q, &id), 0);
    logshare_share_options_free(q);

    static const char *const script[] = {TICKET_201, NULL};
    struct peer p;
    peer_start(&p, script);
    logshare_share_options *o = options_for(p.port, 1);
    logshare_report_result *res = NULL;
    assert_int_equal(outbox_send_item(f->dir, id, o, NULL, &res), 0);
    peer_stop(&p);
    assert_int_equal(logshare_report_result_status(res), 0);
    const char *req = p.requests[0];
    assert_true(strncmp(req, "POST /api/v1/surveys HTTP/1.1\r\n", 31) == 0);
    assert_non_null(BODY_HAS("name=\"survey\"\r\n\r\n{\"call_id\":\"c9\"}\r\n"));
    assert_non_null(BODY_HAS("name=\"source\"\r\n\r\nsurvey\r\n"));
    logshare_report_result_free(res);
    logshare_share_options_free(o);
    logshare_string_free(id);
    peer_release(&p);
}

static void stopping_the_sender_aborts_the_upload_and_keeps_the_item(void **state)
{
    struct fixture *f = *state;
    static const char *const script[] = {TICKET_201, TICKET_201, NULL};
    struct peer p;
    peer_start(&p, script);
    logshare_share_options *o = options_for(p.port, 3);
    logshare_share_options_set_max_send_rate(o, 1000); /* ~4 s for this item */
    logshare_outbox_sender *sender = NULL;
    assert_int_equal(logshare_outbox_sender_start_dir(f->dir, o, &sender), 0);
    struct timespec ts = {0, 400000000L};
    nanosleep(&ts, NULL);
    int64_t t0 = ls_time_now_us();
    logshare_outbox_sender_stop(sender);
    assert_true(ls_time_now_us() - t0 < 1500000); /* stop does not wait for the upload */
    outbox_item *it = NULL;
    assert_int_equal(outbox_load(f->dir, f->id, &it), 0);
    assert_false(it->state.failed);
    outbox_item_free(it);
    /* a new sender at the next "open" delivers it */
    logshare_share_options_set_max_send_rate(o, 0);
    assert_int_equal(logshare_outbox_sender_start_dir(f->dir, o, &sender), 0);
    int gone = 0;
    for (int i = 0; i < 100 && !gone; i++) {
        nanosleep(&(struct timespec){0, 50000000L}, NULL);
        gone = outbox_load(f->dir, f->id, &it) == LOGSHARE_ENOENT;
        if (!gone)
            outbox_item_free(it);
    }
    logshare_outbox_sender_stop(sender);
    peer_stop(&p);
    assert_true(gone);
    logshare_share_options_free(o);
    peer_release(&p);
}

static void a_fresh_reports_reservation_is_left_to_its_maker(void **state)
{
    struct fixture *f = *state;
    share_fields fields = {0};
    share_string_set(&fields.description, "reserved");
    char *id = NULL;
    int64_t reserved_until = ls_time_now_us() + 60 * 1000000LL;
    assert_int_equal(
        outbox_queue(f->dir, &fields, &(share_file_list){0}, 1 << 20, 8, reserved_until, &id), 0);
    share_fields_clear(&fields);
    static const char *const script[] = {TICKET_201, TICKET_201, NULL};
    struct peer p;
    peer_start(&p, script);
    logshare_share_options *o = options_for(p.port, 1);
    size_t sent = 0, left = 0;
    /* the fixture's item is due; the reserved one is not taken */
    assert_int_equal(outbox_flush(f->dir, o, OUTBOX_FLUSH_IGNORE_SCHEDULE, NULL, &sent, &left), 0);
    assert_int_equal(sent, 1);
    assert_int_equal(left, 1);
    outbox_item *it = NULL;
    assert_int_equal(outbox_load(f->dir, id, &it), 0);
    outbox_item_free(it);
    /* an explicit request sends it */
    assert_int_equal(outbox_flush(f->dir, o, OUTBOX_FLUSH_FORCE, NULL, &sent, &left), 0);
    peer_stop(&p);
    assert_int_equal(sent, 1);
    assert_int_equal(left, 0);
    free(id);
    logshare_share_options_free(o);
    peer_release(&p);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(request_carries_fields_files_token_and_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(server_errors_are_retried_with_the_same_idempotency_key,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_4xx_is_not_retried_and_the_item_is_kept_failed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_401_waits_pending_for_another_token, setup, teardown),
        cmocka_unit_test_setup_teardown(unreachable_server_keeps_the_item_for_later, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_canceled_upload_stays_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(other_endpoints_and_extra_fields_ride_the_outbox, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(stopping_the_sender_aborts_the_upload_and_keeps_the_item,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_fresh_reports_reservation_is_left_to_its_maker, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
