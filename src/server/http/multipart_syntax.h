/*
 * multipart_syntax.h - the small syntax rules the multipart parser
 * (multipart.c) relies on, kept apart so the state machine reads on its
 * own: RFC 2046 boundaries, RFC 7230 tokens, quoted-string values with
 * the HTML form encoding, and RFC 8187 ext-values (filename*=).
 * Internal to src/server/http.
 */
#ifndef LOGSHARED_MULTIPART_SYNTAX_H
#define LOGSHARED_MULTIPART_SYNTAX_H

#include <stddef.h>

/* 1 when b (len bytes) is a valid RFC 2046 boundary: 1..70 characters of
 * its set, not ending in a space. */
int mp_boundary_ok(const char *b, size_t len);

/* 1 for an RFC 7230 token character. */
int mp_is_token_char(unsigned char c);

/* Decodes a quoted-string body in place: backslash escapes of '"' and
 * '\', and the HTML form encoding %22 %0D %0A. Returns the new length
 * (never longer than len). */
size_t mp_unquote(char *s, size_t len);

/* Decodes an RFC 8187 ext-value (UTF-8'lang'percent-encoded) in place.
 * Returns the new length, or -1 when malformed or when it would decode
 * to a NUL (which would silently cut the name). */
long mp_decode_ext_value(char *s, size_t len);

#endif
