/*
 * logfmt_reader.c - the public log file reader (logshare_reader_*): one
 * file, record by record, for the CLI's decrypt, the library's users
 * and the server's log viewer.
 *
 * A frame is authenticated and all its records decoded and formatted
 * before the first of them is handed out, so a frame that fails in any
 * way contributes nothing: "nothing from the bad frame on is printed as
 * if it were a record". Errors are sticky.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logfmt.h"
#include "logfmt_frame.h"
#include "logfmt_printf.h"
#include "logshare.h"
#include "ls_buf.h"
#include "ls_fs.h"

/* Files at least this large are mapped, not read into memory: the
 * server's log viewer pages through uploads of hundreds of MB, and a
 * mapping costs only the pages read (clean, so the kernel may drop them).
 * Smaller files, which include a store's own (4 MiB by default), are
 * read whole: a live store's writer may cut a failed write off its
 * current file, and a mapping past a file's new end would fault. */
#define READER_MAP_MIN (16u * 1024u * 1024u)
#define READER_FORMAT_IDS_MAX 65536u

struct reader_record {
    int64_t time_us;
    int level;
    size_t off, len;
};

struct logshare_reader {
    unsigned char *data;
    int mapped; /* data is a mapping of len bytes, not malloc'ed */
    size_t len, pos;
    logfmt_header header;
    logfmt_opener opener;
    ls_buf scratch, payload, text;
    struct reader_record *recs;
    size_t nrecs, cap, next;
    char **formats; /* by id; NULL where undefined */
    size_t nformats;
    int error; /* sticky negative code, or 0 */
    int final_seen;
    size_t zero_tail; /* where the run of zero bytes that ends the file starts (len: none) */
};

/* A power loss can leave a file's tail zero-filled (the size reached
 * the disk, the data did not). That is a torn tail, not tampering, when
 * the zeros start at a frame boundary, or inside the last frame and run
 * longer than any MAC (a genuine frame never ends in 16 zero bytes). A
 * forger gains nothing: zeroing a tail hides no more than cutting the
 * file there, which is reported the same way. */
#define ZERO_TAIL_MIN 16

static int zero_tail_torn(const logshare_reader *r, size_t frame_start)
{
    if (r->zero_tail == r->len)
        return 0;
    /* Zeros from the frame boundary on (the run may begin earlier, in
     * the last bytes of the frame before, which decoded whole). */
    if (r->zero_tail <= frame_start)
        return 1;
    if (r->len - r->zero_tail < ZERO_TAIL_MIN)
        return 0;
    /* The zeros must begin inside this frame, not after a whole one. */
    logfmt_frame_header fh;
    if (r->len - frame_start >= LOGFMT_FRAME_HEADER_LEN &&
        logfmt_frame_header_decode(r->data + frame_start, &fh) == 0 &&
        frame_start + LOGFMT_FRAME_HEADER_LEN + fh.body_len <= r->zero_tail)
        return 0;
    return 1;
}

void logshare_reader_close(logshare_reader *r)
{
    if (!r)
        return;
    if (r->mapped)
        munmap(r->data, r->len);
    else
        free(r->data);
    ls_buf_free(&r->scratch);
    ls_buf_free(&r->payload);
    ls_buf_free(&r->text);
    free(r->recs);
    for (size_t i = 0; i < r->nformats; i++)
        free(r->formats[i]);
    free(r->formats);
    free(r);
}

/* Takes ownership of data (a mapping of len bytes when mapped). */
static int reader_start(unsigned char *data, size_t len, int mapped, const char *secret_key_text,
                        logshare_reader **out)
{
    *out = NULL;
    logshare_reader *r = calloc(1, sizeof *r);
    if (!r) {
        if (mapped)
            munmap(data, len);
        else
            free(data);
        return LOGSHARE_ENOMEM;
    }
    r->data = data;
    r->mapped = mapped;
    r->len = len;
    r->zero_tail = len;
    while (r->zero_tail > 0 && data[r->zero_tail - 1] == 0)
        r->zero_tail--;
    int rc = logfmt_header_decode(data, len, &r->header);
    /* Zeros from inside the header on: the file was created, then the
     * power went before its first block reached the disk. (A header
     * ends in its hash, so never in ZERO_TAIL_MIN zero bytes.) */
    size_t z = r->zero_tail;
    if (rc != 0 && rc != LOGSHARE_ETRUNCATED && z < len &&
        memcmp(data, LOGFMT_MAGIC, z < LOGFMT_MAGIC_LEN ? z : LOGFMT_MAGIC_LEN) == 0 &&
        (z <= LOGFMT_MAGIC_LEN || len - z >= ZERO_TAIL_MIN) &&
        (z < 16 || z < logfmt_get_u32(data + 12)))
        rc = LOGSHARE_ETRUNCATED;
    if (rc == 0) {
        unsigned char sk[crypto_box_SECRETKEYBYTES], pk[crypto_box_PUBLICKEYBYTES];
        int have_key = 0;
        if (secret_key_text) {
            rc = logfmt_secret_key_parse(secret_key_text, sk, pk);
            have_key = rc == 0;
        }
        if (rc == 0)
            rc = logfmt_opener_begin(&r->opener, &r->header, have_key ? sk : NULL,
                                     have_key ? pk : NULL);
        sodium_memzero(sk, sizeof sk);
    }
    if (rc != 0) {
        logshare_reader_close(r);
        return rc;
    }
    r->pos = r->header.header_len;
    *out = r;
    return 0;
}

