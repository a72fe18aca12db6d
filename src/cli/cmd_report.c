/*
 * cmd_report.c - `logshare report`: creates a support ticket on a
 * logshared server from a store directory's support files.
 *
 * The report is queued in <dir>/outbox first, then sent. Without a
 * reachable server it stays there (exit 75) and a later `report`,
 * `outbox --send` or the library's next open sends it, once.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_share.h"
#include "cli_share_args.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: logshare report --dir DIR --server URL (--token T | --token-file F)\n"
            "                       --description TEXT [--call-id ID]... [options]\n\n"
            "Creates a support ticket with the store's log files and prints its id.\n"
            "The report is kept in DIR/outbox until the server has it: without a\n"
            "reachable server it stays there (exit 75) and is sent, once, by a later\n"
            "report, `logshare outbox --send` or the app's next open.\n\n"
            "  --dir DIR              the log store directory\n"
            "  --server URL           logshared base URL (http:// or https://)\n"
            "  --token T              bearer token (or --token-file F, or $LOGSHARE_TOKEN)\n"
            "  --description TEXT     what went wrong (required)\n"
            "  --call-id ID           a call the problem happened in (repeatable)\n"
            "  --customer-name NAME   --customer-email EMAIL\n"
            "  --app-version V        --platform P\n"
            "  --file PATH            attach one more file (repeatable)\n"
            "  --no-logs              do not attach the store's log files\n"
            "  --ca-file PEM          trust these CA certificates instead of the system's\n"
            "  --max-files N          files per request, as the server's [limits] max_files "
            "(default 32)\n"
            "  --max-rate BYTES       cap the upload at BYTES per second (0: no cap)\n"
            "  --outbox-max-bytes N   refuse to queue past N bytes in the outbox (default 64 MiB)\n"
            "  --outbox-max-items N   ... or past N items (default 32)\n"
            "  --attempts N           tries before keeping it for later (default 4)\n"
            "  --json                 print the created ticket as JSON\n\n"
            "A progress bar is drawn on stderr when it is a terminal.\n"
            "Exit: 0 created, 1 refused or failed, 2 usage, 75 kept in the outbox for later.\n");
}

enum {
    OPT_DIR = 1,
    OPT_CNAME,
    OPT_CMAIL,
    OPT_NOLOGS,
    OPT_OBBYTES,
    OPT_OBITEMS,
    OPT_JSON,
    OPT_HELP
};

static const struct option long_opts[] = {
    {"dir", required_argument, NULL, OPT_DIR},
    CLI_SHARE_OPTS_CONNECT,
    CLI_SHARE_OPTS_CONTENT,
    {"customer-name", required_argument, NULL, OPT_CNAME},
    {"customer-email", required_argument, NULL, OPT_CMAIL},
    {"no-logs", no_argument, NULL, OPT_NOLOGS},
    CLI_SHARE_OPTS_TRANSFER,
    {"outbox-max-bytes", required_argument, NULL, OPT_OBBYTES},
    {"outbox-max-items", required_argument, NULL, OPT_OBITEMS},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* LOGSHARE_ENOSPC before queueing is the outbox's quota or a full disk:
 * say which it can be, from what the outbox holds. */
static void report_no_space(const char *dir, unsigned long long max_bytes, unsigned max_items)
{
    char *text = NULL;
    json_t *arr = NULL;
    if (logshare_outbox_list_json(dir, &text) == 0)
        arr = json_loads(text, 0, NULL);
    logshare_string_free(text);
    unsigned long long used = 0;
    size_t i;
    json_t *it;
    json_array_foreach(arr, i, it) used +=
        (unsigned long long)json_integer_value(json_object_get(it, "bytes"));
    size_t n = json_array_size(arr);
    json_decref(arr);
    if (n >= max_items)
        cli_error("report not made: the outbox is full (%zu reports waiting; see `logshare outbox "
                  "--dir %s`)",
                  n, dir);
    else
        cli_error("report not made: no room for it, in the outbox's quota (%llu of %llu bytes "
                  "used by %zu waiting) or on the disk",
                  used, max_bytes, n);
}

/* Prints what happened to one report; returns the exit status. */
static int report_outcome(int rc, const logshare_report_result *res, int json, const char *dir,
                          unsigned long long ob_bytes, unsigned ob_items)
{
    const char *oid = logshare_report_result_outbox_id(res);
    if (rc == 0) {
        if (json)
            printf("%s\n", logshare_report_result_ticket_json(res));
        else
            printf("%s\n", logshare_report_result_ticket_id(res));
        if (fflush(stdout) != 0 || ferror(stdout)) {
            /* The ticket exists: say its id where it can be read, so that
             * nobody reports twice to learn it. Cleared, as said here. */
            cli_error("report: ticket %s was created, but standard output could not be "
                      "written",
                      logshare_report_result_ticket_id(res));
            clearerr(stdout);
            return CLI_EXIT_FAILURE;
        }
        return CLI_EXIT_OK;
    }
    const char *msg = logshare_report_result_error_message(res);
    if (rc == LOGSHARE_EQUEUED) {
        cli_error(
            "report: could not reach the server (%s); the report is kept in the outbox as %s and "
            "will be sent later",
            msg ? msg : "no answer", oid ? oid : "?");
        return CLI_EXIT_TEMPFAIL;
    }
    if (res) {
        char kept[200];
        if (logshare_report_result_http_status(res) == 401)
            snprintf(kept, sizeof kept,
                     "kept in the outbox as %s, to be sent with a valid token "
                     "(`logshare outbox --send`)",
                     oid ? oid : "?");
        else
            snprintf(kept, sizeof kept, "kept in the outbox as %s, marked failed", oid ? oid : "?");
        cli_share_report_failure(res, rc, "the report", kept);
        return CLI_EXIT_FAILURE;
    }
    if (rc == LOGSHARE_ENOENT)
        cli_error("report not made: no log store at %s, or a file named with --file is missing",
                  dir);
    else if (rc == LOGSHARE_ENOSPC)
        report_no_space(dir, ob_bytes, ob_items);
    else
        cli_error("report not made: %s", logshare_strerror(rc));
    return CLI_EXIT_FAILURE;
}

