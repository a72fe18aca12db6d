/*
 * cmd_log.c - `logshare log`: each line of stdin becomes one record in
 * a log store, with the store's limits. The way shell scripts and tests
 * drive the library's writer.
 *
 * Unlike an app, the CLI must not lose lines: it flushes before its
 * ring could fill, so a drop only happens when the disk refuses the
 * data, and then it says how many lines were lost and exits 1.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "logshare.h"

#define LOG_BUFFER_BYTES (8u * 1024u * 1024u)
/* logshare_log cuts a longer message, visibly (logshare.h). */
#define LOG_LINE_MAX 4000

/* line (n bytes, NULs inside) with each NUL as U+FFFD; NUL-terminated,
 * caller frees. */
static char *nul_replaced(const char *line, size_t n)
{
    char *out = malloc(n * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (line[i]) {
            out[o++] = line[i];
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
        }
    }
    out[o] = '\0';
    return out;
}

static void log_usage(FILE *out)
{
    fprintf(out,
            "usage: logshare log --dir DIR [--stream S] [--level L]\n"
            "                    (--public-key-file F | --plaintext)\n"
            "                    [--max-file-bytes N] [--max-total-bytes N] [--max-age-days N]\n\n"
            "Writes each line of stdin as one record to the log store in DIR (a NUL\n"
            "byte in a line is kept as U+FFFD, with a warning; a line over 4000 bytes\n"
            "is cut there and ends with \"...[truncated]\", with a warning).\n\n"
            "  --dir DIR              the store's directory (created if missing)\n"
            "  --stream S             stream name, [a-z0-9_-]{1,32} (default: main)\n"
            "  --level L              trace, debug, info, warn, error or fatal (default: info)\n"
            "  --public-key-file F    encrypt to this support public key (from keygen)\n"
            "  --plaintext            do not encrypt (development only)\n"
            "  --max-file-bytes N     start a new file at this size (default 4194304)\n"
            "  --max-total-bytes N    keep all log files under this total (default 67108864)\n"
            "  --max-age-days N       delete files older than N days (default 7, at most 36500)\n"
            "  -h, --help             this help\n\n"
            "Exit status: 0 all lines written, 1 failure (lines lost, bad key), 2 usage.\n");
}

/* A count for option opt: decimal digits only (no sign, space or
 * prefix: strtoull would take " 5", "+5" and "-5"), from min to max.
 * 0, or -1 after saying what is wrong. */
static int parse_count(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
    if (!*s || strspn(s, "0123456789") != strlen(s)) {
        cli_error("log: '%s' is not a valid positive number for %s", s, opt);
        return -1;
    }
    errno = 0;
    unsigned long long x = strtoull(s, NULL, 10);
    if (errno == ERANGE || x > max) {
        cli_error("log: %s %s is too large (at most %llu)", opt, s, (unsigned long long)max);
        return -1;
    }
    if (x < min) {
        cli_error("log: %s %s is too small (at least %llu)", opt, s, (unsigned long long)min);
        return -1;
    }
    *v = x;
    return 0;
}

