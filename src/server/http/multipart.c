/*
 * multipart.c - the streaming multipart/form-data parser (see multipart.h).
 *
 * Design: a byte-driven state machine. The part body is scanned for the
 * delimiter "\r\n--" + boundary: first for a CR LF pair (16 bytes at a
 * time with SSE2 where available: random file bytes have a CR every 256
 * bytes but a CR LF only every 64 KiB, so a memchr for CR stopped ~4,000
 * times per MiB), then with a running match length. Because RFC 2046
 * boundary characters never include CR, a failed partial match can only
 * restart at 0 (or at 1 on a new '\r'), so no KMP table is needed and
 * the held-back bytes are always a prefix of the delimiter itself: they
 * are re-emitted from the delimiter, never copied. Part headers are the
 * only thing buffered, capped by max_header_bytes.
 */
#include "http/multipart.h"

#include <ctype.h>
#include <stdarg.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "http/multipart_syntax.h"
#include "logshare.h"

enum mp_state {
    MP_PREAMBLE,   /* before the first delimiter (discarded) */
    MP_DELIM_TAIL, /* right after a delimiter: "--", padding or CRLF */
    MP_CLOSE_DASH, /* saw one '-' after the delimiter */
    MP_PADDING,    /* transport padding after the delimiter */
    MP_DELIM_LF,   /* saw CR after the delimiter line */
    MP_HEADERS,    /* collecting part headers */
    MP_BODY,       /* inside a part's content */
    MP_EPILOGUE,   /* after the closing delimiter (discarded) */
    MP_ERROR
};

struct multipart_parser {
    multipart_limits limits;
    multipart_callbacks cb;
    void *ctx;
    enum mp_state state;
    char delim[80]; /* "\r\n--" + boundary */
    size_t delim_len;
    size_t match; /* how much of delim matched so far */
    char *hdr;    /* header bytes of the current part */
    size_t hdr_len;
    size_t parts;
    size_t files;
    int in_file;
    uint64_t part_bytes;
    uint64_t total;
    int err;
    char errmsg[160];
};

void multipart_limits_default(multipart_limits *l)
{
    l->max_parts = 96;
    l->max_files = 32;
    l->max_header_bytes = 16 * 1024;
    l->max_field_bytes = 64 * 1024;
    l->max_file_bytes = (uint64_t)2 << 30;
    l->max_total_bytes = (uint64_t)2 << 30;
}

static int fail(multipart_parser *p, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(multipart_parser *p, int err, const char *fmt, ...)
{
    if (p->state != MP_ERROR) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->errmsg, sizeof p->errmsg, fmt, ap);
        va_end(ap);
        p->err = err;
        p->state = MP_ERROR;
    }
    return p->err;
}

multipart_parser *multipart_parser_new(const char *boundary, const multipart_limits *limits,
                                       const multipart_callbacks *callbacks, void *ctx)
{
    size_t blen = boundary ? strlen(boundary) : 0;
    if (!mp_boundary_ok(boundary ? boundary : "", blen) || !callbacks)
        return NULL;
    multipart_parser *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    multipart_limits_default(&p->limits);
    if (limits) {
        if (limits->max_parts)
            p->limits.max_parts = limits->max_parts;
        if (limits->max_files)
            p->limits.max_files = limits->max_files;
        if (limits->max_header_bytes)
            p->limits.max_header_bytes = limits->max_header_bytes;
        if (limits->max_field_bytes)
            p->limits.max_field_bytes = limits->max_field_bytes;
        if (limits->max_file_bytes)
            p->limits.max_file_bytes = limits->max_file_bytes;
        if (limits->max_total_bytes)
            p->limits.max_total_bytes = limits->max_total_bytes;
    }
    p->hdr = malloc(p->limits.max_header_bytes + 1);
    if (!p->hdr) {
        free(p);
        return NULL;
    }
    p->cb = *callbacks;
    p->ctx = ctx;
    memcpy(p->delim, "\r\n--", 4);
    memcpy(p->delim + 4, boundary, blen);
    p->delim_len = 4 + blen;
    p->state = MP_PREAMBLE;
    p->match = 2; /* the body may open with "--boundary": a virtual CRLF precedes it */
    return p;
}

void multipart_parser_free(multipart_parser *p)
{
    if (!p)
        return;
    free(p->hdr);
    free(p);
}

