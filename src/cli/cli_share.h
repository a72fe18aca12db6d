/*
 * cli_share.h - option parsing and output shared by `logshare export`,
 * `report`, `outbox` and `watch` (cli_share.c).
 */
#ifndef LOGSHARE_CLI_SHARE_H
#define LOGSHARE_CLI_SHARE_H

#include "logshare.h"

/* Reads the token: --token wins, then --token-file, then $LOGSHARE_TOKEN.
 * On success *out is a new string (caller frees) and the result is
 * CLI_EXIT_OK. Otherwise *out is NULL, one line says why, and the result
 * is the exit status: CLI_EXIT_USAGE when no token was given at all,
 * CLI_EXIT_FAILURE when the token file cannot be read, is empty or is
 * longer than a token can be (CLI_TOKEN_MAX bytes). */
#define CLI_TOKEN_MAX 16384
int cli_share_token(const char *token, const char *token_file, char **out);

/* A progress bar on stderr (bytes, rate, time left), for
 * logshare_share_options_set_progress. Only installed when stderr is a
 * terminal: scripts and logs get no control characters. */
typedef struct cli_progress {
    const char *label;
    long long started_ns, last_draw_ns;
    int drawn;
} cli_progress;

int cli_progress_cb(void *user, uint64_t done, uint64_t total);
/* Ends the bar's line if one was drawn. */
void cli_progress_end(cli_progress *p);
/* Installs the bar on opts when stderr is a terminal. */
void cli_progress_install(logshare_share_options *opts, cli_progress *p, const char *label);

/* The one line on stderr for a server whose certificate does not verify
 * (LOGSHARE_ETLS): reason is curl's text, e.g. "self-signed
 * certificate"; it names --ca-file as the fix. kept (may be NULL or "")
 * is appended, as in cli_share_report_failure. */
void cli_share_tls_failure(const char *what, const char *reason, const char *kept);

/* One line on stderr for an item the library gave up on for good
 * (status st, neither sent nor kept for a retry): a certificate that
 * does not verify, a bad server URL, or the server's refusal. what
 * names the item ("the report", "outbox: 1795...-d4c5"); after it says
 * where the item is kept. */
void cli_share_report_failure(const logshare_report_result *r, int st, const char *what,
                              const char *kept);

/* Maps a report/outbox error to the CLI exit status. */
int cli_share_exit(int err);

#endif
