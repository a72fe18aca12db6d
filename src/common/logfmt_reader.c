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
#include <sys/stat.h>
#include <unistd.h>

#include "logfmt.h"
#include "logfmt_frame.h"
#include "logfmt_printf.h"
#include "logshare.h"
#include "ls_buf.h"
#include "ls_fs.h"

/* Files at least this large are read through a window, not whole: the
 * server's log viewer pages through uploads of hundreds of MB. Not a
 * mapping: a file cut while mapped (a live store's writer cuts a failed
 * write off its current file; anyone may truncate a file) faults with
 * SIGBUS, where a read just comes up short, which is a torn tail. */
#define READER_WINDOW_MIN_FILE (16u * 1024u * 1024u)
/* The window holds the largest frame whole, with room to spare so a
 * refill moves on by about a MiB. */
#define READER_WINDOW_BYTES (2u * 1024u * 1024u + 2u * LOGFMT_FRAME_HEADER_LEN)
#define READER_FRAME_SPAN (LOGFMT_FRAME_HEADER_LEN + LOGFMT_FRAME_BODY_MAX + 64u)
/* A pipe or device is read whole, up to this much. */
#define READER_STREAM_MAX ((size_t)1 << 30)
#define READER_FORMAT_IDS_MAX 65536u
/* The most format text one file may hold defined at once: what the
 * writer can define (4096 formats of at most LOGFMT_FORMAT_MAX bytes).
 * Without it a small hostile file could make a reader hold 64 MiB of
 * formats (65536 ids of 1 KiB each). */
#define READER_FORMAT_BYTES_MAX (4096u * (LOGFMT_FORMAT_MAX + 1u))
/* The most text one frame's records may render to. Deferred records
 * expand: "%*s" pads a one-byte argument to 4096 columns, so a 1 MiB
 * payload (a few hundred bytes compressed) could render to over a GiB,
 * all held at once since a frame is decoded whole. Real logs render to a
 * few times their payload; 32 times its limit is far past any of them. */
#define READER_FRAME_TEXT_MAX (32u * LOGFMT_PAYLOAD_MAX)

struct reader_record {
    int64_t time_us;
    int level;
    size_t off, len;
};

struct logshare_reader {
    /* The file's bytes [win_off, win_off + win_len), malloc'ed: the whole
     * file (fd -1), or a window read from fd as the reader moves on. */
    unsigned char *data;
    int fd;
    size_t win_off, win_len;
    size_t len, pos; /* len: the file's size (smaller if it was cut meanwhile) */
    logfmt_header header;
    logfmt_opener opener;
    ls_buf scratch, payload, text;
    struct reader_record *recs;
    size_t nrecs, cap, next;
    char **formats; /* by id; NULL where undefined */
    size_t nformats;
    size_t format_bytes; /* the text of the formats defined now */
    int error;           /* sticky negative code, or 0 */
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

/* Points *p at the file's bytes from off on, with *avail of them (at
 * least min(want, what the file has from off) unless reading failed or
 * the file was cut, which shortens r->len). */
static int reader_at(logshare_reader *r, size_t off, size_t want, const unsigned char **p,
                     size_t *avail)
{
    if (off > r->len)
        off = r->len;
    if (want > r->len - off)
        want = r->len - off;
    if (r->fd >= 0 && (off < r->win_off || off + want > r->win_off + r->win_len)) {
        size_t n = r->len - off < READER_WINDOW_BYTES ? r->len - off : READER_WINDOW_BYTES;
        size_t got = 0;
        while (got < n) {
            ssize_t k = pread(r->fd, r->data + got, n - got, (off_t)(off + got));
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0)
                return ls_fs_errno_to_error(errno);
            if (k == 0) { /* cut meanwhile: it ends here now */
                r->len = off + got;
                if (r->zero_tail > r->len)
                    r->zero_tail = r->len;
                break;
            }
            got += (size_t)k;
        }
        r->win_off = off;
        r->win_len = got;
    }
    *p = r->data + (off - r->win_off);
    *avail = r->win_off + r->win_len - off;
    return 0;
}

