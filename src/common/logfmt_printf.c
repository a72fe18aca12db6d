/*
 * logfmt_printf.c - parsing printf formats into argument kinds and
 * rendering stored arguments back to text (see logfmt_printf.h).
 *
 * Rendering never hands snprintf more than one conversion at a time, so
 * a hostile format read from a file cannot make it read arguments that
 * are not there: each conversion gets exactly the value decoded for it.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "logfmt.h"
#include "logfmt_printf.h"
#include "logshare.h"

#define WIDTH_MAX LOGFMT_WIDTH_MAX
/* The widest padding a %s gets: a record's text is at most ~4 KiB at
 * the call, and a hostile width must not make a reader allocate much. */
#define STRING_PAD_MAX 4096

/* One conversion specification, as found in a format. */
struct conv {
    const char *start; /* the '%' */
    size_t len;        /* through the conversion character */
    int width_star, prec_star;
    int have_width, have_prec; /* a fixed width or precision in the text */
    int width, prec;           /* their values (not for '*') */
    int left;                  /* the '-' flag */
    char length[3];            /* "", "hh", "h", "l", "ll", "j", "z", "t" */
    char conv;
};

/* Scans the conversion at p (just after '%'). 0 or -1 (unsupported). */
static int conv_scan(const char *pct, struct conv *c)
{
    const char *p = pct + 1;
    memset(c, 0, sizeof *c);
    c->start = pct;
    while (*p && strchr("-+ #0'", *p)) {
        if (*p == '-')
            c->left = 1;
        p++;
    }
    if (*p == '*') {
        c->width_star = 1;
        p++;
    } else {
        long w = 0;
        c->have_width = *p >= '0' && *p <= '9';
        while (*p >= '0' && *p <= '9') {
            w = w * 10 + (*p++ - '0');
            if (w > WIDTH_MAX)
                return -1;
        }
        c->width = (int)w;
    }
    if (*p == '.') {
        p++;
        if (*p == '*') {
            c->prec_star = 1;
            p++;
        } else {
            long w = 0;
            c->have_prec = 1; /* "%.s" is precision 0 */
            while (*p >= '0' && *p <= '9') {
                w = w * 10 + (*p++ - '0');
                if (w > WIDTH_MAX)
                    return -1;
            }
            c->prec = (int)w;
        }
    }
    size_t ln = 0;
    while (*p && strchr("hljzt", *p) && ln < 2)
        c->length[ln++] = *p++;
    c->length[ln] = '\0';
    if (*p && strchr("hljztLq", *p))
        return -1;
    if (!*p)
        return -1;
    c->conv = *p++;
    c->len = (size_t)(p - pct);
    return 0;
}

static int int_kind(const struct conv *c, int is_signed)
{
    const char *l = c->length;
    if (l[0] == '\0' || strcmp(l, "h") == 0 || strcmp(l, "hh") == 0)
        return is_signed ? LOGFMT_ARG_INT : LOGFMT_ARG_UINT;
    if (strcmp(l, "l") == 0)
        return is_signed ? LOGFMT_ARG_LONG : LOGFMT_ARG_ULONG;
    if (strcmp(l, "ll") == 0)
        return is_signed ? LOGFMT_ARG_LLONG : LOGFMT_ARG_ULLONG;
    if (strcmp(l, "j") == 0)
        return is_signed ? LOGFMT_ARG_INTMAX : LOGFMT_ARG_UINTMAX;
    if (strcmp(l, "z") == 0)
        return is_signed ? LOGFMT_ARG_PTRDIFF : LOGFMT_ARG_SIZE; /* %zd: signed size_t */
    if (strcmp(l, "t") == 0)
        return is_signed ? LOGFMT_ARG_PTRDIFF : LOGFMT_ARG_SIZE;
    return -1;
}

/* The kind of the conversion's value, or -1 when unsupported. */
static int value_kind(const struct conv *c)
{
    switch (c->conv) {
    case 'd':
    case 'i':
        return int_kind(c, 1);
    case 'u':
    case 'o':
    case 'x':
    case 'X':
        return int_kind(c, 0);
    case 'c':
        return c->length[0] ? -1 : LOGFMT_ARG_INT;
    case 'f':
    case 'F':
    case 'e':
    case 'E':
    case 'g':
    case 'G':
    case 'a':
    case 'A':
        return (c->length[0] == '\0' || strcmp(c->length, "l") == 0) ? LOGFMT_ARG_DOUBLE : -1;
    case 's':
        return c->length[0] ? -1 : LOGFMT_ARG_STR;
    case 'p':
        return c->length[0] ? -1 : LOGFMT_ARG_PTR;
    default:
        return -1; /* %n, %m, %C, %S, ... */
    }
}

enum logfmt_arg_class logfmt_arg_class_of(unsigned char kind)
{
    switch (kind) {
    case LOGFMT_ARG_INT:
    case LOGFMT_ARG_LONG:
    case LOGFMT_ARG_LLONG:
    case LOGFMT_ARG_PTRDIFF:
    case LOGFMT_ARG_INTMAX:
        return LOGFMT_CLASS_SIGNED;
    case LOGFMT_ARG_DOUBLE:
        return LOGFMT_CLASS_DOUBLE;
    case LOGFMT_ARG_STR:
        return LOGFMT_CLASS_STRING;
    default:
        return LOGFMT_CLASS_UNSIGNED;
    }
}

