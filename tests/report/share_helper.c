/*
 * share_helper.c - a small program the report tests drive, standing in
 * for an app built on liblogshare (the real library, nothing faked):
 *
 *   share_helper keygen PREFIX
 *   share_helper write DIR PUBFILE COUNT EXPECTED   logs COUNT records on
 *       streams calling and media, closes, and writes what it logged to
 *       EXPECTED, one "stream<TAB>level<TAB>message" line per record
 *   share_helper decrypt KEYFILE FILE...   prints the records the same way
 *   share_helper open-send DIR PUBFILE SERVER TOKEN SECONDS   opens the
 *       store like an app at start-up, starts the outbox sender, waits
 *       until the outbox is empty (exit 0) or SECONDS pass (exit 75)
 *   share_helper add-wake DIR PUBFILE SERVER TOKEN CALLID   opens the store,
 *       starts the outbox sender, lets it go idle, then queues a report
 *       with logshare_outbox_add and wakes the sender: exit 0 when the
 *       outbox is empty within 2 s of the wake (prints the ms it took),
 *       75 when not
 *   share_helper open-quit DIR PUBFILE SERVER TOKEN GRACE_MS   an app that
 *       opens the store, starts the outbox sender and quits at once with
 *       logshare_outbox_sender_stop_grace: exit 0 when the outbox is then
 *       empty, 75 when something is still queued
 *   share_helper report-progress DIR SERVER TOKEN MAX_FILES CALLID FILE...
 *       logshare_report_dir of DIR's logs and FILEs (30 attempts, 200 ms
 *       apart; upload rate capped at $SHARE_HELPER_MAX_RATE bytes/s when
 *       set), MAX_FILES per request, watching the progress callback:
 *       prints the ticket id; exit 0 when it was created and the
 *       callback's done never went back, its total never changed, and
 *       its last call said done == total > 0; 1 otherwise (says why)
 *   share_helper json FILE KEY          prints a top-level string or number
 *   share_helper attachments FILE       "id name sha256 size" per attachment of a ticket
 *   share_helper manifest-sums FILE     "sha256  name" per file of a manifest (sha256sum -c input)
 *   share_helper count FILE             the number of tickets in a list answer
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "logshare.h"

static int open_store(const char *dir, const char *pub, logshare **ls)
{
    logshare_options *o = logshare_options_new();
    int rc = logshare_options_set_dir(o, dir);
    rc = rc ? rc : logshare_options_add_stream(o, "calling");
    rc = rc ? rc : logshare_options_add_stream(o, "media");
    rc = rc ? rc : logshare_options_set_public_key_file(o, pub);
    rc = rc ? rc : logshare_options_set_min_level(o, LOGSHARE_LEVEL_TRACE);
    rc = rc ? rc : logshare_options_set_buffer_bytes(o, 8u << 20);
    rc = rc ? rc : logshare_open(o, ls);
    logshare_options_free(o);
    return rc;
}

static int cmd_write(const char *dir, const char *pub, long count, const char *expected)
{
    logshare *ls = NULL;
    int rc = open_store(dir, pub, &ls);
    if (rc) {
        fprintf(stderr, "open: %s\n", logshare_strerror(rc));
        return 1;
    }
    FILE *exp = fopen(expected, "a");
    if (!exp)
        return 1;
    unsigned seed = (unsigned)getpid();
    for (long i = 0; i < count; i++) {
        int stream = (int)(i % 3 == 0);
        logshare_level level = (logshare_level)(i % 5);
        /* varied lengths, including a quote, a tab-free unicode text */
        char msg[600];
        int pad = (int)(rand_r(&seed) % 400);
        snprintf(msg, sizeof msg, "%s record %ld pid %d \"q\" caf\xc3\xa9 %.*s",
                 stream ? "media" : "calling", i, (int)getpid(), pad,
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                 "xxxxxxxxxxxxxxxxx"
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                 "xxxxxxxxxxxxxxxxx"
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                 "xxxxxxxxxxxxxxxxx"
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                 "xxxxxxxxxxxxxxxxx");
        if (i % 500 == 499) /* pace like an app, so no record is dropped */
            logshare_flush(ls, 0);
        if ((rc = logshare_log(ls, stream, level, "%s", msg)) != 0) {
            fprintf(stderr, "log: %s\n", logshare_strerror(rc));
            return 1;
        }
        fprintf(exp, "%s\t%s\t%s\n", stream ? "media" : "calling", logshare_level_name(level), msg);
    }
    fclose(exp);
    uint64_t written = 0, full = 0, failed = 0;
    logshare_flush(ls, 0);
    logshare_get_counts(ls, &written, &full, &failed);
    logshare_close(ls);
    if (full || failed) {
        fprintf(stderr, "records lost: %llu full, %llu failed\n", (unsigned long long)full,
                (unsigned long long)failed);
        return 1;
    }
    return 0;
}

