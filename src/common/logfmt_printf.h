/*
 * logfmt_printf.h - printf format strings as the deferred-format log
 * records need them: the writer learns from a format which C types its
 * arguments have (to copy them raw at the call), and the reader formats
 * the stored arguments back into text with the same format, one
 * conversion at a time, long after the call and in another process.
 *
 * Only conversions with a portable binary form are accepted; anything
 * else (%n, wide characters, long double, glibc's %m, more than
 * LOGFMT_MAX_ARGS arguments) makes the caller format the text at once.
 */
#ifndef LOGFMT_PRINTF_H
#define LOGFMT_PRINTF_H

#include <stddef.h>
#include <stdint.h>

#include "ls_buf.h"

#define LOGFMT_MAX_ARGS 24
/* The longest format string stored once per file. */
#define LOGFMT_FORMAT_MAX 1024

/* The C type an argument has at the call (what va_arg must read). */
enum logfmt_arg_kind {
    LOGFMT_ARG_INT = 1, /* int (also char, short, and '*' widths) */
    LOGFMT_ARG_UINT,
    LOGFMT_ARG_LONG,
    LOGFMT_ARG_ULONG,
    LOGFMT_ARG_LLONG,
    LOGFMT_ARG_ULLONG,
    LOGFMT_ARG_SIZE,    /* size_t */
    LOGFMT_ARG_PTRDIFF, /* ptrdiff_t */
    LOGFMT_ARG_INTMAX,
    LOGFMT_ARG_UINTMAX,
    LOGFMT_ARG_DOUBLE, /* double (float is promoted) */
    LOGFMT_ARG_STR,    /* const char *, copied at the call */
    LOGFMT_ARG_PTR     /* void *, stored as its value */
};

/* How an argument is stored in a file: zigzag varint, varint, 8-byte
 * IEEE double, or varint length + bytes. */
enum logfmt_arg_class {
    LOGFMT_CLASS_SIGNED,
    LOGFMT_CLASS_UNSIGNED,
    LOGFMT_CLASS_DOUBLE,
    LOGFMT_CLASS_STRING
};

enum logfmt_arg_class logfmt_arg_class_of(unsigned char kind);

/* v, an argument widened to 64 bits by its own C type, cut to the type
 * the conversion reads, as printf would: an unsigned 4294967295 given
 * to %d is -1, an int -1 given to %u is 4294967295. */
uint64_t logfmt_arg_narrow(unsigned char kind, uint64_t v);

/* The precision of a %s argument, as logfmt_printf_parse reports it. */
#define LOGFMT_PREC_NONE (-1) /* read the string to its NUL */
#define LOGFMT_PREC_STAR (-2) /* the int argument just before it */

/* Fills kinds[0..*nargs) with the argument kinds fmt consumes, in order.
 * When str_prec is not NULL, str_prec[i] is the precision of argument i
 * if it is a string (a count >= 0, LOGFMT_PREC_NONE or LOGFMT_PREC_STAR;
 * undefined for other kinds): "%.*s" and "%.5s" may be given arrays
 * without a NUL, so the call must measure them with strnlen. When
 * star_mask is not NULL, bit i is set when argument i is a '*' width
 * (of any conversion) or a '*' precision of a conversion other than %s:
 * readers clamp those (to LOGFMT_WIDTH_MAX, a %s width to 4096), so a
 * call with one over LOGFMT_WIDTH_MAX must be formatted at the call.
 * 0, or LOGSHARE_EUNSUPPORTED (see above; also formats longer than
 * LOGFMT_FORMAT_MAX or with widths over LOGFMT_WIDTH_MAX). */
#define LOGFMT_WIDTH_MAX 1024
int logfmt_printf_parse(const char *fmt, unsigned char kinds[LOGFMT_MAX_ARGS], unsigned *nargs,
                        short *str_prec, uint32_t *star_mask);

/* Appends fmt formatted with the arguments encoded at *args (file
 * encoding, advanced past them) to out. 0, -1 when the arguments are
 * malformed or run past end, LOGSHARE_ENOMEM. fmt must have passed
 * logfmt_printf_parse. */
int logfmt_printf_render(const char *fmt, const unsigned char **args, const unsigned char *end,
                         ls_buf *out);

#endif