uint64_t logfmt_arg_narrow(unsigned char kind, uint64_t v)
{
    switch (kind) {
    case LOGFMT_ARG_INT:
        return (uint64_t)(int64_t)(int)v;
    case LOGFMT_ARG_UINT:
        return (unsigned)v;
    case LOGFMT_ARG_LONG:
    case LOGFMT_ARG_PTRDIFF:
        return (uint64_t)(int64_t)(long)v;
    case LOGFMT_ARG_ULONG:
    case LOGFMT_ARG_SIZE:
        return (unsigned long)v;
    case LOGFMT_ARG_PTR:
        return (uintptr_t)v;
    default:
        return v;
    }
}

int logfmt_printf_parse(const char *fmt, unsigned char kinds[LOGFMT_MAX_ARGS], unsigned *nargs,
                        short *str_prec, uint32_t *star_mask)
{
    unsigned n = 0;
    uint32_t stars = 0;
    if (strlen(fmt) > LOGFMT_FORMAT_MAX)
        return LOGSHARE_EUNSUPPORTED;
    for (const char *p = fmt; *p; p++) {
        if (*p != '%')
            continue;
        if (p[1] == '%') {
            p++;
            continue;
        }
        struct conv c;
        if (conv_scan(p, &c) != 0)
            return LOGSHARE_EUNSUPPORTED;
        int k = value_kind(&c);
        if (k < 0 || n + (unsigned)c.width_star + (unsigned)c.prec_star + 1 > LOGFMT_MAX_ARGS)
            return LOGSHARE_EUNSUPPORTED;
        /* A reader clamps numeric widths and precisions to WIDTH_MAX,
         * and pads a %s to at most STRING_PAD_MAX: a wider '*' must be
         * formatted at the call (else "%*s" of 5000 read back 4096 wide,
         * neither as printf prints it nor visibly cut). A %s precision
         * it honours whatever its size. */
        uint32_t clamped = c.conv != 's';
        if (c.width_star) {
            stars |= 1u << n;
            kinds[n++] = LOGFMT_ARG_INT;
        }
        if (c.prec_star) {
            stars |= clamped << n;
            kinds[n++] = LOGFMT_ARG_INT;
        }
        if (str_prec)
            str_prec[n] = (short)(c.prec_star   ? LOGFMT_PREC_STAR
                                  : c.have_prec ? c.prec
                                                : LOGFMT_PREC_NONE);
        kinds[n++] = (unsigned char)k;
        p += c.len - 1;
    }
    *nargs = n;
    if (star_mask)
        *star_mask = stars;
    return 0;
}

/* A decoded argument. */
struct value {
    int64_t i;
    uint64_t u;
    double d;
    const unsigned char *s;
    size_t slen;
};

static int value_decode(unsigned char kind, const unsigned char **p, const unsigned char *end,
                        struct value *v)
{
    uint64_t raw;
    switch (logfmt_arg_class_of(kind)) {
    case LOGFMT_CLASS_SIGNED:
        if (logfmt_get_varint(p, end, &raw) != 0)
            return -1;
        v->i = logfmt_unzigzag(raw);
        return 0;
    case LOGFMT_CLASS_UNSIGNED:
        return logfmt_get_varint(p, end, &v->u);
    case LOGFMT_CLASS_DOUBLE:
        if (end - *p < 8)
            return -1;
        raw = logfmt_get_u64(*p);
        *p += 8;
        memcpy(&v->d, &raw, sizeof v->d);
        return 0;
    case LOGFMT_CLASS_STRING:
        if (logfmt_get_varint(p, end, &raw) != 0 || raw > (uint64_t)(end - *p) ||
            memchr(*p, '\0', (size_t)raw))
            return -1;
        v->s = *p;
        v->slen = (size_t)raw;
        *p += raw;
        return 0;
    }
    return -1;
}

static int clamp_width(int64_t w)
{
    return w > WIDTH_MAX ? WIDTH_MAX : w < -WIDTH_MAX ? -WIDTH_MAX : (int)w;
}

/* Formats one conversion; spec is its text with the length modifier
 * rewritten so the value's C type matches what we pass. */
