/* cli_util.c - helpers shared by the subcommands (see cli.h). */
#include <getopt.h>
#include <stdarg.h>
#include <string.h>

#include "cli.h"

void cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("logshare: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
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
