/*
 * blob_azure_sign.c - Shared Key authorization for the Azure blob store
 * ("Authorize with Shared Key", Blob service, versions 2009-09-19 and
 * later): the string to sign is the verb, eleven standard headers (each
 * "" when absent; Content-Length "" when zero), the canonicalized x-ms-*
 * headers and the canonicalized resource, and the signature is
 * base64(HMAC-SHA256(base64-decoded account key, UTF-8 of that string)).
 *
 * The canonicalized resource is "/" + account + the URL's encoded path,
 * then "\n" + name + ":" + value for each query parameter, sorted by name,
 * values decoded. With a path-style endpoint (Azurite) the path starts
 * with the account name itself, so it appears twice, as the emulator
 * expects. Range is not among the signed standard headers because we
 * send x-ms-range, which is signed as an x-ms-* header.
 */
#include "blob_azure_internal.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logshare.h"
#include "ls_buf.h"

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

static int param_cmp(const void *a, const void *b)
{
    return strcmp(((const struct az_param *)a)->name, ((const struct az_param *)b)->name);
}

static int append_canonical_resource(ls_buf *b, const char *account, const struct az_sign_input *in)
{
    struct az_param sorted[AZ_MAX_PARAMS];
    if (in->n_params > AZ_MAX_PARAMS)
        return LOGSHARE_EINVAL;
    memcpy(sorted, in->params, in->n_params * sizeof *sorted);
    qsort(sorted, in->n_params, sizeof *sorted, param_cmp);
    int rc = ls_buf_printf(b, "/%s%s", account, in->path);
    for (size_t i = 0; rc == 0 && i < in->n_params; i++)
        rc = ls_buf_printf(b, "\n%s:%s", sorted[i].name, sorted[i].value);
    return rc;
}

static int string_to_sign(ls_buf *b, const char *account, const struct az_sign_input *in)
{
    char length[24] = "";
    if (in->content_length > 0)
        snprintf(length, sizeof length, "%llu", (unsigned long long)in->content_length);
    /* verb, Content-Encoding, Content-Language, Content-Length,
     * Content-MD5, Content-Type, Date, If-Modified-Since, If-Match,
     * If-None-Match, If-Unmodified-Since, Range */
    int rc = ls_buf_printf(b, "%s\n\n\n%s\n\n%s\n\n\n%s\n%s\n\n\n", in->verb, length,
                           or_empty(in->content_type), or_empty(in->if_match),
                           or_empty(in->if_none_match));
    for (size_t i = 0; rc == 0 && i < in->n_xms; i++)
        rc = ls_buf_printf(b, "%s\n", in->xms[i]);
    return rc ? rc : append_canonical_resource(b, account, in);
}

#define AZ_SIG_B64_LEN                                                                             \
    sodium_base64_ENCODED_LEN(crypto_auth_hmacsha256_BYTES, sodium_base64_VARIANT_ORIGINAL)

/* out (AZ_SIG_B64_LEN bytes) = base64 of HMAC-SHA256(key, text): how
 * Azure signs both requests and SAS tokens. Frees text. */
static void hmac_base64(const unsigned char *key, size_t key_len, ls_buf *text, char *out)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, key_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)text->data, text->len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof st);
    ls_buf_free(text);
    sodium_bin2base64(out, AZ_SIG_B64_LEN, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
}

int az_sign(const unsigned char *key, size_t key_len, const char *account,
            const struct az_sign_input *in, char *out, size_t cap)
{
    ls_buf text = LS_BUF_INIT;
    int rc = string_to_sign(&text, account, in);
    if (rc) {
        ls_buf_free(&text);
        return rc;
    }
    char sig[AZ_SIG_B64_LEN];
    hmac_base64(key, key_len, &text, sig);
    int n = snprintf(out, cap, "SharedKey %s:%s", account, sig);
    return n < 0 || (size_t)n >= cap ? LOGSHARE_EINVAL : 0;
}

static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* By hand rather than strftime: %a and %b follow the locale, and HTTP
 * dates are always English. */
void az_date_format(int64_t unix_s, char out[30])
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, 30, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], (tm.tm_year + 1900) % 10000, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

int az_date_parse(const char *s, size_t len, int64_t *unix_s)
{
    /* "Sun, 06 Nov 1994 08:49:37 GMT": fixed width, 29 bytes. */
    if (len != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        s[19] != ':' || s[22] != ':' || s[25] != ' ' || memcmp(s + 26, "GMT", 3) != 0)
        return -1;
    struct tm tm = {0};
    int mon = -1;
    for (int i = 0; i < 12; i++)
        if (memcmp(s + 8, months[i], 3) == 0)
            mon = i;
    int year;
    if (mon < 0 || digits(s + 5, 2, &tm.tm_mday) || digits(s + 12, 4, &year) ||
        digits(s + 17, 2, &tm.tm_hour) || digits(s + 20, 2, &tm.tm_min) ||
        digits(s + 23, 2, &tm.tm_sec))
        return -1;
    if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60 ||
        year < 1970)
        return -1;
    tm.tm_mon = mon;
    tm.tm_year = year - 1900;
    *unix_s = (int64_t)timegm(&tm);
    return 0;
}

/* A read-only service SAS for one blob (versions 2020-12-06 and later):
 * the fields below, newline-separated, signed like a request with the
 * account key. Only permission r, resource b, an expiry and the
 * protocols are set; every other field is empty. */
int az_sas_signature(const unsigned char *key, size_t key_len, const char *account,
                     const char *container, const char *blob, const char *expiry,
                     const char *protocols, const char *version, char *out, size_t cap)
{
    ls_buf text = LS_BUF_INIT;
    /* sp, st, se, canonicalized resource, si, sip, spr, sv, sr,
     * snapshot time, ses, rscc, rscd, rsce, rscl, rsct */
    int rc = ls_buf_printf(&text, "r\n\n%s\n/blob/%s/%s/%s\n\n\n%s\n%s\nb\n\n\n\n\n\n\n", expiry,
                           account, container, blob, protocols, version);
    if (rc) {
        ls_buf_free(&text);
        return rc;
    }
    if (cap < AZ_SIG_B64_LEN) {
        ls_buf_free(&text);
        return LOGSHARE_EINVAL;
    }
    hmac_base64(key, key_len, &text, out);
    return 0;
}
