/*
 * blob_azure_list.c - reads the answer of List Blobs:
 *
 *   <EnumerationResults ...><Blobs>
 *     <Blob><Name>a/b</Name><Properties><Last-Modified>Www, DD Mmm YYYY
 *       HH:MM:SS GMT</Last-Modified><Content-Length>N</Content-Length>...
 *     </Properties>...</Blob>...
 *   </Blobs><NextMarker>opaque</NextMarker></EnumerationResults>
 *
 * Not a general XML parser: it finds the few elements it needs by name
 * inside each <Blob> element and ignores the rest. The answer comes
 * over the network, so it is untrusted: every search is bounded by the
 * buffer's end, a <Blob> without a name, a date or a size, or a page
 * without its closing </EnumerationResults> (a truncated answer) is
 * LOGSHARE_EIO, never a guess. Names are decoded from the five
 * predefined entities and numeric character references; a name Azure
 * had to encode (Encoded="true") cannot be one of our keys and is passed
 * on as it is, for the caller to skip as an invalid key.
 */
#include "blob_azure_internal.h"

#include <stdlib.h>
#include <string.h>

#include "logshare.h"

struct span {
    const char *p;
    size_t len;
};

/* The first occurrence of needle in [p, end), or NULL. */
static const char *find(const char *p, const char *end, const char *needle)
{
    size_t n = strlen(needle);
    while (p && (size_t)(end - p) >= n) {
        const char *hit = memchr(p, needle[0], (size_t)(end - p) - n + 1);
        if (!hit)
            return NULL;
        if (memcmp(hit, needle, n) == 0)
            return hit;
        p = hit + 1;
    }
    return NULL;
}

/* The text between <tag ...> and </tag> inside [p, end). An element
 * with attributes (<Name Encoded="true">) is found too; a self-closing
 * one (<tag/>) is empty. 0, or -1 when it is missing or not closed. */
static int element(const char *p, const char *end, const char *tag, struct span *out,
                   const char **after)
{
    char open[40], close[40];
    size_t tl = strlen(tag);
    if (tl + 4 > sizeof open)
        return -1;
    open[0] = '<';
    memcpy(open + 1, tag, tl);
    open[tl + 1] = '\0';
    close[0] = '<';
    close[1] = '/';
    memcpy(close + 2, tag, tl);
    close[tl + 2] = '>';
    close[tl + 3] = '\0';
    for (const char *s = find(p, end, open); s; s = find(s + 1, end, open)) {
        const char *q = s + tl + 1;
        if (q >= end)
            return -1;
        if (*q != '>' && *q != ' ' && *q != '/')
            continue; /* <NameX> is not <Name> */
        const char *gt = memchr(q, '>', (size_t)(end - q));
        if (!gt)
            return -1;
        if (gt[-1] == '/') {
            out->p = gt + 1;
            out->len = 0;
            if (after)
                *after = gt + 1;
            return 0;
        }
        const char *c = find(gt + 1, end, close);
        if (!c)
            return -1;
        out->p = gt + 1;
        out->len = (size_t)(c - out->p);
        if (after)
            *after = c + strlen(close);
        return 0;
    }
    return -1;
}