static int render_one(ls_buf *out, const struct conv *c, unsigned char kind, int have_w, int w,
                      int have_p, int pr, const struct value *v)
{
    char spec[64];
    size_t head = c->len - 1 - strlen(c->length); /* '%' flags width precision */
    if (head + 4 > sizeof spec)
        return -1;
    memcpy(spec, c->start, head);
    spec[head] = '\0';
    enum logfmt_arg_class cls = logfmt_arg_class_of(kind);
    int keep_short = strcmp(c->length, "h") == 0 || strcmp(c->length, "hh") == 0;
    if ((cls == LOGFMT_CLASS_SIGNED || cls == LOGFMT_CLASS_UNSIGNED) && kind != LOGFMT_ARG_PTR &&
        c->conv != 'c') {
        strcat(spec, keep_short ? c->length : "ll");
    }
    size_t sl = strlen(spec);
    spec[sl] = c->conv;
    spec[sl + 1] = '\0';

    char tmp[WIDTH_MAX * 2 + 64];
    int n;
#define EMIT(val)                                                                                  \
    (have_w && have_p ? snprintf(tmp, sizeof tmp, spec, w, pr, val)                                \
     : have_w         ? snprintf(tmp, sizeof tmp, spec, w, val)                                    \
     : have_p         ? snprintf(tmp, sizeof tmp, spec, pr, val)                                   \
                      : snprintf(tmp, sizeof tmp, spec, val))
    if (kind == LOGFMT_ARG_PTR) {
        n = EMIT((void *)(uintptr_t)v->u);
    } else if (cls == LOGFMT_CLASS_DOUBLE) {
        n = EMIT(v->d);
    } else if (c->conv == 'c' || keep_short) {
        n = cls == LOGFMT_CLASS_SIGNED ? EMIT((int)v->i) : EMIT((unsigned)v->u);
    } else if (cls == LOGFMT_CLASS_SIGNED) {
        n = EMIT((long long)v->i);
    } else {
        n = EMIT((unsigned long long)v->u);
    }
#undef EMIT
    if (n < 0)
        return -1;
    size_t len = (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1;
    /* %c of 0 prints a NUL; messages stay C strings, so leave it out. */
    size_t kept = 0;
    for (size_t i = 0; i < len; i++)
        if (tmp[i] != '\0')
            tmp[kept++] = tmp[i];
    return ls_buf_append(out, tmp, kept) == 0 ? 0 : LOGSHARE_ENOMEM;
}

/* Formats a %s conversion here rather than through snprintf: a stored
 * string can be longer than any fixed buffer, and cutting it silently
 * would lie. w and pr are the '*' values (raw: a negative width means
 * '-', a negative precision means none). The stored bytes are already
 * no longer than the call's precision; it is applied again for files
 * written by someone else. */
static int render_string(ls_buf *out, const struct conv *c, int64_t w, int64_t pr,
                         const struct value *v)
{
    int left = c->left;
    int64_t width = c->width_star ? w : c->have_width ? c->width : 0;
    if (width < 0) {
        left = 1;
        width = width == INT64_MIN ? STRING_PAD_MAX : -width;
    }
    if (width > STRING_PAD_MAX)
        width = STRING_PAD_MAX;
    int64_t prec = c->prec_star ? pr : c->have_prec ? c->prec : -1;
    size_t take = prec >= 0 && (uint64_t)prec < v->slen ? (size_t)prec : v->slen;
    size_t pad = (uint64_t)width > take ? (size_t)width - take : 0;
    static const char spaces[64] =
        "                                                                ";
    if (!left)
        for (size_t k = 0; k < pad; k += sizeof spaces)
            if (ls_buf_append(out, spaces, pad - k < sizeof spaces ? pad - k : sizeof spaces) != 0)
                return LOGSHARE_ENOMEM;
    if (ls_buf_append(out, v->s, take) != 0)
        return LOGSHARE_ENOMEM;
    if (left)
        for (size_t k = 0; k < pad; k += sizeof spaces)
            if (ls_buf_append(out, spaces, pad - k < sizeof spaces ? pad - k : sizeof spaces) != 0)
                return LOGSHARE_ENOMEM;
    return 0;
}

int logfmt_printf_render(const char *fmt, const unsigned char **args, const unsigned char *end,
                         ls_buf *out)
{
    const char *lit = fmt;
    for (const char *p = fmt; *p; p++) {
        if (*p != '%')
            continue;
        if (ls_buf_append(out, lit, (size_t)(p - lit)) != 0)
            return LOGSHARE_ENOMEM;
        if (p[1] == '%') {
            if (ls_buf_append(out, "%", 1) != 0)
                return LOGSHARE_ENOMEM;
            p++;
            lit = p + 1;
            continue;
        }
        struct conv c;
        if (conv_scan(p, &c) != 0)
            return -1;
        int kind = value_kind(&c);
        if (kind < 0)
            return -1;
        struct value wv = {0}, pv = {0}, v = {0};
        if (c.width_star && value_decode(LOGFMT_ARG_INT, args, end, &wv) != 0)
            return -1;
        if (c.prec_star && value_decode(LOGFMT_ARG_INT, args, end, &pv) != 0)
            return -1;
        if (value_decode((unsigned char)kind, args, end, &v) != 0)
            return -1;
        int rc = kind == LOGFMT_ARG_STR
                     ? render_string(out, &c, wv.i, pv.i, &v)
                     : render_one(out, &c, (unsigned char)kind, c.width_star, clamp_width(wv.i),
                                  c.prec_star, clamp_width(pv.i), &v);
        if (rc != 0)
            return rc;
        p += c.len - 1;
        lit = p + 1;
    }
    return ls_buf_append(out, lit, strlen(lit)) == 0 ? 0 : LOGSHARE_ENOMEM;
}
