/*
 * auth.c - JWT bearer tokens: configuration, verification, issuing.
 *
 * The order of checks in auth_verify_token is the point of this file
 * (PITFALLS, libjwt 1.10.2):
 *  1. shape: three base64url segments, bounded length;
 *  2. the header, decoded by us: "alg" must be exactly the configured
 *     algorithm, and no "crit" extensions, BEFORE libjwt sees the key
 *     (libjwt would verify HS256 with whatever bytes it is given, so an
 *     RSA public key would become an HMAC secret); "typ" JWT or absent;
 *     every segment in its one canonical base64url form;
 *  3. the signature, by libjwt, and its algorithm checked again (the
 *     claims are parsed before, only to report malformed ones clearly);
 *  4. the claims, by us (libjwt checks no times): exp required, nbf, iat,
 *     iss, aud, sub, role.
 */
#include <jansson.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth_internal.h"
#include "logshare.h"
#include "ls_fs.h"

#define PUBLIC_KEY_MAX_FILE 65536

static const char *const role_names[] = {"user", "support", "admin"};
static const char *const alg_names[] = {"HS256", "RS256", "ES256"};
static const jwt_alg_t alg_libjwt[] = {JWT_ALG_HS256, JWT_ALG_RS256, JWT_ALG_ES256};

const char *auth_role_name(enum auth_role role)
{
    if ((int)role < 0 || (size_t)role >= sizeof role_names / sizeof role_names[0])
        return "unknown";
    return role_names[role];
}

int auth_role_parse(const char *name, enum auth_role *role)
{
    for (size_t i = 0; name && i < sizeof role_names / sizeof role_names[0]; i++) {
        if (strcmp(name, role_names[i]) == 0) {
            *role = (enum auth_role)i;
            return 0;
        }
    }
    return LOGSHARE_EINVAL;
}

int auth_b64url_decode(const char *in, size_t len, unsigned char **out, size_t *out_len)
{
    if (len % 4 == 1)
        return LOGSHARE_EINVAL;
    unsigned char *buf = malloc(len / 4 * 3 + 3 + 1);
    if (!buf)
        return LOGSHARE_ENOMEM;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        int v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '-')
            v = 62;
        else if (c == '_')
            v = 63;
        else {
            free(buf);
            return LOGSHARE_EINVAL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Bits left over past the last byte must be zero (RFC 4648 3.5):
     * otherwise several strings decode to the same bytes, and a token
     * could be altered and still verify. */
    if (acc != 0) {
        free(buf);
        return LOGSHARE_EINVAL;
    }
    buf[o] = '\0';
    *out = buf;
    *out_len = o;
    return 0;
}

/* Checks the public key's type against the pinned algorithm, so a
 * misconfiguration fails at start-up rather than on every request. */
static int check_public_key(enum auth_algorithm alg, const unsigned char *pem, size_t len)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        return LOGSHARE_ENOMEM;
    EVP_PKEY *pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!pkey)
        return LOGSHARE_EKEY;
    int rc = 0;
    if (alg == AUTH_ALG_RS256) {
        if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA || EVP_PKEY_get_bits(pkey) < 2048)
            rc = LOGSHARE_EKEY;
    } else {
        char group[64] = "";
        size_t glen = 0;
        if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC ||
            !EVP_PKEY_get_group_name(pkey, group, sizeof group, &glen) ||
            strcmp(group, "prime256v1") != 0)
            rc = LOGSHARE_EKEY;
    }
    EVP_PKEY_free(pkey);
    return rc;
}

static char *join_path(const char *dir, const char *name)
{
    size_t len = strlen(dir) + 1 + strlen(name) + 1;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s/%s", dir, name);
    return p;
}