static int cmd_decrypt(const char *keyfile, int n, char **files)
{
    FILE *f = fopen(keyfile, "r");
    if (!f)
        return 1;
    char key[4096];
    size_t kl = fread(key, 1, sizeof key - 1, f);
    fclose(f);
    key[kl] = '\0';
    int status = 0;
    for (int i = 0; i < n; i++) {
        logshare_reader *r = NULL;
        int rc = logshare_reader_open(files[i], key, &r);
        if (rc) {
            fprintf(stderr, "%s: %s\n", files[i], logshare_strerror(rc));
            return 1;
        }
        logshare_record rec;
        while ((rc = logshare_reader_next(r, &rec)) == 1)
            printf("%s\t%s\t%s\n", rec.stream, logshare_level_name(rec.level), rec.message);
        if (rc == LOGSHARE_ETRUNCATED)
            fprintf(stderr, "%s: torn tail\n", files[i]);
        else if (rc < 0) {
            fprintf(stderr, "%s: %s\n", files[i], logshare_strerror(rc));
            status = 1;
        }
        logshare_reader_close(r);
    }
    return status;
}

/* Opens the store in dir and starts its outbox sender towards server.
 * 0, or 1 after saying why on stderr (nothing is left open). */
static int open_with_sender(const char *dir, const char *pub, const char *server, const char *token,
                            logshare **ls, logshare_outbox_sender **s)
{
    int rc = open_store(dir, pub, ls);
    if (rc) {
        fprintf(stderr, "open: %s\n", logshare_strerror(rc));
        return 1;
    }
    logshare_share_options *o = logshare_share_options_new();
    logshare_share_options_set_server(o, server, token);
    rc = logshare_outbox_sender_start(*ls, o, s);
    logshare_share_options_free(o);
    if (rc) {
        fprintf(stderr, "sender: %s\n", logshare_strerror(rc));
        logshare_close(*ls);
        *ls = NULL;
        return 1;
    }
    return 0;
}

/* 1 when the outbox in dir holds nothing. */
static int outbox_empty(const char *dir)
{
    char *json = NULL;
    int empty = logshare_outbox_list_json(dir, &json) == 0 && strcmp(json, "[]") == 0;
    logshare_string_free(json);
    return empty;
}