static int parse_u64(struct span s, uint64_t *v)
{
    if (s.len == 0 || s.len > 20)
        return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return -1;
        unsigned d = (unsigned)(s.p[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

/* Appends the UTF-8 of code point cp; -1 for what is not a character. */
static int put_utf8(char **o, unsigned long cp)
{
    unsigned char *u = (unsigned char *)*o;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    if (cp < 0x80) {
        *u++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *u++ = (unsigned char)(0xC0 | cp >> 6);
        *u++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *u++ = (unsigned char)(0xE0 | cp >> 12);
        *u++ = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        *u++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else {
        *u++ = (unsigned char)(0xF0 | cp >> 18);
        *u++ = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
        *u++ = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        *u++ = (unsigned char)(0x80 | (cp & 0x3F));
    }
    *o = (char *)u;
    return 0;
}

static int decode_reference(const char **pp, const char *end, char **o)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    const char *p = *pp + 1;
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        size_t n = strlen(named[i].name);
        if ((size_t)(end - p) >= n && memcmp(p, named[i].name, n) == 0) {
            *(*o)++ = named[i].c;
            *pp = p + n;
            return 0;
        }
    }
    if (p >= end || *p != '#')
        return -1;
    p++;
    int hex = p < end && *p == 'x';
    p += hex;
    unsigned long cp = 0;
    int n = 0;
    for (; p < end && *p != ';'; p++, n++) {
        int v = *p >= '0' && *p <= '9'          ? *p - '0'
                : hex && *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
                : hex && *p >= 'A' && *p <= 'F' ? *p - 'A' + 10
                                                : -1;
        if (v < 0 || n >= 8)
            return -1;
        cp = cp * (hex ? 16 : 10) + (unsigned long)v;
    }
    if (p >= end || n == 0 || put_utf8(o, cp))
        return -1;
    *pp = p + 1;
    return 0;
}

/* The element's text with its references decoded, malloc'ed. A decoded
 * text is never longer than its source. NULL on bad text or no memory. */
static char *decode_text(struct span s)
{
    char *out = malloc(s.len + 1), *o = out;
    if (!out)
        return NULL;
    const char *end = s.p + s.len;
    for (const char *p = s.p; p < end;) {
        if (*p == '&') {
            if (decode_reference(&p, end, &o))
                goto bad;
        } else if (*p == '<') {
            goto bad;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
bad:
    free(out);
    return NULL;
}

static int parse_blob(struct span blob, az_list_item_fn fn, void *arg)
{
    const char *end = blob.p + blob.len;
    struct span name, props, modified, length;
    int64_t mtime;
    uint64_t size;
    if (element(blob.p, end, "Name", &name, NULL) ||
        element(blob.p, end, "Properties", &props, NULL) ||
        element(props.p, props.p + props.len, "Last-Modified", &modified, NULL) ||
        element(props.p, props.p + props.len, "Content-Length", &length, NULL) ||
        az_date_parse(modified.p, modified.len, &mtime) || parse_u64(length, &size))
        return LOGSHARE_EIO;
    char *text = decode_text(name);
    if (!text)
        return LOGSHARE_EIO;
    int rc = fn(arg, text, mtime, size);
    free(text);
    return rc;
}

int az_list_parse(const char *xml, size_t len, az_list_item_fn fn, void *arg, char **next_marker)
{
    *next_marker = NULL;
    const char *end = xml + len;
    struct span results, blobs, marker = {NULL, 0};
    /* The whole answer must be there: a cut-off page would silently hide
     * the blobs after the cut. */
    if (element(xml, end, "EnumerationResults", &results, NULL))
        return LOGSHARE_EIO;
    const char *rend = results.p + results.len;
    if (element(results.p, rend, "Blobs", &blobs, NULL))
        return LOGSHARE_EIO;
    if (find(blobs.p + blobs.len, rend, "<NextMarker") &&
        element(blobs.p + blobs.len, rend, "NextMarker", &marker, NULL))
        return LOGSHARE_EIO;
    if (marker.len > 0 && !(*next_marker = decode_text(marker)))
        return LOGSHARE_EIO;
    const char *p = blobs.p, *bend = blobs.p + blobs.len;
    struct span blob;
    while (find(p, bend, "<Blob>") || find(p, bend, "<Blob ")) {
        const char *after;
        if (element(p, bend, "Blob", &blob, &after))
            goto bad;
        int rc = parse_blob(blob, fn, arg);
        if (rc) {
            free(*next_marker);
            *next_marker = NULL;
            return rc;
        }
        p = after;
    }
    return 0;
bad:
    free(*next_marker);
    *next_marker = NULL;
    return LOGSHARE_EIO;
}
