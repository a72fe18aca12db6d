/*
 * cmd_decrypt.c - `logshare decrypt --key F [--json] FILE...`: prints
 * the records of log files in time order (files merged; within a file,
 * file order), one a line: time (RFC 3339 UTC), level, stream, message.
 *
 * Outcomes per SPEC: a tampered or foreign file prints nothing from its
 * bad frame on and makes the exit status 1; a torn tail (crash while
 * writing) prints every complete record, warns on stderr, and still
 * exits 0. A file that cannot be decrypted at all (wrong key, not a log
 * file) is an error, exit 1; the other files are still printed.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "logshare.h"
#include "ls_fs.h"
#include "ls_time.h"
#include "ls_utf8.h"

static void decrypt_usage(FILE *out)
{
    fprintf(out, "usage: logshare decrypt --key F [--json] FILE...\n\n"
                 "Prints the records of log files in time order, one a line:\n"
                 "time (RFC 3339 UTC), level, stream, message. Newlines and carriage\n"
                 "returns inside a message are shown as \\n and \\r, a backslash as \\\\,\n"
                 "other control characters (but tab) and bytes that are not UTF-8 as\n"
                 "\\xNN, so a log cannot drive the terminal; JSON escapes them as\n"
                 "\\uNNNN (bytes that are not UTF-8 become U+FFFD).\n\n"
                 "  --key F     the secret key (PREFIX.key from keygen); may be left out\n"
                 "              when every file is plaintext\n"
                 "  --json      one JSON object a line: {time, level, stream, message}\n"
                 "  -h, --help  this help\n\n"
                 "Exit status: 0 every file read (a torn tail, from a crash while\n"
                 "writing, only warns), 1 a file is damaged, tampered with, foreign to\n"
                 "the key or unreadable (nothing from the bad frame on is printed),\n"
                 "2 usage.\n");
}

struct source {
    const char *path;
    logshare_reader *r;
    logshare_record rec;
    int have; /* rec holds the next record to print */
};

/* The message as a JSON string: bytes that are not UTF-8 (apps may log
 * anything) become U+FFFD instead of making the record vanish. */
static json_t *message_json(const char *msg, size_t len)
{
    json_t *s = json_stringn(msg, len);
    if (s)
        return s;
    size_t n;
    char *clean = ls_utf8_sanitize(msg, len, 1, &n);
    if (!clean)
        return NULL;
    s = json_stringn(clean, n);
    free(clean);
    return s;
}

static void print_record(const logshare_record *rec, int json)
{
    char t[LS_TIME_RFC3339_LEN];
    ls_time_format_rfc3339(rec->time_us, 1, t);
    if (json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:o*}", "time", t, "level",
                              logshare_level_name(rec->level), "stream", rec->stream, "message",
                              message_json(rec->message, rec->message_len));
        char *s = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        /* The encoder escapes every control character but DEL, which
         * is valid JSON but no more welcome on a terminal; a raw 0x7f
         * can only be inside a string here. */
        for (const char *p = s; p && *p; p++) {
            if (*p == 0x7f)
                fputs("\\u007F", stdout);
            else
                putchar(*p);
        }
        if (s)
            putchar('\n');
        free(s);
        json_decref(o);
        return;
    }
    printf("%s %s %s ", t, logshare_level_name(rec->level), rec->stream);
    /* Logs come from the device: a message must not drive the reader's
     * terminal (escape sequences, bells, backspaces rewriting the
     * line). Control characters other than tab are shown as \xNN,
     * including C1 controls in UTF-8 (U+0080-U+009F: U+009B is a CSI to
     * some terminals) and bytes that are not UTF-8 (a raw 0x9b is a CSI
     * to 8-bit terminals). A backslash is shown doubled, so that every
     * escape reads one way: a message cannot pass a "\n" it typed for a
     * line break. */
    const unsigned char *m = (const unsigned char *)rec->message;
    for (size_t i = 0; i < rec->message_len;) {
        unsigned char ch = m[i];
        size_t n = ls_utf8_seq_len(m + i, rec->message_len - i);
        if (ch == '\n')
            fputs("\\n", stdout);
        else if (ch == '\r')
            fputs("\\r", stdout);
        else if (ch == '\\')
            fputs("\\\\", stdout);
        else if ((ch < 0x20 && ch != '\t') || ch == 0x7f || n == 0)
            printf("\\x%02x", ch);
        else if (ch == 0xc2 && m[i + 1] <= 0x9f)
            printf("\\x%02x\\x%02x", ch, m[i + 1]);
        else
            fwrite(m + i, 1, n, stdout);
        i += n ? n : 1;
    }
    putchar('\n');
}

