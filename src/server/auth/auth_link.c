/*
 * auth_link.c - signed download links: HMAC-SHA256 under the link secret
 * over a versioned message naming the ticket, the attachment and the
 * expiry, so a signature for one file or one expiry is useless for any
 * other. Verification compares in constant time.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "auth_internal.h"
#include "logshare.h"
#include "ls_hex.h"

static int id_ok(const char *id)
{
    if (!id || !*id || strlen(id) > 128)
        return 0;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return 0;
    return 1;
}

static int link_mac(const struct auth *a, const char *tid, const char *aid, int64_t expires,
                    unsigned char mac[32])
{
    char msg[320];
    int n =
        snprintf(msg, sizeof msg, "logshare-link-v1\n%s\n%s\n%lld", tid, aid, (long long)expires);
    if (n < 0 || (size_t)n >= sizeof msg)
        return LOGSHARE_EINVAL;
    unsigned int len = 32;
    if (!HMAC(EVP_sha256(), a->link_secret, (int)a->link_secret_len, (unsigned char *)msg,
              (size_t)n, mac, &len) ||
        len != 32)
        return LOGSHARE_EINTERNAL;
    return 0;
}

int auth_link_sign(const struct auth *a, const char *ticket_id, const char *attachment_id,
                   int64_t expires_s, char sig_hex[AUTH_LINK_SIG_HEX_LEN + 1])
{
    if (!a || !sig_hex || !id_ok(ticket_id) || !id_ok(attachment_id) || expires_s < 0)
        return LOGSHARE_EINVAL;
    unsigned char mac[32];
    int rc = link_mac(a, ticket_id, attachment_id, expires_s, mac);
    if (rc == 0)
        ls_hex_encode(mac, sizeof mac, sig_hex);
    return rc;
}

int auth_link_verify(const struct auth *a, const char *ticket_id, const char *attachment_id,
                     const char *expires_text, const char *sig_hex, int64_t now_s,
                     const char **reason)
{
    const char *why = "bad link signature";
    unsigned char want[32], got[32];
    long long expires = 0;
    if (!a || !id_ok(ticket_id) || !id_ok(attachment_id) || !expires_text || !sig_hex)
        goto refuse;
    /* Strict decimal: "+5", " 5", "05" forms would sign the same message
     * as "5" and must not pass as distinct links; leading zeros refused. */
    size_t elen = strlen(expires_text);
    if (elen == 0 || elen > 18 || (elen > 1 && expires_text[0] == '0'))
        goto refuse;
    for (size_t i = 0; i < elen; i++) {
        if (expires_text[i] < '0' || expires_text[i] > '9')
            goto refuse;
        expires = expires * 10 + (expires_text[i] - '0');
    }
    if (strlen(sig_hex) != AUTH_LINK_SIG_HEX_LEN || ls_hex_decode(sig_hex, got, sizeof got) != 0)
        goto refuse;
    if (link_mac(a, ticket_id, attachment_id, expires, want) != 0 ||
        CRYPTO_memcmp(want, got, sizeof want) != 0)
        goto refuse;
    if (now_s > expires) {
        why = "link expired";
        goto refuse;
    }
    if (reason)
        *reason = NULL;
    return 0;
refuse:
    if (reason)
        *reason = why;
    return LOGSHARE_EAUTH;
}
