/*
 * calling_app.c - a small calling "app" built on liblogshare, to show
 * how an app or SDK wires the library (README.md here walks through it).
 *
 * It simulates calls: each call gets a call id, the `calling` stream
 * gets signalling events (state changes, ICE, participants, spread over
 * the call set-up as on a real network) and the `media` stream gets
 * quality statistics five times a second (audio send and receive; video
 * once a second) and the occasional warning, at roughly the rate a real
 * calling SDK logs. Like an app it
 * offers "report an issue" (a ticket on logshared, kept in the outbox
 * when offline) and "export logs" (an archive for direct sharing), and
 * at start it sends what an earlier run left in the outbox.
 *
 * Commands, typed on stdin (or given with --run "cmd; cmd; ..."):
 *   call [SECONDS]        simulate one call (default 5 s)
 *   report TEXT           report an issue about the last calls
 *   export FILE           write a zip of the logs for direct sharing
 *   outbox                list what waits to be sent
 *   quit
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logshare.h"

enum { STREAM_CALLING = 0, STREAM_MEDIA = 1 };

struct app {
    logshare *ls;
    const char *dir;
    const char *server, *token;
    logshare_outbox_sender *sender;
    char calls[8][40]; /* the most recent call ids, for reports */
    int ncalls;
    unsigned seed;
};

/* Sleeps ms milliseconds; returns ms. */
static long sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    return ms;
}

static void new_call_id(struct app *a, char out[40])
{
    snprintf(out, 40, "%08x-%04x-4%03x-a%03x-%08x%04x", (unsigned)rand_r(&a->seed),
             (unsigned)rand_r(&a->seed) & 0xffff, (unsigned)rand_r(&a->seed) & 0xfff,
             (unsigned)rand_r(&a->seed) & 0xfff, (unsigned)rand_r(&a->seed),
             (unsigned)rand_r(&a->seed) & 0xffff);
}

/* One simulated call: signalling on `calling`, statistics on `media`. */
static void simulate_call(struct app *a, int seconds)
{
    char id[40];
    new_call_id(a, id);
    memmove(a->calls[1], a->calls[0], sizeof a->calls[0] * 7);
    memcpy(a->calls[0], id, sizeof id);
    if (a->ncalls < 8)
        a->ncalls++;
    logshare *ls = a->ls;
    /* the set-up takes time on a real network: the sleeps give each
     * line the timestamp it would have (setup_ms adds them up) */
    long setup_ms = 0;
    LOGSHARE_LOG(ls, STREAM_CALLING, LOGSHARE_LEVEL_INFO,
                 "call %s start direction=outgoing video=%s", id, "on");
    setup_ms += sleep_ms(2 + rand_r(&a->seed) % 5);
    LOGSHARE_LOG(ls, STREAM_CALLING, LOGSHARE_LEVEL_DEBUG, "call %s state=Connecting", id);
    setup_ms += sleep_ms(80 + rand_r(&a->seed) % 120); /* STUN and TURN round trips */
    LOGSHARE_LOG(ls, STREAM_CALLING, LOGSHARE_LEVEL_DEBUG,
                 "ice gathering done candidates=%d (host=%d srflx=%d relay=%d)", 7, 3, 2, 2);
    setup_ms += sleep_ms(40 + rand_r(&a->seed) % 80); /* connectivity checks */
    LOGSHARE_LOG(
        ls, STREAM_CALLING, LOGSHARE_LEVEL_INFO,
        "ice pair selected local=udp/192.168.1.%d:%d remote=relay/20.42.%d.%d:3478 rtt=%dms",
        20 + rand_r(&a->seed) % 200, 50000 + rand_r(&a->seed) % 10000, rand_r(&a->seed) % 255,
        rand_r(&a->seed) % 255, 30 + rand_r(&a->seed) % 60);
    setup_ms += sleep_ms(60 + rand_r(&a->seed) % 100); /* DTLS handshake */
    LOGSHARE_LOG(ls, STREAM_CALLING, LOGSHARE_LEVEL_INFO, "call %s state=Connected after %ldms", id,
                 setup_ms);
    sleep_ms(20 + rand_r(&a->seed) % 60);
    LOGSHARE_LOG(ls, STREAM_CALLING, LOGSHARE_LEVEL_INFO,
                 "participant joined id=8:acs:%08x displayName=\"%s\"", (unsigned)rand_r(&a->seed),
                 "Remote Participant");
    printf("call %s: connected\n", id);
    fflush(stdout);
    for (int tick = 0; tick < seconds * 5; tick++) { /* media stats 5 times a second */
        double loss = (rand_r(&a->seed) % 100) / 40.0;
        int jitter = 2 + rand_r(&a->seed) % 12;
        LOGSHARE_LOG(
            ls, STREAM_MEDIA, LOGSHARE_LEVEL_DEBUG,
            "audio send codec=opus/48000 bitrate=%.1fkbps rtt=%dms jitter=%dms loss=%.2f%%",
            24.0 + (rand_r(&a->seed) % 160) / 10.0, 40 + rand_r(&a->seed) % 40, jitter, loss);
        LOGSHARE_LOG(ls, STREAM_MEDIA, LOGSHARE_LEVEL_DEBUG,
                     "audio recv codec=opus/48000 level=%d jitterBuffer=%dms concealed=%d",
                     -20 - rand_r(&a->seed) % 30, 40 + rand_r(&a->seed) % 80, rand_r(&a->seed) % 3);
        if (tick % 5 == 0)
            LOGSHARE_LOG(ls, STREAM_MEDIA, LOGSHARE_LEVEL_INFO,
                         "video recv %dx%d@%dfps bitrate=%dkbps freezes=%d codec=%s", 1280, 720,
                         30 - rand_r(&a->seed) % 6, 900 + rand_r(&a->seed) % 700, 0, "H264");
        if (loss > 2.2)
            LOGSHARE_LOG(ls, STREAM_MEDIA, LOGSHARE_LEVEL_WARN,
                         "audio recv packet loss %.2f%% above 2%%: enabling FEC", loss);
        sleep_ms(200);
    }
    LOGSHARE_LOG(ls, STREAM_CALLING, LOGSHARE_LEVEL_INFO,
                 "call %s state=Disconnected reason=%d (%s) duration=%ds", id, 0, "normal",
                 seconds);
    printf("call %s: ended after %d s\n", id, seconds);
}

