/*
 * push_helper.c - the app stand-in the push test scripts drive (the real
 * library, nothing faked):
 *
 *   push_helper write DIR COUNT       logs COUNT plaintext records to a
 *                                     store in DIR and closes it
 *   push_helper survey DIR SERVER TOKEN JSON
 *                                     logshare_submit_survey_dir; prints
 *                                     the server's answer; exit 0 stored,
 *                                     75 queued, 1 refused or failed
 *   push_helper decline SERVER TOKEN ID [CA_FILE]
 *                                     logshare_decline_log_request;
 *                                     prints the result's error name
 *                                     ("ok" for 0); exit 0
 *   push_helper watch-idle DIR SERVER TOKEN IDLE_MS SECONDS
 *                                     logshare_watch with that idle
 *                                     timeout for SECONDS (every request
 *                                     ignored), then logshare_watcher_stop
 *                                     from this thread; prints each
 *                                     disconnect, then "disconnects N" and
 *                                     "stopped in MS ms"; exit 0
 *   push_helper watch-again DIR SERVER TOKEN
 *                                     runs one watcher twice: connect,
 *                                     stop, connect again, stop; prints
 *                                     "connects N" (2 when the second run
 *                                     really watched); exit 0
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "logshare.h"

static int write_store(const char *dir, int count)
{
    logshare_options *o = logshare_options_new();
    logshare *ls = NULL;
    int rc = logshare_options_set_dir(o, dir);
    rc = rc ? rc : logshare_options_set_plaintext(o, 1);
    rc = rc ? rc : logshare_open(o, &ls);
    logshare_options_free(o);
    for (int i = 0; !rc && i < count; i++)
        rc = logshare_log(ls, 0, LOGSHARE_LEVEL_INFO, "push test record %d", i);
    logshare_close(ls);
    if (rc)
        fprintf(stderr, "push_helper write: %s\n", logshare_strerror(rc));
    return rc ? 1 : 0;
}

static int survey(const char *dir, const char *server, const char *token, const char *json)
{
    logshare_share_options *o = logshare_share_options_new();
    int rc = logshare_share_options_set_server(o, server, token);
    rc = rc ? rc : logshare_share_options_set_retry(o, 2, 100, 200);
    logshare_report_result *res = NULL;
    rc = rc ? rc : logshare_submit_survey_dir(dir, o, json, &res);
    if (res && logshare_report_result_ticket_json(res))
        printf("%s\n", logshare_report_result_ticket_json(res));
    if (rc)
        fprintf(stderr, "push_helper survey: %s: %s\n", logshare_strerror(rc),
                res && logshare_report_result_error_message(res)
                    ? logshare_report_result_error_message(res)
                    : "");
    logshare_report_result_free(res);
    logshare_share_options_free(o);
    return rc == 0 ? 0 : rc == LOGSHARE_EQUEUED ? 75 : 1;
}

static int decline(const char *server, const char *token, const char *id, const char *ca)
{
    logshare_share_options *o = logshare_share_options_new();
    int rc = logshare_share_options_set_server(o, server, token);
    if (!rc && ca)
        rc = logshare_share_options_set_ca_file(o, ca);
    rc = rc ? rc : logshare_decline_log_request(o, id);
    printf("%s\n", rc ? logshare_error_name(rc) : "ok");
    logshare_share_options_free(o);
    return 0;
}

static logshare_consent ignore_request(void *user, const logshare_log_request *r)
{
    (void)user;
    (void)r;
    return LOGSHARE_CONSENT_IGNORE;
}

static void count_disconnects(void *user, logshare_watch_event ev, const char *id, int status,
                              const char *detail)
{
    (void)id;
    if (ev != LOGSHARE_WATCH_DISCONNECTED)
        return;
    ++*(int *)user;
    printf("disconnected %s: %s\n", logshare_error_name(status), detail ? detail : "");
    fflush(stdout);
}

static void count_connects(void *user, logshare_watch_event ev, const char *id, int status,
                           const char *detail)
{
    (void)id;
    (void)status;
    (void)detail;
    if (ev == LOGSHARE_WATCH_CONNECTED)
        __atomic_add_fetch((int *)user, 1, __ATOMIC_SEQ_CST);
}

static void *run_watch(void *w)
{
    logshare_watch(w);
    return NULL;
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* w watching dir on server with token (o holds the server), requests
 * ignored, events to on_event(ctx). 0 or the first setter's error. */