int auth_new(const struct auth_config *cfg, struct auth **out)
{
    if (!cfg || !out || !cfg->data_dir || !*cfg->data_dir)
        return LOGSHARE_EINVAL;
    *out = NULL;
    if ((int)cfg->algorithm < AUTH_ALG_HS256 || cfg->algorithm > AUTH_ALG_ES256)
        return LOGSHARE_EINVAL;
    if (cfg->algorithm != AUTH_ALG_HS256 && !cfg->public_key_file)
        return LOGSHARE_EINVAL;
    struct auth *a = calloc(1, sizeof *a);
    if (!a)
        return LOGSHARE_ENOMEM;
    a->algorithm = cfg->algorithm;
    a->clock_skew_s = cfg->clock_skew_s == 0  ? AUTH_DEFAULT_SKEW_S
                      : cfg->clock_skew_s < 0 ? 0
                                              : cfg->clock_skew_s;
    int rc = 0;
    if ((cfg->issuer && !(a->issuer = strdup(cfg->issuer))) ||
        (cfg->audience && !(a->audience = strdup(cfg->audience)))) {
        rc = LOGSHARE_ENOMEM;
        goto fail;
    }
    char *path = join_path(cfg->data_dir, AUTH_LINK_SECRET_FILENAME);
    if (!path) {
        rc = LOGSHARE_ENOMEM;
        goto fail;
    }
    rc = auth_secret_load_or_create(path, &a->link_secret, &a->link_secret_len);
    free(path);
    if (rc != 0)
        goto fail;
    if (cfg->algorithm == AUTH_ALG_HS256) {
        char *secret = NULL;
        size_t len = 0;
        if (cfg->secret_file) {
            /* A named secret must exist: generating one there would hide a
             * typo in the configuration behind "every token refused". */
            rc = ls_fs_read_file(cfg->secret_file, 4096, &secret, &len);
            if (rc == 0) {
                free(secret);
                rc = auth_secret_load_or_create(cfg->secret_file, &secret, &len);
            }
        } else {
            path = join_path(cfg->data_dir, AUTH_JWT_SECRET_FILENAME);
            rc = path ? auth_secret_load_or_create(path, &secret, &len) : LOGSHARE_ENOMEM;
            free(path);
        }
        if (rc != 0)
            goto fail;
        a->key = (unsigned char *)secret;
        a->key_len = len;
    } else {
        char *pem = NULL;
        size_t len = 0;
        rc = ls_fs_read_file(cfg->public_key_file, PUBLIC_KEY_MAX_FILE, &pem, &len);
        if (rc != 0)
            goto fail;
        a->key = (unsigned char *)pem;
        a->key_len = len;
        if ((rc = check_public_key(cfg->algorithm, a->key, a->key_len)) != 0)
            goto fail;
    }
    *out = a;
    return 0;
fail:
    auth_free(a);
    return rc;
}

void auth_free(struct auth *a)
{
    if (!a)
        return;
    if (a->key)
        OPENSSL_cleanse(a->key, a->key_len);
    if (a->link_secret)
        OPENSSL_cleanse(a->link_secret, a->link_secret_len);
    free(a->key);
    free(a->link_secret);
    free(a->issuer);
    free(a->audience);
    free(a);
}