static void cmd_report(struct app *a, const char *text)
{
    if (!a->server) {
        printf("report: start the app with --server and --token to report issues\n");
        return;
    }
    logshare_share_options *o = logshare_share_options_new();
    logshare_share_options_set_server(o, a->server, a->token);
    logshare_share_options_set_description(o, text && *text ? text : "reported from the demo app");
    logshare_share_options_set_app(o, "demo-1.0", "linux");
    for (int i = 0; i < a->ncalls && i < 3; i++) /* the last three calls */
        logshare_share_options_add_call_id(o, a->calls[i]);
    logshare_report_result *r = NULL;
    int rc = logshare_report(a->ls, o, &r);
    if (rc == 0)
        printf("report: thank you, ticket %s created\n", logshare_report_result_ticket_id(r));
    else if (rc == LOGSHARE_EQUEUED)
        printf("report: no connection; it is saved and will be sent automatically (%s)\n",
               logshare_report_result_outbox_id(r));
    else
        printf("report: failed: %s%s%s\n", logshare_strerror(rc), r ? " - " : "",
               r && logshare_report_result_error_message(r)
                   ? logshare_report_result_error_message(r)
                   : "");
    if (rc == LOGSHARE_EQUEUED)
        logshare_outbox_sender_wake(a->sender);
    logshare_report_result_free(r);
    logshare_share_options_free(o);
}

static void cmd_export(struct app *a, const char *path)
{
    if (!path || !*path) {
        printf("export: give a file name\n");
        return;
    }
    logshare_share_options *o = logshare_share_options_new();
    logshare_share_options_set_description(o, "logs exported from the demo app");
    logshare_share_options_set_app(o, "demo-1.0", "linux");
    for (int i = 0; i < a->ncalls && i < 3; i++)
        logshare_share_options_add_call_id(o, a->calls[i]);
    int rc = logshare_export(a->ls, o, path, LOGSHARE_EXPORT_ZIP);
    printf(rc == 0 ? "export: wrote %s\n" : "export: %s: %s\n", path, logshare_strerror(rc));
    logshare_share_options_free(o);
}

static void cmd_outbox(struct app *a)
{
    char *json = NULL;
    if (logshare_outbox_list_json(a->dir, &json) == 0)
        printf("outbox: %s\n", json);
    logshare_string_free(json);
}

