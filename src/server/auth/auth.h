/*
 * auth.h - who is calling: JWT bearer tokens, roles, signed download
 * links and dashboard passwords.
 *
 * Tokens (SPEC "HTTP API v1", Authentication). libjwt 1.10.2 takes the
 * algorithm from the token itself and does not check times, so
 * (PITFALLS, libjwt) this module:
 *  - pins ONE algorithm per configured key: HS256 with a shared secret
 *    (by default generated into <data-dir>/jwt-secret), or RS256 / ES256
 *    with a PEM public key;
 *  - reads the token's header and refuses any other "alg", "none"
 *    included, BEFORE the key is handed to libjwt (so an RSA public key
 *    can never be used as an HMAC secret: algorithm confusion);
 *  - requires "exp" and "sub", checks "nbf" and "iat" (not in the
 *    future), and "iss" / "aud" when configured, allowing a small clock
 *    skew.
 * Claim "role" is "user" (the default when absent), "support" or
 * "admin"; any other value refuses the token.
 *
 * Signed links hand one attachment to someone without an account: an
 * HMAC-SHA256, under a separate secret (<data-dir>/link-secret), over the
 * ticket id, the attachment id and the expiry. The link is
 *   /api/v1/tickets/{id}/attachments/{aid}?expires=<unix s>&sig=<hex>
 * (AUTH_LINK_PARAM_*), verified in constant time.
 *
 * Secrets are generated on first use with 256 random bits, written
 * atomically and durably with mode 0600.
 *
 * Thread safety: a struct auth is immutable once created; every function
 * taking a const struct auth * may be called from many threads at once.
 *
 * Errors: 0 or a negative LOGSHARE_E*. Every refused token or link is
 * LOGSHARE_EAUTH, with a short static reason for logs (never sent to the
 * client verbatim beyond the error message).
 */
#ifndef LOGSHARED_AUTH_H
#define LOGSHARED_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_JWT_SECRET_FILENAME "jwt-secret"
#define AUTH_LINK_SECRET_FILENAME "link-secret"
#define AUTH_LINK_PARAM_EXPIRES "expires"
#define AUTH_LINK_PARAM_SIG "sig"
#define AUTH_LINK_SIG_HEX_LEN 64
#define AUTH_USER_ID_MAX 255 /* longest accepted "sub", in bytes */
#define AUTH_DEFAULT_SKEW_S 60
#define AUTH_MAX_TOKEN_LEN 8192 /* longer bearer tokens are refused unparsed */

enum auth_role { AUTH_ROLE_USER = 0, AUTH_ROLE_SUPPORT = 1, AUTH_ROLE_ADMIN = 2 };

/* "user", "support", "admin". Static storage. */
const char *auth_role_name(enum auth_role role);
/* 0 and *role, or LOGSHARE_EINVAL. */
int auth_role_parse(const char *name, enum auth_role *role);

enum auth_algorithm { AUTH_ALG_HS256 = 0, AUTH_ALG_RS256 = 1, AUTH_ALG_ES256 = 2 };

/* Configuration, all borrowed during auth_new. */
struct auth_config {
    const char *data_dir;          /* required: where jwt-secret and link-secret live */
    enum auth_algorithm algorithm; /* AUTH_ALG_HS256 by default (zeroed struct) */
    /* HS256: the secret file (default <data_dir>/jwt-secret, created if
     * missing; an explicitly named file must exist). Its content, minus
     * trailing whitespace, is the HMAC key, so apps can be given it. */
    const char *secret_file;
    /* RS256 / ES256: a PEM public key file (required for those). */
    const char *public_key_file;
    const char *issuer;   /* NULL: "iss" not checked */
    const char *audience; /* NULL: "aud" not checked */
    int clock_skew_s;     /* 0: AUTH_DEFAULT_SKEW_S; negative: none */
};

/* The caller a token names. */
struct auth_identity {
    char user_id[AUTH_USER_ID_MAX + 1];
    enum auth_role role;
    int64_t expires_at; /* unix seconds */
};

