/*
 * multipart_syntax.c - syntax helpers of the multipart parser (see
 * multipart_syntax.h) and the Content-Type boundary extraction
 * (multipart.h).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "http/multipart.h"
#include "http/multipart_syntax.h"
#include "ls_hex.h"
#include "logshare.h"

static int boundary_char_ok(unsigned char c)
{
    return isalnum(c) || strchr("'()+_,-./:=? ", c) != NULL;
}

int mp_boundary_ok(const char *b, size_t len)
{
    if (len < 1 || len > 70 || b[len - 1] == ' ')
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!boundary_char_ok((unsigned char)b[i]))
            return 0;
    return 1;
}

int multipart_boundary_from_content_type(const char *ct, char *out, size_t out_size)
{
    if (!ct)
        return LOGSHARE_EUNSUPPORTED;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    static const char type[] = "multipart/form-data";
    if (strncasecmp(ct, type, sizeof type - 1) != 0)
        return LOGSHARE_EUNSUPPORTED;
    const char *s = ct + sizeof type - 1;
    if (*s && *s != ';' && *s != ' ' && *s != '\t')
        return LOGSHARE_EUNSUPPORTED;
    int found = 0;
    while (*s) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s != ';')
            return found ? 0 : LOGSHARE_EINVAL;
        s++;
        while (*s == ' ' || *s == '\t')
            s++;
        const char *name = s;
        while (*s && *s != '=' && *s != ';')
            s++;
        size_t name_len = (size_t)(s - name);
        while (name_len && (name[name_len - 1] == ' ' || name[name_len - 1] == '\t'))
            name_len--;
        if (*s != '=')
            return LOGSHARE_EINVAL;
        s++;
        while (*s == ' ' || *s == '\t')
            s++;
        char val[80];
        size_t vlen = 0;
        if (*s == '"') {
            s++;
            while (*s && *s != '"') {
                if (*s == '\\' && s[1])
                    s++;
                if (vlen + 1 >= sizeof val)
                    return LOGSHARE_EINVAL;
                val[vlen++] = *s++;
            }
            if (*s != '"')
                return LOGSHARE_EINVAL;
            s++;
        } else {
            while (*s && *s != ';' && *s != ' ' && *s != '\t') {
                if (vlen + 1 >= sizeof val)
                    return LOGSHARE_EINVAL;
                val[vlen++] = *s++;
            }
        }
        val[vlen] = '\0';
        if (name_len == 8 && strncasecmp(name, "boundary", 8) == 0) {
            if (found || !mp_boundary_ok(val, vlen) || vlen + 1 > out_size)
                return LOGSHARE_EINVAL;
            memcpy(out, val, vlen + 1);
            found = 1;
        }
    }
    return found ? 0 : LOGSHARE_EINVAL;
}

int mp_is_token_char(unsigned char c)
{
    return c > 32 && c < 127 && !strchr("()<>@,;:\\\"/[]?={}", c);
}

/* Decodes a quoted-string body in place: backslash escapes of '"' and
 * '\', and the HTML form encoding %22 %0D %0A. Returns the new length. */
size_t mp_unquote(char *s, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\\' && i + 1 < len && (s[i + 1] == '"' || s[i + 1] == '\\')) {
            s[o++] = s[++i];
        } else if (s[i] == '%' && i + 2 < len && s[i + 1] == '2' && s[i + 2] == '2') {
            s[o++] = '"';
            i += 2;
        } else if (s[i] == '%' && i + 2 < len && s[i + 1] == '0' &&
                   (s[i + 2] == 'D' || s[i + 2] == 'd' || s[i + 2] == 'A' || s[i + 2] == 'a')) {
            s[o++] = (s[i + 2] == 'D' || s[i + 2] == 'd') ? '\r' : '\n';
            i += 2;
        } else {
            s[o++] = s[i];
        }
    }
    return o;
}

/* RFC 8187 ext-value: UTF-8'lang'percent-encoded. Decodes in place;
 * returns the new length or -1. */
long mp_decode_ext_value(char *s, size_t len)
{
    if (len < 7 || strncasecmp(s, "UTF-8'", 6) != 0)
        return -1;
    char *q = memchr(s + 6, '\'', len - 6);
    if (!q)
        return -1;
    size_t i = (size_t)(q - s) + 1, o = 0;
    for (; i < len; i++) {
        if (s[i] == '%') {
            if (i + 2 >= len || ls_hex_digit_value(s[i + 1]) < 0 ||
                ls_hex_digit_value(s[i + 2]) < 0)
                return -1;
            int byte = ls_hex_digit_value(s[i + 1]) * 16 + ls_hex_digit_value(s[i + 2]);
            if (byte == 0)
                return -1; /* a NUL would silently cut the name */
            s[o++] = (char)byte;
            i += 2;
        } else {
            s[o++] = s[i];
        }
    }
    return (long)o;
}