const char *multipart_parser_error(const multipart_parser *p)
{
    return p->errmsg;
}

uint64_t multipart_parser_bytes(const multipart_parser *p)
{
    return p->total;
}

/* Hands part content to the caller, enforcing the per-part cap. */
static int emit(multipart_parser *p, const char *data, size_t len)
{
    if (len == 0)
        return 0;
    p->part_bytes += len;
    if (p->in_file ? p->part_bytes > p->limits.max_file_bytes
                   : p->part_bytes > p->limits.max_field_bytes)
        return fail(p, LOGSHARE_ETOOLARGE, "%s larger than %llu bytes",
                    p->in_file ? "a file" : "a field",
                    (unsigned long long)(p->in_file ? p->limits.max_file_bytes
                                                    : p->limits.max_field_bytes));
    int rc = p->cb.part_data ? p->cb.part_data(p->ctx, data, len) : 0;
    if (rc)
        return fail(p, rc, "upload stopped: %s", logshare_strerror(rc));
    return 0;
}

/* Parses one Content-Disposition value (NUL-terminated, modified in
 * place). Sets *name and *filename (may stay NULL). */
static int parse_disposition(multipart_parser *p, char *v, char **name, char **filename)
{
    char *ext_filename = NULL;
    while (*v == ' ' || *v == '\t')
        v++;
    if (strncasecmp(v, "form-data", 9) != 0 || (v[9] && v[9] != ';' && v[9] != ' ' && v[9] != '\t'))
        return fail(p, LOGSHARE_EINVAL, "part %zu: Content-Disposition is not form-data", p->parts);
    char *s = v + 9;
    int have_semicolon = 0; /* a ';' consumed by terminating an unquoted value */
    for (;;) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s && !have_semicolon)
            break;
        if (!have_semicolon) {
            if (*s != ';')
                return fail(p, LOGSHARE_EINVAL, "part %zu: bad Content-Disposition parameters",
                            p->parts);
            s++;
        }
        have_semicolon = 0;
        while (*s == ' ' || *s == '\t')
            s++;
        char *pname = s;
        while (mp_is_token_char((unsigned char)*s))
            s++;
        size_t pname_len = (size_t)(s - pname);
        while (*s == ' ' || *s == '\t')
            s++;
        if (pname_len == 0 || *s != '=')
            return fail(p, LOGSHARE_EINVAL, "part %zu: bad Content-Disposition parameter",
                        p->parts);
        s++;
        while (*s == ' ' || *s == '\t')
            s++;
        char *val;
        size_t vlen;
        if (*s == '"') {
            val = ++s;
            while (*s && *s != '"') {
                if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
                    s++;
                s++;
            }
            if (*s != '"')
                return fail(p, LOGSHARE_EINVAL, "part %zu: unterminated quoted parameter",
                            p->parts);
            vlen = mp_unquote(val, (size_t)(s - val));
            s++; /* the decoded value is no longer than the quoted span */
        } else {
            val = s;
            while (*s && *s != ';' && *s != ' ' && *s != '\t')
                s++;
            vlen = (size_t)(s - val);
            if (vlen == 0)
                return fail(p, LOGSHARE_EINVAL, "part %zu: empty parameter value", p->parts);
            if (*s == ';')
                have_semicolon = 1;
            if (*s)
                s++;
        }
        val[vlen] = '\0';
        if (pname_len == 4 && strncasecmp(pname, "name", 4) == 0) {
            if (*name)
                return fail(p, LOGSHARE_EINVAL, "part %zu: two name parameters", p->parts);
            *name = val;
        } else if (pname_len == 8 && strncasecmp(pname, "filename", 8) == 0) {
            if (*filename)
                return fail(p, LOGSHARE_EINVAL, "part %zu: two filename parameters", p->parts);
            *filename = val;
        } else if (pname_len == 9 && strncasecmp(pname, "filename*", 9) == 0) {
            long n = mp_decode_ext_value(val, vlen);
            if (n < 0 || ext_filename)
                return fail(p, LOGSHARE_EINVAL, "part %zu: bad filename* parameter", p->parts);
            val[n] = '\0';
            ext_filename = val;
        }
    }
    if (ext_filename)
        *filename = ext_filename; /* RFC 6266: the extended form wins */
    return 0;
}

/* Parses the collected header block (lines ending in CRLF, the final
 * empty line excluded) and starts the part. */
