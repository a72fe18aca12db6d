/*
 * logfmt_header.c - the file header and the frame header of a log file
 * (docs/log-format.md, "File header" and "Frames"), and the small
 * hashes both modes use to chain frames to their header.
 *
 * The header is plaintext (a device without the secret key must read
 * the stream name and sequence number to rotate and list files) but it
 * is hashed, and that hash is bound into every frame's authentication,
 * so a changed header byte fails the first frame even if an attacker
 * also fixed the hash.
 */
#include <string.h>

#include "logfmt.h"
#include "logshare.h"

size_t logfmt_header_encode(logfmt_header *h, unsigned char *out)
{
    size_t n = 0;
    size_t name_len = strlen(h->stream);
    memcpy(out, LOGFMT_MAGIC, LOGFMT_MAGIC_LEN);
    n = LOGFMT_MAGIC_LEN;
    out[n++] = (unsigned char)(h->version & 0xff);
    out[n++] = (unsigned char)(h->version >> 8);
    out[n++] = (unsigned char)(h->flags & 0xff);
    out[n++] = (unsigned char)(h->flags >> 8);
    size_t len_at = n;
    n += 4; /* header_len, filled below */
    logfmt_put_u64(out + n, h->seq);
    n += 8;
    logfmt_put_u64(out + n, (uint64_t)h->created_us);
    n += 8;
    out[n++] = (unsigned char)name_len;
    memcpy(out + n, h->stream, name_len);
    n += name_len;
    if (h->flags & LOGFMT_FLAG_ENCRYPTED) {
        memcpy(out + n, h->key_id, LOGFMT_KEY_ID_LEN);
        n += LOGFMT_KEY_ID_LEN;
        memcpy(out + n, h->sealed_key, LOGFMT_SEALED_KEY_LEN);
        n += LOGFMT_SEALED_KEY_LEN;
        memcpy(out + n, h->ss_header, sizeof h->ss_header);
        n += sizeof h->ss_header;
    }
    h->header_len = (uint32_t)(n + LOGFMT_HEADER_HASH_LEN);
    logfmt_put_u32(out + len_at, h->header_len);
    crypto_generichash(h->hash, LOGFMT_HEADER_HASH_LEN, out, n, NULL, 0);
    memcpy(out + n, h->hash, LOGFMT_HEADER_HASH_LEN);
    return n + LOGFMT_HEADER_HASH_LEN;
}

static int stream_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > LOGFMT_STREAM_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int logfmt_header_decode(const unsigned char *data, size_t len, logfmt_header *h)
{
    memset(h, 0, sizeof *h);
    size_t magic_cmp = len < LOGFMT_MAGIC_LEN ? len : LOGFMT_MAGIC_LEN;
    if (memcmp(data, LOGFMT_MAGIC, magic_cmp) != 0)
        return LOGSHARE_EFORMAT;
    if (len < 33)
        return LOGSHARE_ETRUNCATED;
    h->version = (uint16_t)(data[8] | data[9] << 8);
    h->flags = (uint16_t)(data[10] | data[11] << 8);
    h->header_len = logfmt_get_u32(data + 12);
    if (h->version != LOGFMT_VERSION)
        return LOGSHARE_EFORMAT;
    if (h->header_len > LOGFMT_HEADER_MAX || h->header_len < 33 + LOGFMT_HEADER_HASH_LEN)
        return LOGSHARE_ECORRUPT;
    if (len < h->header_len)
        return LOGSHARE_ETRUNCATED;
    size_t body = h->header_len - LOGFMT_HEADER_HASH_LEN;
    unsigned char hash[LOGFMT_HEADER_HASH_LEN];
    crypto_generichash(hash, sizeof hash, data, body, NULL, 0);
    if (sodium_memcmp(hash, data + body, sizeof hash) != 0)
        return LOGSHARE_ECORRUPT;
    memcpy(h->hash, hash, sizeof hash);
    if (h->flags & ~(LOGFMT_FLAG_ENCRYPTED | LOGFMT_FLAG_ZSTD))
        return LOGSHARE_EFORMAT;
    h->seq = logfmt_get_u64(data + 16);
    h->created_us = (int64_t)logfmt_get_u64(data + 24);
    size_t n = 32;
    size_t name_len = data[n++];
    if (!stream_name_ok((const char *)data + n, name_len) || n + name_len > body)
        return LOGSHARE_ECORRUPT;
    memcpy(h->stream, data + n, name_len);
    h->stream[name_len] = '\0';
    n += name_len;
    if (h->flags & LOGFMT_FLAG_ENCRYPTED) {
        size_t need = LOGFMT_KEY_ID_LEN + LOGFMT_SEALED_KEY_LEN + sizeof h->ss_header;
        if (n + need != body)
            return LOGSHARE_ECORRUPT;
        memcpy(h->key_id, data + n, LOGFMT_KEY_ID_LEN);
        n += LOGFMT_KEY_ID_LEN;
        memcpy(h->sealed_key, data + n, LOGFMT_SEALED_KEY_LEN);
        n += LOGFMT_SEALED_KEY_LEN;
        memcpy(h->ss_header, data + n, sizeof h->ss_header);
    } else if (n != body) {
        return LOGSHARE_ECORRUPT;
    }
    return 0;
}

void logfmt_frame_header_encode(const logfmt_frame_header *fh,
                                unsigned char out[LOGFMT_FRAME_HEADER_LEN])
{
    logfmt_put_u32(out, fh->body_len);
    logfmt_put_u32(out + 4, ~fh->body_len);
    logfmt_put_u64(out + 8, (uint64_t)fh->first_us);
    logfmt_put_u64(out + 16, (uint64_t)fh->last_us);
}

int logfmt_frame_header_decode(const unsigned char in[LOGFMT_FRAME_HEADER_LEN],
                               logfmt_frame_header *fh)
{
    /* The complement makes a changed length byte look like damage, not
     * like a torn tail that would be reported as a mere warning. */
    fh->body_len = logfmt_get_u32(in);
    if (logfmt_get_u32(in + 4) != ~fh->body_len || fh->body_len > LOGFMT_FRAME_BODY_MAX)
        return LOGSHARE_ECORRUPT;
    fh->first_us = (int64_t)logfmt_get_u64(in + 8);
    fh->last_us = (int64_t)logfmt_get_u64(in + 16);
    return 0;
}

void logfmt_key_id(const unsigned char pk[crypto_box_PUBLICKEYBYTES],
                   unsigned char id[LOGFMT_KEY_ID_LEN])
{
    unsigned char full[32];
    crypto_generichash(full, sizeof full, pk, crypto_box_PUBLICKEYBYTES, NULL, 0);
    memcpy(id, full, LOGFMT_KEY_ID_LEN);
}

void logfmt_plain_mac(const unsigned char prev[LOGFMT_PLAIN_MAC_LEN],
                      const unsigned char fh[LOGFMT_FRAME_HEADER_LEN], unsigned char tag,
                      const unsigned char *payload, size_t len,
                      unsigned char out[LOGFMT_PLAIN_MAC_LEN])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, prev, LOGFMT_PLAIN_MAC_LEN, LOGFMT_PLAIN_MAC_LEN);
    crypto_generichash_update(&st, fh, LOGFMT_FRAME_HEADER_LEN);
    crypto_generichash_update(&st, &tag, 1);
    if (len)
        crypto_generichash_update(&st, payload, len);
    crypto_generichash_final(&st, out, LOGFMT_PLAIN_MAC_LEN);
}
