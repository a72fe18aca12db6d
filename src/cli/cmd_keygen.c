/*
 * cmd_keygen.c - `logshare keygen --out PREFIX`: makes a support key
 * pair. PREFIX.key is the secret (mode 0600; keep it with support),
 * PREFIX.pub the public key apps encrypt their logs to. Prints the
 * public key. Never overwrites an existing key.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "logshare.h"

static void keygen_usage(FILE *out)
{
    fprintf(out, "usage: logshare keygen --out PREFIX\n\n"
                 "Writes a new support key pair: PREFIX.key (secret, mode 0600) and\n"
                 "PREFIX.pub (public), and prints the public key. Apps encrypt their\n"
                 "logs to the public key; only the secret key decrypts them.\n"
                 "Refuses to overwrite existing files.\n\n"
                 "  --out PREFIX   where to write the two files\n"
                 "  -h, --help     this help\n");
}

int cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *prefix = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            prefix = optarg;
            break;
        case 'h':
            keygen_usage(stdout);
            return CLI_EXIT_OK;
        default:
            cli_bad_option("keygen", c, argv);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        cli_error("keygen: unexpected argument '%s' (try --help)", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (!prefix || !*prefix) {
        cli_error("keygen: --out PREFIX is required (try --help)");
        return CLI_EXIT_USAGE;
    }
    /* PREFIX names files, not a directory: "keys/" would make the
     * hidden keys/.key and keys/.pub. */
    size_t plen = strlen(prefix);
    if (prefix[plen - 1] == '/') {
        cli_error("keygen: --out %s ends in '/': give a file name prefix, e.g. %ssupport", prefix,
                  prefix);
        return CLI_EXIT_USAGE;
    }
    const char *base = strrchr(prefix, '/');
    base = base ? base + 1 : prefix;
    if (plen + 4 >= PATH_MAX || strlen(base) + 4 > NAME_MAX) {
        cli_error("keygen: --out %.40s...: the file names would be too long", prefix);
        return CLI_EXIT_USAGE;
    }
    char *pub = NULL;
    int rc = logshare_keygen_files(prefix, &pub);
    if (rc != 0) {
        cli_error("keygen: cannot write %s.key / %s.pub: %s", prefix, prefix,
                  logshare_strerror(rc));
        return CLI_EXIT_FAILURE;
    }
    errno = 0;
    fputs(pub, stdout);
    logshare_string_free(pub);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        /* The files exist: say so, or a second try meets "file exists"
         * with no idea why. Cleared, as said here. */
        int err = errno;
        cli_error("keygen: %s.key and %s.pub were written, but the public key could not be "
                  "printed to standard output: %s",
                  prefix, prefix, err ? strerror(err) : "a write failed");
        clearerr(stdout);
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}