int logshare_reader_open_buffer(const void *data, size_t len, const char *secret_key_text,
                                logshare_reader **out)
{
    if (!out || (!data && len))
        return LOGSHARE_EINVAL;
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy)
        return LOGSHARE_ENOMEM;
    if (len)
        memcpy(copy, data, len);
    return reader_start(copy, len, 0, secret_key_text, out);
}

int logfmt_reader_open_fd(int fd, const char *secret_key_text, logshare_reader **out)
{
    if (fd < 0 || !out)
        return LOGSHARE_EINVAL;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return ls_fs_errno_to_error(errno);
    if (!S_ISREG(st.st_mode))
        return S_ISDIR(st.st_mode) ? LOGSHARE_EINVAL : LOGSHARE_EFORMAT;
    if ((uint64_t)st.st_size >= READER_MAP_MIN && (uint64_t)st.st_size <= SIZE_MAX) {
        size_t len = (size_t)st.st_size;
        void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED)
            return ls_fs_errno_to_error(errno);
        (void)madvise(map, len, MADV_SEQUENTIAL);
        return reader_start(map, len, 1, secret_key_text, out);
    }
    /* Read what the file holds now; a file growing meanwhile is read as
     * it was (a torn tail at worst, reported as such). */
    size_t len = (size_t)st.st_size, used = 0;
    unsigned char *data = malloc(len ? len : 1);
    if (!data)
        return LOGSHARE_ENOMEM;
    while (used < len) {
        ssize_t n = pread(fd, data + used, len - used, (off_t)used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int rc = ls_fs_errno_to_error(errno);
            free(data);
            return rc;
        }
        if (n == 0)
            break; /* cut meanwhile: read what is there */
        used += (size_t)n;
    }
    return reader_start(data, used, 0, secret_key_text, out);
}

int logshare_reader_open(const char *path, const char *secret_key_text, logshare_reader **out)
{
    if (!path || !out)
        return LOGSHARE_EINVAL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ls_fs_errno_to_error(errno);
    int rc = logfmt_reader_open_fd(fd, secret_key_text, out);
    close(fd);
    return rc;
}

void logshare_reader_info(const logshare_reader *r, const char **stream, uint64_t *seq,
                          int64_t *created_us)
{
    if (stream)
        *stream = r->header.stream;
    if (seq)
        *seq = r->header.seq;
    if (created_us)
        *created_us = r->header.created_us;
}

static int format_define(logshare_reader *r, uint64_t id, const unsigned char *p, size_t n)
{
    if (id >= READER_FORMAT_IDS_MAX || n > LOGFMT_FORMAT_MAX || memchr(p, '\0', n))
        return LOGSHARE_ECORRUPT;
    if (id >= r->nformats) {
        size_t nn = (size_t)id + 16;
        char **f = realloc(r->formats, nn * sizeof *f);
        if (!f)
            return LOGSHARE_ENOMEM;
        memset(f + r->nformats, 0, (nn - r->nformats) * sizeof *f);
        r->formats = f;
        r->nformats = nn;
    }
    char *s = malloc(n + 1);
    if (!s)
        return LOGSHARE_ENOMEM;
    memcpy(s, p, n);
    s[n] = '\0';
    unsigned char kinds[LOGFMT_MAX_ARGS];
    unsigned nargs;
    if (logfmt_printf_parse(s, kinds, &nargs, NULL) != 0) {
        free(s);
        return LOGSHARE_ECORRUPT;
    }
    free(r->formats[id]);
    r->formats[id] = s;
    return 0;
}

static int record_push(logshare_reader *r, int64_t t, int level, size_t off)
{
    if (r->nrecs == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 256;
        struct reader_record *n = realloc(r->recs, nc * sizeof *n);
        if (!n)
            return LOGSHARE_ENOMEM;
        r->recs = n;
        r->cap = nc;
    }
    r->recs[r->nrecs++] = (struct reader_record){t, level, off, r->text.len - off};
    /* NUL between messages so each can be handed out as a C string. */
    return ls_buf_append(&r->text, "", 1);
}

