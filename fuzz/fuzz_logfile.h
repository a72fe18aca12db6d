/*
 * fuzz_logfile.h - the fixed key pair of the log file harness, shared
 * with the seed generator so the encrypted seeds open in the harness.
 */
#ifndef FUZZ_LOGFILE_H
#define FUZZ_LOGFILE_H

#include <sodium.h>

/* The secret key text (static storage); *pk its public key when pk is
 * not NULL. The pair is derived from a fixed seed: a test key only. */
const char *fuzz_logfile_keys(unsigned char pk[crypto_box_PUBLICKEYBYTES]);

#endif
