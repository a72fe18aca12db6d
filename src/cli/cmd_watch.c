/*
 * cmd_watch.c - `logshare watch`: waits for support's log requests for
 * this user, asks for consent on the terminal (or takes --yes), and
 * uploads the store's support files as a ticket answering the request,
 * or tells the server the user declined. A thin shell over
 * logshare_watch(): everything it does, an app can do with the library.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_share.h"
#include "cli_share_args.h"
#include "logshare.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: logshare watch --dir DIR --server URL (--token T | --token-file F) [--yes]\n"
            "                      [options]\n\n"
            "Waits for support's requests for logs (a stream from the server that\n"
            "reconnects by itself) and, for each, asks on the terminal whether to upload\n"
            "the store's log files. 'y' uploads them as a ticket linked to the request;\n"
            "anything else declines it. With --yes every request is uploaded without\n"
            "asking. Runs until interrupted (or --max-requests).\n\n"
            "  --dir DIR              the log store directory\n"
            "  --server URL           logshared base URL (http:// or https://)\n"
            "  --token T              bearer token (or --token-file F, or $LOGSHARE_TOKEN)\n"
            "  --yes                  upload without asking\n"
            "  --max-requests N       exit 0 after answering N requests\n"
            "  --app-version V        --platform P   (sent with each upload)\n"
            "  --ca-file PEM          trust these CA certificates instead of the system's\n"
            "  --reconnect-ms MS      first reconnect delay (default 1000; doubles to 60000)\n\n"
            "Output: one line per request on stdout: 'request ID: REASON', then\n"
            "'uploaded ID ticket TICKET', 'queued ID outbox ITEM' (no server now: sent\n"
            "later), 'declined ID', or 'failed ID: WHY'. Line breaks in REASON and WHY\n"
            "are printed as spaces, other control characters as '?'. Connection news\n"
            "goes to stderr.\n"
            "Exit: 0 interrupted or done, 1 the server refused the token, its TLS\n"
            "certificate did not verify (see --ca-file) or the URL cannot be used, 2 usage.\n");
}

enum { OPT_DIR = 1, OPT_YES, OPT_MAX, OPT_APPV, OPT_PLATFORM, OPT_RECONNECT, OPT_HELP };

static const struct option long_opts[] = {
    {"dir", required_argument, NULL, OPT_DIR},
    CLI_SHARE_OPTS_CONNECT,
    {"yes", no_argument, NULL, OPT_YES},
    {"max-requests", required_argument, NULL, OPT_MAX},
    {"app-version", required_argument, NULL, OPT_APPV},
    {"platform", required_argument, NULL, OPT_PLATFORM},
    {"reconnect-ms", required_argument, NULL, OPT_RECONNECT},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

struct watch_cli {
    logshare_watcher *w;
    int yes;
    long max_requests;
    long answered;
    volatile sig_atomic_t prompting;
    char end_why[256]; /* the reason the watch ended, for the last line */
};

/* The statuses logshare_watch ends with (logshare.h): their
 * disconnect is reported once, as the command's last line, not as a
 * "stream closed" that suggests a reconnect. */
static int ends_watch(int status)
{
    return status == LOGSHARE_EAUTH || status == LOGSHARE_ETLS || status == LOGSHARE_EINVAL ||
           status == LOGSHARE_EUNSUPPORTED;
}

/* Writes the support agent's text on one line: the output is one line
 * per event for scripts, so a newline in a reason must not forge another
 * line ("uploaded ..."), and control characters (C0, DEL, C1 such as
 * U+009B CSI) must not drive the terminal. Line breaks and tabs become
 * spaces, other controls '?'. */
static void put_one_line(FILE *f, const char *text)
{
    const unsigned char *p = (const unsigned char *)(text ? text : "");
    for (; *p; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t')
            fputc(' ', f);
        else if (*p < 0x20 || *p == 0x7f)
            fputc('?', f);
        else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            fputc('?', f); /* a C1 control in UTF-8 */
            p++;
        } else
            fputc(*p, f);
    }
}

static logshare_consent on_request(void *user, const logshare_log_request *r)
{
    struct watch_cli *c = user;
    printf("request %s: ", r->id);
    put_one_line(stdout, r->reason);
    putchar('\n');
    fflush(stdout);
    logshare_consent answer = LOGSHARE_CONSENT_UPLOAD;
    if (!c->yes) {
        fprintf(stderr, "Support asks for this device's logs (request %s):\n  ", r->id);
        put_one_line(stderr, r->reason);
        fprintf(stderr, "\nUpload them? [y/N] ");
        fflush(stderr);
        char line[64];
        c->prompting = 1;
        char *got = fgets(line, sizeof line, stdin);
        c->prompting = 0;
        if (!got) {
            fprintf(stderr, "\n");
            cli_error("no answer (end of input); request %s left unanswered", r->id);
            logshare_watcher_stop(c->w);
            return LOGSHARE_CONSENT_IGNORE;
        }
        answer =
            (line[0] == 'y' || line[0] == 'Y') ? LOGSHARE_CONSENT_UPLOAD : LOGSHARE_CONSENT_DECLINE;
    }
    return answer;
}

