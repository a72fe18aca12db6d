/* webhook_sign.c - HMAC-SHA256 webhook signatures (see webhook_sign.h). */
#include "webhook_sign.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "logshare.h"
#include "ls_hex.h"

int webhook_sign(const unsigned char *secret, size_t secret_len, int64_t timestamp,
                 const char *body, size_t body_len, char out[WEBHOOK_SIGNATURE_LEN])
{
    if (!secret || secret_len == 0)
        return LOGSHARE_EINVAL;
    char ts[24];
    int n = snprintf(ts, sizeof ts, "%lld.", (long long)timestamp);
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&st, secret, secret_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, (unsigned long long)n);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, body_len);
    crypto_auth_hmacsha256_final(&st, mac);
    memcpy(out, "sha256=", 7);
    ls_hex_encode(mac, sizeof mac, out + 7);
    return 0;
}

int webhook_verify(const unsigned char *secret, size_t secret_len, int64_t timestamp,
                   const char *body, size_t body_len, const char *signature)
{
    char want[WEBHOOK_SIGNATURE_LEN];
    if (!signature || strlen(signature) != WEBHOOK_SIGNATURE_LEN - 1 ||
        webhook_sign(secret, secret_len, timestamp, body, body_len, want))
        return 0;
    return sodium_memcmp(want, signature, WEBHOOK_SIGNATURE_LEN - 1) == 0;
}
