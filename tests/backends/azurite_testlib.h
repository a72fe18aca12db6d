/*
 * azurite_testlib.h - starts and stops a real Azurite (Microsoft's Azure
 * Storage emulator, installed by scripts/bootstrap into tests/azurite)
 * for the Azure blob store tests: blob service only, on 127.0.0.1 and a
 * free port, its data in a directory of the caller's.
 */
#ifndef AZURITE_TESTLIB_H
#define AZURITE_TESTLIB_H

#include <sys/types.h>

/* Azurite's well-known development account (documented in its README). */
#define AZURITE_ACCOUNT "devstoreaccount1"
#define AZURITE_KEY                                                                                \
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

struct azurite {
    pid_t pid;
    int port;
    char endpoint[128]; /* http://127.0.0.1:PORT/devstoreaccount1 */
};

/* 1 when the Azurite binary is installed (scripts/bootstrap). */
int azurite_available(void);

/* Starts Azurite with its data in dir and waits (at most 60 s) until it
 * listens. 0, or -1 with a line on stderr. */
int azurite_start(const char *dir, struct azurite *az);

/* Stops it (SIGTERM, then SIGKILL after 10 s) and reaps it. */
void azurite_stop(struct azurite *az);

#endif
