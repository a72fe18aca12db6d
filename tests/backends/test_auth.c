/*
 * test_auth.c - JWT verification with real keys (an HS256 secret from
 * the data dir; RSA and EC keys generated here with OpenSSL): valid
 * tokens pass; expired, early, forged, alg=none, algorithm-confused and
 * wrong-issuer/audience tokens are refused. Also signed links,
 * passwords, the generated secrets, and `logshared token` / `user add`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "auth_cli.h"
#include "backends_testlib.h"
#include "logshare.h"
#include "ls_fs.h"
#include "ticket_store.h"

struct fixture {
    char *dir;
    struct auth *auth; /* HS256 over the data dir's generated secret */
    char *secret;
    size_t secret_len;
    int64_t now;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = tmpdir_new();
    struct auth_config cfg = {.data_dir = f->dir};
    if (auth_new(&cfg, &f->auth) != 0)
        return -1;
    char *path = path_join(f->dir, AUTH_JWT_SECRET_FILENAME);
    int rc = auth_secret_load_or_create(path, &f->secret, &f->secret_len);
    free(path);
    f->now = (int64_t)time(NULL);
    *state = f;
    return rc;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    auth_free(f->auth);
    tmpdir_remove(f->dir);
    free(f->secret);
    free(f->dir);
    free(f);
    return 0;
}

/* ---- building tokens by hand --------------------------------------- */

static char *b64url(const void *data, size_t len)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *p = data;
    char *out = malloc(len * 4 / 3 + 4);
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = tbl[v >> 18];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = tbl[(v >> 6) & 63];
        out[o++] = tbl[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = tbl[v >> 18];
        out[o++] = tbl[(v >> 12) & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = tbl[v >> 18];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = tbl[(v >> 6) & 63];
    }
    out[o] = '\0';
    return out;
}

/* "<b64 header>.<b64 claims>.<sig>", the signature an HMAC-SHA256 under
 * key (any bytes: a secret, or an RSA public key for the confusion
 * attack), or empty when key is NULL. */
static char *hand_token(const char *header, const char *claims, const void *key, size_t key_len)
{
    char *h = b64url(header, strlen(header));
    char *c = b64url(claims, strlen(claims));
    size_t len = strlen(h) + strlen(c) + 2 + 64;
    char *signing = malloc(len);
    snprintf(signing, len, "%s.%s", h, c);
    char *sig = strdup("");
    if (key) {
        unsigned char mac[32];
        unsigned int mlen = 32;
        HMAC(EVP_sha256(), key, (int)key_len, (unsigned char *)signing, strlen(signing), mac,
             &mlen);
        free(sig);
        sig = b64url(mac, mlen);
    }
    char *tok = malloc(strlen(signing) + strlen(sig) + 2);
    sprintf(tok, "%s.%s", signing, sig);
    free(h);
    free(c);
    free(signing);
    free(sig);
    return tok;
}

static const char HS_HEADER[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static char *claims_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *claims_json(const char *fmt, ...)
{
    char *out;
    va_list ap;
    va_start(ap, fmt);
    assert_true(vasprintf(&out, fmt, ap) > 0);
    va_end(ap);
    return out;
}

/* Verifies and returns the reason (NULL when accepted). */
static const char *verify(struct auth *a, const char *token, int64_t now, struct auth_identity *id)
{
    const char *reason = "unset";
    struct auth_identity scratch;
    int rc = auth_verify_token(a, token, now, id ? id : &scratch, &reason);
    if (rc == 0) {
        assert_null(reason);
        return NULL;
    }
    assert_int_equal(rc, LOGSHARE_EAUTH);
    assert_non_null(reason);
    return reason;
}

static void expect_refused(struct auth *a, const char *token, int64_t now, const char *why)
{
    struct auth_identity id;
    const char *reason = verify(a, token, now, &id);
    assert_non_null(reason);
    if (why)
        assert_string_equal(reason, why);
    assert_string_equal(id.user_id, ""); /* nothing of a refused token leaks out */
}

/* ---- keys made with OpenSSL ---------------------------------------- */

/* Writes the public key PEM to dir/name and returns the private key PEM
 * (caller frees). */
static char *make_keypair(const char *dir, const char *name, int ec)
{
    EVP_PKEY *pkey = ec ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
    assert_non_null(pkey);
    char *path = path_join(dir, name);
    FILE *pub = fopen(path, "w");
    assert_non_null(pub);
    assert_true(PEM_write_PUBKEY(pub, pkey));
    fclose(pub);
    free(path);
    BIO *bio = BIO_new(BIO_s_mem());
    assert_true(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL));
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    char *priv = strndup(data, (size_t)n);
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    return priv;
}

/* A token signed by libjwt with a private key (RS256 / ES256). */
static char *signed_token(jwt_alg_t alg, const char *private_pem, const char *claims)
{
    jwt_t *jwt;
    assert_int_equal(jwt_new(&jwt), 0);
    assert_int_equal(jwt_add_grants_json(jwt, claims), 0);
    assert_int_equal(
        jwt_set_alg(jwt, alg, (const unsigned char *)private_pem, (int)strlen(private_pem)), 0);
    char *tok = jwt_encode_str(jwt);
    assert_non_null(tok);
    jwt_free(jwt);
    return tok;
}

