/*
 * auth_password.c - dashboard passwords, hashed with Argon2id through
 * libsodium's crypto_pwhash_str (salt and parameters inside the string,
 * so limits can be raised later without invalidating stored hashes).
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "logshare.h"

#define PASSWORD_MAX_LEN 4096

int auth_password_hash(const char *password, char **hash)
{
    if (!password || !hash)
        return LOGSHARE_EINVAL;
    *hash = NULL;
    size_t len = strlen(password);
    if (len == 0 || len > PASSWORD_MAX_LEN)
        return LOGSHARE_EINVAL;
    if (sodium_init() < 0)
        return LOGSHARE_EINTERNAL;
    char *out = malloc(crypto_pwhash_STRBYTES);
    if (!out)
        return LOGSHARE_ENOMEM;
    if (crypto_pwhash_str(out, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        free(out);
        return LOGSHARE_ENOMEM; /* the only failure: the memory limit */
    }
    *hash = out;
    return 0;
}

int auth_password_verify(const char *hash, const char *password)
{
    if (!hash || !password)
        return LOGSHARE_EINVAL;
    size_t len = strlen(password);
    if (len > PASSWORD_MAX_LEN || sodium_init() < 0)
        return LOGSHARE_EAUTH;
    return crypto_pwhash_str_verify(hash, password, len) == 0 ? 0 : LOGSHARE_EAUTH;
}
