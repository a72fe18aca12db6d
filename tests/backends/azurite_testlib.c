/*
 * azurite_testlib.c - see azurite_testlib.h. Azurite prints
 * "successfully listens on http://127.0.0.1:PORT" once it accepts
 * connections; the helper polls its log (<dir>.log, a file rather than
 * a pipe, which Azurite would find closed once we stop reading) until
 * that line, so a test never sleeps for a guessed time.
 */
#include "azurite_testlib.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef AZURITE_BIN
#error "AZURITE_BIN must name tests/azurite/node_modules/.bin/azurite-blob"
#endif

int azurite_available(void)
{
    return access(AZURITE_BIN, X_OK) == 0;
}

static void run_child(const char *dir, const char *log)
{
    int out = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0)
        _exit(127);
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    execl(AZURITE_BIN, AZURITE_BIN, "--blobHost", "127.0.0.1", "--blobPort", "0", "--location", dir,
          "--silent", "--loose", (char *)NULL);
    _exit(127);
}

/* Polls the child's log until the listen line, its death or 60 s. */
static int wait_listening(const char *log, struct azurite *az)
{
    static const char mark[] = "listens on http://127.0.0.1:";
    char text[4096] = "";
    for (int i = 0; i < 60 * 20; i++) {
        FILE *f = fopen(log, "r");
        size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
        if (f)
            fclose(f);
        text[n] = '\0';
        const char *at = strstr(text, mark);
        if (at && strchr(at, '\n')) {
            az->port = atoi(at + strlen(mark));
            return az->port > 0 ? 0 : -1;
        }
        if (waitpid(az->pid, NULL, WNOHANG) == az->pid) {
            az->pid = 0;
            break;
        }
        struct timespec ts = {0, 50000000L};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "azurite did not start: %s\n", text);
    return -1;
}

int azurite_start(const char *dir, struct azurite *az)
{
    char log[4096];
    memset(az, 0, sizeof *az);
    snprintf(log, sizeof log, "%s.log", dir);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0)
        run_child(dir, log);
    az->pid = pid;
    if (wait_listening(log, az)) {
        azurite_stop(az);
        return -1;
    }
    snprintf(az->endpoint, sizeof az->endpoint, "http://127.0.0.1:%d/%s", az->port,
             AZURITE_ACCOUNT);
    return 0;
}

void azurite_stop(struct azurite *az)
{
    if (az->pid <= 0)
        return;
    kill(az->pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(az->pid, NULL, WNOHANG) == az->pid) {
            az->pid = 0;
            return;
        }
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
    kill(az->pid, SIGKILL);
    waitpid(az->pid, NULL, 0);
    az->pid = 0;
}