/* ---- tests --------------------------------------------------------- */

static void issued_token_verifies_with_its_role(void **state)
{
    struct fixture *f = *state;
    char *tok = NULL;
    assert_int_equal(auth_issue_token(f->auth, "user-42", AUTH_ROLE_SUPPORT, f->now, 600, &tok), 0);
    struct auth_identity id;
    assert_null(verify(f->auth, tok, f->now, &id));
    assert_string_equal(id.user_id, "user-42");
    assert_int_equal(id.role, AUTH_ROLE_SUPPORT);
    assert_int_equal(id.expires_at, f->now + 600);
    char header[AUTH_MAX_TOKEN_LEN + 16];
    snprintf(header, sizeof header, "Bearer %s", tok);
    const char *reason;
    assert_int_equal(auth_verify_header(f->auth, header, f->now, &id, &reason), 0);
    snprintf(header, sizeof header, "bearer %s", tok);
    assert_int_equal(auth_verify_header(f->auth, header, f->now, &id, &reason), 0);
    snprintf(header, sizeof header, "Basic %s", tok);
    assert_int_equal(auth_verify_header(f->auth, header, f->now, &id, &reason), LOGSHARE_EAUTH);
    assert_string_equal(reason, "missing bearer token");
    assert_int_equal(auth_verify_header(f->auth, NULL, f->now, &id, &reason), LOGSHARE_EAUTH);
    free(tok);
    assert_int_equal(auth_issue_token(f->auth, "", AUTH_ROLE_USER, f->now, 600, &tok),
                     LOGSHARE_EINVAL);
    assert_int_equal(auth_issue_token(f->auth, "u", AUTH_ROLE_USER, f->now, 0, &tok),
                     LOGSHARE_EINVAL);
}

