/*
 * ls_hex.h - lowercase hex encoding (SHA-256 digests, ids, HMACs).
 */
#ifndef LS_HEX_H
#define LS_HEX_H

#include <stddef.h>

/* Writes 2*len lowercase hex digits and a NUL to out (2*len+1 bytes). */
void ls_hex_encode(const unsigned char *data, size_t len, char *out);

/* The value of one hex digit (either case), or -1 for anything else. */
int ls_hex_digit_value(char c);

/* Decodes exactly out_len bytes from 2*out_len hex digits. Returns 0 or
 * LOGSHARE_EINVAL (wrong length or a non-hex digit). */
int ls_hex_decode(const char *hex, unsigned char *out, size_t out_len);

#endif
