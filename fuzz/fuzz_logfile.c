/*
 * fuzz_logfile.c - fuzz harness for the log file reader
 * (src/common/logfmt_reader.c and what it calls: the header and frame
 * decoders, secretstream opening, zstd, the record decoder and the
 * deferred printf renderer). `logshare decrypt` and the server's log
 * viewer read uploaded .lslog files through it, the server with the
 * support secret key, so a hostile file must never crash, hang,
 * over-read or allocate without bound.
 *
 * Byte 0 picks how the rest becomes a file:
 *  0  raw: the bytes are the file, read with the harness's secret key;
 *  1  raw, read without a key;
 *  2  plaintext fix-up: the bytes are a file whose header hash, frame
 *     length complements and chain MACs the harness recomputes before
 *     reading, so mutations reach zstd and the record decoder instead
 *     of dying at the first MAC;
 *  3  built: the real writer (logfmt_sealer) makes a file from the rest,
 *     so the encrypted path is fuzzed past authentication: byte 1 bit 0
 *     encrypts to the harness's public key, then chunks follow, each
 *     [flags: bit 0 final][first_us: 8 bytes LE][len: 2 bytes LE][len
 *     bytes of records] and each becomes one frame of those records.
 * The key pair is fixed (crypto_box_seed_keypair of 32 bytes of 0x5a)
 * so corpus files encrypted to it stay valid; make_logfile_seeds.c
 * writes them with the real library.
 *
 * Invariants checked: every record has a level in range and a
 * NUL-terminated message of the length given without NULs before it;
 * the records of a file render to at most 32 MiB of text per frame (the
 * reader's documented bound: deferred formats expand, "%*s" pads one
 * byte to 4096); the end, or an error, is sticky. Undefined behaviour
 * (a time overflowing int64, say) is for the sanitizers to catch.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_logfile.h"
#include "logfmt.h"
#include "logfmt_frame.h"
#include "logshare.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CHUNKS 64

static unsigned char g_pk[crypto_box_PUBLICKEYBYTES];
static char *g_sk_text;

const char *fuzz_logfile_keys(unsigned char pk[crypto_box_PUBLICKEYBYTES])
{
    if (!g_sk_text) {
        unsigned char seed[crypto_box_SEEDBYTES], sk[crypto_box_SECRETKEYBYTES];
        if (sodium_init() < 0)
            abort();
        memset(seed, 0x5a, sizeof seed);
        crypto_box_seed_keypair(g_pk, sk, seed);
        g_sk_text = logfmt_secret_key_text(sk);
        if (!g_sk_text)
            abort();
    }
    if (pk)
        memcpy(pk, g_pk, sizeof g_pk);
    return g_sk_text;
}

/* Makes the hash, complements and MACs of a plaintext file right. */
static void plain_fixup(unsigned char *b, size_t len)
{
    if (len < 16)
        return;
    uint32_t hl = logfmt_get_u32(b + 12);
    if (hl < 49 || hl > LOGFMT_HEADER_MAX || hl > len)
        return;
    unsigned char chain[LOGFMT_PLAIN_MAC_LEN];
    crypto_generichash(chain, sizeof chain, b, hl - LOGFMT_HEADER_HASH_LEN, NULL, 0);
    memcpy(b + hl - LOGFMT_HEADER_HASH_LEN, chain, sizeof chain);
    size_t off = hl;
    while (len - off >= LOGFMT_FRAME_HEADER_LEN) {
        uint32_t body = logfmt_get_u32(b + off);
        if (body > len - off - LOGFMT_FRAME_HEADER_LEN)
            break;
        logfmt_put_u32(b + off + 4, ~body);
        if (body >= 1 + LOGFMT_PLAIN_MAC_LEN) {
            unsigned char *tag = b + off + LOGFMT_FRAME_HEADER_LEN;
            size_t plen = body - 1 - LOGFMT_PLAIN_MAC_LEN;
            logfmt_plain_mac(chain, b + off, *tag, tag + 1, plen, tag + 1 + plen);
            memcpy(chain, tag + 1 + plen, sizeof chain);
        }
        off += LOGFMT_FRAME_HEADER_LEN + body;
    }
}

