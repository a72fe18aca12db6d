/*
 * cmd_export.c - `logshare export`: one archive with a store's support
 * files and manifest.json, for direct sharing (mail, a share sheet, a
 * ticket system we do not run). docs/export-format.md describes it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_share.h"
#include "cli_share_args.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: logshare export --dir DIR --out FILE [--call-id ID]... [--description TEXT]\n"
            "                       [--format zip|tar.zst] [options]\n\n"
            "Writes one archive holding the store's log files and manifest.json (each\n"
            "file's name, stream, size and SHA-256; call ids, description, app version,\n"
            "platform, creation time, library version). FILE appears only when complete;\n"
            "an existing FILE is replaced (then, and only then).\n\n"
            "  --dir DIR              the log store directory\n"
            "  --out FILE             the archive to write\n"
            "  --format F             zip (default) or tar.zst; a FILE ending in .tar.zst\n"
            "                         picks tar.zst when --format is not given\n"
            "  --call-id ID           a call the logs concern (repeatable)\n"
            "  --description TEXT     what the logs are about\n"
            "  --app-version V        --platform P\n"
            "  --file PATH            add one more file (repeatable)\n\n"
            "A progress bar (bytes, rate, time left) is drawn on stderr when it is a terminal.\n"
            "Exit: 0 written, 1 failed (nothing written), 2 usage.\n");
}

enum { OPT_DIR = 1, OPT_OUT, OPT_FORMAT, OPT_HELP };

static const struct option long_opts[] = {
    {"dir", required_argument, NULL, OPT_DIR},       {"out", required_argument, NULL, OPT_OUT},
    {"format", required_argument, NULL, OPT_FORMAT}, CLI_SHARE_OPTS_CONTENT,
    {"help", no_argument, NULL, OPT_HELP},           {NULL, 0, NULL, 0},
};

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Whether the directory FILE goes into is there. The library says
 * LOGSHARE_ENOENT for it as for a missing store, and the two need
 * different fixes. */
static int out_dir_exists(const char *out)
{
    const char *slash = strrchr(out, '/');
    if (!slash)
        return 1;
    size_t n = slash == out ? 1 : (size_t)(slash - out);
    char *parent = strndup(out, n);
    struct stat st;
    int ok = !parent || (stat(parent, &st) == 0 && S_ISDIR(st.st_mode));
    free(parent);
    return ok;
}

int cmd_export(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL, *format_name = NULL;
    cli_share_args sa;
    cli_share_args_init(&sa);
    int bad = 0;
    logshare_share_options *opts = logshare_share_options_new();
    if (!opts) {
        cli_error("out of memory");
        return CLI_EXIT_FAILURE;
    }
    optind = 1;
    opterr = 0;
    int c;
    while (!bad && (c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
        int shared = cli_share_args_parse(&sa, opts, c, optarg, "export");
        if (shared) {
            bad = shared < 0;
            continue;
        }
        switch (c) {
        case OPT_DIR:
            dir = optarg;
            break;
        case OPT_OUT:
            out = optarg;
            break;
        case OPT_FORMAT:
            format_name = optarg;
            break;
        case OPT_HELP:
        case 'h':
            usage(stdout);
            logshare_share_options_free(opts);
            return CLI_EXIT_OK;
        default:
            cli_bad_option("export", c, argv);
            bad = 1;
        }
    }
    if (!bad && optind < argc) {
        cli_error("export: unexpected argument '%s'", argv[optind]);
        bad = 1;
    }
    if (!bad && (!dir || !out)) {
        cli_error("export: --dir and --out are required (try --help)");
        bad = 1;
    }
    if (!bad && (!*dir || !*out)) {
        cli_error("export: %s must not be empty", *dir ? "--out" : "--dir");
        bad = 1;
    }
    logshare_export_format format = LOGSHARE_EXPORT_ZIP;
    if (!bad && format_name && logshare_export_format_parse(format_name, &format) != 0) {
        cli_error("export: unknown --format '%s' (zip or tar.zst)", format_name);
        bad = 1;
    }
    if (!bad && !format_name && (ends_with(out, ".tar.zst") || ends_with(out, ".tzst")))
        format = LOGSHARE_EXPORT_TAR_ZSTD;
    if (!bad && cli_share_args_apply_content(&sa, opts) != 0) {
        cli_error("export: a text option holds control characters");
        bad = 1;
    }
    if (bad) {
        logshare_share_options_free(opts);
        return CLI_EXIT_USAGE;
    }
    cli_progress bar; /* drawn only when stderr is a terminal, like report's */
    cli_progress_install(opts, &bar, "exporting");
    int rc = logshare_export_dir(dir, opts, out, format);
    cli_progress_end(&bar);
    logshare_share_options_free(opts);
    if (rc == LOGSHARE_ENOENT && !out_dir_exists(out)) {
        cli_error("export: cannot write %s: its directory does not exist", out);
        return CLI_EXIT_FAILURE;
    }
    if (rc == LOGSHARE_ENOENT) {
        cli_error("export: no log store at %s, or a file named with --file is missing", dir);
        return CLI_EXIT_FAILURE;
    }
    if (rc) {
        cli_error("export: %s: %s", out, logshare_strerror(rc));
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}
