/*
 * fuzz_strings.c - fuzz harness for logshared's small parsers of raw
 * strings a client controls: the Range header (api_parse_range), the
 * ticket list cursor (ticket_cursor_decode), base64url of JWT segments
 * (auth_b64url_decode), addresses as X-Forwarded-For carries them
 * (http_valid_ip), uploaded file names (api_filename_preserve /
 * api_filename_safe), Content-Type (api_media_type_is), search text
 * turned into LIKE patterns (ticket_like_pattern) and the role / status
 * names of queries.
 *
 * Input layout: byte 0 picks the parser; for the Range header the next
 * 8 bytes (LE) are the file size; the rest is the string, cut at its
 * first NUL as the server sees header and query values. Each parser's
 * documented promise is checked on its output (see the checks below).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "auth_internal.h"
#include "http/server_internal.h"
#include "logshare.h"
#include "ticket_store_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_range(const char *h, uint64_t size)
{
    uint64_t off = 0, len = 0;
    int r = api_parse_range(h, size, &off, &len);
    if (r == 1 && (len == 0 || off >= size || len > size - off))
        abort();
    if (r < -1 || r > 1)
        abort();
}

static void check_cursor(const char *s)
{
    int64_t t, t2;
    char id[TICKET_ID_MAX], id2[TICKET_ID_MAX];
    char *enc = NULL;
    if (ticket_cursor_decode(s, &t, id) != 0)
        return;
    if (t < 0 || !ticket_id_valid(id) || ticket_cursor_encode(t, id, &enc) != 0 ||
        ticket_cursor_decode(enc, &t2, id2) != 0 || t2 != t || strcmp(id, id2) != 0)
        abort();
    free(enc);
}

static void check_b64url(const char *s, size_t n)
{
    unsigned char *out = NULL;
    size_t len = 0;
    if (auth_b64url_decode(s, n, &out, &len) != 0)
        return;
    if (len != n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) || out[len] != '\0')
        abort();
    free(out);
}

static int has_control(const unsigned char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

static void check_filename(const char *raw)
{
    char *kept = api_filename_preserve(raw);
    if (!kept)
        abort();
    if (!api_utf8_valid(kept, strlen(kept)) || has_control((const unsigned char *)kept))
        abort();
    free(kept);
    char out[256], ascii[256];
    api_filename_safe(raw, out, sizeof out, ascii, sizeof ascii);
    size_t n = strlen(out);
    if (n == 0 || n > 200 || !api_utf8_valid(out, n) || has_control((const unsigned char *)out) ||
        strpbrk(out, "/\\:*?\"<>|%") || out[0] == '.' || out[0] == ' ' || out[n - 1] == '.' ||
        out[n - 1] == ' ' || strlen(ascii) != n)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)ascii[i] >= 0x80)
            abort();
}

static void check_like(const char *q)
{
    char *pat = ticket_like_pattern(q);
    if (!pat)
        abort();
    /* Unescaped, the pattern is "%" q "%", and no % or _ is left bare. */
    size_t n = strlen(pat), o = 0;
    if (n < 2 || pat[0] != '%' || pat[n - 1] != '%')
        abort();
    for (size_t i = 1; i + 1 < n; i++) {
        char c = pat[i];
        if (c == '\\')
            c = pat[++i];
        else if (c == '%' || c == '_')
            abort();
        if (i + 1 >= n || q[o++] != c)
            abort();
    }
    if (q[o] != '\0')
        abort();
    free(pat);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned which = data[0] % 8;
    data++, size--;
    uint64_t fsize = 0;
    if (which == 0) {
        if (size < 8)
            return 0;
        for (int i = 7; i >= 0; i--)
            fsize = fsize << 8 | data[i];
        data += 8, size -= 8;
    }
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    size_t n = strlen(s);
    switch (which) {
    case 0:
        check_range(s, fsize);
        break;
    case 1:
        check_cursor(s);
        break;
    case 2:
        check_b64url(s, n);
        break;
    case 3:
        (void)http_valid_ip(s);
        break;
    case 4:
        check_filename(s);
        break;
    case 5:
        (void)api_media_type_is(s, "application/json");
        (void)api_media_type_is(s, "multipart/form-data");
        break;
    case 6:
        check_like(s);
        break;
    default: {
        enum auth_role role;
        enum ticket_status st;
        (void)auth_role_parse(s, &role);
        (void)ticket_status_parse(s, &st);
        (void)api_utf8_valid(s, n);
        break;
    }
    }
    free(s);
    return 0;
}

#ifdef FUZZ_REPLAY_MAIN
#include "fuzz_replay.h"
#endif