/* Where the run of zero bytes that ends the file starts (r->len: none). */
static int find_zero_tail(logshare_reader *r)
{
    size_t end = r->len;
    while (end > 0) {
        size_t start = end > READER_WINDOW_BYTES ? end - READER_WINDOW_BYTES : 0;
        const unsigned char *p;
        size_t avail;
        int rc = reader_at(r, start, end - start, &p, &avail);
        if (rc != 0)
            return rc;
        if (end > r->len) /* cut meanwhile */
            end = r->len;
        if (avail > end - start)
            avail = end - start;
        while (avail > 0 && p[avail - 1] == 0)
            avail--;
        if (avail > 0 || start == 0) {
            r->zero_tail = start + avail;
            return 0;
        }
        end = start;
    }
    r->zero_tail = 0;
    return 0;
}

static int zero_tail_torn(logshare_reader *r, size_t frame_start)
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
    const unsigned char *p;
    size_t avail;
    if (reader_at(r, frame_start, LOGFMT_FRAME_HEADER_LEN, &p, &avail) == 0 &&
        avail >= LOGFMT_FRAME_HEADER_LEN && logfmt_frame_header_decode(p, &fh) == 0 &&
        frame_start + LOGFMT_FRAME_HEADER_LEN + fh.body_len <= r->zero_tail)
        return 0;
    return 1;
}

void logshare_reader_close(logshare_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
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

/* Takes ownership of data and fd: data is the whole file of len bytes
 * (fd -1), or an empty window buffer of READER_WINDOW_BYTES over fd, a
 * file of len bytes. */
static int reader_start(unsigned char *data, size_t len, int fd, const char *secret_key_text,
                        logshare_reader **out)
{
    *out = NULL;
    logshare_reader *r = calloc(1, sizeof *r);
    if (!r) {
        free(data);
        if (fd >= 0)
            close(fd);
        return LOGSHARE_ENOMEM;
    }
    r->data = data;
    r->fd = fd;
    r->len = len;
    r->win_len = fd >= 0 ? 0 : len;
    r->zero_tail = len;
    const unsigned char *head = NULL;
    size_t hlen = 0;
    int rc = find_zero_tail(r);
    if (rc == 0)
        rc = reader_at(r, 0, LOGFMT_HEADER_MAX, &head, &hlen);
    if (rc != 0) {
        logshare_reader_close(r);
        return rc;
    }
    len = r->len; /* cut meanwhile, perhaps */
    rc = logfmt_header_decode(head, hlen, &r->header);
    /* Zeros from inside the header on: the file was created, then the
     * power went before its first block reached the disk. (A header
     * ends in its hash, so never in ZERO_TAIL_MIN zero bytes.) */
    size_t z = r->zero_tail;
    if (rc != 0 && rc != LOGSHARE_ETRUNCATED && z < len &&
        memcmp(head, LOGFMT_MAGIC, z < LOGFMT_MAGIC_LEN ? z : LOGFMT_MAGIC_LEN) == 0 &&
        (z <= LOGFMT_MAGIC_LEN || len - z >= ZERO_TAIL_MIN) &&
        (z < 16 || z < logfmt_get_u32(head + 12)))
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
    if (out)
        *out = NULL;
    if (!out || (!data && len))
        return LOGSHARE_EINVAL;
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy)
        return LOGSHARE_ENOMEM;
    if (len)
        memcpy(copy, data, len);
    return reader_start(copy, len, -1, secret_key_text, out);
}

/* A pipe, socket or device: read to its end (up to READER_STREAM_MAX). */
static int read_stream(int fd, const char *secret_key_text, logshare_reader **out)
{
    ls_buf b = LS_BUF_INIT;
    for (;;) {
        if (b.len >= READER_STREAM_MAX) {
            ls_buf_free(&b);
            return LOGSHARE_ETOOLARGE;
        }
        if (ls_buf_reserve(&b, 64 * 1024) != 0) {
            ls_buf_free(&b);
            return LOGSHARE_ENOMEM;
        }
        ssize_t n = read(fd, b.data + b.len, 64 * 1024);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int rc = ls_fs_errno_to_error(errno);
            ls_buf_free(&b);
            return rc;
        }
        if (n == 0)
            break;
        b.len += (size_t)n;
    }
    size_t len = b.len;
    unsigned char *data = (unsigned char *)ls_buf_steal(&b);
    if (!data && !(data = malloc(1)))
        return LOGSHARE_ENOMEM;
    return reader_start(data, len, -1, secret_key_text, out);
}

