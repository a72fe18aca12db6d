/*
 * cli_share_args.h - the options that `logshare report`, `export`,
 * `outbox --send` and `watch` share (cli_share_args.c): where to send
 * (server, token, TLS), how (attempts, rate, files per request) and what
 * the ticket says (call ids, extra files, description, app, platform).
 *
 * Each command keeps its own getopt_long table and --help text; it lists
 * the shared entries it takes with CLI_SHARE_OPTS_CONNECT / _TRANSFER /
 * _CONTENT and hands every option to cli_share_args_parse first.
 * The option ids start at CLI_SHARE_OPT_BASE so they never collide with a
 * command's own enum (which starts at 1).
 */
#ifndef LOGSHARE_CLI_SHARE_ARGS_H
#define LOGSHARE_CLI_SHARE_ARGS_H

#include <getopt.h>

#include "logshare.h"

enum {
    CLI_SHARE_OPT_BASE = 0x100,
    CLI_SHARE_OPT_SERVER = CLI_SHARE_OPT_BASE,
    CLI_SHARE_OPT_TOKEN,
    CLI_SHARE_OPT_TOKEN_FILE,
    CLI_SHARE_OPT_CA,
    CLI_SHARE_OPT_ATTEMPTS,
    CLI_SHARE_OPT_MAX_RATE,
    CLI_SHARE_OPT_MAX_FILES,
    CLI_SHARE_OPT_CALL_ID,
    CLI_SHARE_OPT_FILE,
    CLI_SHARE_OPT_DESCRIPTION,
    CLI_SHARE_OPT_APP_VERSION,
    CLI_SHARE_OPT_PLATFORM
};

/* --server, --token, --token-file, --ca-file */
#define CLI_SHARE_OPTS_CONNECT                                                                     \
    {"server", required_argument, NULL, CLI_SHARE_OPT_SERVER},                                     \
        {"token", required_argument, NULL, CLI_SHARE_OPT_TOKEN},                                   \
        {"token-file", required_argument, NULL, CLI_SHARE_OPT_TOKEN_FILE},                         \
    {                                                                                              \
        "ca-file", required_argument, NULL, CLI_SHARE_OPT_CA                                       \
    }

/* --attempts, --max-rate, --max-files */
#define CLI_SHARE_OPTS_TRANSFER                                                                    \
    {"attempts", required_argument, NULL, CLI_SHARE_OPT_ATTEMPTS},                                 \
        {"max-rate", required_argument, NULL, CLI_SHARE_OPT_MAX_RATE},                             \
    {                                                                                              \
        "max-files", required_argument, NULL, CLI_SHARE_OPT_MAX_FILES                              \
    }

/* --call-id, --file (both repeatable, put on the options at once),
 * --description, --app-version, --platform */
#define CLI_SHARE_OPTS_CONTENT                                                                     \
    {"call-id", required_argument, NULL, CLI_SHARE_OPT_CALL_ID},                                   \
        {"file", required_argument, NULL, CLI_SHARE_OPT_FILE},                                     \
        {"description", required_argument, NULL, CLI_SHARE_OPT_DESCRIPTION},                       \
        {"app-version", required_argument, NULL, CLI_SHARE_OPT_APP_VERSION},                       \
    {                                                                                              \
        "platform", required_argument, NULL, CLI_SHARE_OPT_PLATFORM                                \
    }

/* What was given; the strings point into argv (nothing is owned). */
typedef struct cli_share_args {
    const char *server, *token, *token_file, *ca_file;
    int attempts;                /* default 4 */
    unsigned long long max_rate; /* bytes per second, 0: no cap */
    long max_files;              /* default 32 */
    const char *description, *app_version, *platform;
} cli_share_args;

/* Sets the defaults above. */
void cli_share_args_init(cli_share_args *a);

/* Takes option `opt` (a getopt_long value) with its argument; --call-id
 * and --file go straight onto opts (which may be NULL only when the
 * command's table has no CLI_SHARE_OPTS_CONTENT). Returns 1 when it was
 * one of the shared options and its value is good, 0 when it is not a
 * shared option (the caller handles it), -1 when the value is bad (a
 * one-line error naming `cmd` was printed: exit 2). */
int cli_share_args_parse(cli_share_args *a, logshare_share_options *opts, int opt, const char *arg,
                         const char *cmd);

/* Reads the token (cli_share_token) and sets the server on opts. On
 * success *token is the token (caller frees; opts keeps no pointer to it
 * being freed first) and the result is CLI_EXIT_OK; otherwise one line
 * was printed and the result is the exit status (CLI_EXIT_USAGE for a
 * missing token or a bad --server, CLI_EXIT_FAILURE for an unreadable
 * token file). */
int cli_share_args_connect(const cli_share_args *a, logshare_share_options *opts, const char *cmd,
                           char **token);

/* Puts the CA file, retries (500 ms first delay, 30 s cap), rate and
 * files-per-request limits on opts. */
void cli_share_args_apply_transfer(const cli_share_args *a, logshare_share_options *opts);

/* Puts description, app version and platform on opts. Returns 0, or -1
 * when one holds control characters (nothing printed: the caller says
 * it, with its other text options). */
int cli_share_args_apply_content(const cli_share_args *a, logshare_share_options *opts);

#endif