static int cmd_open_send(const char *dir, const char *pub, const char *server, const char *token,
                         int seconds)
{
    logshare *ls = NULL;
    logshare_outbox_sender *s = NULL;
    if (open_with_sender(dir, pub, server, token, &ls, &s))
        return 1;
    int status = 75;
    for (int i = 0; i < seconds * 10; i++) {
        if (outbox_empty(dir)) {
            status = 0;
            break;
        }
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
    logshare_outbox_sender_stop(s);
    logshare_close(ls);
    return status;
}

static int cmd_open_quit(const char *dir, const char *pub, const char *server, const char *token,
                         unsigned grace_ms)
{
    logshare *ls = NULL;
    logshare_outbox_sender *s = NULL;
    if (open_with_sender(dir, pub, server, token, &ls, &s))
        return 1;
    logshare_outbox_sender_stop_grace(s, grace_ms);
    logshare_close(ls);
    return outbox_empty(dir) ? 0 : 75;
}

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (long)(t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static int cmd_add_wake(const char *dir, const char *pub, const char *server, const char *token,
                        const char *call_id)
{
    logshare *ls = NULL;
    int rc = open_store(dir, pub, &ls);
    if (rc) {
        fprintf(stderr, "open: %s\n", logshare_strerror(rc));
        return 1;
    }
    logshare_share_options *o = logshare_share_options_new();
    rc = logshare_share_options_set_server(o, server, token);
    rc = rc ? rc : logshare_share_options_set_description(o, "queued, then woken");
    rc = rc ? rc : logshare_share_options_add_call_id(o, call_id);
    logshare_outbox_sender *s = NULL;
    rc = rc ? rc : logshare_outbox_sender_start(ls, o, &s);
    if (rc) {
        fprintf(stderr, "sender: %s\n", logshare_strerror(rc));
        return 1;
    }
    /* the sender's first flush (an empty outbox) is over: it sleeps until
     * its next poll, far away */
    struct timespec idle = {1, 0};
    nanosleep(&idle, NULL);
    char *id = NULL;
    if ((rc = logshare_outbox_add(ls, o, &id)) != 0) {
        fprintf(stderr, "add: %s\n", logshare_strerror(rc));
        return 1;
    }
    logshare_string_free(id);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    logshare_outbox_sender_wake(s);
    int status = 75;
    while (elapsed_ms(&t0) < 2000) {
        char *json = NULL;
        if (logshare_outbox_list_json(dir, &json) == 0 && strcmp(json, "[]") == 0) {
            logshare_string_free(json);
            status = 0;
            break;
        }
        logshare_string_free(json);
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
    }
    printf("%ld\n", elapsed_ms(&t0));
    logshare_outbox_sender_stop(s);
    logshare_share_options_free(o);
    logshare_close(ls);
    return status;
}

static int cmd_json(const char *cmd, const char *file, const char *key)
{
    json_t *root = json_load_file(file, 0, NULL);
    if (!root) {
        fprintf(stderr, "%s: not JSON\n", file);
        return 1;
    }
    size_t i;
    json_t *v;
    if (strcmp(cmd, "json") == 0) {
        v = json_object_get(root, key);
        if (json_is_string(v))
            printf("%s\n", json_string_value(v));
        else if (json_is_integer(v))
            printf("%lld\n", (long long)json_integer_value(v));
        else {
            json_decref(root);
            return 1;
        }
    } else if (strcmp(cmd, "attachments") == 0) {
        json_array_foreach(json_object_get(root, "attachments"), i, v)
            printf("%s %s %s %lld\n", json_string_value(json_object_get(v, "id")),
                   json_string_value(json_object_get(v, "name")),
                   json_string_value(json_object_get(v, "sha256")),
                   (long long)json_integer_value(json_object_get(v, "size")));
    } else if (strcmp(cmd, "manifest-sums") == 0) {
        json_array_foreach(json_object_get(root, "files"), i, v)
            printf("%s  %s\n", json_string_value(json_object_get(v, "sha256")),
                   json_string_value(json_object_get(v, "name")));
    } else if (strcmp(cmd, "count") == 0) {
        printf("%zu\n", json_array_size(json_object_get(root, "tickets")));
    }
    json_decref(root);
    return 0;
}

struct progress_watch {
    uint64_t done, total;
    unsigned long calls, backwards, total_changes;
    pthread_t thread;
    int other_thread;
};

static int watch_progress(void *user, uint64_t done, uint64_t total)
{
    struct progress_watch *w = user;
    if (w->calls && done < w->done)
        w->backwards++;
    if (w->calls && total != w->total)
        w->total_changes++;
    if (!pthread_equal(pthread_self(), w->thread))
        w->other_thread = 1;
    w->done = done;
    w->total = total;
    w->calls++;
    return 0;
}

static int cmd_report_progress(int argc, char **argv)
{
    struct progress_watch w = {0};
    w.thread = pthread_self();
    logshare_share_options *o = logshare_share_options_new();
    int rc = logshare_share_options_set_description(o, "progress");
    rc = rc ? rc : logshare_share_options_add_call_id(o, argv[6]);
    rc = rc ? rc : logshare_share_options_set_server(o, argv[3], argv[4]);
    rc = rc ? rc : logshare_share_options_set_max_files_per_request(o, (size_t)atol(argv[5]));
    rc = rc ? rc : logshare_share_options_set_retry(o, 30, 200, 200);
    const char *rate = getenv("SHARE_HELPER_MAX_RATE");
    rc = rc ? rc : logshare_share_options_set_max_send_rate(o, rate ? strtoull(rate, NULL, 10) : 0);
    rc = rc ? rc : logshare_share_options_set_progress(o, watch_progress, &w);
    for (int i = 7; rc == 0 && i < argc; i++)
        rc = logshare_share_options_add_file(o, argv[i], NULL);
    logshare_report_result *res = NULL;
    rc = rc ? rc : logshare_report_dir(argv[2], o, &res);
    int status = 0;
    if (rc != 0) {
        fprintf(stderr, "report: %s\n", logshare_strerror(rc));
        status = 1;
    } else
        printf("%s\n", logshare_report_result_ticket_id(res));
    fprintf(stderr, "progress: %lu calls, last %llu/%llu, %lu backwards, %lu total changes\n",
            w.calls, (unsigned long long)w.done, (unsigned long long)w.total, w.backwards,
            w.total_changes);
    if (w.backwards || w.total_changes || w.other_thread || w.total == 0 || w.done != w.total) {
        fprintf(stderr, "progress: %s\n",
                w.other_thread ? "called from another thread" : "not monotonic up to its total");
        status = 1;
    }
    logshare_report_result_free(res);
    logshare_share_options_free(o);
    return status;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "json") == 0)
        return cmd_json(argv[1], argv[2], argv[3]);
    if (argc == 3 && (strcmp(argv[1], "attachments") == 0 ||
                      strcmp(argv[1], "manifest-sums") == 0 || strcmp(argv[1], "count") == 0))
        return cmd_json(argv[1], argv[2], NULL);
    if (argc == 3 && strcmp(argv[1], "keygen") == 0)
        return logshare_keygen_files(argv[2], NULL) == 0 ? 0 : 1;
    if (argc == 6 && strcmp(argv[1], "write") == 0)
        return cmd_write(argv[2], argv[3], atol(argv[4]), argv[5]);
    if (argc >= 4 && strcmp(argv[1], "decrypt") == 0)
        return cmd_decrypt(argv[2], argc - 3, argv + 3);
    if (argc == 7 && strcmp(argv[1], "open-send") == 0)
        return cmd_open_send(argv[2], argv[3], argv[4], argv[5], atoi(argv[6]));
    if (argc == 7 && strcmp(argv[1], "open-quit") == 0)
        return cmd_open_quit(argv[2], argv[3], argv[4], argv[5], (unsigned)atoi(argv[6]));
    if (argc == 7 && strcmp(argv[1], "add-wake") == 0)
        return cmd_add_wake(argv[2], argv[3], argv[4], argv[5], argv[6]);
    if (argc >= 7 && strcmp(argv[1], "report-progress") == 0)
        return cmd_report_progress(argc, argv);
    fprintf(stderr, "usage: see the comment at the top of share_helper.c\n");
    return 2;
}