/* Writes a file from chunks of records with the real writer. NULL when
 * the input is not a chunk list (or the writer refuses it). */
static unsigned char *build(const uint8_t *d, size_t n, size_t *out_len)
{
    if (n < 1)
        return NULL;
    int encrypt = d[0] & 1;
    d++, n--;
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    logfmt_sealer s;
    unsigned char head[LOGFMT_HEADER_MAX];
    size_t hlen = 0;
    ls_buf out = LS_BUF_INIT, scratch = LS_BUF_INIT;
    unsigned char pk[crypto_box_PUBLICKEYBYTES];
    fuzz_logfile_keys(pk);
    int rc = cctx ? logfmt_sealer_begin(&s, encrypt ? pk : NULL, 7, 1700000000000000, "fuzz", cctx,
                                        head, &hlen)
                  : -1;
    if (rc == 0)
        rc = ls_buf_append(&out, head, hlen);
    for (int i = 0; rc == 0 && i < MAX_CHUNKS && n >= 11; i++) {
        int final = d[0] & 1;
        int64_t first = (int64_t)logfmt_get_u64(d + 1);
        size_t len = (size_t)(d[9] | d[10] << 8);
        d += 11, n -= 11;
        if (len > n)
            len = n;
        rc = logfmt_seal_frame(&s, d, len, first, first, final, &scratch, &out);
        d += len, n -= len;
    }
    ZSTD_freeCCtx(cctx);
    ls_buf_free(&scratch);
    if (rc != 0) {
        ls_buf_free(&out);
        return NULL;
    }
    *out_len = out.len;
    return (unsigned char *)ls_buf_steal(&out);
}

/* The reader's documented bound on the text one frame renders to. */
#define FRAME_TEXT_MAX (32u * LOGFMT_PAYLOAD_MAX)
/* A frame is at least a frame header and a MAC'ed tag or an AEAD tag. */
#define FRAME_MIN (LOGFMT_FRAME_HEADER_LEN + 1 + LOGFMT_PLAIN_MAC_LEN)

/* Reads the file to its end; frames_max bounds how many frames it has. */
static void read_all(const unsigned char *file, size_t len, const char *key, size_t frames_max)
{
    logshare_reader *r = NULL;
    if (logshare_reader_open_buffer(file, len, key, &r) != 0)
        return;
    const char *stream = NULL;
    logshare_reader_info(r, &stream, NULL, NULL);
    if (!stream || strlen(stream) > LOGFMT_STREAM_NAME_MAX)
        abort();
    logshare_record rec;
    int rc;
    uint64_t text = 0;
    while ((rc = logshare_reader_next(r, &rec)) == 1) {
        text += rec.message_len;
        if (text > (uint64_t)frames_max * FRAME_TEXT_MAX)
            abort(); /* a small file made the reader hold unbounded text */
        if ((int)rec.level < LOGSHARE_LEVEL_TRACE || rec.level > LOGSHARE_LEVEL_FATAL ||
            !rec.message || rec.message[rec.message_len] != '\0' ||
            strlen(rec.message) != rec.message_len)
            abort();
    }
    if (logshare_reader_next(r, &rec) != rc)
        abort(); /* the end, or an error, is sticky */
    logshare_reader_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *key = fuzz_logfile_keys(NULL);
    unsigned mode = data[0] & 3;
    data++, size--;
    if (mode == 0 || mode == 1) {
        read_all(data, size, mode == 0 ? key : NULL, size / FRAME_MIN + 1);
    } else if (mode == 2) {
        unsigned char *b = malloc(size ? size : 1);
        if (!b)
            abort();
        memcpy(b, data, size);
        plain_fixup(b, size);
        read_all(b, size, key, size / FRAME_MIN + 1);
        free(b);
    } else {
        size_t len = 0;
        unsigned char *b = build(data, size, &len);
        if (b)
            read_all(b, len, key, MAX_CHUNKS);
        free(b);
    }
    return 0;
}

#ifdef FUZZ_REPLAY_MAIN
#include "fuzz_replay.h"
#endif
