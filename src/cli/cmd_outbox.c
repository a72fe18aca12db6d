/*
 * cmd_outbox.c - `logshare outbox`: shows the reports (and surveys)
 * waiting in a store's outbox, sends them (--send) or drops one
 * (--remove).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_share.h"
#include "cli_share_args.h"

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: logshare outbox --dir DIR [--json]\n"
        "       logshare outbox --dir DIR --send --server URL (--token T | --token-file F) "
        "[--json]\n"
        "       logshare outbox --dir DIR --remove ID\n\n"
        "Lists the reports and surveys waiting in DIR/outbox, oldest first;\n"
        "--send sends every one of them now (also those marked failed), each once:\n"
        "a report the server already has is not created twice.\n\n"
        "  --dir DIR        the log store directory\n"
        "  --json           list (or, with --send, the created tickets) as JSON\n"
        "  --send           send now; needs --server and a token\n"
        "  --server URL     logshared base URL\n"
        "  --token T        bearer token (or --token-file F, or $LOGSHARE_TOKEN)\n"
        "  --ca-file PEM    trust these CA certificates instead of the system's\n"
        "  --max-files N    files per request, as the server's [limits] max_files (default 32)\n"
        "  --max-rate BYTES cap the upload at BYTES per second (0: no cap)\n"
        "  --attempts N     tries per item before keeping it for later (default 4)\n"
        "  --remove ID      delete one waiting item without sending it\n\n"
        "Exit: 0 done (after --send: nothing left), 1 failure or an item refused,\n"
        "2 usage, 75 some items are kept for later (server unreachable).\n");
}

enum { OPT_DIR = 1, OPT_JSON, OPT_SEND, OPT_REMOVE, OPT_HELP };

static const struct option long_opts[] = {
    {"dir", required_argument, NULL, OPT_DIR},
    {"json", no_argument, NULL, OPT_JSON},
    {"send", no_argument, NULL, OPT_SEND},
    CLI_SHARE_OPTS_CONNECT,
    CLI_SHARE_OPTS_TRANSFER,
    {"remove", required_argument, NULL, OPT_REMOVE},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int print_list(const char *dir, int json)
{
    char *text = NULL;
    int rc = logshare_outbox_list_json(dir, &text);
    if (rc) {
        cli_error("outbox: %s", logshare_strerror(rc));
        return CLI_EXIT_FAILURE;
    }
    if (json) {
        printf("%s\n", text);
        logshare_string_free(text);
        return CLI_EXIT_OK;
    }
    json_t *arr = json_loads(text, 0, NULL);
    logshare_string_free(text);
    size_t i;
    json_t *it;
    if (json_array_size(arr) == 0)
        printf("the outbox is empty\n");
    else
        printf("%-33s %-8s %-7s %10s %8s  %s\n", "ID", "STATUS", "SOURCE", "BYTES", "ATTEMPTS",
               "DESCRIPTION / LAST ERROR");
    json_array_foreach(arr, i, it)
    {
        const char *err =
            json_string_value(json_object_get(json_object_get(it, "error"), "message"));
        printf("%-33s %-8s %-7s %10lld %8lld  %s%s%s\n",
               json_string_value(json_object_get(it, "id")),
               json_string_value(json_object_get(it, "status")),
               json_string_value(json_object_get(it, "source"))
                   ? json_string_value(json_object_get(it, "source"))
                   : "-",
               (long long)json_integer_value(json_object_get(it, "bytes")),
               (long long)json_integer_value(json_object_get(it, "attempts")),
               json_string_value(json_object_get(it, "description"))
                   ? json_string_value(json_object_get(it, "description"))
                   : "",
               err ? " / " : "", err ? err : "");
    }
    json_decref(arr);
    return CLI_EXIT_OK;
}

struct send_log {
    cli_progress *bar; /* ended before a result line is printed */
    int json;
    int refused;
    int kept;
};