static const char *drop_reason(unsigned reason)
{
    return reason == LOGFMT_DROP_BUFFER_FULL    ? "the logging thread's buffer was full"
           : reason == LOGFMT_DROP_WRITE_FAILED ? "they could not be written to disk"
                                                : "of an unknown reason";
}

/* Decodes every record of the payload into r->recs / r->text. */
static int frame_decode(logshare_reader *r, int64_t base_us)
{
    const unsigned char *p = (const unsigned char *)r->payload.data;
    const unsigned char *end = p + r->payload.len;
    int64_t t = base_us;
    r->nrecs = r->next = 0;
    ls_buf_reset(&r->text);
    while (p < end) {
        unsigned type = *p++;
        uint64_t blen, v;
        if (logfmt_get_varint(&p, end, &blen) != 0 || blen > (uint64_t)(end - p))
            return LOGSHARE_ECORRUPT;
        const unsigned char *b = p, *bend = p + blen;
        p = bend;
        if (type == LOGFMT_REC_FORMAT) {
            if (logfmt_get_varint(&b, bend, &v) != 0)
                return LOGSHARE_ECORRUPT;
            int rc = format_define(r, v, b, (size_t)(bend - b));
            if (rc != 0)
                return rc;
            continue;
        }
        if (type < LOGFMT_REC_TEXT || type > LOGFMT_REC_DROPPED)
            continue; /* a newer writer's record: skippable by design */
        if (b >= bend)
            return LOGSHARE_ECORRUPT;
        unsigned level_or_reason = *b++;
        if (logfmt_get_varint(&b, bend, &v) != 0)
            return LOGSHARE_ECORRUPT;
        t += logfmt_unzigzag(v);
        size_t off = r->text.len;
        int level = (int)level_or_reason;
        if (type == LOGFMT_REC_TEXT) {
            /* No writer puts a NUL in a message (they come from printf):
             * one here means the file was not made by liblogshare. */
            if (level > LOGSHARE_LEVEL_FATAL || memchr(b, '\0', (size_t)(bend - b)))
                return LOGSHARE_ECORRUPT;
            if (ls_buf_append(&r->text, b, (size_t)(bend - b)) != 0)
                return LOGSHARE_ENOMEM;
        } else if (type == LOGFMT_REC_BINARY) {
            if (level > LOGSHARE_LEVEL_FATAL || logfmt_get_varint(&b, bend, &v) != 0 ||
                v >= r->nformats || !r->formats[v])
                return LOGSHARE_ECORRUPT;
            int rc = logfmt_printf_render(r->formats[v], &b, bend, &r->text);
            if (rc != 0 || b != bend)
                return rc == LOGSHARE_ENOMEM ? rc : LOGSHARE_ECORRUPT;
        } else {
            if (logfmt_get_varint(&b, bend, &v) != 0 || b != bend)
                return LOGSHARE_ECORRUPT;
            level = LOGSHARE_LEVEL_WARN;
            if (ls_buf_printf(&r->text, "logshare: %llu records dropped because %s",
                              (unsigned long long)v, drop_reason(level_or_reason)) != 0)
                return LOGSHARE_ENOMEM;
        }
        int rc = record_push(r, t, level, off);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int logshare_reader_next(logshare_reader *r, logshare_record *rec)
{
    if (!r || !rec)
        return LOGSHARE_EINVAL;
    while (r->next == r->nrecs) {
        if (r->error)
            return r->error;
        if (r->pos == r->len) {
            if (r->final_seen)
                return 0;
            return r->error = LOGSHARE_ETRUNCATED;
        }
        if (r->final_seen) /* bytes after the final frame: appended or spliced */
            return r->error = LOGSHARE_ECORRUPT;
        size_t used = 0;
        int final = 0;
        logfmt_frame_header fh;
        int rc = logfmt_open_frame(&r->opener, r->data + r->pos, r->len - r->pos, &used, &final,
                                   &fh, &r->scratch, &r->payload);
        if (rc == 0)
            rc = frame_decode(r, fh.first_us);
        if (rc != 0) {
            r->nrecs = r->next = 0;
            if (rc != LOGSHARE_ENOMEM && zero_tail_torn(r, r->pos))
                rc = LOGSHARE_ETRUNCATED;
            return r->error = rc;
        }
        r->pos += used;
        r->final_seen = final;
    }
    struct reader_record *x = &r->recs[r->next++];
    rec->time_us = x->time_us;
    rec->level = (logshare_level)x->level;
    rec->stream = r->header.stream;
    rec->message = r->text.data + x->off;
    rec->message_len = x->len;
    rec->file_seq = r->header.seq;
    return 1;
}