struct auth;

/* Loads (or creates) the secrets and key, checks the configuration.
 * LOGSHARE_EINVAL for a bad configuration, EKEY for a key file that is
 * not a PEM public key of the configured algorithm's type. *out is the
 * caller's: auth_free it. */
int auth_new(const struct auth_config *cfg, struct auth **out);
/* NULL is a no-op. */
void auth_free(struct auth *a);

/* Verifies a compact JWT at time now_s (unix seconds). 0 and *id, or
 * LOGSHARE_EAUTH with *reason (may be NULL; static text such as
 * "token expired", "algorithm not allowed", "bad signature"). */
/* Seconds past a token's exp (and before its nbf) that it is still
 * accepted: a stream opened with it may last until exp plus this. */
int auth_clock_skew_s(const struct auth *a);

int auth_verify_token(const struct auth *a, const char *token, int64_t now_s,
                      struct auth_identity *id, const char **reason);

/* Same for the value of an Authorization header ("Bearer <jwt>", the
 * scheme case-insensitive). NULL or another scheme: LOGSHARE_EAUTH with
 * reason "missing bearer token". */
int auth_verify_header(const struct auth *a, const char *authorization, int64_t now_s,
                       struct auth_identity *id, const char **reason);

/* The rule for a token's subject (a user id), the same for tokens
 * verified and issued: 1 to AUTH_USER_ID_MAX bytes, no NUL and no
 * control characters (they would forge lines in logs and break the
 * JSON and headers the id is put in). NULL when user_id (len bytes) is
 * acceptable, else what is wrong, for a message. UTF-8 is checked by
 * the JSON layer. */
const char *auth_user_id_problem(const char *user_id, size_t len);

/* Issues an HS256 token for user_id with role, valid from now_s for
 * ttl_s seconds, with the configured iss / aud. user_id must pass
 * auth_user_id_problem (LOGSHARE_EINVAL otherwise). Only for an HS256
 * configuration (LOGSHARE_EUNSUPPORTED otherwise: with a public key the
 * private half is elsewhere). *token is the caller's to free. */
int auth_issue_token(const struct auth *a, const char *user_id, enum auth_role role, int64_t now_s,
                     int64_t ttl_s, char **token);

/* Signs a download link for one attachment, valid until expires_s (unix
 * seconds). sig_hex receives 64 hex digits and a NUL. EINVAL for ids
 * containing anything but [A-Za-z0-9_-]. */
int auth_link_sign(const struct auth *a, const char *ticket_id, const char *attachment_id,
                   int64_t expires_s, char sig_hex[AUTH_LINK_SIG_HEX_LEN + 1]);

/* Verifies a link's parameters at now_s: the signature in constant time,
 * then the expiry. expires_text is the raw query value (decimal). 0, or
 * LOGSHARE_EAUTH with *reason ("link expired", "bad link signature"). */
int auth_link_verify(const struct auth *a, const char *ticket_id, const char *attachment_id,
                     const char *expires_text, const char *sig_hex, int64_t now_s,
                     const char **reason);

/* ---- passwords (dashboard logins) ---------------------------------- */

/* Hashes a password with libsodium's crypto_pwhash_str (Argon2id,
 * interactive limits). *hash is the caller's to free. */
int auth_password_hash(const char *password, char **hash);
/* 0 when password matches hash, LOGSHARE_EAUTH when it does not. */
int auth_password_verify(const char *hash, const char *password);

/* ---- secrets ------------------------------------------------------- */

/* Reads the secret at path, or, when the file does not exist, creates it
 * (64 hex digits = 256 random bits, mode 0600, atomically and durably;
 * if another process wins the race, its secret is used). Trailing
 * whitespace is not part of the secret. *secret (NUL-terminated, *len
 * bytes) is the caller's to free. A secret under 32 bytes: LOGSHARE_EKEY. */
int auth_secret_load_or_create(const char *path, char **secret, size_t *len);

#endif
