/*
 * webhook_sign.h - the signature on every webhook logshared sends (log
 * requests here; the tracker's generic webhook may use it too).
 *
 * Headers on the POST:
 *   X-Logshare-Timestamp: <unix seconds>
 *   X-Logshare-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
 * The timestamp is inside the MAC so a captured request cannot be
 * replayed later than the receiver's tolerance; the receiver recomputes
 * the MAC over the raw body and compares in constant time.
 */
#ifndef WEBHOOK_SIGN_H
#define WEBHOOK_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define WEBHOOK_SIGNATURE_LEN (7 + 64 + 1) /* "sha256=" + hex + NUL */

/* Writes "sha256=<64 hex>" into out. 0 or LOGSHARE_EINVAL (no secret). */
int webhook_sign(const unsigned char *secret, size_t secret_len, int64_t timestamp,
                 const char *body, size_t body_len, char out[WEBHOOK_SIGNATURE_LEN]);

/* 1 when signature is right for (timestamp, body), in constant time. */
int webhook_verify(const unsigned char *secret, size_t secret_len, int64_t timestamp,
                   const char *body, size_t body_len, const char *signature);

#endif
