/*
 * logfmt_frame.c - frames: the unit of crash safety and authentication
 * in a log file (docs/log-format.md, "Frames").
 *
 * Each frame is written with one write() so a crash leaves either the
 * whole frame or a prefix of it (a torn tail, which readers report and
 * do not decode). Encrypted files use one crypto_secretstream message
 * per frame, so frames cannot be dropped, reordered or spliced from
 * another file without failing authentication; the file key is fresh
 * per file and sealed to the support public key. Payloads are
 * compressed per frame, so a frame decodes without any before it.
 */
#include <string.h>

#include "logfmt_frame.h"
#include "logshare.h"

int logfmt_sealer_begin(logfmt_sealer *s, const unsigned char *pk, uint64_t seq, int64_t created_us,
                        const char *stream, ZSTD_CCtx *cctx, unsigned char *header_out,
                        size_t *header_len)
{
    logfmt_header h;
    memset(&h, 0, sizeof h);
    memset(s, 0, sizeof *s);
    s->cctx = cctx;
    s->zstd_level = 1;
    h.version = LOGFMT_VERSION;
    h.flags = LOGFMT_FLAG_ZSTD;
    h.seq = seq;
    h.created_us = created_us;
    size_t n = strlen(stream);
    if (n == 0 || n > LOGFMT_STREAM_NAME_MAX)
        return LOGSHARE_EINVAL;
    memcpy(h.stream, stream, n + 1);
    if (pk) {
        unsigned char key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
        s->encrypted = 1;
        h.flags |= LOGFMT_FLAG_ENCRYPTED;
        crypto_secretstream_xchacha20poly1305_keygen(key);
        logfmt_key_id(pk, h.key_id);
        if (crypto_box_seal(h.sealed_key, key, sizeof key, pk) != 0 ||
            crypto_secretstream_xchacha20poly1305_init_push(&s->ss, h.ss_header, key) != 0) {
            sodium_memzero(key, sizeof key);
            return LOGSHARE_EINTERNAL;
        }
        sodium_memzero(key, sizeof key);
    }
    *header_len = logfmt_header_encode(&h, header_out);
    memcpy(s->header_hash, h.hash, sizeof s->header_hash);
    memcpy(s->chain, h.hash, sizeof s->chain);
    return 0;
}

size_t logfmt_frame_bound(size_t len)
{
    return LOGFMT_FRAME_HEADER_LEN + ZSTD_compressBound(len) +
           crypto_secretstream_xchacha20poly1305_ABYTES + 1 + LOGFMT_PLAIN_MAC_LEN;
}

int logfmt_seal_frame(logfmt_sealer *s, const unsigned char *records, size_t len, int64_t first_us,
                      int64_t last_us, int final, ls_buf *scratch, ls_buf *out)
{
    size_t clen = 0;
    if (len > 0) {
        size_t bound = ZSTD_compressBound(len);
        ls_buf_reset(scratch);
        if (ls_buf_reserve(scratch, bound) != 0)
            return LOGSHARE_ENOMEM;
        clen = ZSTD_compressCCtx(s->cctx, scratch->data, bound, records, len, s->zstd_level);
        if (ZSTD_isError(clen))
            return LOGSHARE_EINTERNAL;
    }
    unsigned char tag = final ? LOGFMT_TAG_FINAL : LOGFMT_TAG_MESSAGE;
    size_t body = s->encrypted ? clen + crypto_secretstream_xchacha20poly1305_ABYTES
                               : 1 + clen + LOGFMT_PLAIN_MAC_LEN;
    if (body > LOGFMT_FRAME_BODY_MAX)
        return LOGSHARE_ETOOLARGE;
    if (ls_buf_reserve(out, LOGFMT_FRAME_HEADER_LEN + body) != 0)
        return LOGSHARE_ENOMEM;
    logfmt_frame_header fh = {(uint32_t)body, first_us, last_us};
    unsigned char *fhb = (unsigned char *)out->data + out->len;
    logfmt_frame_header_encode(&fh, fhb);
    unsigned char *dst = fhb + LOGFMT_FRAME_HEADER_LEN;
    const unsigned char *src = len ? (const unsigned char *)scratch->data : NULL;
    if (s->encrypted) {
        unsigned char ad[LOGFMT_FRAME_AD_LEN];
        memcpy(ad, s->header_hash, LOGFMT_HEADER_HASH_LEN);
        memcpy(ad + LOGFMT_HEADER_HASH_LEN, fhb, LOGFMT_FRAME_HEADER_LEN);
        if (crypto_secretstream_xchacha20poly1305_push(&s->ss, dst, NULL, src, clen, ad, sizeof ad,
                                                       tag) != 0)
            return LOGSHARE_EINTERNAL;
    } else {
        dst[0] = tag;
        if (clen)
            memcpy(dst + 1, src, clen);
        logfmt_plain_mac(s->chain, fhb, tag, dst + 1, clen, dst + 1 + clen);
        memcpy(s->chain, dst + 1 + clen, LOGFMT_PLAIN_MAC_LEN);
    }
    out->len += LOGFMT_FRAME_HEADER_LEN + body;
    out->data[out->len] = '\0';
    return 0;
}

