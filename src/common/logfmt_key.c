/*
 * logfmt_key.c - the text form of support keys, as `logshare keygen`
 * writes them: "logshare-pk-1:" or "logshare-sk-1:" then the 32 key
 * bytes in standard base64, then a newline. The prefix names the kind
 * and version so a secret key pasted where a public key belongs is
 * refused instead of silently producing unreadable logs.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "logfmt.h"
#include "logshare.h"

#define PK_PREFIX "logshare-pk-1:"
#define SK_PREFIX "logshare-sk-1:"

static int key_parse(const char *text, const char *prefix, unsigned char out[32])
{
    if (!text)
        return LOGSHARE_EKEY;
    while (isspace((unsigned char)*text))
        text++;
    size_t plen = strlen(prefix);
    if (strncmp(text, prefix, plen) != 0)
        return LOGSHARE_EKEY;
    text += plen;
    size_t len = strlen(text);
    while (len > 0 && isspace((unsigned char)text[len - 1]))
        len--;
    size_t bin_len = 0;
    const char *end = NULL;
    if (sodium_base642bin(out, 32, text, len, NULL, &bin_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        bin_len != 32 || end != text + len)
        return LOGSHARE_EKEY;
    return 0;
}

int logfmt_public_key_parse(const char *text, unsigned char pk[crypto_box_PUBLICKEYBYTES])
{
    int rc = key_parse(text, PK_PREFIX, pk);
    if (rc != 0)
        return rc;
    /* Well-formed is not enough: a low-order point (all zeros, say)
     * makes every seal fail, so a store would open and then lose every
     * record. Sealing one byte is the test libsodium itself applies. */
    unsigned char m = 0, c[crypto_box_SEALBYTES + 1];
    if (sodium_init() < 0 || crypto_box_seal(c, &m, 1, pk) != 0) {
        sodium_memzero(pk, crypto_box_PUBLICKEYBYTES);
        return LOGSHARE_EKEY;
    }
    return 0;
}

int logfmt_secret_key_parse(const char *text, unsigned char sk[crypto_box_SECRETKEYBYTES],
                            unsigned char pk[crypto_box_PUBLICKEYBYTES])
{
    int rc = key_parse(text, SK_PREFIX, sk);
    if (rc == 0 && crypto_scalarmult_base(pk, sk) != 0)
        rc = LOGSHARE_EKEY;
    return rc;
}

static char *key_text(const char *prefix, const unsigned char key[32])
{
    size_t b64 = sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL);
    size_t plen = strlen(prefix);
    char *s = malloc(plen + b64 + 2);
    if (!s)
        return NULL;
    memcpy(s, prefix, plen);
    sodium_bin2base64(s + plen, b64, key, 32, sodium_base64_VARIANT_ORIGINAL);
    strcat(s, "\n");
    return s;
}

char *logfmt_public_key_text(const unsigned char pk[crypto_box_PUBLICKEYBYTES])
{
    return key_text(PK_PREFIX, pk);
}

char *logfmt_secret_key_text(const unsigned char sk[crypto_box_SECRETKEYBYTES])
{
    return key_text(SK_PREFIX, sk);
}
