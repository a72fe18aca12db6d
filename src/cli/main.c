/*
 * main.c - the logshare command line: dispatches to one cmd_*.c per
 * subcommand. The table below is the list `logshare --help` prints.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "logshare.h"

struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct cli_command commands[] = {
    {"keygen", cmd_keygen, "make a support key pair (PREFIX.key, PREFIX.pub)"},
    {"log", cmd_log, "write each stdin line as a record to a log store"},
    {"files", cmd_files, "list the log files that belong in a support request"},
    {"decrypt", cmd_decrypt, "print the records of log files"},
    {"export", cmd_export, "write one archive of a store's logs and a manifest"},
    {"report", cmd_report, "create a support ticket with a store's logs"},
    {"outbox", cmd_outbox, "list or send the reports waiting to be sent"},
    {"watch", cmd_watch, "wait for support's log requests, ask, upload"},
    {NULL, NULL, NULL},
};

static void print_usage(FILE *out)
{
    fprintf(out, "usage: logshare <command> [options]\n"
                 "       logshare --version | --help\n\n"
                 "Writes, reads and shares app logs for support.\n\n"
                 "commands:\n");
    for (const struct cli_command *c = commands; c->name; c++)
        fprintf(out, "  %-9s %s\n", c->name, c->summary);
    fprintf(out, "\n'logshare <command> --help' describes a command.\n"
                 "Exit status: 0 success, 1 failure, 2 usage error, 75 kept for later.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("logshare %s\n", logshare_version());
        return CLI_EXIT_OK;
    }
    for (const struct cli_command *c = commands; c->name; c++)
        if (strcmp(argv[1], c->name) == 0)
            return c->run(argc - 1, argv + 1);
    cli_error("unknown command '%s' (try 'logshare --help')", argv[1]);
    return CLI_EXIT_USAGE;
}