static void on_result(void *user, const logshare_report_result *r)
{
    struct send_log *log = user;
    cli_progress_end(log->bar);
    int st = logshare_report_result_status(r);
    const char *oid = logshare_report_result_outbox_id(r);
    if (st == 0) {
        if (log->json)
            printf("%s\n", logshare_report_result_ticket_json(r));
        else
            printf("%s -> ticket %s\n", oid, logshare_report_result_ticket_id(r));
        fflush(stdout);
        return;
    }
    const char *msg = logshare_report_result_error_message(r);
    if (st == LOGSHARE_EQUEUED || st == LOGSHARE_ECANCELED) {
        log->kept++;
        cli_error("outbox: %s kept for later (%s)", oid, msg ? msg : "not sent");
    } else {
        log->refused++;
        char what[160];
        snprintf(what, sizeof what, "outbox: %s", oid ? oid : "?");
        cli_share_report_failure(r, st, what,
                                 logshare_report_result_http_status(r) == 401
                                     ? "kept for a valid token"
                                     : "marked failed");
    }
}

int cmd_outbox(int argc, char **argv)
{
    const char *dir = NULL, *remove_id = NULL;
    cli_share_args sa;
    cli_share_args_init(&sa);
    int json = 0, send = 0, bad = 0;
    optind = 1;
    opterr = 0;
    int c;
    while (!bad && (c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
        int shared = cli_share_args_parse(&sa, NULL, c, optarg, "outbox");
        if (shared) {
            bad = shared < 0;
            continue;
        }
        switch (c) {
        case OPT_DIR:
            dir = optarg;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case OPT_SEND:
            send = 1;
            break;
        case OPT_REMOVE:
            remove_id = optarg;
            break;
        case OPT_HELP:
        case 'h':
            usage(stdout);
            return CLI_EXIT_OK;
        default:
            cli_bad_option("outbox", c, argv);
            bad = 1;
        }
    }
    if (!bad && optind < argc) {
        cli_error("outbox: unexpected argument '%s'", argv[optind]);
        bad = 1;
    }
    if (!bad && !dir) {
        cli_error("outbox: --dir is required (try --help)");
        bad = 1;
    }
    if (!bad && send && remove_id) {
        cli_error("outbox: --send and --remove do not go together");
        bad = 1;
    }
    if (!bad && send && !sa.server) {
        cli_error("outbox: --send needs --server");
        bad = 1;
    }
    if (!bad && !send && (sa.server || sa.token || sa.token_file)) {
        cli_error("outbox: --server and --token only make sense with --send");
        bad = 1;
    }
    if (bad)
        return CLI_EXIT_USAGE;
    /* A store without an outbox has nothing waiting; a DIR that is not
     * there is a typo, which "the outbox is empty" (or "sent 0") hid. */
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        cli_error("outbox: no log store at %s (%s)", dir,
                  stat(dir, &st) != 0 ? "no such directory" : "not a directory");
        return CLI_EXIT_FAILURE;
    }
    if (remove_id) {
        int rc = logshare_outbox_remove(dir, remove_id);
        if (rc) {
            cli_error("outbox: cannot remove %s: %s", remove_id,
                      rc == LOGSHARE_ENOENT ? "no such item" : logshare_strerror(rc));
            return rc == LOGSHARE_EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
        }
        return CLI_EXIT_OK;
    }
    if (!send)
        return print_list(dir, json);

    logshare_share_options *opts = logshare_share_options_new();
    if (!opts) {
        cli_error("outbox: %s", logshare_strerror(LOGSHARE_ENOMEM));
        return CLI_EXIT_FAILURE;
    }
    char *token = NULL;
    int trc = cli_share_args_connect(&sa, opts, "outbox", &token);
    if (trc != CLI_EXIT_OK) {
        logshare_share_options_free(opts);
        return trc;
    }
    cli_progress bar;
    struct send_log log = {&bar, json, 0, 0};
    cli_share_args_apply_transfer(&sa, opts);
    logshare_share_options_set_result_callback(opts, on_result, &log);
    cli_progress_install(opts, &bar, "sending");
    size_t sent = 0, left = 0;
    int rc = logshare_outbox_flush_dir(dir, opts, LOGSHARE_OUTBOX_FORCE, &sent, &left);
    cli_progress_end(&bar);
    free(token);
    logshare_share_options_free(opts);
    if (rc) {
        cli_error("outbox: %s", logshare_strerror(rc));
        return CLI_EXIT_FAILURE;
    }
    if (!json)
        cli_error("outbox: sent %zu, %zu still waiting", sent, left);
    if (log.refused)
        return CLI_EXIT_FAILURE;
    return left ? CLI_EXIT_TEMPFAIL : CLI_EXIT_OK;
}
