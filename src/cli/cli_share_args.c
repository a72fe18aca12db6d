/*
 * cli_share_args.c - parsing and applying the options shared by
 * `logshare report`, `export`, `outbox --send` and `watch` (see
 * cli_share_args.h), so their limits and error lines stay the same in
 * every command.
 */
#include "cli_share_args.h"

#include <stdlib.h>

#include "cli.h"
#include "cli_share.h"

void cli_share_args_init(cli_share_args *a)
{
    *a = (cli_share_args){.attempts = 4, .max_rate = 0, .max_files = 32};
}

int cli_share_args_parse(cli_share_args *a, logshare_share_options *opts, int opt, const char *arg,
                         const char *cmd)
{
    char *end;
    switch (opt) {
    case CLI_SHARE_OPT_SERVER:
        a->server = arg;
        return 1;
    case CLI_SHARE_OPT_TOKEN:
        a->token = arg;
        return 1;
    case CLI_SHARE_OPT_TOKEN_FILE:
        a->token_file = arg;
        return 1;
    case CLI_SHARE_OPT_CA:
        a->ca_file = arg;
        return 1;
    case CLI_SHARE_OPT_MAX_FILES: {
        long n = strtol(arg, &end, 10);
        if (*end || n < 2 || n > 100000) {
            cli_error("%s: --max-files must be at least 2", cmd);
            return -1;
        }
        a->max_files = n;
        return 1;
    }
    case CLI_SHARE_OPT_MAX_RATE: {
        unsigned long long n = strtoull(arg, &end, 10);
        if (*end || arg[0] == '-') {
            cli_error("%s: --max-rate takes bytes per second", cmd);
            return -1;
        }
        a->max_rate = n;
        return 1;
    }
    case CLI_SHARE_OPT_ATTEMPTS: {
        long n = strtol(arg, &end, 10);
        if (*end || n < 1 || n > 100) {
            cli_error("%s: --attempts must be 1 to 100", cmd);
            return -1;
        }
        a->attempts = (int)n;
        return 1;
    }
    case CLI_SHARE_OPT_CALL_ID:
        if (logshare_share_options_add_call_id(opts, arg) != 0) {
            cli_error("%s: bad --call-id '%s'", cmd, arg);
            return -1;
        }
        return 1;
    case CLI_SHARE_OPT_FILE:
        if (logshare_share_options_add_file(opts, arg, NULL) != 0) {
            cli_error("%s: bad --file '%s'", cmd, arg);
            return -1;
        }
        return 1;
    case CLI_SHARE_OPT_DESCRIPTION:
        a->description = arg;
        return 1;
    case CLI_SHARE_OPT_APP_VERSION:
        a->app_version = arg;
        return 1;
    case CLI_SHARE_OPT_PLATFORM:
        a->platform = arg;
        return 1;
    default:
        return 0;
    }
}

int cli_share_args_connect(const cli_share_args *a, logshare_share_options *opts, const char *cmd,
                           char **token)
{
    int rc = cli_share_token(a->token, a->token_file, token);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (logshare_share_options_set_server(opts, a->server, *token) != 0) {
        cli_error("%s: bad --server '%s' (an http:// or https:// URL)", cmd, a->server);
        free(*token);
        *token = NULL;
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

void cli_share_args_apply_transfer(const cli_share_args *a, logshare_share_options *opts)
{
    logshare_share_options_set_ca_file(opts, a->ca_file);
    logshare_share_options_set_retry(opts, a->attempts, 500, 30000);
    logshare_share_options_set_max_send_rate(opts, a->max_rate);
    logshare_share_options_set_max_files_per_request(opts, (size_t)a->max_files);
}

int cli_share_args_apply_content(const cli_share_args *a, logshare_share_options *opts)
{
    if (logshare_share_options_set_description(opts, a->description) != 0 ||
        logshare_share_options_set_app(opts, a->app_version, a->platform) != 0)
        return -1;
    return 0;
}
