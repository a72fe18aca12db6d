/*
 * cmd_files.c - `logshare files --dir DIR [--json]`: the log files that
 * belong in a support request, as logshare_get_support_files returns
 * them (path, stream, size, time range), oldest first.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cli.h"
#include "logshare.h"
#include "ls_time.h"

static void files_usage(FILE *out)
{
    fprintf(out, "usage: logshare files --dir DIR [--json]\n\n"
                 "Lists the log files of the store in DIR, oldest first, one a line:\n"
                 "path, stream, size in bytes, first and last record time (RFC 3339\n"
                 "UTC, '-' when the file holds no record yet), tab-separated; a tab,\n"
                 "line break, backslash or control character in a path is shown\n"
                 "escaped (\\t \\n \\\\ \\xNN).\n"
                 "Reading the list needs no key.\n\n"
                 "  --dir DIR   the store's directory\n"
                 "  --json      a JSON array of {path, stream, seq, size, first_time, last_time}\n"
                 "              (exit 1 if a path is not UTF-8: JSON cannot hold it)\n"
                 "  -h, --help  this help\n");
}

static json_t *time_json(int64_t us)
{
    char buf[LS_TIME_RFC3339_LEN];
    return us ? json_string(ls_time_format_rfc3339(us, 1, buf)) : json_null();
}

int cmd_files(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = NULL;
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            files_usage(stdout);
            return CLI_EXIT_OK;
        default:
            cli_bad_option("files", c, argv);
            return CLI_EXIT_USAGE;
        }
    }
    if (!dir) {
        cli_error("files: --dir DIR is required (try --help)");
        return CLI_EXIT_USAGE;
    }
    if (optind != argc) {
        cli_error("files: unexpected argument '%s' (try --help)", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    /* The library says "not found" for a file given as DIR (ENOTDIR). */
    struct stat st;
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        cli_error("files: %s is not a directory", dir);
        return CLI_EXIT_FAILURE;
    }
    logshare_support_file *files = NULL;
    size_t n = 0;
    int rc = logshare_list_support_files(dir, &files, &n);
    if (rc != 0) {
        cli_error("files: cannot list %s: %s", dir, logshare_strerror(rc));
        return CLI_EXIT_FAILURE;
    }
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++) {
            json_t *f = json_pack(
                "{s:s, s:s, s:I, s:I, s:o, s:o}", "path", files[i].path, "stream", files[i].stream,
                "seq", (json_int_t)files[i].seq, "size", (json_int_t)files[i].size, "first_time",
                time_json(files[i].first_time_us), "last_time", time_json(files[i].last_time_us));
            /* A JSON string must be UTF-8: a path that is not used to be
             * left out, and the list printed as if complete. */
            if (!f || json_array_append_new(arr, f) != 0) {
                cli_error("files: %s: a path is not UTF-8, which JSON cannot hold (the text "
                          "output shows it)",
                          dir);
                json_decref(arr);
                logshare_support_files_free(files, n);
                return CLI_EXIT_FAILURE;
            }
        }
        char *s = arr ? json_dumps(arr, JSON_INDENT(2)) : NULL;
        if (s)
            puts(s);
        free(s);
        json_decref(arr);
    } else {
        for (size_t i = 0; i < n; i++) {
            char a[LS_TIME_RFC3339_LEN], b[LS_TIME_RFC3339_LEN];
            cli_put_field(stdout, files[i].path);
            putchar('\t');
            cli_put_field(stdout, files[i].stream);
            printf(
                "\t%llu\t%s\t%s\n", (unsigned long long)files[i].size,
                files[i].first_time_us ? ls_time_format_rfc3339(files[i].first_time_us, 1, a) : "-",
                files[i].last_time_us ? ls_time_format_rfc3339(files[i].last_time_us, 1, b) : "-");
        }
    }
    logshare_support_files_free(files, n);
    return CLI_EXIT_OK;
}
