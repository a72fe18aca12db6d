/*
 * ls_utf8.h - UTF-8 checks for text that came from apps' logs, which
 * may hold any bytes: what the CLI and the dashboard show of them.
 */
#ifndef LS_UTF8_H
#define LS_UTF8_H

#include <stddef.h>

/* The length (1 to 4) of the well-formed UTF-8 sequence at p, of which
 * avail bytes may be read, or 0 when there is none there (a stray
 * continuation byte, a truncated sequence, an overlong form, a surrogate
 * or a code point past U+10FFFF). avail must be at least 1. */
size_t ls_utf8_seq_len(const unsigned char *p, size_t avail);

/* A new NUL-terminated copy of s[0..len) in which every byte that does
 * not start a well-formed sequence, and every NUL when nul_too is set,
 * is replaced by U+FFFD; its length in *out_len. The caller frees it.
 * NULL when out of memory. */
char *ls_utf8_sanitize(const char *s, size_t len, int nul_too, size_t *out_len);

#endif
