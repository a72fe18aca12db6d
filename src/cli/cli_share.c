/*
 * cli_share.c - what `logshare export`, `report` and `outbox` share:
 * reading the token without putting it on the command line, the
 * terminal progress bar, failure lines and exit statuses (0 / 1 / 2 /
 * 75); `watch` uses the token and the TLS line.
 */
#include "cli_share.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* A token file that cannot be read is a failure of the run (exit 1),
 * not of the command line; one longer than any token is refused rather
 * than cut, which the server would only call a bad signature. */
static int read_token_file(const char *path, char **out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        cli_error("cannot read token file %s: %s", path, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    char *buf = malloc(CLI_TOKEN_MAX + 1);
    size_t n = buf ? fread(buf, 1, CLI_TOKEN_MAX + 1, f) : 0;
    int read_err = ferror(f);
    fclose(f);
    if (!buf || read_err) {
        cli_error("cannot read token file %s: %s", path, buf ? "read error" : strerror(ENOMEM));
        free(buf);
        return CLI_EXIT_FAILURE;
    }
    if (n > CLI_TOKEN_MAX) {
        cli_error("token file %s is longer than %d bytes: not a token", path, CLI_TOKEN_MAX);
        free(buf);
        return CLI_EXIT_FAILURE;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    if (n == 0) {
        cli_error("token file %s is empty", path);
        free(buf);
        return CLI_EXIT_FAILURE;
    }
    *out = buf;
    return CLI_EXIT_OK;
}

int cli_share_token(const char *token, const char *token_file, char **out)
{
    *out = NULL;
    const char *env = getenv("LOGSHARE_TOKEN");
    const char *given = token ? token : token_file ? NULL : env && *env ? env : NULL;
    if (!given && token_file)
        return read_token_file(token_file, out);
    if (!given) {
        cli_error("no token: give --token, --token-file or LOGSHARE_TOKEN");
        return CLI_EXIT_USAGE;
    }
    if (!(*out = strdup(given))) {
        cli_error("out of memory");
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void human(double bytes, char *out, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(out, len, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

int cli_progress_cb(void *user, uint64_t done, uint64_t total)
{
    cli_progress *p = user;
    long long now = now_ns();
    if (!p->started_ns)
        p->started_ns = now;
    int finished = total > 0 && done >= total;
    if (!finished && now - p->last_draw_ns < 100000000LL) /* 10 frames a second is plenty */
        return 0;
    if (finished && p->drawn == 2)
        return 0;
    p->last_draw_ns = now;
    double secs = (double)(now - p->started_ns) / 1e9;
    double rate = secs > 0.05 ? (double)done / secs : 0;
    char d[32], t[32], r[32], left[32] = "";
    human((double)done, d, sizeof d);
    human((double)total, t, sizeof t);
    human(rate, r, sizeof r);
    if (rate > 0 && total > done) {
        long s = (long)((double)(total - done) / rate);
        snprintf(left, sizeof left, "  %ld:%02ld left", s / 60, s % 60);
    }
    char bar[21];
    int fill = total ? (int)((double)done * 20 / (double)total) : 0;
    for (int i = 0; i < 20; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[20] = '\0';
    fprintf(stderr, "\r%s [%s] %s / %s  %s/s%s\033[K", p->label, bar, d, t, r, left);
    fflush(stderr);
    p->drawn = finished ? 2 : 1;
    return 0;
}

void cli_progress_end(cli_progress *p)
{
    if (p->drawn) {
        fputc('\n', stderr);
        p->drawn = 0;
    }
}

void cli_progress_install(logshare_share_options *opts, cli_progress *p, const char *label)
{
    memset(p, 0, sizeof *p);
    p->label = label;
    if (isatty(STDERR_FILENO))
        logshare_share_options_set_progress(opts, cli_progress_cb, p);
}

void cli_share_tls_failure(const char *what, const char *reason, const char *kept)
{
    cli_error("%s: the server's TLS certificate could not be verified (%s); nothing was "
              "sent. If the server uses a private CA, give it with --ca-file.%s%s",
              what, reason, kept && *kept ? " " : "", kept ? kept : "");
}

void cli_share_report_failure(const logshare_report_result *r, int st, const char *what,
                              const char *kept)
{
    const char *msg = logshare_report_result_error_message(r);
    const char *code = logshare_report_result_error_code(r);
    int http = logshare_report_result_http_status(r);
    if (st == LOGSHARE_ETLS)
        cli_share_tls_failure(what, msg ? msg : logshare_strerror(st), kept);
    else if (http == 0)
        cli_error("%s could not be sent (%s: %s); %s", what, code ? code : logshare_error_name(st),
                  msg ? msg : logshare_strerror(st), kept);
    else
        cli_error("%s was refused by the server (HTTP %d, %s: %s); %s", what, http,
                  code ? code : logshare_error_name(st), msg ? msg : logshare_strerror(st), kept);
}

int cli_share_exit(int err)
{
    if (err == 0)
        return CLI_EXIT_OK;
    if (err == LOGSHARE_EQUEUED)
        return CLI_EXIT_TEMPFAIL;
    return CLI_EXIT_FAILURE;
}