/* Decodes one base64url JSON object segment. NULL on any error. */
static json_t *decode_segment(const char *seg, size_t len)
{
    unsigned char *raw;
    size_t raw_len;
    if (auth_b64url_decode(seg, len, &raw, &raw_len) != 0)
        return NULL;
    json_t *obj = json_loadb((const char *)raw, raw_len, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (obj && !json_is_object(obj)) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

/* Whether a signature segment is non-empty, unpadded, canonical base64url. */
static int signature_segment_ok(const char *seg, size_t len)
{
    unsigned char *raw;
    size_t raw_len;
    if (len == 0 || auth_b64url_decode(seg, len, &raw, &raw_len) != 0)
        return 0;
    free(raw);
    return 1;
}

/* A NumericDate claim (RFC 7519 §2): 0 and *v, 1 when absent, -1 when
 * present but not a number. */
static int numeric_claim(json_t *claims, const char *name, int64_t *v)
{
    json_t *j = json_object_get(claims, name);
    if (!j)
        return 1;
    if (json_is_integer(j)) {
        *v = (int64_t)json_integer_value(j);
        return 0;
    }
    if (json_is_real(j)) {
        double d = json_real_value(j);
        if (d != d || d > 9.2e18 || d < -9.2e18)
            return -1;
        *v = (int64_t)d;
        return 0;
    }
    return -1;
}

static int audience_matches(json_t *aud, const char *want)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    if (json_is_array(aud)) {
        size_t i;
        json_t *v;
        json_array_foreach(aud, i, v)
        {
            if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
                return 1;
        }
    }
    return 0;
}

static const char *check_claims(const struct auth *a, json_t *claims, int64_t now,
                                struct auth_identity *id)
{
    int64_t exp, nbf, iat;
    int r = numeric_claim(claims, "exp", &exp);
    if (r != 0)
        return r > 0 ? "token has no expiry" : "bad exp claim";
    /* exp may be anything up to INT64_MAX: exp + skew could overflow */
    if (exp < now - a->clock_skew_s)
        return "token expired";
    if ((r = numeric_claim(claims, "nbf", &nbf)) < 0)
        return "bad nbf claim";
    if (r == 0 && now + a->clock_skew_s < nbf)
        return "token not yet valid";
    if ((r = numeric_claim(claims, "iat", &iat)) < 0)
        return "bad iat claim";
    if (r == 0 && iat > now + a->clock_skew_s)
        return "token issued in the future";
    if (a->issuer) {
        json_t *iss = json_object_get(claims, "iss");
        if (!json_is_string(iss) || strcmp(json_string_value(iss), a->issuer) != 0)
            return "wrong issuer";
    }
    if (a->audience && !audience_matches(json_object_get(claims, "aud"), a->audience))
        return "wrong audience";
    json_t *sub = json_object_get(claims, "sub");
    if (!json_is_string(sub))
        return "token has no subject";
    const char *s = json_string_value(sub);
    size_t slen = json_string_length(sub);
    if (auth_user_id_problem(s, slen))
        return "bad subject";
    enum auth_role role = AUTH_ROLE_USER;
    json_t *jrole = json_object_get(claims, "role");
    if (jrole && (!json_is_string(jrole) || auth_role_parse(json_string_value(jrole), &role) != 0))
        return "unknown role";
    memcpy(id->user_id, s, slen + 1);
    id->role = role;
    id->expires_at = exp;
    return NULL;
}

int auth_clock_skew_s(const struct auth *a)
{
    return a->clock_skew_s;
}

int auth_verify_token(const struct auth *a, const char *token, int64_t now_s,
                      struct auth_identity *id, const char **reason)
{
    const char *why = NULL;
    json_t *header = NULL, *claims = NULL;
    jwt_t *jwt = NULL;
    if (!a || !id) {
        if (reason)
            *reason = "internal error";
        return LOGSHARE_EINVAL;
    }
    memset(id, 0, sizeof *id);
    size_t len = token ? strnlen(token, AUTH_MAX_TOKEN_LEN + 1) : 0;
    const char *dot1 = token ? memchr(token, '.', len) : NULL;
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (len == 0 || len > AUTH_MAX_TOKEN_LEN) {
        why = len ? "token too long" : "empty token";
        goto refuse;
    }
    if (!dot1 || !dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token))) {
        why = "malformed token";
        goto refuse;
    }
    header = decode_segment(token, (size_t)(dot1 - token));
    if (!header) {
        why = "malformed token header";
        goto refuse;
    }
    json_t *alg = json_object_get(header, "alg");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), alg_names[a->algorithm]) != 0) {
        why = "algorithm not allowed";
        goto refuse;
    }
    if (json_object_get(header, "crit")) {
        why = "unsupported critical header";
        goto refuse;
    }
    /* libjwt refuses any "typ" but JWT (any case) and would call it a bad
     * signature: say what is wrong instead. */
    json_t *typ = json_object_get(header, "typ");
    if (typ && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0)) {
        why = "unsupported token type (typ must be JWT or absent)";
        goto refuse;
    }
    /* libjwt decodes an RS256 / ES256 signature leniently (it stops at the
     * first character outside base64, takes '+', '/' and '='): only the
     * one exact base64url form of the signature is accepted. */
    if (!signature_segment_ok(dot2 + 1, len - (size_t)(dot2 + 1 - token))) {
        why = "malformed token signature";
        goto refuse;
    }
    /* Parsed before the signature check only to give a precise reason;
     * nothing in it is trusted until libjwt has verified the signature.
     * Duplicate claims are refused so no parser can read another value. */
    claims = decode_segment(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (!claims) {
        why = "malformed token claims";
        goto refuse;
    }
    if (jwt_decode(&jwt, token, a->key, (int)a->key_len) != 0 || !jwt) {
        why = "bad signature";
        goto refuse;
    }
    if (jwt_get_alg(jwt) != alg_libjwt[a->algorithm]) {
        why = "algorithm not allowed";
        goto refuse;
    }
    why = check_claims(a, claims, now_s, id);
    if (why)
        goto refuse;
    json_decref(header);
    json_decref(claims);
    jwt_free(jwt);
    if (reason)
        *reason = NULL;
    return 0;
refuse:
    memset(id, 0, sizeof *id);
    json_decref(header);
    json_decref(claims);
    jwt_free(jwt);
    if (reason)
        *reason = why;
    return LOGSHARE_EAUTH;
}

