/*
 * logfmt_frame.h - sealing records into frames (the writer) and opening
 * frames back into records (every reader). See logfmt.h for the layout
 * and docs/log-format.md for the full description.
 */
#ifndef LOGFMT_FRAME_H
#define LOGFMT_FRAME_H

#include <sodium.h>
#include <stdint.h>
#include <zstd.h>

#include "logfmt.h"
#include "ls_buf.h"

/* Writer state for one file. Plain data except cctx (shared, owned by
 * the caller), so a copy taken before logfmt_seal_frame can be put back
 * if the frame could not be written: the next frame then continues the
 * stream as if the failed one never existed. */
typedef struct logfmt_sealer {
    int encrypted;
    crypto_secretstream_xchacha20poly1305_state ss;
    unsigned char chain[LOGFMT_PLAIN_MAC_LEN];
    unsigned char header_hash[LOGFMT_HEADER_HASH_LEN];
    ZSTD_CCtx *cctx;
    int zstd_level;
} logfmt_sealer;

/* Starts a file: makes a fresh file key, seals it to pk (NULL for a
 * plaintext file) and writes the header into header_out
 * (LOGFMT_HEADER_MAX bytes); *header_len is its length. */
int logfmt_sealer_begin(logfmt_sealer *s, const unsigned char *pk, uint64_t seq, int64_t created_us,
                        const char *stream, ZSTD_CCtx *cctx, unsigned char *header_out,
                        size_t *header_len);

/* Compresses and encrypts len bytes of records (len may be 0) into one
 * frame appended to out. scratch is reused between calls to avoid
 * allocating. 0 or LOGSHARE_ENOMEM / LOGSHARE_EINTERNAL. */
int logfmt_seal_frame(logfmt_sealer *s, const unsigned char *records, size_t len, int64_t first_us,
                      int64_t last_us, int final, ls_buf *scratch, ls_buf *out);

/* The largest frame logfmt_seal_frame can make from len bytes. */
size_t logfmt_frame_bound(size_t len);

/* Reader state for one file. */
typedef struct logfmt_opener {
    int encrypted;
    int zstd;
    crypto_secretstream_xchacha20poly1305_state ss;
    unsigned char chain[LOGFMT_PLAIN_MAC_LEN];
    unsigned char header_hash[LOGFMT_HEADER_HASH_LEN];
} logfmt_opener;

/* Prepares to read a file whose header is h. sk/pk: the secret key and
 * its public key, or NULL. LOGSHARE_EKEY when the file is encrypted and
 * no key or another key was given; LOGSHARE_ECORRUPT when the sealed
 * file key does not open with the right key. */
int logfmt_opener_begin(logfmt_opener *o, const logfmt_header *h, const unsigned char *sk,
                        const unsigned char *pk);

/* Opens the frame at data (len bytes left in the file). On 0: *used is
 * the frame's size, *final whether it is the last, *fh its header and
 * payload holds the decompressed records (reset first). Errors:
 * LOGSHARE_ETRUNCATED (the file ends inside the frame),
 * LOGSHARE_ECORRUPT (authentication or decompression failed). */
int logfmt_open_frame(logfmt_opener *o, const unsigned char *data, size_t len, size_t *used,
                      int *final, logfmt_frame_header *fh, ls_buf *scratch, ls_buf *payload);

#endif
