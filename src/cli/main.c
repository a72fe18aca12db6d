/*
 * main.c - the logshare command line: dispatches to one cmd_*.c per
 * subcommand. The table below is the list `logshare --help` prints.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
    fprintf(out,
            "\n'logshare <command> --help' (or 'logshare help <command>') describes a command.\n"
            "Exit status: 0 success, 1 failure, 2 usage error, 75 kept for later.\n"
            "Output that cannot be written (a full disk, a closed stdout) is a failure;\n"
            "a reader that stops early (| head) ends the command quietly, as for cat.\n");
}

/* A closed 0, 1 or 2 would be handed to the next file we open (a key,
 * a log file, an archive), and printf would then write into it. Park
 * each on /dev/null opened the wrong way round, so that using it fails
 * loudly (EBADF) instead of succeeding silently. */
static void guard_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        int got = open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY);
        if (got != fd && got >= 0)
            close(got); /* a lower one was closed too: the loop gets to it */
    }
}

/* What a command printed is only printed once stdout took it: a full
 * disk, a closed descriptor or an I/O error must not end in exit 0. A
 * closed pipe (`| head`) ends the process by SIGPIPE before this, as it
 * does for cat and grep. */
static int finish_stdout(const char *cmd, int status)
{
    int flushed = fflush(stdout) == 0;
    if (flushed && !ferror(stdout))
        return status;
    /* After an earlier failed write errno no longer says why. */
    cli_error("%s: cannot write to standard output: %s", cmd,
              flushed ? "a write failed" : strerror(errno));
    return CLI_EXIT_FAILURE;
}

static int run(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "help") == 0 && argc == 3) {
        /* "logshare help CMD" is "logshare CMD --help" */
        for (const struct cli_command *c = commands; c->name; c++)
            if (strcmp(argv[2], c->name) == 0) {
                char *sub[] = {argv[2], "--help", NULL};
                return finish_stdout(c->name, c->run(2, sub));
            }
        cli_error("help: unknown command '%s' (try 'logshare --help')", argv[2]);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return finish_stdout("--help", CLI_EXIT_OK);
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("logshare %s\n", logshare_version());
        return finish_stdout("--version", CLI_EXIT_OK);
    }
    for (const struct cli_command *c = commands; c->name; c++)
        if (strcmp(argv[1], c->name) == 0)
            return finish_stdout(c->name, c->run(argc - 1, argv + 1));
    cli_error("unknown command '%s' (try 'logshare --help')", argv[1]);
    return CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    guard_std_fds();
    return run(argc, argv);
}