int cmd_log(int argc, char **argv)
{
    enum { O_DIR = 1, O_STREAM, O_LEVEL, O_PKF, O_PLAIN, O_MFB, O_MTB, O_AGE };
    static const struct option opts[] = {{"dir", required_argument, NULL, O_DIR},
                                         {"stream", required_argument, NULL, O_STREAM},
                                         {"level", required_argument, NULL, O_LEVEL},
                                         {"public-key-file", required_argument, NULL, O_PKF},
                                         {"plaintext", no_argument, NULL, O_PLAIN},
                                         {"max-file-bytes", required_argument, NULL, O_MFB},
                                         {"max-total-bytes", required_argument, NULL, O_MTB},
                                         {"max-age-days", required_argument, NULL, O_AGE},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = NULL, *stream = NULL, *level_name = NULL, *pkf = NULL;
    int plaintext = 0;
    uint64_t mfb = 0, mtb = 0, age = 0;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case O_DIR:
            dir = optarg;
            break;
        case O_STREAM:
            stream = optarg;
            break;
        case O_LEVEL:
            level_name = optarg;
            break;
        case O_PKF:
            pkf = optarg;
            break;
        case O_PLAIN:
            plaintext = 1;
            break;
        case O_MFB:
            bad = parse_count("--max-file-bytes", optarg, 32768, UINT64_MAX, &mfb);
            break;
        case O_MTB:
            bad = parse_count("--max-total-bytes", optarg, 32768, UINT64_MAX, &mtb);
            break;
        case O_AGE:
            bad = parse_count("--max-age-days", optarg, 1, 36500, &age);
            break;
        case 'h':
            log_usage(stdout);
            return CLI_EXIT_OK;
        default:
            cli_bad_option("log", c, argv);
            return CLI_EXIT_USAGE;
        }
        if (bad)
            return CLI_EXIT_USAGE;
    }
    if (optind != argc) {
        cli_error("log: unexpected argument '%s' (the lines to log come from standard input)",
                  argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (!dir || (!pkf == !plaintext)) {
        cli_error("log: --dir and exactly one of --public-key-file / --plaintext are required (try "
                  "--help)");
        return CLI_EXIT_USAGE;
    }
    logshare_level level = LOGSHARE_LEVEL_INFO;
    if (level_name && logshare_level_parse(level_name, &level) != 0) {
        cli_error("log: unknown level '%s' (trace, debug, info, warn, error, fatal)", level_name);
        return CLI_EXIT_USAGE;
    }
    /* The library takes a path that is not a directory (yet) and counts
     * every line as lost; here that is a mistake to name at once. */
    struct stat st;
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        cli_error("log: %s is not a directory", dir);
        return CLI_EXIT_FAILURE;
    }
    logshare_options *o = logshare_options_new();
    if (!o) {
        cli_error("log: out of memory");
        return CLI_EXIT_FAILURE;
    }
    int rc = logshare_options_set_dir(o, dir);
    const char *what = "--dir";
    if (rc == 0 && stream && (rc = logshare_options_add_stream(o, stream)) != 0)
        what = "--stream (1-32 of a-z 0-9 _ -)";
    if (rc == 0 && (rc = logshare_options_set_min_level(o, LOGSHARE_LEVEL_TRACE)) != 0)
        what = "--level";
    if (rc == 0 && mfb && (rc = logshare_options_set_max_file_bytes(o, mfb)) != 0)
        what = "--max-file-bytes (at least 32768)";
    if (rc == 0 && mtb && (rc = logshare_options_set_max_total_bytes(o, mtb)) != 0)
        what = "--max-total-bytes (at least 32768)";
    if (rc == 0 && age && (rc = logshare_options_set_max_age_seconds(o, (int64_t)age * 86400)) != 0)
        what = "--max-age-days";
    if (rc == 0)
        rc = logshare_options_set_buffer_bytes(o, LOG_BUFFER_BYTES);
    if (rc != 0) {
        logshare_options_free(o);
        cli_error("log: bad %s: %s", what, logshare_strerror(rc));
        return CLI_EXIT_USAGE;
    }
    if (plaintext)
        rc = logshare_options_set_plaintext(o, 1);
    else if ((rc = logshare_options_set_public_key_file(o, pkf)) != 0) {
        logshare_options_free(o);
        cli_error("log: cannot use public key %s: %s", pkf, logshare_strerror(rc));
        return CLI_EXIT_FAILURE;
    }
    logshare *ls = NULL;
    rc = logshare_open(o, &ls);
    logshare_options_free(o);
    if (rc != 0) {
        cli_error("log: cannot open the store in %s: %s", dir, logshare_strerror(rc));
        return CLI_EXIT_FAILURE;
    }
    char *line = NULL;
    size_t cap = 0, since_flush = 0;
    uint64_t with_nul = 0, cut = 0;
    /* Why lines were lost: the first error a flush reported. The last
     * error alone may be cleared by a later write that worked (the loss
     * note itself), which made lost lines read as "buffer full". */
    int why = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        if (n > 0 && line[n - 1] == '\r')
            line[--n] = '\0';
        if (memchr(line, '\0', (size_t)n)) {
            /* A record is a C string: the rest of the line would vanish
             * at the NUL. Each becomes U+FFFD, as decrypt shows bytes that
             * are not text. */
            char *clean = nul_replaced(line, (size_t)n);
            if (!clean) {
                cli_error("log: out of memory");
                break;
            }
            logshare_log(ls, 0, level, "%s", clean);
            cut += strlen(clean) > LOG_LINE_MAX;
            free(clean);
            with_nul++;
        } else {
            logshare_log(ls, 0, level, "%s", line);
            cut += (size_t)n > LOG_LINE_MAX;
        }
        /* Never let the ring fill: a line takes at most ~4 KiB in it. */
        since_flush += (size_t)n + 64;
        if (since_flush > LOG_BUFFER_BYTES / 4) {
            int frc = logshare_flush(ls, 0);
            why = why ? why : frc;
            since_flush = 0;
        }
    }
    free(line);
    /* getline says -1 for a read error as for the end: lines after it
     * were never seen, which is a loss to report, not a success. */
    int read_failed = ferror(stdin);
    int frc = logshare_flush(ls, 0);
    why = why ? why : frc;
    uint64_t written = 0, full = 0, failed = 0;
    logshare_get_counts(ls, &written, &full, &failed);
    if (!why)
        why = logshare_last_error(ls);
    logshare_close(ls);
    if (with_nul)
        fprintf(stderr, "logshare: warning: %llu line(s) held NUL bytes, logged as U+FFFD\n",
                (unsigned long long)with_nul);
    if (cut)
        fprintf(stderr,
                "logshare: warning: %llu line(s) longer than %d bytes were cut there "
                "(\"...[truncated]\")\n",
                (unsigned long long)cut, LOG_LINE_MAX);
    if (read_failed) {
        cli_error("log: cannot read standard input; the lines before the error were written to %s",
                  dir);
        return CLI_EXIT_FAILURE;
    }
    if (full || failed) {
        cli_error("log: %llu line(s) were not written to %s: %s",
                  (unsigned long long)(full + failed), dir,
                  why ? logshare_strerror(why) : "buffer full");
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}
