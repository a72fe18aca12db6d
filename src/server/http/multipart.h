/*
 * multipart.h - a streaming multipart/form-data parser (RFC 7578, RFC 2046).
 *
 * Why our own: MHD_PostProcessor is lax (PITFALLS.md): case-sensitive
 * substring boundary search, literal header matching, raw file names.
 * This parser is fed the request body in whatever pieces the HTTP layer
 * receives and calls back for each part's start, data and end. It never
 * buffers a part's body: data is handed over as it arrives (at most the
 * few bytes that might be the start of a delimiter are held back), so a
 * 1 GiB file costs no more memory than a 1 KiB one.
 *
 * Every count and size is capped (struct multipart_limits); crossing a
 * cap is LOGSHARE_ETOOLARGE, malformed input LOGSHARE_EINVAL. After an
 * error the parser refuses further input; multipart_parser_error() says
 * what went wrong in one human line.
 *
 * Accepted syntax: an optional preamble, "--boundary" lines with optional
 * transport padding, part headers (Content-Disposition form-data with
 * name and optional filename / filename*=UTF-8''..., Content-Type; others
 * ignored), and an epilogue after the closing "--boundary--". Quoted
 * parameter values undo both the HTML form encoding (%22 %0D %0A, as
 * browsers and curl send) and backslash escapes of '"' and '\'.
 */
#ifndef LOGSHARED_MULTIPART_H
#define LOGSHARED_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

/* Caps; 0 in any field means "use the default" from multipart_limits_default. */
typedef struct multipart_limits {
    size_t max_parts;         /* parts of any kind */
    size_t max_files;         /* parts with a filename */
    size_t max_header_bytes;  /* all header lines of one part together */
    size_t max_field_bytes;   /* the value of one part without a filename */
    uint64_t max_file_bytes;  /* the content of one file part */
    uint64_t max_total_bytes; /* the whole body, preamble and epilogue included */
} multipart_limits;

/* Fills defaults: 96 parts, 32 files, 8 KiB headers, 64 KiB fields,
 * 2 GiB files, 2 GiB bodies. */
void multipart_limits_default(multipart_limits *limits);

/* What the parser knows about a part when it begins. All strings are
 * borrowed, NUL-terminated and valid only during the part_begin call.
 * filename is NULL for a plain field; it may contain any byte but NUL
 * (a NUL in the name is refused as malformed), so callers sanitize. */
typedef struct multipart_part {
    const char *name;
    const char *filename;     /* NULL: a form field */
    const char *content_type; /* NULL when the part had none */
    size_t index;             /* 0-based position among all parts */
} multipart_part;

/* Callbacks return 0 to go on, or a negative LOGSHARE_E* to stop the
 * parse with that error (the parser then reports it from feed/finish). */
typedef struct multipart_callbacks {
    int (*part_begin)(void *ctx, const multipart_part *part);
    int (*part_data)(void *ctx, const char *data, size_t len);
    int (*part_end)(void *ctx);
} multipart_callbacks;

typedef struct multipart_parser multipart_parser;

/* Extracts the boundary from a Content-Type header value. Returns 0 and
 * writes a NUL-terminated boundary (1..70 chars of RFC 2046's set) to
 * out (at least 71 bytes), LOGSHARE_EUNSUPPORTED when the type is not
 * multipart/form-data, LOGSHARE_EINVAL when the boundary is missing or
 * invalid. */
int multipart_boundary_from_content_type(const char *content_type, char *out, size_t out_size);

/* Creates a parser for one body. boundary is copied; limits may be NULL
 * (defaults); callbacks is copied; ctx is handed to every callback.
 * Returns NULL on a bad boundary or out of memory. Free with
 * multipart_parser_free. */
multipart_parser *multipart_parser_new(const char *boundary, const multipart_limits *limits,
                                       const multipart_callbacks *callbacks, void *ctx);

/* Feeds the next len bytes of the body. 0, or the first error (sticky). */
int multipart_parser_feed(multipart_parser *p, const char *data, size_t len);

/* Declares the end of the body: LOGSHARE_EINVAL unless the closing
 * delimiter was seen. 0 or the sticky error. */
int multipart_parser_finish(multipart_parser *p);

/* The last error as one line ("" when none). Owned by the parser. */
const char *multipart_parser_error(const multipart_parser *p);

/* Body bytes fed so far. */
uint64_t multipart_parser_bytes(const multipart_parser *p);

void multipart_parser_free(multipart_parser *p);

#endif