static int begin_part(multipart_parser *p)
{
    char *name = NULL, *filename = NULL, *ctype = NULL;
    int have_cd = 0;
    p->hdr[p->hdr_len] = '\0';
    if (memchr(p->hdr, '\0', p->hdr_len))
        return fail(p, LOGSHARE_EINVAL, "part %zu: NUL byte in part headers", p->parts);
    char *line = p->hdr;
    char *end = p->hdr + p->hdr_len;
    while (line < end) {
        char *eol = strstr(line, "\r\n");
        if (!eol)
            return fail(p, LOGSHARE_EINVAL, "part %zu: header line without CRLF", p->parts);
        *eol = '\0';
        if (strpbrk(line, "\r\n"))
            return fail(p, LOGSHARE_EINVAL, "part %zu: bare CR or LF in a header", p->parts);
        char *colon = strchr(line, ':');
        if (!colon || colon == line)
            return fail(p, LOGSHARE_EINVAL, "part %zu: header line without a name", p->parts);
        for (char *c = line; c < colon; c++)
            if (!mp_is_token_char((unsigned char)*c))
                return fail(p, LOGSHARE_EINVAL, "part %zu: bad header name", p->parts);
        *colon = '\0';
        char *value = colon + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        size_t vl = strlen(value);
        while (vl && (value[vl - 1] == ' ' || value[vl - 1] == '\t'))
            value[--vl] = '\0';
        if (strcasecmp(line, "Content-Disposition") == 0) {
            if (have_cd++)
                return fail(p, LOGSHARE_EINVAL, "part %zu: two Content-Disposition headers",
                            p->parts);
            int rc = parse_disposition(p, value, &name, &filename);
            if (rc)
                return rc;
        } else if (strcasecmp(line, "Content-Type") == 0) {
            ctype = value;
        }
        line = eol + 2;
    }
    if (!have_cd || !name)
        return fail(p, LOGSHARE_EINVAL, "part %zu: no Content-Disposition with a name", p->parts);
    if (++p->parts > p->limits.max_parts)
        return fail(p, LOGSHARE_ETOOLARGE, "more than %zu parts", p->limits.max_parts);
    p->in_file = filename != NULL;
    if (p->in_file && ++p->files > p->limits.max_files)
        return fail(p, LOGSHARE_ETOOLARGE, "more than %zu files", p->limits.max_files);
    p->part_bytes = 0;
    multipart_part part = {name, filename, ctype, p->parts - 1};
    int rc = p->cb.part_begin ? p->cb.part_begin(p->ctx, &part) : 0;
    if (rc)
        return fail(p, rc, "part %zu refused: %s", p->parts - 1, logshare_strerror(rc));
    return 0;
}

/* Where in p[0..n) the first CR is that may begin a delimiter: one
 * followed by LF, or one in the last byte (the next chunk may bring the
 * LF); n when there is none. Every byte before it is content. */
static size_t find_crlf(const char *p, size_t n)
{
    size_t i = 0;
#ifdef __SSE2__
    const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
    for (; i + 17 <= n; i += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + i + 1));
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_and_si128(_mm_cmpeq_epi8(a, cr), _mm_cmpeq_epi8(b, lf)));
        if (m)
            return i + (size_t)__builtin_ctz(m);
    }
#endif
    while (i < n) {
        const char *c = memchr(p + i, '\r', n - i);
        if (!c)
            return n;
        size_t k = (size_t)(c - p);
        if (k + 1 == n || p[k + 1] == '\n')
            return k;
        i = k + 1;
    }
    return n;
}

/* Scans for the delimiter; in MP_BODY the bytes before it are content.
 * Returns how many bytes of data were consumed. On entry, p->match bytes
 * of the delimiter were matched in earlier chunks and held back (not yet
 * emitted): they equal delim[0..held). */