int auth_verify_header(const struct auth *a, const char *authorization, int64_t now_s,
                       struct auth_identity *id, const char **reason)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0) {
        if (id)
            memset(id, 0, sizeof *id);
        if (reason)
            *reason = "missing bearer token";
        return LOGSHARE_EAUTH;
    }
    /* The field value's trailing whitespace is not part of it (RFC 9110
     * 5.5), but libmicrohttpd 0.9.75 keeps it: without this a token with
     * a trailing space would fail as a bad signature. */
    const char *token = authorization + 7;
    while (*token == ' ' || *token == '\t')
        token++;
    size_t len = strlen(token); /* bounded by libmicrohttpd's header memory */
    while (len > 0 && (token[len - 1] == ' ' || token[len - 1] == '\t'))
        len--;
    if (len > AUTH_MAX_TOKEN_LEN)
        return auth_verify_token(a, token, now_s, id, reason); /* refused as too long */
    char trimmed[AUTH_MAX_TOKEN_LEN + 1];
    memcpy(trimmed, token, len);
    trimmed[len] = '\0';
    return auth_verify_token(a, trimmed, now_s, id, reason);
}

const char *auth_user_id_problem(const char *user_id, size_t len)
{
    if (len == 0 || len > AUTH_USER_ID_MAX)
        return "must be 1 to 255 bytes";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)user_id[i];
        if (c == 0)
            return "must not contain a NUL byte";
        if (c < 0x20 || c == 0x7f)
            return "must not contain control characters (tab, newline, ...)";
    }
    return NULL;
}

int auth_issue_token(const struct auth *a, const char *user_id, enum auth_role role, int64_t now_s,
                     int64_t ttl_s, char **token)
{
    /* a token its own server would refuse ("bad subject") helps no one */
    if (!a || !user_id || auth_user_id_problem(user_id, strlen(user_id)) || !token || ttl_s <= 0 ||
        (int)role < 0 || role > AUTH_ROLE_ADMIN)
        return LOGSHARE_EINVAL;
    *token = NULL;
    if (a->algorithm != AUTH_ALG_HS256)
        return LOGSHARE_EUNSUPPORTED;
    jwt_t *jwt = NULL;
    if (jwt_new(&jwt) != 0)
        return LOGSHARE_ENOMEM;
    int bad = jwt_add_grant(jwt, "sub", user_id) ||
              jwt_add_grant(jwt, "role", auth_role_name(role)) ||
              jwt_add_grant_int(jwt, "iat", (long)now_s) ||
              jwt_add_grant_int(jwt, "exp", (long)(now_s + ttl_s)) ||
              (a->issuer && jwt_add_grant(jwt, "iss", a->issuer)) ||
              (a->audience && jwt_add_grant(jwt, "aud", a->audience)) ||
              jwt_set_alg(jwt, JWT_ALG_HS256, a->key, (int)a->key_len);
    if (!bad)
        *token = jwt_encode_str(jwt);
    jwt_free(jwt);
    return *token ? 0 : LOGSHARE_ENOMEM;
}