static void on_event(void *user, logshare_watch_event ev, const char *id, int status,
                     const char *detail)
{
    struct watch_cli *c = user;
    switch (ev) {
    case LOGSHARE_WATCH_CONNECTED:
        fprintf(stderr, "logshare: watching for log requests\n");
        return;
    case LOGSHARE_WATCH_DISCONNECTED:
        if (ends_watch(status)) {
            snprintf(c->end_why, sizeof c->end_why, "%s",
                     detail ? detail : logshare_strerror(status));
            return;
        }
        cli_error("stream closed: %s", detail ? detail : logshare_strerror(status));
        return;
    case LOGSHARE_WATCH_UPLOADED:
        printf("uploaded %s ticket %s\n", id, detail ? detail : "");
        break;
    case LOGSHARE_WATCH_QUEUED:
        printf("queued %s outbox %s\n", id, detail ? detail : "");
        break;
    case LOGSHARE_WATCH_DECLINED:
        printf("declined %s\n", id);
        break;
    case LOGSHARE_WATCH_FAILED:
        printf("failed %s: ", id); /* detail may quote the server's answer */
        put_one_line(stdout, detail ? detail : logshare_strerror(status));
        putchar('\n');
        break;
    }
    fflush(stdout);
    if (c->max_requests > 0 && ++c->answered >= c->max_requests)
        logshare_watcher_stop(c->w);
}

static struct watch_cli *signal_target;

/* SIGINT/SIGTERM arrive here (blocked everywhere else), so stopping the
 * watcher happens on a normal thread. A prompt blocked in fgets cannot
 * be interrupted that way: then we leave at once. */
static void *signal_main(void *arg)
{
    sigset_t *set = arg;
    int sig;
    sigwait(set, &sig);
    if (signal_target->prompting) {
        fputc('\n', stderr);
        _exit(CLI_EXIT_OK);
    }
    logshare_watcher_stop(signal_target->w);
    return NULL;
}

int cmd_watch(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    const char *dir = NULL, *appv = NULL, *platform = NULL;
    cli_share_args sa;
    cli_share_args_init(&sa);
    struct watch_cli c = {0};
    long reconnect_ms = 1000;
    optind = 1;
    opterr = 0; /* getopt's own message would be a second line */
    int opt;
    while ((opt = getopt_long(argc, argv, ":", long_opts, NULL)) != -1) {
        char *end;
        /* Only the connection options are in long_opts: nothing here can fail. */
        if (cli_share_args_parse(&sa, NULL, opt, optarg, "watch"))
            continue;
        switch (opt) {
        case OPT_DIR:
            dir = optarg;
            break;
        case OPT_YES:
            c.yes = 1;
            break;
        case OPT_APPV:
            appv = optarg;
            break;
        case OPT_PLATFORM:
            platform = optarg;
            break;
        case OPT_MAX:
            errno = 0; /* strtol saturates: 99999999999999999999 is not a count */
            c.max_requests = strtol(optarg, &end, 10);
            if (*end || c.max_requests < 1 || errno == ERANGE) {
                cli_error("watch: --max-requests wants a positive number");
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_RECONNECT:
            reconnect_ms = strtol(optarg, &end, 10);
            if (*end || reconnect_ms < 10 || reconnect_ms > 60000) {
                cli_error("watch: --reconnect-ms wants 10 to 60000");
                return CLI_EXIT_USAGE;
            }
            break;
        default:
            cli_bad_option("watch", opt, argv);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("watch: unexpected argument '%s' (try --help)", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (!dir || !sa.server) {
        cli_error("watch: --dir and --server are required (try --help)");
        return CLI_EXIT_USAGE;
    }
    char *token = NULL;
    int trc = cli_share_token(sa.token, sa.token_file, &token);
    if (trc != CLI_EXIT_OK)
        return trc;
    logshare_share_options *opts = logshare_share_options_new();
    c.w = logshare_watcher_new();
    int rc = opts && c.w ? 0 : LOGSHARE_ENOMEM;
    rc = rc ? rc : logshare_share_options_set_server(opts, sa.server, token);
    if (!rc && (appv || platform))
        rc = logshare_share_options_set_app(opts, appv, platform);
    if (!rc && sa.ca_file)
        rc = logshare_share_options_set_ca_file(opts, sa.ca_file);
    rc = rc ? rc : logshare_watcher_set_dir(c.w, dir);
    rc = rc ? rc : logshare_watcher_set_share_options(c.w, opts);
    rc = rc ? rc : logshare_watcher_set_request_callback(c.w, on_request, &c);
    rc = rc ? rc : logshare_watcher_set_event_callback(c.w, on_event, &c);
    rc = rc ? rc : logshare_watcher_set_reconnect(c.w, reconnect_ms, 60000);
    int status = CLI_EXIT_FAILURE;
    if (rc) {
        cli_error("watch: %s", rc == LOGSHARE_EINVAL ? "invalid --server, --token or option value"
                                                     : logshare_strerror(rc));
        status = rc == LOGSHARE_EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
    } else {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        signal_target = &c;
        pthread_t th;
        pthread_create(&th, NULL, signal_main, &set);
        pthread_detach(th);
        rc = logshare_watch(c.w);
        const char *why = c.end_why[0] ? c.end_why : logshare_strerror(rc);
        if (rc == LOGSHARE_ETLS)
            cli_share_tls_failure("watch", why, NULL);
        else if (rc == LOGSHARE_EAUTH)
            cli_error("watch: %s", why);
        else if (rc == LOGSHARE_EINVAL || rc == LOGSHARE_EUNSUPPORTED)
            cli_error("watch: cannot use --server %s (%s)", sa.server, why);
        else if (rc)
            cli_error("watch: %s", logshare_strerror(rc));
        status = rc ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
    }
    logshare_watcher_free(c.w);
    logshare_share_options_free(opts);
    free(token);
    return status;
}
