/*
 * auth_internal.h - private to src/server/auth: the state behind struct
 * auth and the helpers its files share.
 */
#ifndef LOGSHARED_AUTH_INTERNAL_H
#define LOGSHARED_AUTH_INTERNAL_H

#include <stddef.h>

#include "auth.h"

struct auth {
    enum auth_algorithm algorithm;
    unsigned char *key; /* HS256: the secret; RS256/ES256: the PEM text */
    size_t key_len;
    char *link_secret;
    size_t link_secret_len;
    char *issuer;   /* NULL: not checked */
    char *audience; /* NULL: not checked */
    int clock_skew_s;
};

/* Decodes unpadded base64url (RFC 7515 §2) into a new NUL-terminated
 * buffer. LOGSHARE_EINVAL on any other character or impossible length. */
int auth_b64url_decode(const char *in, size_t len, unsigned char **out, size_t *out_len);

#endif
