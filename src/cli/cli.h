/*
 * cli.h - shared pieces of the logshare command line.
 *
 * Each subcommand lives in its own cmd_<name>.c with one entry point
 * `int cmd_<name>(int argc, char **argv)` that returns the exit status:
 * 0 success, 1 failure, 2 usage error (CLI_EXIT_*), 75 report kept for
 * later. argv[0] is the subcommand name.
 */
#ifndef LOGSHARE_CLI_H
#define LOGSHARE_CLI_H

#include <stdio.h>

enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILURE = 1,
    CLI_EXIT_USAGE = 2,
    CLI_EXIT_TEMPFAIL = 75 /* EX_TEMPFAIL: kept in the outbox, sent later */
};

/* Prints "logshare: <message>\n" to stderr, printf-style, as one line:
 * line breaks and control characters in the message (a path, a server's
 * text) are shown escaped. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, as "logshare: warning: <message>\n". */
void cli_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes text as one field of tab-separated output: a tab, a line break,
 * a backslash, control characters and bytes that are not UTF-8 are
 * shown escaped (\t \n \r \\ \xNN), so one record stays one line and
 * its fields stay apart. */
void cli_put_field(FILE *out, const char *text);

/* The one line for getopt_long's answer c, '?' (unknown option) or ':'
 * (a value is missing; the optstring must start with ':'), naming the
 * option as given. Call it before changing optind. */
void cli_bad_option(const char *cmd, int c, char **argv);

/* True when argv[i] is --help or -h anywhere in argv. */
int cli_wants_help(int argc, char **argv);

/* The log store's subcommands (cmd_keygen.c, cmd_log.c, cmd_files.c,
 * cmd_decrypt.c). */
int cmd_keygen(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_files(int argc, char **argv);
int cmd_decrypt(int argc, char **argv);
/* Subcommands: sharing (issue 5). */
int cmd_export(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_outbox(int argc, char **argv);
int cmd_watch(int argc, char **argv);

#endif