static void roles_default_to_user_and_unknown_roles_are_refused(void **state)
{
    struct fixture *f = *state;
    const struct {
        const char *role_claim;
        int ok;
        enum auth_role role;
    } cases[] = {
        {"", 1, AUTH_ROLE_USER},
        {",\"role\":\"user\"", 1, AUTH_ROLE_USER},
        {",\"role\":\"support\"", 1, AUTH_ROLE_SUPPORT},
        {",\"role\":\"admin\"", 1, AUTH_ROLE_ADMIN},
        {",\"role\":\"Admin\"", 0, 0},
        {",\"role\":\"root\"", 0, 0},
        {",\"role\":2", 0, 0},
        {",\"role\":[\"admin\"]", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *claims = claims_json("{\"sub\":\"u\",\"exp\":%lld%s}", (long long)f->now + 60,
                                   cases[i].role_claim);
        char *tok = hand_token(HS_HEADER, claims, f->secret, f->secret_len);
        struct auth_identity id;
        const char *reason = verify(f->auth, tok, f->now, &id);
        if (cases[i].ok) {
            assert_null(reason);
            assert_int_equal(id.role, cases[i].role);
        } else {
            assert_string_equal(reason, "unknown role");
        }
        free(tok);
        free(claims);
    }
    enum auth_role r;
    assert_int_equal(auth_role_parse("support", &r), 0);
    assert_int_equal(r, AUTH_ROLE_SUPPORT);
    assert_string_equal(auth_role_name(AUTH_ROLE_ADMIN), "admin");
    assert_int_equal(auth_role_parse("boss", &r), LOGSHARE_EINVAL);
}

static void times_are_checked_with_a_small_skew(void **state)
{
    struct fixture *f = *state;
    const long long now = f->now;
    const struct {
        const char *fmt;
        long long arg;
        const char *why; /* NULL: accepted */
    } cases[] = {
        {"{\"sub\":\"u\",\"exp\":%lld}", now - 3600, "token expired"},
        {"{\"sub\":\"u\",\"exp\":%lld}", now - 61, "token expired"},
        {"{\"sub\":\"u\",\"exp\":%lld}", now - 30, NULL}, /* within the skew */
        {"{\"sub\":\"u\",\"exp\":%lld.5}", now + 100, NULL},
        {"{\"sub\":\"u\",\"exp\":\"%lld\"}", now + 100, "bad exp claim"},
        {"{\"sub\":\"u\",\"iat\":%lld}", now, "token has no expiry"},
        {"{\"sub\":\"u\",\"exp\":9999999999,\"nbf\":%lld}", now + 3600, "token not yet valid"},
        {"{\"sub\":\"u\",\"exp\":9999999999,\"nbf\":%lld}", now + 30, NULL},
        {"{\"sub\":\"u\",\"exp\":9999999999,\"nbf\":%lld}", now - 30, NULL},
        {"{\"sub\":\"u\",\"exp\":9999999999,\"nbf\":\"x%lld\"}", now, "bad nbf claim"},
        {"{\"sub\":\"u\",\"exp\":9999999999,\"iat\":%lld}", now + 3600,
         "token issued in the future"},
        {"{\"sub\":\"u\",\"exp\":9999999999,\"iat\":%lld}", now - 3600, NULL},
        {"{\"exp\":%lld}", now + 60, "token has no subject"},
        {"{\"sub\":\"\",\"exp\":%lld}", now + 60, "bad subject"},
        {"{\"sub\":\"a\\u0000b\",\"exp\":%lld}", now + 60, "malformed token claims"},
        {"{\"sub\":\"a\",\"sub\":\"b\",\"exp\":%lld}", now + 60, "malformed token claims"},
        {"{\"sub\":\"a\\nb\",\"exp\":%lld}", now + 60, "bad subject"},
        {"{\"sub\":7,\"exp\":%lld}", now + 60, "token has no subject"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *claims = claims_json(cases[i].fmt, cases[i].arg);
        char *tok = hand_token(HS_HEADER, claims, f->secret, f->secret_len);
        const char *reason = verify(f->auth, tok, f->now, NULL);
        if (cases[i].why) {
            if (!reason || strcmp(reason, cases[i].why) != 0)
                fail_msg("case %zu (%s): got %s, want %s", i, claims, reason ? reason : "accepted",
                         cases[i].why);
        } else if (reason) {
            fail_msg("case %zu (%s): refused: %s", i, claims, reason);
        }
        free(tok);
        free(claims);
    }
    /* A subject of 256 bytes is over the limit. */
    char sub[300];
    memset(sub, 'x', 256);
    sub[256] = '\0';
    char *claims = claims_json("{\"sub\":\"%s\",\"exp\":%lld}", sub, now + 60);
    char *tok = hand_token(HS_HEADER, claims, f->secret, f->secret_len);
    expect_refused(f->auth, tok, f->now, "bad subject");
    free(tok);
    free(claims);
}

static void wrong_and_forged_signatures_are_refused(void **state)
{
    struct fixture *f = *state;
    char *claims = claims_json("{\"sub\":\"u\",\"exp\":%lld}", (long long)f->now + 60);
    const char other[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char *tok = hand_token(HS_HEADER, claims, other, strlen(other));
    expect_refused(f->auth, tok, f->now, "bad signature");
    free(tok);
    /* A real token whose claims are swapped for an admin's: the
     * signature no longer matches. */
    char *real = NULL;
    assert_int_equal(auth_issue_token(f->auth, "u", AUTH_ROLE_USER, f->now, 600, &real), 0);
    char *forged_claims =
        claims_json("{\"sub\":\"u\",\"role\":\"admin\",\"exp\":%lld}", (long long)f->now + 600);
    char *forged_payload = b64url(forged_claims, strlen(forged_claims));
    const char *dot1 = strchr(real, '.');
    const char *dot2 = strrchr(real, '.');
    char *forged = malloc(strlen(real) + strlen(forged_payload) + 1);
    sprintf(forged, "%.*s.%s%s", (int)(dot1 - real), real, forged_payload, dot2);
    expect_refused(f->auth, forged, f->now, "bad signature");
    /* And a flipped bit in the signature. */
    size_t last = strlen(real) - 2;
    real[last] = real[last] == 'A' ? 'B' : 'A';
    expect_refused(f->auth, real, f->now, "bad signature");
    free(forged);
    free(forged_payload);
    free(forged_claims);
    free(real);
    free(claims);
}

static void alg_none_and_other_algorithms_are_refused(void **state)
{
    struct fixture *f = *state;
    char *claims =
        claims_json("{\"sub\":\"u\",\"role\":\"admin\",\"exp\":%lld}", (long long)f->now + 60);
    const char *headers[] = {
        "{\"alg\":\"none\",\"typ\":\"JWT\"}",
        "{\"alg\":\"None\"}",
        "{\"alg\":\"NONE\"}",
        "{\"alg\":\"HS512\"}",
        "{\"alg\":\"hs256\"}",
        "{\"typ\":\"JWT\"}",
        "{\"alg\":null}",
        "{\"alg\":[\"HS256\"]}",
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char *unsigned_tok = hand_token(headers[i], claims, NULL, 0);
        expect_refused(f->auth, unsigned_tok, f->now, "algorithm not allowed");
        /* Even signed with the right secret, the algorithm is wrong. */
        char *signed_tok = hand_token(headers[i], claims, f->secret, f->secret_len);
        expect_refused(f->auth, signed_tok, f->now, "algorithm not allowed");
        free(unsigned_tok);
        free(signed_tok);
    }
    char *crit =
        hand_token("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", claims, f->secret, f->secret_len);
    expect_refused(f->auth, crit, f->now, "unsupported critical header");
    free(crit);
    /* Malformed shapes. */
    const char *junk[] = {"", "abc", "a.b", "a.b.c.d", "!!!.b.c", "e30.e30.", "bm90IGpzb24.e30.x"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        expect_refused(f->auth, junk[i], f->now, NULL);
    expect_refused(f->auth, NULL, f->now, "empty token");
    char *huge = malloc(AUTH_MAX_TOKEN_LEN + 2);
    memset(huge, 'a', AUTH_MAX_TOKEN_LEN + 1);
    huge[AUTH_MAX_TOKEN_LEN + 1] = '\0';
    expect_refused(f->auth, huge, f->now, "token too long");
    free(huge);
    free(claims);
}

static void rs256_server_refuses_hs256_signed_with_its_public_key(void **state)
{
    struct fixture *f = *state;
    char *priv = make_keypair(f->dir, "rsa.pub.pem", 0);
    char *pub_path = path_join(f->dir, "rsa.pub.pem");
    struct auth_config cfg = {
        .data_dir = f->dir, .algorithm = AUTH_ALG_RS256, .public_key_file = pub_path};
    struct auth *rs = NULL;
    assert_int_equal(auth_new(&cfg, &rs), 0);
    char *claims = claims_json("{\"sub\":\"mallory\",\"role\":\"admin\",\"exp\":%lld}",
                               (long long)f->now + 60);
    /* The genuine article passes. */
    char *good = signed_token(JWT_ALG_RS256, priv, claims);
    struct auth_identity id;
    assert_null(verify(rs, good, f->now, &id));
    assert_string_equal(id.user_id, "mallory");
    assert_int_equal(id.role, AUTH_ROLE_ADMIN);
    /* Algorithm confusion: HS256 with the public key's PEM (public, so
     * anyone has it) as the HMAC secret, with and without the final
     * newline. libjwt alone would accept this. */
    char *pem;
    size_t pem_len;
    assert_int_equal(ls_fs_read_file(pub_path, 65536, &pem, &pem_len), 0);
    char *confused = hand_token(HS_HEADER, claims, pem, pem_len);
    expect_refused(rs, confused, f->now, "algorithm not allowed");
    free(confused);
    confused = hand_token(HS_HEADER, claims, pem, pem_len - 1);
    expect_refused(rs, confused, f->now, "algorithm not allowed");
    free(confused);
    /* A token from another RSA key. */
    char *other_priv = make_keypair(f->dir, "other.pub.pem", 0);
    char *stranger = signed_token(JWT_ALG_RS256, other_priv, claims);
    expect_refused(rs, stranger, f->now, "bad signature");
    /* An RS256 server cannot mint tokens: its private key is elsewhere. */
    char *tok = (char *)1;
    assert_int_equal(auth_issue_token(rs, "u", AUTH_ROLE_USER, f->now, 60, &tok),
                     LOGSHARE_EUNSUPPORTED);
    assert_null(tok);
    /* And the HS256 server refuses the RS256 token. */
    expect_refused(f->auth, good, f->now, "algorithm not allowed");
    auth_free(rs);
    free(stranger);
    free(other_priv);
    free(good);
    free(pem);
    free(claims);
    free(pub_path);
    free(priv);
}

static void es256_tokens_verify_and_key_types_must_match(void **state)
{
    struct fixture *f = *state;
    char *priv = make_keypair(f->dir, "ec.pub.pem", 1);
    char *pub_path = path_join(f->dir, "ec.pub.pem");
    struct auth_config cfg = {
        .data_dir = f->dir, .algorithm = AUTH_ALG_ES256, .public_key_file = pub_path};
    struct auth *es = NULL;
    assert_int_equal(auth_new(&cfg, &es), 0);
    char *claims = claims_json("{\"sub\":\"dev-1\",\"exp\":%lld}", (long long)f->now + 60);
    char *good = signed_token(JWT_ALG_ES256, priv, claims);
    struct auth_identity id;
    assert_null(verify(es, good, f->now, &id));
    assert_string_equal(id.user_id, "dev-1");
    assert_int_equal(id.role, AUTH_ROLE_USER);
    char *pem;
    size_t pem_len;
    assert_int_equal(ls_fs_read_file(pub_path, 65536, &pem, &pem_len), 0);
    char *confused = hand_token(HS_HEADER, claims, pem, pem_len);
    expect_refused(es, confused, f->now, "algorithm not allowed");
    auth_free(es);
    /* An EC key configured for RS256 (and the reverse) is a
     * configuration error at start-up, not a silent refusal later. */
    cfg.algorithm = AUTH_ALG_RS256;
    struct auth *bad = (struct auth *)1;
    assert_int_equal(auth_new(&cfg, &bad), LOGSHARE_EKEY);
    assert_null(bad);
    char *rsa_priv = make_keypair(f->dir, "rsa2.pub.pem", 0);
    char *rsa_pub = path_join(f->dir, "rsa2.pub.pem");
    cfg.algorithm = AUTH_ALG_ES256;
    cfg.public_key_file = rsa_pub;
    assert_int_equal(auth_new(&cfg, &bad), LOGSHARE_EKEY);
    cfg.public_key_file = NULL;
    assert_int_equal(auth_new(&cfg, &bad), LOGSHARE_EINVAL);
    cfg.public_key_file = "/nonexistent/key.pem";
    assert_int_equal(auth_new(&cfg, &bad), LOGSHARE_ENOENT);
    free(rsa_pub);
    free(rsa_priv);
    free(confused);
    free(pem);
    free(good);
    free(claims);
    free(pub_path);
    free(priv);
}

static void issuer_and_audience_are_checked_when_configured(void **state)
{
    struct fixture *f = *state;
    struct auth_config cfg = {
        .data_dir = f->dir, .issuer = "https://id.example", .audience = "logshare"};
    struct auth *a = NULL;
    assert_int_equal(auth_new(&cfg, &a), 0);
    const long long exp = f->now + 60;
    const struct {
        const char *extra;
        const char *why;
    } cases[] = {
        {"", "wrong issuer"},
        {",\"iss\":\"https://evil.example\",\"aud\":\"logshare\"", "wrong issuer"},
        {",\"iss\":\"https://id.example\"", "wrong audience"},
        {",\"iss\":\"https://id.example\",\"aud\":\"other\"", "wrong audience"},
        {",\"iss\":\"https://id.example\",\"aud\":[\"other\",\"x\"]", "wrong audience"},
        {",\"iss\":\"https://id.example\",\"aud\":\"logshare\"", NULL},
        {",\"iss\":\"https://id.example\",\"aud\":[\"other\",\"logshare\"]", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *claims = claims_json("{\"sub\":\"u\",\"exp\":%lld%s}", exp, cases[i].extra);
        char *tok = hand_token(HS_HEADER, claims, f->secret, f->secret_len);
        const char *reason = verify(a, tok, f->now, NULL);
        if (cases[i].why)
            assert_string_equal(reason ? reason : "accepted", cases[i].why);
        else
            assert_null(reason);
        /* Without the configuration the same token is fine. */
        assert_null(verify(f->auth, tok, f->now, NULL));
        free(tok);
        free(claims);
    }
    char *issued = NULL;
    assert_int_equal(auth_issue_token(a, "u", AUTH_ROLE_USER, f->now, 60, &issued), 0);
    assert_null(verify(a, issued, f->now, NULL));
    free(issued);
    auth_free(a);
}

static void secrets_are_generated_once_private_and_shared(void **state)
{
    struct fixture *f = *state;
    char *path = path_join(f->dir, AUTH_JWT_SECRET_FILENAME);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(f->secret_len, 64);
    char *link_path = path_join(f->dir, AUTH_LINK_SECRET_FILENAME);
    assert_int_equal(stat(link_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *link = NULL;
    size_t link_len;
    assert_int_equal(auth_secret_load_or_create(link_path, &link, &link_len), 0);
    assert_string_not_equal(link, f->secret); /* two different secrets */
    /* A second instance over the same dir accepts the first's tokens. */
    struct auth_config cfg = {.data_dir = f->dir};
    struct auth *second = NULL;
    assert_int_equal(auth_new(&cfg, &second), 0);
    char *tok = NULL;
    assert_int_equal(auth_issue_token(f->auth, "u", AUTH_ROLE_USER, f->now, 60, &tok), 0);
    assert_null(verify(second, tok, f->now, NULL));
    auth_free(second);
    free(tok);
    /* An explicitly configured secret file must exist and be long. */
    cfg.secret_file = "/nonexistent/secret";
    struct auth *bad = NULL;
    assert_int_equal(auth_new(&cfg, &bad), LOGSHARE_ENOENT);
    char *short_path = path_join(f->dir, "short-secret");
    assert_int_equal(ls_fs_write_atomic(short_path, "tooshort\n", 9, 0600), 0);
    cfg.secret_file = short_path;
    assert_int_equal(auth_new(&cfg, &bad), LOGSHARE_EKEY);
    char *mine = path_join(f->dir, "my-secret");
    const char text[] = "a shared secret given to the app team, 40+ bytes long\n";
    assert_int_equal(ls_fs_write_atomic(mine, text, strlen(text), 0600), 0);
    cfg.secret_file = mine;
    assert_int_equal(auth_new(&cfg, &bad), 0);
    char *claims = claims_json("{\"sub\":\"u\",\"exp\":%lld}", (long long)f->now + 60);
    char *app_tok = hand_token(HS_HEADER, claims, text, strlen(text) - 1); /* minus newline */
    assert_null(verify(bad, app_tok, f->now, NULL));
    auth_free(bad);
    free(app_tok);
    free(claims);
    free(mine);
    free(short_path);
    free(link);
    free(link_path);
    free(path);
}

static void signed_links_verify_until_they_expire(void **state)
{
    struct fixture *f = *state;
    char tid[] = "tk_0190aabbccdd0123456789abcdef0123";
    char aid[] = "at_0190aabbccdd0123456789abcdef4567";
    char sig[AUTH_LINK_SIG_HEX_LEN + 1];
    int64_t exp = f->now + 300;
    char exp_text[32];
    snprintf(exp_text, sizeof exp_text, "%lld", (long long)exp);
    assert_int_equal(auth_link_sign(f->auth, tid, aid, exp, sig), 0);
    assert_int_equal(strlen(sig), 64);
    const char *reason;
    assert_int_equal(auth_link_verify(f->auth, tid, aid, exp_text, sig, f->now, &reason), 0);
    assert_int_equal(auth_link_verify(f->auth, tid, aid, exp_text, sig, exp, &reason), 0);
    assert_int_equal(auth_link_verify(f->auth, tid, aid, exp_text, sig, exp + 1, &reason),
                     LOGSHARE_EAUTH);
    assert_string_equal(reason, "link expired");
    /* Tampering with anything the signature covers. */
    char other_aid[] = "at_0190aabbccdd0123456789abcdef4568";
    assert_int_equal(auth_link_verify(f->auth, tid, other_aid, exp_text, sig, f->now, &reason),
                     LOGSHARE_EAUTH);
    assert_string_equal(reason, "bad link signature");
    char other_tid[] = "tk_0190aabbccdd0123456789abcdef0124";
    assert_int_equal(auth_link_verify(f->auth, other_tid, aid, exp_text, sig, f->now, &reason),
                     LOGSHARE_EAUTH);
    char later[32];
    snprintf(later, sizeof later, "%lld", (long long)exp + 86400);
    assert_int_equal(auth_link_verify(f->auth, tid, aid, later, sig, f->now, &reason),
                     LOGSHARE_EAUTH);
    assert_string_equal(reason, "bad link signature");
    char padded[40];
    snprintf(padded, sizeof padded, "0%s", exp_text);
    assert_int_equal(auth_link_verify(f->auth, tid, aid, padded, sig, f->now, &reason),
                     LOGSHARE_EAUTH);
    const char *bad_expiries[] = {"", "-1", "+5", " 5", "5x", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad_expiries / sizeof bad_expiries[0]; i++)
        assert_int_equal(auth_link_verify(f->auth, tid, aid, bad_expiries[i], sig, f->now, NULL),
                         LOGSHARE_EAUTH);
    char flipped[AUTH_LINK_SIG_HEX_LEN + 1];
    strcpy(flipped, sig);
    flipped[10] = flipped[10] == '0' ? '1' : '0';
    assert_int_equal(auth_link_verify(f->auth, tid, aid, exp_text, flipped, f->now, &reason),
                     LOGSHARE_EAUTH);
    assert_int_equal(auth_link_verify(f->auth, tid, aid, exp_text, "abc", f->now, NULL),
                     LOGSHARE_EAUTH);
    char upper[AUTH_LINK_SIG_HEX_LEN + 1];
    strcpy(upper, sig);
    upper[0] = 'G';
    assert_int_equal(auth_link_verify(f->auth, tid, aid, exp_text, upper, f->now, NULL),
                     LOGSHARE_EAUTH);
    /* Another server's link secret does not sign for this one. */
    char *dir2 = tmpdir_new();
    struct auth_config cfg = {.data_dir = dir2};
    struct auth *other = NULL;
    assert_int_equal(auth_new(&cfg, &other), 0);
    char sig2[AUTH_LINK_SIG_HEX_LEN + 1];
    assert_int_equal(auth_link_sign(other, tid, aid, exp, sig2), 0);
    assert_string_not_equal(sig, sig2);
    assert_int_equal(auth_link_verify(f->auth, tid, aid, exp_text, sig2, f->now, NULL),
                     LOGSHARE_EAUTH);
    auth_free(other);
    tmpdir_remove(dir2);
    free(dir2);
    assert_int_equal(auth_link_sign(f->auth, "tk/../x", aid, exp, sig), LOGSHARE_EINVAL);
    assert_int_equal(auth_link_sign(f->auth, tid, "a\nb", exp, sig), LOGSHARE_EINVAL);
}

static void passwords_hash_and_verify(void **state)
{
    (void)state;
    char *h1 = NULL, *h2 = NULL;
    assert_int_equal(auth_password_hash("correct horse battery", &h1), 0);
    assert_int_equal(auth_password_hash("correct horse battery", &h2), 0);
    assert_string_not_equal(h1, h2); /* salted */
    assert_int_equal(strncmp(h1, "$argon2id$", 10), 0);
    assert_int_equal(auth_password_verify(h1, "correct horse battery"), 0);
    assert_int_equal(auth_password_verify(h2, "correct horse battery"), 0);
    assert_int_equal(auth_password_verify(h1, "correct horse batterY"), LOGSHARE_EAUTH);
    assert_int_equal(auth_password_verify(h1, ""), LOGSHARE_EAUTH);
    assert_int_equal(auth_password_verify("garbage", "x"), LOGSHARE_EAUTH);
    char *h3 = NULL;
    assert_int_equal(auth_password_hash("", &h3), LOGSHARE_EINVAL);
    assert_null(h3);
    free(h1);
    free(h2);
}

/* Random damage to a valid token never crashes the verifier (this runs
 * under ASan too) and never yields another identity: a token is either
 * refused or, when the damage decodes to the same bytes (spare bits of
 * the last base64url digit), accepted as the very same caller. */
static void mutated_tokens_are_refused_or_unchanged(void **state)
{
    struct fixture *f = *state;
    char *tok = NULL;
    assert_int_equal(auth_issue_token(f->auth, "victim", AUTH_ROLE_SUPPORT, f->now, 600, &tok), 0);
    size_t len = strlen(tok);
    const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \\\"{}";
    unsigned seed = 12345;
    int rounds = sanitized() ? 1500 : 5000, accepted = 0;
    char *m = malloc(len + 8);
    for (int i = 0; i < rounds; i++) {
        memcpy(m, tok, len + 1);
        int edits = 1 + (int)(rand_r(&seed) % 3);
        size_t mlen = len;
        for (int e = 0; e < edits && mlen > 1; e++) {
            size_t pos = (size_t)rand_r(&seed) % mlen;
            switch (rand_r(&seed) % 3) {
            case 0: /* replace */
                m[pos] = alphabet[(size_t)rand_r(&seed) % (sizeof alphabet - 1)];
                break;
            case 1: /* delete */
                memmove(m + pos, m + pos + 1, mlen - pos);
                mlen--;
                break;
            default: /* truncate */
                m[pos] = '\0';
                mlen = pos;
                break;
            }
        }
        struct auth_identity id;
        const char *reason = NULL;
        int rc = auth_verify_token(f->auth, m, f->now, &id, &reason);
        if (rc == 0) {
            assert_string_equal(id.user_id, "victim");
            assert_int_equal(id.role, AUTH_ROLE_SUPPORT);
            accepted++;
        } else {
            assert_int_equal(rc, LOGSHARE_EAUTH);
            assert_non_null(reason);
        }
    }
    assert_true(accepted < rounds / 20);
    free(m);
    free(tok);
}

/* ---- the subcommands, run in a child with redirected stdio ---------- */

static int run_cli(int (*fn)(int, char **), char **argv, const char *stdin_text,
                   const char *out_path)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    char in_path[] = "/tmp/lsauth-in.XXXXXX";
    int in_fd = mkstemp(in_path);
    assert_true(in_fd >= 0);
    if (stdin_text)
        assert_int_equal(write(in_fd, stdin_text, strlen(stdin_text)), (ssize_t)strlen(stdin_text));
    close(in_fd);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen(in_path, "r", stdin) || !freopen(out_path, "w", stdout))
            _exit(99);
        int rc = fn(argc, argv);
        fflush(stdout);
        exit(rc);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    unlink(in_path);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void token_command_prints_a_verifiable_token(void **state)
{
    struct fixture *f = *state;
    char *out = path_join(f->dir, "token.out");
    char *argv[] = {"token",  "--data-dir", f->dir,  "--user", "alice",
                    "--role", "admin",      "--ttl", "120",    NULL};
    assert_int_equal(run_cli(logshared_cmd_token, argv, NULL, out), 0);
    char *tok;
    size_t len;
    assert_int_equal(ls_fs_read_file(out, 65536, &tok, &len), 0);
    assert_true(len > 10 && tok[len - 1] == '\n');
    tok[len - 1] = '\0';
    struct auth_identity id;
    assert_null(verify(f->auth, tok, f->now, &id));
    assert_string_equal(id.user_id, "alice");
    assert_int_equal(id.role, AUTH_ROLE_ADMIN);
    assert_true(id.expires_at >= f->now + 119 && id.expires_at <= f->now + 125);
    free(tok);
    /* A fresh data dir gets its secret created by the command. */
    char *fresh = path_join(f->dir, "fresh/data");
    char *argv2[] = {"token", "--data-dir", fresh, "--user", "bob", NULL};
    assert_int_equal(run_cli(logshared_cmd_token, argv2, NULL, out), 0);
    char *secret_path = path_join(fresh, AUTH_JWT_SECRET_FILENAME);
    struct stat st;
    assert_int_equal(stat(secret_path, &st), 0);
    free(secret_path);
    free(fresh);

    /* The server's own secret file, issuer and audience, by flag and by
     * the environment the server reads them from. */
    char *mine = path_join(f->dir, "server-secret");
    const char secret_text[] = "the server's configured shared secret, long enough\n";
    assert_int_equal(ls_fs_write_atomic(mine, secret_text, strlen(secret_text), 0600), 0);
    struct auth_config cfg = {
        .data_dir = f->dir, .secret_file = mine, .issuer = "iss-1", .audience = "aud-1"};
    struct auth *server = NULL;
    assert_int_equal(auth_new(&cfg, &server), 0);
    char *argv3[] = {"token", "--data-dir", f->dir,  "--user",     "carol", "--secret-file",
                     mine,    "--issuer",   "iss-1", "--audience", "aud-1", NULL};
    assert_int_equal(run_cli(logshared_cmd_token, argv3, NULL, out), 0);
    assert_int_equal(ls_fs_read_file(out, 65536, &tok, &len), 0);
    tok[len - 1] = '\0';
    assert_null(verify(server, tok, f->now, &id));
    assert_string_equal(id.user_id, "carol");
    expect_refused(f->auth, tok, f->now, "bad signature"); /* not the data dir's secret */
    free(tok);
    setenv("LOGSHARE_AUTH_SECRET_FILE", mine, 1);
    setenv("LOGSHARE_AUTH_ISSUER", "iss-1", 1);
    setenv("LOGSHARE_AUTH_AUDIENCE", "aud-1", 1);
    char *argv4[] = {"token", "--data-dir", f->dir, "--user", "dave", NULL};
    int rc = run_cli(logshared_cmd_token, argv4, NULL, out);
    unsetenv("LOGSHARE_AUTH_SECRET_FILE");
    unsetenv("LOGSHARE_AUTH_ISSUER");
    unsetenv("LOGSHARE_AUTH_AUDIENCE");
    assert_int_equal(rc, 0);
    assert_int_equal(ls_fs_read_file(out, 65536, &tok, &len), 0);
    tok[len - 1] = '\0';
    assert_null(verify(server, tok, f->now, &id));
    assert_string_equal(id.user_id, "dave");
    free(tok);
    auth_free(server);
    free(mine);

    char *usage[][12] = {
        {"token", "--data-dir", f->dir, NULL},
        {"token", "--user", "x", NULL},
        {"token", "--data-dir", f->dir, "--user", "x", "--role", "god", NULL},
        {"token", "--data-dir", f->dir, "--user", "x", "--ttl", "-5", NULL},
        {"token", "--data-dir", f->dir, "--user", "x", "--ttl", "12abc", NULL},
        {"token", "--data-dir", f->dir, "--user", "x", "--bogus", NULL},
        {"token", "--data-dir", NULL},
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++)
        assert_int_equal(run_cli(logshared_cmd_token, usage[i], NULL, out), 2);
    char *help[] = {"token", "--help", NULL};
    assert_int_equal(run_cli(logshared_cmd_token, help, NULL, out), 0);
    char *text;
    assert_int_equal(ls_fs_read_file(out, 65536, &text, &len), 0);
    assert_non_null(strstr(text, "--ttl"));
    free(text);
    free(out);
}

static void user_add_creates_a_login_from_stdin(void **state)
{
    struct fixture *f = *state;
    char *out = path_join(f->dir, "user.out");
    char *argv[] = {"user", "add", "agent1", "--role", "support", "--data-dir", f->dir, NULL};
    assert_int_equal(run_cli(logshared_cmd_user, argv, "s3cret-pass\n", out), 0);
    char *db = path_join(f->dir, TICKET_STORE_SQLITE_FILENAME);
    struct ticket_store *ts = NULL;
    assert_int_equal(ticket_store_sqlite_open(db, NULL, &ts), 0);
    struct ticket_user *u = NULL;
    assert_int_equal(ticket_store_user_get(ts, "agent1", &u), 0);
    assert_string_equal(u->role, "support");
    assert_int_equal(auth_password_verify(u->password_hash, "s3cret-pass"), 0);
    assert_int_equal(auth_password_verify(u->password_hash, "s3cret-pass\n"), LOGSHARE_EAUTH);
    ticket_user_free(u);
    /* Taken name, short password: failure, and the first login intact. */
    assert_int_equal(run_cli(logshared_cmd_user, argv, "another-pass\n", out), 1);
    char *argv2[] = {"user", "add", "agent2", "--role", "admin", "--data-dir", f->dir, NULL};
    assert_int_equal(run_cli(logshared_cmd_user, argv2, "short\n", out), 1);
    assert_int_equal(run_cli(logshared_cmd_user, argv2, "", out), 1);
    assert_int_equal(ticket_store_user_get(ts, "agent2", &u), LOGSHARE_ENOENT);
    assert_int_equal(ticket_store_user_get(ts, "agent1", &u), 0);
    assert_int_equal(auth_password_verify(u->password_hash, "s3cret-pass"), 0);
    ticket_user_free(u);
    ticket_store_destroy(ts);
    char *usage[][10] = {
        {"user", NULL},
        {"user", "remove", "x", NULL},
        {"user", "add", "x", "--data-dir", f->dir, NULL},
        {"user", "add", "--role", "support", "--data-dir", f->dir, NULL},
        {"user", "add", "x", "--role", "czar", "--data-dir", f->dir, NULL},
        {"user", "add", "x", "y", "--role", "support", "--data-dir", f->dir, NULL},
        {"user", "add", "x", "--role", NULL},
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++)
        assert_int_equal(run_cli(logshared_cmd_user, usage[i], "password123\n", out), 2);
    /* Another database, named by URL. */
    char *elsewhere = path_join(f->dir, "elsewhere.db");
    char url[600];
    snprintf(url, sizeof url, "sqlite:%s", elsewhere);
    char *argv3[] = {"user",       "add",  "agent3",     "--role", "admin",
                     "--data-dir", f->dir, "--database", url,      NULL};
    assert_int_equal(run_cli(logshared_cmd_user, argv3, "password-three\n", out), 0);
    assert_int_equal(ticket_store_open_url(url, NULL, 1, &ts), 0);
    assert_int_equal(ticket_store_user_get(ts, "agent3", &u), 0);
    assert_string_equal(u->role, "admin");
    ticket_user_free(u);
    ticket_store_destroy(ts);
    free(elsewhere);
    char *help[] = {"user", "add", "--help", NULL};
    assert_int_equal(run_cli(logshared_cmd_user, help, NULL, out), 0);
    free(db);
    free(out);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(issued_token_verifies_with_its_role),
        T(roles_default_to_user_and_unknown_roles_are_refused),
        T(times_are_checked_with_a_small_skew),
        T(wrong_and_forged_signatures_are_refused),
        T(alg_none_and_other_algorithms_are_refused),
        T(rs256_server_refuses_hs256_signed_with_its_public_key),
        T(es256_tokens_verify_and_key_types_must_match),
        T(issuer_and_audience_are_checked_when_configured),
        T(secrets_are_generated_once_private_and_shared),
        T(signed_links_verify_until_they_expire),
        T(mutated_tokens_are_refused_or_unchanged),
        cmocka_unit_test(passwords_hash_and_verify),
        T(token_command_prints_a_verifiable_token),
        T(user_add_creates_a_login_from_stdin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
