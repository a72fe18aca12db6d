/*
 * api_filename.c - client file names, made safe (api.h). The name a
 * client sends is untrusted text: "../../etc/passwd", 10,000 characters,
 * control characters, invalid UTF-8. Blob keys never use it (they are
 * ids), so the name only needs to be safe as data (JSON, the database)
 * and, when we send it back, in a Content-Disposition header and on the
 * downloader's file system.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t avail)
{
    if (p[0] < 0x80)
        return 1;
    size_t n = (p[0] & 0xE0) == 0xC0   ? 2
               : (p[0] & 0xF0) == 0xE0 ? 3
               : (p[0] & 0xF8) == 0xF0 ? 4
                                       : 0;
    if (!n || n > avail)
        return 0;
    return api_utf8_valid((const char *)p, n) ? n : 0;
}

char *api_filename_preserve(const char *raw)
{
    size_t len = strlen(raw);
    char *out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)raw;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq(p + i, len - i);
        if (n == 0 || (n == 1 && (p[i] < 0x20 || p[i] == 0x7F))) {
            memcpy(out + o, "\xEF\xBF\xBD", 3); /* U+FFFD */
            o += 3;
            i += n ? n : 1;
        } else {
            memcpy(out + o, p + i, n);
            o += n;
            i += n;
        }
    }
    out[o] = '\0';
    return out;
}

void api_filename_safe(const char *name, char *out, size_t cap, char *ascii, size_t ascii_cap)
{
    const char *base = name;
    for (const char *s = name; *s; s++)
        if (*s == '/' || *s == '\\')
            base = s + 1;
    while (*base == '.' || *base == ' ')
        base++;
    size_t len = strlen(base), o = 0, limit = cap - 1 < 200 ? cap - 1 : 200;
    const unsigned char *p = (const unsigned char *)base;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq(p + i, len - i);
        /* Leading dots stay out even when a dropped byte hid them from
         * the loop above ("\xff.htaccess"). */
        if (n == 0 || (o == 0 && (p[i] == '.' || p[i] == ' '))) {
            i++;
            continue;
        }
        if (o + n > limit)
            break;
        if (n == 1 && (p[i] < 0x20 || p[i] == 0x7F || strchr("/\\:*?\"<>|%", p[i])))
            out[o++] = '_';
        else if (n == 3 && p[i] == 0xEF && p[i + 1] == 0xBF && p[i + 2] == 0xBD)
            out[o++] = '_';
        else
            memcpy(out + o, p + i, n), o += n;
        i += n;
    }
    while (o && (out[o - 1] == ' ' || out[o - 1] == '.'))
        o--;
    if (o == 0) {
        memcpy(out, "file", 4);
        o = 4;
    }
    out[o] = '\0';
    if (ascii && ascii_cap) {
        size_t a = 0;
        for (size_t i = 0; i < o && a + 1 < ascii_cap; i++)
            ascii[a++] = ((unsigned char)out[i] < 0x80) ? out[i] : '_';
        ascii[a] = '\0';
    }
}