static int watcher_setup(logshare_watcher *w, logshare_share_options *o, const char *dir,
                         const char *server, const char *token, logshare_watch_event_fn on_event,
                         void *ctx)
{
    int rc = logshare_share_options_set_server(o, server, token);
    rc = rc ? rc : logshare_watcher_set_dir(w, dir);
    rc = rc ? rc : logshare_watcher_set_share_options(w, o);
    rc = rc ? rc : logshare_watcher_set_request_callback(w, ignore_request, NULL);
    return rc ? rc : logshare_watcher_set_event_callback(w, on_event, ctx);
}

static int watch_idle(const char *dir, const char *server, const char *token, long idle_ms,
                      int seconds)
{
    logshare_share_options *o = logshare_share_options_new();
    logshare_watcher *w = logshare_watcher_new();
    int disconnects = 0;
    int rc = watcher_setup(w, o, dir, server, token, count_disconnects, &disconnects);
    rc = rc ? rc : logshare_watcher_set_idle_timeout(w, idle_ms);
    pthread_t t;
    if (!rc && pthread_create(&t, NULL, run_watch, w) == 0) {
        sleep((unsigned)seconds);
        long long t0 = mono_ms();
        logshare_watcher_stop(w);
        pthread_join(t, NULL);
        printf("disconnects %d\nstopped in %lld ms\n", disconnects, mono_ms() - t0);
    } else {
        fprintf(stderr, "push_helper watch-idle: %s\n", logshare_strerror(rc));
    }
    logshare_watcher_free(w);
    logshare_share_options_free(o);
    return rc ? 1 : 0;
}

/* Runs w on a thread until it has connected `want` times in all (at
 * most 5 s), then stops it and waits for logshare_watch to return. */
static void run_until_connected(logshare_watcher *w, int *connects, int want)
{
    pthread_t t;
    if (pthread_create(&t, NULL, run_watch, w) != 0)
        return;
    for (int i = 0; i < 500 && __atomic_load_n(connects, __ATOMIC_SEQ_CST) < want; i++)
        usleep(10000);
    logshare_watcher_stop(w);
    pthread_join(t, NULL);
}

static int watch_again(const char *dir, const char *server, const char *token)
{
    logshare_share_options *o = logshare_share_options_new();
    logshare_watcher *w = logshare_watcher_new();
    int connects = 0;
    int rc = watcher_setup(w, o, dir, server, token, count_connects, &connects);
    if (!rc) {
        run_until_connected(w, &connects, 1);
        run_until_connected(w, &connects, 2);
        printf("connects %d\n", connects);
    } else {
        fprintf(stderr, "push_helper watch-again: %s\n", logshare_strerror(rc));
    }
    logshare_watcher_free(w);
    logshare_share_options_free(o);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "watch-again") == 0)
        return watch_again(argv[2], argv[3], argv[4]);
    if (argc == 7 && strcmp(argv[1], "watch-idle") == 0)
        return watch_idle(argv[2], argv[3], argv[4], atol(argv[5]), atoi(argv[6]));
    if (argc == 4 && strcmp(argv[1], "write") == 0)
        return write_store(argv[2], atoi(argv[3]));
    if (argc == 6 && strcmp(argv[1], "survey") == 0)
        return survey(argv[2], argv[3], argv[4], argv[5]);
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "decline") == 0)
        return decline(argv[2], argv[3], argv[4], argc == 6 ? argv[5] : NULL);
    fprintf(stderr, "usage: push_helper write DIR COUNT | survey DIR SERVER TOKEN JSON |\n"
                    "       decline SERVER TOKEN ID [CA_FILE] |\n"
                    "       watch-idle DIR SERVER TOKEN IDLE_MS SECONDS |\n"
                    "       watch-again DIR SERVER TOKEN\n");
    return 2;
}
