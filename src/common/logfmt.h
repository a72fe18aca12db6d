/*
 * logfmt.h - the log file format (docs/log-format.md), shared by the
 * writer in liblogshare and every reader (the CLI, the library's public
 * reader, the server's log viewer).
 *
 * A file is a plaintext header, then frames. Each frame is a 24-byte
 * frame header (length, its complement, first and last record time)
 * and a body: in encrypted files one crypto_secretstream message whose
 * additional data is the header hash plus the frame header; in
 * plaintext files a tag byte, the payload and a keyed BLAKE2b chain MAC.
 * A payload is a zstd frame (or nothing) holding whole records. The last
 * frame of a cleanly closed file is tagged FINAL.
 */
#ifndef LOGFMT_H
#define LOGFMT_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define LOGFMT_MAGIC "LSLOG\r\n\x1a"
#define LOGFMT_MAGIC_LEN 8
#define LOGFMT_VERSION 1
#define LOGFMT_FLAG_ENCRYPTED 0x1u
#define LOGFMT_FLAG_ZSTD 0x2u
#define LOGFMT_STREAM_NAME_MAX 32
#define LOGFMT_KEY_ID_LEN 8
#define LOGFMT_SEALED_KEY_LEN                                                                      \
    (crypto_box_SEALBYTES + crypto_secretstream_xchacha20poly1305_KEYBYTES)
#define LOGFMT_HEADER_HASH_LEN 16
#define LOGFMT_HEADER_MAX 256
#define LOGFMT_FRAME_HEADER_LEN 24
#define LOGFMT_PLAIN_MAC_LEN 16
/* Largest body a reader accepts, and the largest decompressed payload. */
#define LOGFMT_FRAME_BODY_MAX (1u << 20)
#define LOGFMT_PAYLOAD_MAX (1u << 20)
/* Frame tags: the same values as secretstream's, so both modes agree. */
#define LOGFMT_TAG_MESSAGE 0
#define LOGFMT_TAG_FINAL 3

/* Record types inside a payload: u8 type, varint body length, body. */
enum logfmt_record_type {
    LOGFMT_REC_FORMAT = 1, /* varint id, format bytes */
    LOGFMT_REC_TEXT = 2,   /* u8 level, zigzag time delta, text bytes */
    LOGFMT_REC_BINARY = 3, /* u8 level, zigzag time delta, varint format id, args */
    LOGFMT_REC_DROPPED = 4 /* u8 reason, zigzag time delta, varint count */
};

enum logfmt_drop_reason { LOGFMT_DROP_BUFFER_FULL = 1, LOGFMT_DROP_WRITE_FAILED = 2 };

/* The parsed fixed part of a file header. */
typedef struct logfmt_header {
    uint16_t version;
    uint16_t flags;
    uint32_t header_len; /* bytes before the first frame */
    uint64_t seq;
    int64_t created_us;
    char stream[LOGFMT_STREAM_NAME_MAX + 1];
    unsigned char key_id[LOGFMT_KEY_ID_LEN];
    unsigned char sealed_key[LOGFMT_SEALED_KEY_LEN];
    unsigned char ss_header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
    unsigned char hash[LOGFMT_HEADER_HASH_LEN]; /* BLAKE2b-128 of the bytes before it */
} logfmt_header;

/* Serializes h (hash computed here and stored into h->hash) into out
 * (LOGFMT_HEADER_MAX bytes). Returns the length. */
size_t logfmt_header_encode(logfmt_header *h, unsigned char *out);

/* Parses a header from the start of data. 0, LOGSHARE_ETRUNCATED (data
 * ends inside it), LOGSHARE_EFORMAT (not a log file / unknown version),
 * LOGSHARE_ECORRUPT (hash mismatch or bad field). */
int logfmt_header_decode(const unsigned char *data, size_t len, logfmt_header *h);

/* The frame header. */
typedef struct logfmt_frame_header {
    uint32_t body_len;
    int64_t first_us;
    int64_t last_us;
} logfmt_frame_header;

void logfmt_frame_header_encode(const logfmt_frame_header *fh,
                                unsigned char out[LOGFMT_FRAME_HEADER_LEN]);
/* 0, or LOGSHARE_ECORRUPT when the length and its complement disagree or
 * the length is over LOGFMT_FRAME_BODY_MAX. */
int logfmt_frame_header_decode(const unsigned char in[LOGFMT_FRAME_HEADER_LEN],
                               logfmt_frame_header *fh);

/* The key id: the first 8 bytes of BLAKE2b-256 of the public key. */
void logfmt_key_id(const unsigned char pk[crypto_box_PUBLICKEYBYTES],
                   unsigned char id[LOGFMT_KEY_ID_LEN]);

/* Key text ("logshare-pk-1:<base64>", "logshare-sk-1:<base64>"). The
 * parsers skip surrounding white space; LOGSHARE_EKEY when malformed. */
int logfmt_public_key_parse(const char *text, unsigned char pk[crypto_box_PUBLICKEYBYTES]);
int logfmt_secret_key_parse(const char *text, unsigned char sk[crypto_box_SECRETKEYBYTES],
                            unsigned char pk[crypto_box_PUBLICKEYBYTES]);
/* New strings (caller frees with free()), ending in "\n"; NULL on ENOMEM. */
char *logfmt_public_key_text(const unsigned char pk[crypto_box_PUBLICKEYBYTES]);
char *logfmt_secret_key_text(const unsigned char sk[crypto_box_SECRETKEYBYTES]);

/* Plaintext-mode chain MAC: BLAKE2b-128 keyed with the previous MAC (the
 * header hash for the first frame) over frame header, tag and payload. */
void logfmt_plain_mac(const unsigned char prev[LOGFMT_PLAIN_MAC_LEN],
                      const unsigned char fh[LOGFMT_FRAME_HEADER_LEN], unsigned char tag,
                      const unsigned char *payload, size_t len,
                      unsigned char out[LOGFMT_PLAIN_MAC_LEN]);

/* Additional data of an encrypted frame: header hash then frame header. */
#define LOGFMT_FRAME_AD_LEN (LOGFMT_HEADER_HASH_LEN + LOGFMT_FRAME_HEADER_LEN)

/* ---- varints (LEB128) and zigzag ---- */
static inline size_t logfmt_put_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

/* Reads a varint from [*p, end). 0, or -1 when it runs past end or
 * over 10 bytes. */
static inline int logfmt_get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (*p >= end)
            return -1;
        unsigned char b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

static inline uint64_t logfmt_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t logfmt_unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static inline void logfmt_put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint32_t logfmt_get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void logfmt_put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t logfmt_get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* logshare_reader_open on an open descriptor (borrowed: the caller
 * closes it; the reader keeps its own duplicate when it needs one).
 * Files of 16 MiB or more are read through a 2 MiB window rather than
 * whole, so a reader's memory does not grow with the file; used by the
 * server's log viewer on blob files. A pipe or device is read to its end
 * (LOGSHARE_ETOOLARGE past 1 GiB). Errors as logshare_reader_open. */
struct logshare_reader;
int logfmt_reader_open_fd(int fd, const char *secret_key_text, struct logshare_reader **out);

#endif