int logfmt_reader_open_fd(int fd, const char *secret_key_text, logshare_reader **out)
{
    if (fd < 0 || !out)
        return LOGSHARE_EINVAL;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return ls_fs_errno_to_error(errno);
    if (S_ISDIR(st.st_mode))
        return LOGSHARE_EINVAL;
    if (!S_ISREG(st.st_mode))
        return read_stream(fd, secret_key_text, out);
    if ((uint64_t)st.st_size >= READER_WINDOW_MIN_FILE && (uint64_t)st.st_size <= SIZE_MAX) {
        int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (own < 0)
            return ls_fs_errno_to_error(errno);
        unsigned char *win = malloc(READER_WINDOW_BYTES);
        if (!win) {
            close(own);
            return LOGSHARE_ENOMEM;
        }
        (void)posix_fadvise(own, 0, 0, POSIX_FADV_SEQUENTIAL);
        return reader_start(win, (size_t)st.st_size, own, secret_key_text, out);
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
    return reader_start(data, used, -1, secret_key_text, out);
}

int logshare_reader_open(const char *path, const char *secret_key_text, logshare_reader **out)
{
    if (out)
        *out = NULL;
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
    size_t old = r->formats[id] ? strlen(r->formats[id]) + 1 : 0;
    if (r->format_bytes - old + n + 1 > READER_FORMAT_BYTES_MAX)
        return LOGSHARE_ECORRUPT;
    char *s = malloc(n + 1);
    if (!s)
        return LOGSHARE_ENOMEM;
    memcpy(s, p, n);
    s[n] = '\0';
    unsigned char kinds[LOGFMT_MAX_ARGS];
    unsigned nargs;
    if (logfmt_printf_parse(s, kinds, &nargs, NULL, NULL) != 0) {
        free(s);
        return LOGSHARE_ECORRUPT;
    }
    free(r->formats[id]);
    r->formats[id] = s;
    r->format_bytes += n + 1 - old;
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
    return reason == LOGFMT_DROP_BUFFER_FULL ? "the logging thread's buffer was full"
           : reason == LOGFMT_DROP_WRITE_FAILED
               ? "they could not be written (a disk error, or a record too large for a log file)"
               : "of an unknown reason";
}

/* Decodes every record of the payload into r->recs / r->text. */
static int frame_decode(logshare_reader *r, int64_t base_us)
{
    r->nrecs = r->next = 0;
    ls_buf_reset(&r->text);
    /* An empty frame (a close with nothing left to write) may leave the
     * payload buffer unallocated: NULL + 0 is undefined behaviour. */
    if (r->payload.len == 0)
        return 0;
    const unsigned char *p = (const unsigned char *)r->payload.data;
    const unsigned char *end = p + r->payload.len;
    int64_t t = base_us;
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
        /* No writer's clock runs past int64 microseconds: a delta that
         * would overflow (undefined behaviour) means a forged file. */
        int64_t delta = logfmt_unzigzag(v);
        if ((delta > 0 && t > INT64_MAX - delta) || (delta < 0 && t < INT64_MIN - delta))
            return LOGSHARE_ECORRUPT;
        t += delta;
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
        if (r->text.len > READER_FRAME_TEXT_MAX)
            return LOGSHARE_ETOOLARGE;
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
        const unsigned char *p;
        size_t avail;
        int rc = reader_at(r, r->pos, READER_FRAME_SPAN, &p, &avail);
        if (rc != 0)
            return r->error = rc;
        if (r->pos == r->len) /* cut meanwhile */
            return r->error = LOGSHARE_ETRUNCATED;
        rc = logfmt_open_frame(&r->opener, p, avail, &used, &final, &fh, &r->scratch, &r->payload);
        if (rc == 0)
            rc = frame_decode(r, fh.first_us);
        if (rc != 0) {
            r->nrecs = r->next = 0;
            if (rc != LOGSHARE_ENOMEM && rc != LOGSHARE_ETOOLARGE && zero_tail_torn(r, r->pos))
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