/* Advances a source; reports its end. Returns 1 on a failure that makes
 * the exit status 1. */
static int source_advance(struct source *s)
{
    int rc = logshare_reader_next(s->r, &s->rec);
    if (rc == 1) {
        s->have = 1;
        return 0;
    }
    s->have = 0;
    if (rc == 0)
        return 0;
    if (rc == LOGSHARE_ETRUNCATED) {
        cli_warning("%s: torn tail: the file ends before its final frame "
                    "(still being written, or a crash while writing); every complete record "
                    "was printed",
                    s->path);
        return 0;
    }
    cli_error("decrypt: %s: %s; nothing from that point on was printed", s->path,
              rc == LOGSHARE_ECORRUPT ? "a frame failed authentication (tampered or damaged)"
                                      : logshare_strerror(rc));
    return 1;
}

int cmd_decrypt(int argc, char **argv)
{
    static const struct option opts[] = {{"key", required_argument, NULL, 'k'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *key_path = NULL;
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            key_path = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            decrypt_usage(stdout);
            return CLI_EXIT_OK;
        default:
            cli_bad_option("decrypt", c, argv);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind == argc) {
        cli_error("decrypt: no FILE given (try --help)");
        return CLI_EXIT_USAGE;
    }
    char *key = NULL;
    size_t key_len = 0;
    if (key_path) {
        int rc = ls_fs_read_file(key_path, 4096, &key, &key_len);
        if (rc != 0) {
            cli_error("decrypt: cannot read key %s: %s", key_path, logshare_strerror(rc));
            return CLI_EXIT_FAILURE;
        }
    }
    int nfiles = argc - optind, failed = 0;
    struct source *src = calloc((size_t)nfiles, sizeof *src);
    if (!src) {
        free(key);
        cli_error("decrypt: out of memory");
        return CLI_EXIT_FAILURE;
    }
    for (int i = 0; i < nfiles; i++) {
        struct source *s = &src[i];
        s->path = argv[optind + i];
        int rc = logshare_reader_open(s->path, key, &s->r);
        if (rc == LOGSHARE_ETRUNCATED) {
            cli_warning("%s: torn tail: the file ends inside its header; it holds no record",
                        s->path);
        } else if (rc == LOGSHARE_EKEY) {
            cli_error("decrypt: %s: %s", s->path,
                      key ? "the key does not fit this file (encrypted to another key, or "
                            "the key file is malformed)"
                          : "the file is encrypted: give the secret key with --key");
            failed = 1;
        } else if (rc != 0) {
            struct stat st;
            if (rc == LOGSHARE_EINVAL && stat(s->path, &st) == 0 && S_ISDIR(st.st_mode))
                cli_error("decrypt: %s: is a directory (give its log files: %s/*.lslog)", s->path,
                          s->path);
            else
                cli_error("decrypt: %s: %s", s->path, logshare_strerror(rc));
            failed = 1;
        } else {
            failed |= source_advance(s);
        }
    }
    if (key)
        memset(key, 0, key_len);
    free(key);
    /* Merge by time; ties keep the order the files were given in. */
    /* Stop at the first failed write: main reports it (stdout full or
     * closed), and the rest would fail the same way. */
    while (!ferror(stdout)) {
        struct source *best = NULL;
        for (int i = 0; i < nfiles; i++)
            if (src[i].have && (!best || src[i].rec.time_us < best->rec.time_us))
                best = &src[i];
        if (!best)
            break;
        print_record(&best->rec, json);
        failed |= source_advance(best);
    }
    for (int i = 0; i < nfiles; i++)
        logshare_reader_close(src[i].r);
    free(src);
    return failed ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}
