/* cli_util.c - helpers shared by the subcommands (see cli.h). */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ls_utf8.h"

/* Writes text to out so that it stays one line and cannot drive the
 * terminal: it quotes paths, ids and servers' messages, which may hold
 * anything (a file named "a\nlogshare: ok", an escape sequence). Line
 * breaks become \n and \r, other control characters but tab and bytes
 * that are not UTF-8 \xNN, as decrypt shows messages. As a field of
 * tab-separated output (field != 0) a tab becomes \t and a backslash
 * \\ too, so the fields and the escapes stay unambiguous. */
static void put_escaped(FILE *out, const char *text, size_t len, int field)
{
    const unsigned char *m = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        unsigned char ch = m[i];
        size_t n = ls_utf8_seq_len(m + i, len - i);
        if (ch == '\n')
            fputs("\\n", out);
        else if (ch == '\r')
            fputs("\\r", out);
        else if (field && ch == '\t')
            fputs("\\t", out);
        else if (field && ch == '\\')
            fputs("\\\\", out);
        else if ((ch < 0x20 && ch != '\t') || ch == 0x7f || n == 0)
            fprintf(out, "\\x%02x", ch);
        else if (ch == 0xc2 && m[i + 1] <= 0x9f) /* a C1 control, U+0080-U+009F */
            fprintf(out, "\\x%02x\\x%02x", ch, m[i + 1]);
        else
            fwrite(m + i, 1, n, out);
        i += n ? n : 1;
    }
}

static void put_one_line(const char *text, size_t len)
{
    put_escaped(stderr, text, len, 0);
}

void cli_put_field(FILE *out, const char *text)
{
    put_escaped(out, text, strlen(text), 1);
}

static void vreport(const char *prefix, const char *fmt, va_list ap)
{
    char small[512];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    char *text = small;
    if (n >= (int)sizeof small && (text = malloc((size_t)n + 1)) != NULL)
        vsnprintf(text, (size_t)n + 1, fmt, again);
    va_end(again);
    fputs(prefix, stderr);
    if (n > 0)
        put_one_line(text ? text : small, text ? (size_t)n : strlen(small));
    fputc('\n', stderr);
    if (text != small)
        free(text);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport("logshare: ", fmt, ap);
    va_end(ap);
}

void cli_warning(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport("logshare: warning: ", fmt, ap);
    va_end(ap);
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    }
    return 0;
}

void cli_bad_option(const char *cmd, int c, char **argv)
{
    /* A long option is in argv as typed; a short one may sit inside a
     * cluster ("-xj"), so it is named by optopt. */
    const char *arg = argv[optind - 1];
    int is_long = strncmp(arg, "--", 2) == 0;
    if (c == ':') {
        if (is_long)
            cli_error("%s: option '%s' needs a value (try --help)", cmd, arg);
        else
            cli_error("%s: option '-%c' needs a value (try --help)", cmd, optopt);
    } else if (is_long && strchr(arg, '=')) {
        cli_error("%s: unknown option, or one that takes no value: '%s' (try --help)", cmd, arg);
    } else if (is_long) {
        cli_error("%s: unknown or ambiguous option '%s' (try --help)", cmd, arg);
    } else {
        cli_error("%s: unknown option '-%c' (try --help)", cmd, optopt);
    }
}