int logfmt_opener_begin(logfmt_opener *o, const logfmt_header *h, const unsigned char *sk,
                        const unsigned char *pk)
{
    memset(o, 0, sizeof *o);
    o->zstd = (h->flags & LOGFMT_FLAG_ZSTD) != 0;
    memcpy(o->header_hash, h->hash, sizeof o->header_hash);
    memcpy(o->chain, h->hash, sizeof o->chain);
    if (!(h->flags & LOGFMT_FLAG_ENCRYPTED))
        return 0;
    o->encrypted = 1;
    if (!sk || !pk)
        return LOGSHARE_EKEY;
    unsigned char id[LOGFMT_KEY_ID_LEN];
    logfmt_key_id(pk, id);
    if (sodium_memcmp(id, h->key_id, sizeof id) != 0)
        return LOGSHARE_EKEY;
    unsigned char key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
    if (crypto_box_seal_open(key, h->sealed_key, LOGFMT_SEALED_KEY_LEN, pk, sk) != 0)
        return LOGSHARE_ECORRUPT;
    int rc = crypto_secretstream_xchacha20poly1305_init_pull(&o->ss, h->ss_header, key);
    sodium_memzero(key, sizeof key);
    return rc == 0 ? 0 : LOGSHARE_ECORRUPT;
}

int logfmt_open_frame(logfmt_opener *o, const unsigned char *data, size_t len, size_t *used,
                      int *final, logfmt_frame_header *fh, ls_buf *scratch, ls_buf *payload)
{
    if (len < LOGFMT_FRAME_HEADER_LEN)
        return LOGSHARE_ETRUNCATED;
    if (logfmt_frame_header_decode(data, fh) != 0)
        return LOGSHARE_ECORRUPT;
    if (len - LOGFMT_FRAME_HEADER_LEN < fh->body_len)
        return LOGSHARE_ETRUNCATED;
    const unsigned char *body = data + LOGFMT_FRAME_HEADER_LEN;
    const unsigned char *comp;
    size_t clen;
    unsigned char tag;
    ls_buf_reset(scratch);
    if (o->encrypted) {
        if (fh->body_len < crypto_secretstream_xchacha20poly1305_ABYTES)
            return LOGSHARE_ECORRUPT;
        clen = fh->body_len - crypto_secretstream_xchacha20poly1305_ABYTES;
        if (ls_buf_reserve(scratch, clen + 1) != 0)
            return LOGSHARE_ENOMEM;
        unsigned char ad[LOGFMT_FRAME_AD_LEN];
        memcpy(ad, o->header_hash, LOGFMT_HEADER_HASH_LEN);
        memcpy(ad + LOGFMT_HEADER_HASH_LEN, data, LOGFMT_FRAME_HEADER_LEN);
        unsigned long long mlen = 0;
        if (crypto_secretstream_xchacha20poly1305_pull(&o->ss, (unsigned char *)scratch->data,
                                                       &mlen, &tag, body, fh->body_len, ad,
                                                       sizeof ad) != 0)
            return LOGSHARE_ECORRUPT;
        comp = (const unsigned char *)scratch->data;
        clen = (size_t)mlen;
    } else {
        if (fh->body_len < 1 + LOGFMT_PLAIN_MAC_LEN)
            return LOGSHARE_ECORRUPT;
        tag = body[0];
        clen = fh->body_len - 1 - LOGFMT_PLAIN_MAC_LEN;
        unsigned char mac[LOGFMT_PLAIN_MAC_LEN];
        logfmt_plain_mac(o->chain, data, tag, body + 1, clen, mac);
        if (sodium_memcmp(mac, body + 1 + clen, sizeof mac) != 0)
            return LOGSHARE_ECORRUPT;
        memcpy(o->chain, mac, sizeof mac);
        comp = body + 1;
    }
    if (tag != LOGFMT_TAG_MESSAGE && tag != LOGFMT_TAG_FINAL)
        return LOGSHARE_ECORRUPT;
    ls_buf_reset(payload);
    if (clen > 0) {
        if (!o->zstd) {
            if (ls_buf_append(payload, comp, clen) != 0)
                return LOGSHARE_ENOMEM;
        } else {
            unsigned long long want = ZSTD_getFrameContentSize(comp, clen);
            if (want == ZSTD_CONTENTSIZE_ERROR || want == ZSTD_CONTENTSIZE_UNKNOWN ||
                want > LOGFMT_PAYLOAD_MAX)
                return LOGSHARE_ECORRUPT;
            if (ls_buf_reserve(payload, (size_t)want) != 0)
                return LOGSHARE_ENOMEM;
            size_t got = ZSTD_decompress(payload->data, (size_t)want + 1, comp, clen);
            if (ZSTD_isError(got) || got != want)
                return LOGSHARE_ECORRUPT;
            payload->len = got;
            payload->data[got] = '\0';
        }
    }
    *used = LOGFMT_FRAME_HEADER_LEN + fh->body_len;
    *final = tag == LOGFMT_TAG_FINAL;
    return 0;
}