/* After its own report went through, `report` also sends what waited in
 * the outbox; say what became of each. */
static void on_other_result(void *user, const logshare_report_result *r)
{
    cli_progress_end(user);
    int st = logshare_report_result_status(r);
    if (st == 0)
        cli_error("report: also sent earlier report %s -> ticket %s",
                  logshare_report_result_outbox_id(r), logshare_report_result_ticket_id(r));
    else
        cli_error("report: earlier report %s still waiting (%s)",
                  logshare_report_result_outbox_id(r),
                  logshare_report_result_error_message(r) ? logshare_report_result_error_message(r)
                                                          : logshare_strerror(st));
}

int cmd_report(int argc, char **argv)
{
    const char *dir = NULL, *cname = NULL, *cmail = NULL;
    cli_share_args sa;
    cli_share_args_init(&sa);
    unsigned long long ob_bytes = 64ull << 20;
    unsigned ob_items = 32;
    int json = 0, bad = 0;
    logshare_share_options *opts = logshare_share_options_new();
    if (!opts) {
        cli_error("out of memory");
        return CLI_EXIT_FAILURE;
    }
    optind = 1;
    opterr = 0;
    int c;
    while (!bad && (c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
        int shared = cli_share_args_parse(&sa, opts, c, optarg, "report");
        if (shared) {
            bad = shared < 0;
            continue;
        }
        switch (c) {
        case OPT_DIR:
            dir = optarg;
            break;
        case OPT_CNAME:
            cname = optarg;
            break;
        case OPT_CMAIL:
            cmail = optarg;
            break;
        case OPT_NOLOGS:
            logshare_share_options_set_include_logs(opts, 0);
            break;
        case OPT_OBBYTES:
        case OPT_OBITEMS: {
            char *end;
            unsigned long long n = strtoull(optarg, &end, 10);
            if (*end || optarg[0] == '-' || n == 0 || (c == OPT_OBITEMS && n > 100000)) {
                cli_error("report: --outbox-max-%s must be a positive number",
                          c == OPT_OBBYTES ? "bytes" : "items");
                bad = 1;
            }
            if (c == OPT_OBBYTES)
                ob_bytes = n;
            else
                ob_items = (unsigned)n;
            break;
        }
        case OPT_JSON:
            json = 1;
            break;
        case OPT_HELP:
        case 'h':
            usage(stdout);
            logshare_share_options_free(opts);
            return CLI_EXIT_OK;
        default:
            cli_bad_option("report", c, argv);
            bad = 1;
        }
    }
    if (!bad && optind < argc) {
        cli_error("report: unexpected argument '%s'", argv[optind]);
        bad = 1;
    }
    if (!bad && (!dir || !sa.server || !sa.description)) {
        cli_error("report: --dir, --server and --description are required (try --help)");
        bad = 1;
    }
    if (!bad && !*sa.description) {
        cli_error("report: --description must not be empty");
        bad = 1;
    }
    char *token = NULL;
    int bad_status = CLI_EXIT_USAGE; /* what a refused run exits with */
    if (!bad) {
        int trc = cli_share_args_connect(&sa, opts, "report", &token);
        if (trc != CLI_EXIT_OK) {
            bad = 1;
            bad_status = trc;
        }
    }
    if (!bad && strlen(sa.description) > 32768) {
        cli_error("report: --description is longer than 32 KiB");
        bad = 1;
    }
    if (!bad && (cli_share_args_apply_content(&sa, opts) != 0 ||
                 logshare_share_options_set_customer(opts, cname, cmail) != 0)) {
        cli_error("report: a text option holds control characters");
        bad = 1;
    }
    if (bad) {
        free(token);
        logshare_share_options_free(opts);
        return bad_status;
    }
    cli_share_args_apply_transfer(&sa, opts);
    logshare_share_options_set_outbox_limits(opts, ob_bytes, ob_items);
    cli_progress bar;
    cli_progress_install(opts, &bar, "uploading");
    logshare_share_options_set_result_callback(opts, on_other_result, &bar);
    logshare_report_result *res = NULL;
    int rc = logshare_report_dir(dir, opts, &res);
    cli_progress_end(&bar);
    int exit_code = report_outcome(rc, res, json, dir, ob_bytes, ob_items);
    logshare_report_result_free(res);
    free(token);
    logshare_share_options_free(opts);
    return exit_code;
}