/* Runs one command line; returns 0 on quit. */
static int run_command(struct app *a, char *line)
{
    while (*line == ' ' || *line == '\t')
        line++;
    line[strcspn(line, "\r\n")] = '\0';
    char *arg = strchr(line, ' ');
    if (arg)
        *arg++ = '\0';
    if (!*line)
        return 1;
    if (strcmp(line, "call") == 0)
        simulate_call(a, arg ? atoi(arg) > 0 ? atoi(arg) : 5 : 5);
    else if (strcmp(line, "report") == 0)
        cmd_report(a, arg);
    else if (strcmp(line, "export") == 0)
        cmd_export(a, arg);
    else if (strcmp(line, "outbox") == 0)
        cmd_outbox(a);
    else if (strcmp(line, "quit") == 0 || strcmp(line, "exit") == 0)
        return 0;
    else
        printf("commands: call [SECONDS] | report TEXT | export FILE | outbox | quit\n");
    fflush(stdout);
    return 1;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: logshare-calling-app --dir DIR (--public-key-file F | --plaintext)\n"
                 "                            [--server URL --token T] [--run \"cmd; cmd\"]\n"
                 "       logshare-calling-app --help | --version\n\n"
                 "A demo calling app on liblogshare. Commands (stdin, or --run separated by ';'):\n"
                 "  call [SECONDS] | report TEXT | export FILE | outbox | quit\n"
                 "On quit it waits up to 5 s for a report it is sending to arrive.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"public-key-file", required_argument, NULL, 'k'},
        {"plaintext", no_argument, NULL, 'p'},
        {"server", required_argument, NULL, 's'},
        {"token", required_argument, NULL, 't'},
        {"run", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct app a = {0};
    const char *key = NULL, *script = NULL;
    int plaintext = 0, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            a.dir = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'p':
            plaintext = 1;
            break;
        case 's':
            a.server = optarg;
            break;
        case 't':
            a.token = optarg;
            break;
        case 'r':
            script = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("logshare-calling-app demo-1.0 (liblogshare %s)\n", logshare_version());
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!a.dir || (!key && !plaintext) || (!a.server != !a.token)) {
        usage(stderr);
        return 2;
    }
    a.seed = (unsigned)time(NULL);

    /* 1. open the log store: two streams, encrypted to support's key */
    logshare_options *o = logshare_options_new();
    logshare_options_set_dir(o, a.dir);
    logshare_options_add_stream(o, "calling");
    logshare_options_add_stream(o, "media");
    logshare_options_set_min_level(o, LOGSHARE_LEVEL_DEBUG);
    int rc = plaintext ? logshare_options_set_plaintext(o, 1)
                       : logshare_options_set_public_key_file(o, key);
    rc = rc ? rc : logshare_open(o, &a.ls);
    logshare_options_free(o);
    if (rc) {
        fprintf(stderr, "logshare-calling-app: cannot open the log store: %s\n",
                logshare_strerror(rc));
        return 1;
    }

    /* 2. send what an earlier run left in the outbox, in the background */
    if (a.server) {
        logshare_share_options *so = logshare_share_options_new();
        logshare_share_options_set_server(so, a.server, a.token);
        logshare_outbox_sender_start(a.ls, so, &a.sender);
        logshare_share_options_free(so);
    }
    LOGSHARE_LOG(a.ls, STREAM_CALLING, LOGSHARE_LEVEL_INFO, "demo app started, library %s",
                 logshare_version());

    /* 3. the app's life */
    if (script) {
        char *copy = strdup(script), *save = NULL;
        for (char *cmd = strtok_r(copy, ";", &save); cmd; cmd = strtok_r(NULL, ";", &save))
            if (!run_command(&a, cmd))
                break;
        free(copy);
    } else {
        char line[4096];
        printf("commands: call [SECONDS] | report TEXT | export FILE | outbox | quit\n> ");
        fflush(stdout);
        while (fgets(line, sizeof line, stdin) && run_command(&a, line)) {
            printf("> ");
            fflush(stdout);
        }
    }

    /* 4. shut down: give a send under way (or the start-up pass over the
     * outbox, when the app quits at once) up to 5 s to finish; whatever
     * is still unsent then stays queued for the next run */
    logshare_outbox_sender_stop_grace(a.sender, 5000);
    logshare_close(a.ls);
    return 0;
}