static size_t scan_delimiter(multipart_parser *p, const char *data, size_t len)
{
    int body = p->state == MP_BODY;
    size_t held = p->match;
    size_t i = 0, run = 0; /* data[run..) is content not yet emitted */
    while (i < len) {
        if (p->match == 0) {
            /* a CR not followed by LF cannot begin the delimiter */
            i += find_crlf(data + i, len - i);
            if (i >= len)
                break;
            i++;
            p->match = 1;
            continue;
        }
        if (data[i] == p->delim[p->match]) {
            p->match++;
            i++;
            if (p->match == p->delim_len) {
                size_t dstart = i - (p->match - held);
                p->match = 0;
                if (body) {
                    if (dstart > run && emit(p, data + run, dstart - run))
                        return len;
                    int rc = p->cb.part_end ? p->cb.part_end(p->ctx) : 0;
                    if (rc) {
                        fail(p, rc, "part %zu refused: %s", p->parts - 1, logshare_strerror(rc));
                        return len;
                    }
                }
                p->state = MP_DELIM_TAIL;
                return i;
            }
        } else {
            /* mismatch: what matched was content after all. Bytes held from
             * earlier chunks come first; the rest is in data[run..i). The
             * current byte is examined again from match 0. */
            if (held) {
                if (body && emit(p, p->delim, held))
                    return len;
                held = 0;
            }
            p->match = 0;
        }
    }
    if (body) {
        size_t pending_in_chunk = p->match - held; /* delimiter candidates at the end */
        size_t upto = len - pending_in_chunk;
        if (upto > run)
            emit(p, data + run, upto - run);
    }
    return len;
}

int multipart_parser_feed(multipart_parser *p, const char *data, size_t len)
{
    if (p->state == MP_ERROR)
        return p->err;
    if (p->total + len > p->limits.max_total_bytes)
        return fail(p, LOGSHARE_ETOOLARGE, "body larger than %llu bytes",
                    (unsigned long long)p->limits.max_total_bytes);
    p->total += len;
    size_t i = 0;
    while (i < len && p->state != MP_ERROR) {
        char c = data[i];
        switch (p->state) {
        case MP_PREAMBLE:
        case MP_BODY:
            i += scan_delimiter(p, data + i, len - i);
            break;
        case MP_DELIM_TAIL:
            i++;
            if (c == '-')
                p->state = MP_CLOSE_DASH;
            else if (c == ' ' || c == '\t')
                p->state = MP_PADDING;
            else if (c == '\r')
                p->state = MP_DELIM_LF;
            else
                fail(p, LOGSHARE_EINVAL, "garbage after a boundary");
            break;
        case MP_CLOSE_DASH:
            i++;
            if (c == '-')
                p->state = MP_EPILOGUE;
            else
                fail(p, LOGSHARE_EINVAL, "garbage after a boundary");
            break;
        case MP_PADDING:
            i++;
            if (c == '\r')
                p->state = MP_DELIM_LF;
            else if (c != ' ' && c != '\t')
                fail(p, LOGSHARE_EINVAL, "garbage after a boundary");
            break;
        case MP_DELIM_LF:
            i++;
            if (c == '\n') {
                p->state = MP_HEADERS;
                p->hdr_len = 0;
            } else {
                fail(p, LOGSHARE_EINVAL, "boundary line not ended by CRLF");
            }
            break;
        case MP_HEADERS: {
            /* copy up to the end of the header block ("\r\n" on an empty
             * line), watching the cap */
            size_t j = i;
            int done = 0;
            while (j < len) {
                if (p->hdr_len >= p->limits.max_header_bytes) {
                    fail(p, LOGSHARE_ETOOLARGE, "part headers longer than %zu bytes",
                         p->limits.max_header_bytes);
                    break;
                }
                p->hdr[p->hdr_len++] = data[j++];
                size_t n = p->hdr_len;
                if (n >= 2 && p->hdr[n - 2] == '\r' && p->hdr[n - 1] == '\n' &&
                    (n == 2 || (n >= 4 && p->hdr[n - 4] == '\r' && p->hdr[n - 3] == '\n'))) {
                    done = 1;
                    break;
                }
            }
            i = j;
            if (done && p->state != MP_ERROR) {
                p->hdr_len -= 2; /* drop the empty line */
                if (begin_part(p) == 0) {
                    p->state = MP_BODY;
                    p->match = 0;
                }
            }
            break;
        }
        case MP_EPILOGUE:
            i = len;
            break;
        case MP_ERROR:
            break;
        }
    }
    return p->state == MP_ERROR ? p->err : 0;
}

int multipart_parser_finish(multipart_parser *p)
{
    if (p->state == MP_ERROR)
        return p->err;
    if (p->state != MP_EPILOGUE)
        return fail(p, LOGSHARE_EINVAL,
                    p->parts == 0 && p->state == MP_PREAMBLE
                        ? "no boundary found in the body"
                        : "body ends before the closing boundary");
    return 0;
}
