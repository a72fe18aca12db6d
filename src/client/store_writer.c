/*
 * store_writer.c - the background writer of a store: drains the
 * threads' rings (merged by time), encodes records, and writes frames
 * to one file per stream, rotating by size and keeping the quota.
 *
 * Everything slow happens here: compression, encryption, write(),
 * fsync, unlink. Frames are written when ~frame_target bytes of records
 * are pending, when the oldest pending record is 250 ms old, on flush
 * and at close. A failed write is undone (the file is cut back to its
 * last good frame and the crypto state restored), its records counted
 * as lost, and noted in the file once writing works again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ls_fs.h"
#include "ls_time.h"
#include "store.h"

#define FRAME_MAX_AGE_NS (250 * 1000000LL)
#define IDLE_WAIT_NS (100 * 1000000LL)
#define RETRY_NS (1000 * 1000000LL)
#define EXPIRE_EVERY_NS (60 * 1000000000LL)
#define CHECK_EVERY_NS (1000 * 1000000LL)
#define PUBLISH_EVERY 512
/* One record's encoding at most: a format definition plus the record. */
#define RECORD_ENCODED_MAX (LOGFMT_FORMAT_MAX + 16 + 4096 + 24 * 11 + 64)
/* put_record's type and length, a level and a time delta, at most. */
#define RECORD_HEAD_MAX (1 + 10 + 1 + 10)
/* A DROPPED record at most: head, reason, delta, count. */
#define DROP_NOTE_MAX (1 + 10 + 1 + 10 + 10)

static void set_error(logshare *ls, int rc)
{
    atomic_store(&ls->last_error, rc);
}

/* The error of a stream whose last write or file creation failed, or
 * 0: a good write to one stream must not clear the error of another
 * that still cannot write. */
static int streams_error(const logshare *ls)
{
    for (int i = 0; i < ls->nstreams; i++)
        if (ls->streams[i].error)
            return ls->streams[i].error;
    return 0;
}

/* Counts n records as lost to a write failure, and why: the next flush
 * reports it even if writing works again by then (flush_outcome). */
static void count_lost(logshare *ls, uint64_t n, int why)
{
    if (n == 0)
        return;
    atomic_fetch_add(&ls->write_failed, n);
    ls->loss_error = why ? why : LOGSHARE_EIO;
}

/* What a flush answered now returns: the writer's current error, or,
 * when records were lost since the last flush was answered, why. A good
 * write since (the loss note itself, or the stream's next frame) clears
 * last_error, but must not hide that records logged before the flush
 * were lost. A loss the writer did not count itself is a logging thread
 * that could not make its ring (store_log.c). */
static int flush_outcome(logshare *ls)
{
    int rc = atomic_load(&ls->last_error);
    uint64_t failed = atomic_load(&ls->write_failed);
    if (rc == 0 && failed != ls->failed_at_flush)
        rc = ls->loss_error ? ls->loss_error : LOGSHARE_ENOMEM;
    ls->failed_at_flush = failed;
    ls->loss_error = 0;
    return rc;
}

/* Files last written before this are past the maximum age. Saturates:
 * a maximum age of centuries (INT64_MAX seconds is allowed) would
 * overflow to a cutoff in the future, and every file would expire. */
static int64_t store_age_cutoff_us(const logshare *ls)
{
    int64_t now = ls_time_now_us();
    if (ls->max_age_s > now / 1000000)
        return INT64_MIN;
    return now - ls->max_age_s * 1000000;
}

int store_writer_prepare_dir(logshare *ls)
{
    int rc = ls_fs_mkdir_p(ls->dir.dir, 0700);
    if (rc != 0)
        return rc;
    if (ls->lock_fd < 0) {
        size_t n = strlen(ls->dir.dir) + 8;
        char *lp = malloc(n);
        if (!lp)
            return LOGSHARE_ENOMEM;
        snprintf(lp, n, "%s/.lock", ls->dir.dir);
        int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        free(lp);
        if (fd < 0)
            return ls_fs_errno_to_error(errno);
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            close(fd);
            return e == EWOULDBLOCK ? LOGSHARE_EBUSY : ls_fs_errno_to_error(e);
        }
        ls->lock_fd = fd;
    }
    struct stat ds;
    if (stat(ls->dir.dir, &ds) != 0)
        return ls_fs_errno_to_error(errno);
    ls->dir_dev = ds.st_dev;
    ls->dir_ino = ds.st_ino;
    rc = store_dir_scan(&ls->dir);
    if (rc != 0)
        return rc;
    /* A rescan (after a failure) must not forget which files are still
     * being written: the quota would delete them. */
    for (int i = 0; i < ls->nstreams; i++) {
        struct store_file *f =
            ls->streams[i].fd >= 0 ? store_dir_find(&ls->dir, ls->streams[i].seq) : NULL;
        if (f)
            f->current = 1;
    }
    store_dir_expire(&ls->dir, store_age_cutoff_us(ls));
    ls->dir_ready = 1;
    return 0;
}

static void file_entry_update(logshare *ls, uint64_t seq, uint64_t add, int current)
{
    struct store_file *f = store_dir_find(&ls->dir, seq);
    if (!f)
        return;
    f->size += add;
    ls->dir.total += add;
    f->current = current;
    f->mtime_us = ls_time_now_us();
}

int store_writer_open_file(logshare *ls, struct store_stream *st)
{
    int rc = 0;
    if (!ls->dir_ready && (rc = store_writer_prepare_dir(ls)) != 0)
        return rc;
    unsigned char hb[LOGFMT_HEADER_MAX];
    size_t hl = 0;
    uint64_t seq = ls->dir.next_seq++;
    rc = logfmt_sealer_begin(&st->sealer, ls->plaintext ? NULL : ls->pk, seq, ls_time_now_us(),
                             st->name, ls->cctx, hb, &hl);
    if (rc != 0)
        return rc;
    if ((rc = store_dir_make_room(&ls->dir, hl, ls->max_total_bytes)) != 0)
        return rc;
    char *path = store_dir_file_path(ls->dir.dir, st->name, seq);
    if (!path)
        return LOGSHARE_ENOMEM;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = ls_fs_errno_to_error(errno);
        free(path);
        /* The directory may have been removed or replaced: look again. */
        ls->dir_ready = 0;
        return rc;
    }
    rc = store_dir_add(&ls->dir, path, st->name, seq);
    if (rc == 0)
        rc = ls_fs_write_all(fd, hb, hl);
    if (rc == 0)
        rc = ls_fs_fsync_dir(ls->dir.dir);
    if (rc != 0) {
        close(fd);
        unlink(path);
        free(path);
        ls->dir_ready = 0; /* rescan: drops the entry we added */
        return rc;
    }
    free(path);
    file_entry_update(ls, seq, hl, 1);
    st->fd = fd;
    st->seq = seq;
    st->size = hl;
    st->header_size = hl;
    memset(st->emitted, 0, sizeof st->emitted);
    return 0;
}

/* Seals the pending records (possibly none) into a frame and writes it. */
static int stream_write_frame(logshare *ls, struct store_stream *st, int final)
{
    ls_buf_reset(&ls->frame_out);
    logfmt_sealer saved = st->sealer;
    int64_t first = st->pending.len ? st->pending_first_us : 0;
    int64_t last = st->pending.len ? st->pending_prev_us : 0;
    int rc = logfmt_seal_frame(&st->sealer, (const unsigned char *)st->pending.data,
                               st->pending.len, first, last, final, &ls->scratch, &ls->frame_out);
    if (rc == 0)
        rc = store_dir_make_room(&ls->dir, ls->frame_out.len, ls->max_total_bytes);
    if (rc == 0)
        rc = ls_fs_write_all(st->fd, ls->frame_out.data, ls->frame_out.len);
    struct stat sb;
    if (rc == 0 && fstat(st->fd, &sb) == 0 && sb.st_nlink == 0) {
        /* The file was unlinked (its directory removed): the write went
         * into a file nobody can ever read, so it is a failed write, and
         * the writer looks for the directory now rather than at its next
         * check, up to a second of records later. */
        rc = LOGSHARE_ENOENT;
        ls->check_files_now = 1;
    }
    if (rc != 0) {
        st->sealer = saved;
        /* Cut back to the last good frame; if even that fails, the file
         * ends torn here and the next frame goes to a new file. */
        if (ftruncate(st->fd, (off_t)st->size) != 0) {
            close(st->fd);
            st->fd = -1;
            file_entry_update(ls, st->seq, 0, 0);
        }
        return rc;
    }
    st->size += ls->frame_out.len;
    file_entry_update(ls, st->seq, ls->frame_out.len, 1);
    return 0;
}

/* Writes the pending records out as one frame and accounts for them. */
static void stream_commit(logshare *ls, struct store_stream *st, int final)
{
    if (st->fd < 0) {
        st->lost_unnoted += st->pending_records;
        count_lost(ls, st->pending_records, st->error);
    } else if (st->pending.len || final) {
        int rc = stream_write_frame(ls, st, final);
        if (rc == 0) {
            atomic_fetch_add(&ls->written, st->pending_records);
            st->lost_unnoted -= st->lost_noted_in_pending;
            st->error = 0;
            set_error(ls, streams_error(ls));
        } else {
            st->lost_unnoted += st->pending_records;
            st->error = rc;
            count_lost(ls, st->pending_records, rc);
            memset(st->emitted, 0, sizeof st->emitted); /* their definitions were lost too */
            set_error(ls, rc);
            st->retry_at_ns = ls_time_mono_ns() + RETRY_NS;
        }
    }
    ls_buf_reset(&st->pending);
    st->pending_records = 0;
    st->lost_noted_in_pending = 0;
}

/* Ends the current file with a FINAL frame (carrying what is pending). */
static void stream_finish(logshare *ls, struct store_stream *st)
{
    if (st->fd < 0) {
        stream_commit(ls, st, 0);
        return;
    }
    stream_commit(ls, st, 1);
    if (st->fd >= 0) {
        fsync(st->fd);
        close(st->fd);
        st->fd = -1;
        file_entry_update(ls, st->seq, 0, 0);
    }
}

static void put_record(ls_buf *b, unsigned type, const unsigned char *body, size_t len)
{
    unsigned char head[11];
    head[0] = (unsigned char)type;
    size_t hl = 1 + logfmt_put_varint(head + 1, len);
    ls_buf_append(b, head, hl); /* capacity reserved by the caller */
    ls_buf_append(b, body, len);
}

/* Appends a DROPPED record (why: LOGFMT_DROP_*, count records) at time t. */
static void put_drop_note(struct store_stream *st, int why, uint64_t count, int64_t t)
{
    unsigned char body[24];
    size_t n = 0;
    body[n++] = (unsigned char)why;
    n += logfmt_put_varint(body + n, logfmt_zigzag(t - st->pending_prev_us));
    n += logfmt_put_varint(body + n, count);
    put_record(&st->pending, LOGFMT_REC_DROPPED, body, n);
    st->pending_prev_us = t;
}

static void note_lost(struct store_stream *st, int64_t t)
{
    put_drop_note(st, LOGFMT_DROP_WRITE_FAILED, st->lost_unnoted, t);
    st->lost_noted_in_pending = st->lost_unnoted;
}

/* Whether a frame of len bytes of records, and the final frame after
 * it, fit in a file of size bytes: a file never exceeds max_file_bytes,
 * whatever compression makes of the records. */
static int fits_after(const logshare *ls, uint64_t size, uint64_t len)
{
    return size + logfmt_frame_bound(len) + logfmt_frame_bound(0) <= ls->max_file_bytes;
}

/* The same for the stream's current file. */
static int frame_fits(const logshare *ls, const struct store_stream *st, uint64_t len)
{
    return fits_after(ls, st->size, len);
}

/* The most bytes the record h adds to st's pending frame, its format's
 * definition included when the current file does not have it yet. */
static uint64_t record_bound(const logshare *ls, const struct store_stream *st,
                             const struct ring_rec *h)
{
    if (h->kind != RING_BINARY)
        return RECORD_HEAD_MAX + h->aux;
    /* The arguments: 8 bytes each in the ring, a varint of up to 10 in
     * the file; the strings' bytes as they are. */
    uint64_t n = RECORD_HEAD_MAX + 10 + (h->size - sizeof *h) + 2u * h->nargs;
    const struct store_fmt_info *fi = h->aux < STORE_FMT_MAX ? ls->fmts.by_id[h->aux] : NULL;
    if (fi && !(st->emitted[fi->id / 8] & (1u << (fi->id % 8))))
        n += 1 + 10 + 10 + strlen(fi->fmt);
    return n;
}

/* Makes sure the stream can take a record of at most need bytes: a
 * file, with room for it in the frame being filled (what is pending is
 * written first, and the file is finished, when it would not fit). 0,
 * or -1 when there is no file to write to (drop). A record too large
 * even for a file of its own is the caller's to check (frame_fits). */
static int stream_ready(logshare *ls, struct store_stream *st, int64_t t, uint64_t need)
{
    uint64_t note = !st->pending.len && st->lost_unnoted ? DROP_NOTE_MAX : 0;
    if (st->fd >= 0 && !frame_fits(ls, st, st->pending.len + note + need)) {
        if (st->pending.len)
            stream_commit(ls, st, 0);
        note = st->lost_unnoted ? DROP_NOTE_MAX : 0;
        /* Only for a record a new file would hold: one too large for
         * any file is dropped by the caller, and must not end a file
         * each time (a trail of files holding a drop note each). */
        if (st->fd >= 0 && !frame_fits(ls, st, note + need) &&
            fits_after(ls, st->header_size, note + need)) {
            stream_finish(ls, st);
            store_dir_expire(&ls->dir, store_age_cutoff_us(ls));
        }
    }
    if (st->pending.len)
        return 0;
    int64_t now = ls_time_mono_ns();
    if (st->fd < 0) {
        if (now < st->retry_at_ns)
            return -1;
        int rc = store_writer_open_file(ls, st);
        if (rc != 0) {
            st->error = rc;
            set_error(ls, rc);
            st->retry_at_ns = now + RETRY_NS;
            return -1;
        }
    }
    st->pending_since_ns = now;
    st->pending_first_us = st->pending_prev_us = t;
    if (ls_buf_reserve(&st->pending, ls->frame_target + RECORD_ENCODED_MAX) != 0)
        return -1;
    if (st->lost_unnoted)
        note_lost(st, t);
    return 0;
}

/* Encodes one ring record into its stream's pending frame. */
static void writer_take(logshare *ls, const struct ring_rec *h)
{
    if (h->stream >= ls->nstreams)
        return;
    struct store_stream *st = &ls->streams[h->stream];
    int64_t t = store_time_us(ls, h->time_us);
    int ready = stream_ready(ls, st, t, record_bound(ls, st, h));
    /* Bounded again: a new file has none of the formats defined. A
     * record that fits no file (max_file_bytes lowered to a few KiB by
     * the quota) is lost like one the disk refused. */
    if (ready != 0 || !frame_fits(ls, st, st->pending.len + record_bound(ls, st, h))) {
        st->lost_unnoted++;
        count_lost(ls, 1, ready != 0 ? st->error : LOGSHARE_ETOOLARGE);
        return;
    }
    unsigned char body[RECORD_ENCODED_MAX];
    size_t n = 0;
    const unsigned char *payload = (const unsigned char *)(h + 1);
    uint64_t delta = logfmt_zigzag(t - st->pending_prev_us);
    if (h->kind == RING_BINARY) {
        const struct store_fmt_info *fi = h->aux < STORE_FMT_MAX ? ls->fmts.by_id[h->aux] : NULL;
        if (!fi)
            return;
        if (!(st->emitted[fi->id / 8] & (1u << (fi->id % 8)))) {
            size_t fl = strlen(fi->fmt);
            n = logfmt_put_varint(body, fi->id);
            memcpy(body + n, fi->fmt, fl);
            put_record(&st->pending, LOGFMT_REC_FORMAT, body, n + fl);
            st->emitted[fi->id / 8] |= (unsigned char)(1u << (fi->id % 8));
            n = 0;
        }
        body[n++] = h->level;
        n += logfmt_put_varint(body + n, delta);
        n += logfmt_put_varint(body + n, fi->id);
        const unsigned char *strs = payload + 8u * h->nargs;
        for (unsigned i = 0; i < h->nargs; i++) {
            uint64_t v;
            memcpy(&v, payload + 8u * i, 8);
            /* LOGSHARE_LOG widened it by the argument's type, not the
             * conversion's (logshare_log_args). */
            v = logfmt_arg_narrow(fi->kinds[i], v);
            switch (logfmt_arg_class_of(fi->kinds[i])) {
            case LOGFMT_CLASS_SIGNED:
                n += logfmt_put_varint(body + n, logfmt_zigzag((int64_t)v));
                break;
            case LOGFMT_CLASS_UNSIGNED:
                n += logfmt_put_varint(body + n, v);
                break;
            case LOGFMT_CLASS_DOUBLE:
                logfmt_put_u64(body + n, v);
                n += 8;
                break;
            case LOGFMT_CLASS_STRING:
                n += logfmt_put_varint(body + n, v);
                memcpy(body + n, strs, v);
                n += v;
                strs += v;
                break;
            }
        }
        put_record(&st->pending, LOGFMT_REC_BINARY, body, n);
    } else {
        body[n++] = h->level;
        n += logfmt_put_varint(body + n, delta);
        memcpy(body + n, payload, h->aux);
        put_record(&st->pending, LOGFMT_REC_TEXT, body, n + h->aux);
    }
    st->pending_prev_us = t;
    st->pending_records++;
    if (st->pending.len >= ls->frame_target)
        stream_commit(ls, st, 0);
}

/* Writes down what was lost since the last note without waiting for a
 * record to carry it: the rings' buffer-full drops (the difference
 * between each ring's counters and what was already taken) and records
 * lost to write failures. Called after every drain, so also at flush
 * and close; a note that cannot be written yet (no file) waits for the
 * next pass. The note goes after the records of the same drain and
 * takes the time it was noticed. */
static void writer_note_drops(logshare *ls)
{
    pthread_mutex_lock(&ls->rings_lock);
    for (size_t i = 0; i < ls->nrings; i++) {
        struct store_ring *r = ls->rings[i];
        for (int s = 0; s < ls->nstreams; s++) {
            uint64_t d = atomic_load_explicit(&r->dropped_by_stream[s], memory_order_relaxed);
            ls->streams[s].full_unnoted += d - r->noted[s];
            r->noted[s] = d;
        }
    }
    pthread_mutex_unlock(&ls->rings_lock);
    int64_t t = -1;
    for (int s = 0; s < ls->nstreams; s++) {
        struct store_stream *st = &ls->streams[s];
        int lost = st->lost_unnoted > st->lost_noted_in_pending;
        if (!st->full_unnoted && !lost)
            continue;
        if (t < 0)
            t = store_time_us(ls, store_raw_time(ls));
        /* Starting a frame notes write-failure losses by itself. */
        if (stream_ready(ls, st, t, DROP_NOTE_MAX) != 0 || !st->full_unnoted)
            continue;
        put_drop_note(st, LOGFMT_DROP_BUFFER_FULL, st->full_unnoted, t);
        st->full_unnoted = 0;
    }
}

/* Notices a store directory (or a file in it) removed or replaced while
 * open: writes would still succeed, into files nobody can ever read, and
 * flush would report success. Then the pending records are counted as
 * lost, the error is kept (LOGSHARE_ENOENT), and the directory, lock and
 * files are made anew so logging goes on. A frame written into a file
 * already unlinked is counted as lost where it is written
 * (stream_write_frame), which also has the writer run this at once. */
static void writer_check_files(logshare *ls)
{
    if (!ls->dir_ready)
        return;
    struct stat sb;
    int dir_gone = stat(ls->dir.dir, &sb) != 0 || sb.st_dev != ls->dir_dev ||
                   sb.st_ino != ls->dir_ino ||
                   (ls->lock_fd >= 0 && fstat(ls->lock_fd, &sb) == 0 && sb.st_nlink == 0);
    int reopen[LOGSHARE_MAX_STREAMS] = {0}, any = dir_gone;
    for (int i = 0; i < ls->nstreams; i++) {
        struct store_stream *st = &ls->streams[i];
        if (st->fd < 0 || (!dir_gone && (fstat(st->fd, &sb) != 0 || sb.st_nlink != 0)))
            continue;
        st->lost_unnoted += st->pending_records;
        count_lost(ls, st->pending_records, LOGSHARE_ENOENT);
        ls_buf_reset(&st->pending);
        st->pending_records = 0;
        st->lost_noted_in_pending = 0;
        close(st->fd);
        st->fd = -1;
        file_entry_update(ls, st->seq, 0, 0);
        memset(st->emitted, 0, sizeof st->emitted);
        reopen[i] = any = 1;
    }
    if (!any)
        return;
    ls->dir_ready = 0; /* rescan (and recreate) before the next file */
    if (dir_gone && ls->lock_fd >= 0) {
        /* The lock lived in the removed directory: take it again in the
         * new one, or another process could open it too. */
        close(ls->lock_fd);
        ls->lock_fd = -1;
    }
    int64_t now = ls_time_mono_ns();
    int err = LOGSHARE_ENOENT; /* unless making it again failed: then why */
    for (int i = 0; i < ls->nstreams; i++) {
        if (!reopen[i])
            continue;
        int rc = store_writer_open_file(ls, &ls->streams[i]);
        if (rc != 0) {
            err = err == LOGSHARE_ENOENT ? rc : err;
            ls->streams[i].retry_at_ns = now + RETRY_NS;
        }
    }
    /* Set last, so whoever sees it finds the new directory in place. */
    set_error(ls, err);
}

/* Frees rings whose thread has exited, once they are empty and their
 * drops have been taken (writer_note_drops). */
static void rings_reap(logshare *ls)
{
    pthread_mutex_lock(&ls->rings_lock);
    for (size_t i = 0; i < ls->nrings;) {
        struct store_ring *r = ls->rings[i];
        int noted = 1;
        for (int s = 0; s < ls->nstreams; s++)
            noted &= atomic_load(&r->dropped_by_stream[s]) == r->noted[s];
        if (atomic_load(&r->abandoned) && atomic_load(&r->head) == atomic_load(&r->tail) && noted) {
            ls->retired_dropped += atomic_load(&r->dropped);
            store_ring_free(r);
            ls->rings[i] = ls->rings[--ls->nrings];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&ls->rings_lock);
}

struct drain_cursor {
    struct store_ring *ring;
    uint64_t tail, head;
};

/* Takes everything committed so far from every ring, oldest record
 * first across rings. Returns the number of records taken. */
static size_t writer_drain(logshare *ls)
{
    size_t nc = 0, taken = 0;
    pthread_mutex_lock(&ls->rings_lock);
    if (ls->nrings > ls->drain_cap) {
        void *n = realloc(ls->drain_cursors, ls->nrings * sizeof(struct drain_cursor));
        if (!n) {
            pthread_mutex_unlock(&ls->rings_lock);
            return 0; /* try again on the next pass */
        }
        ls->drain_cursors = n;
        ls->drain_cap = ls->nrings;
    }
    struct drain_cursor *cur = ls->drain_cursors;
    for (size_t i = 0; i < ls->nrings; i++) {
        struct store_ring *r = ls->rings[i];
        cur[nc].ring = r;
        cur[nc].tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
        cur[nc].head = atomic_load_explicit(&r->head, memory_order_acquire);
        if (cur[nc].tail != cur[nc].head)
            nc++;
    }
    pthread_mutex_unlock(&ls->rings_lock);
    for (;;) {
        size_t best = nc;
        const struct ring_rec *bh = NULL;
        for (size_t i = 0; i < nc; i++) {
            struct drain_cursor *c = &cur[i];
            while (c->tail != c->head) {
                const struct ring_rec *h =
                    (const struct ring_rec *)(c->ring->buf + (c->tail & c->ring->mask));
                if (h->kind != RING_PAD)
                    break;
                c->tail += h->size;
            }
            if (c->tail == c->head)
                continue;
            const struct ring_rec *h =
                (const struct ring_rec *)(c->ring->buf + (c->tail & c->ring->mask));
            if (!bh || h->time_us < bh->time_us) {
                bh = h;
                best = i;
            }
        }
        if (!bh)
            break;
        writer_take(ls, bh);
        cur[best].tail += bh->size;
        if (++taken % PUBLISH_EVERY == 0)
            for (size_t i = 0; i < nc; i++)
                atomic_store_explicit(&cur[i].ring->tail, cur[i].tail, memory_order_release);
    }
    for (size_t i = 0; i < nc; i++)
        atomic_store_explicit(&cur[i].ring->tail, cur[i].tail, memory_order_release);
    writer_note_drops(ls);
    return taken;
}

static void writer_sync_all(logshare *ls)
{
    for (int i = 0; i < ls->nstreams; i++) {
        struct store_stream *st = &ls->streams[i];
        stream_commit(ls, st, 0);
        if (st->fd >= 0 && fsync(st->fd) != 0)
            set_error(ls, ls_fs_errno_to_error(errno));
    }
}

/* Finishes every current file for logshare_get_support_files: a file
 * still being written has no final frame, and would read as torn. Each
 * stream starts a new file at its next record (not now: asked often,
 * this would otherwise leave a trail of empty files). */
static void writer_rotate(logshare *ls)
{
    for (int i = 0; i < ls->nstreams; i++) {
        struct store_stream *st = &ls->streams[i];
        if (st->fd >= 0)
            stream_finish(ls, st);
    }
    if (ls->dir_ready)
        ls_fs_fsync_dir(ls->dir.dir);
}

void *store_writer_main(void *arg)
{
    logshare *ls = arg;
    int64_t next_expire = ls_time_mono_ns() + EXPIRE_EVERY_NS;
    int64_t next_check = ls_time_mono_ns() + CHECK_EVERY_NS;
    for (;;) {
        pthread_mutex_lock(&ls->lock);
        while (ls->hold && !ls->stop)
            pthread_cond_wait(&ls->wake, &ls->lock);
        uint64_t req = ls->flush_requested;
        int rotate = ls->rotate_requested;
        ls->rotate_requested = 0;
        int stop = ls->stop;
        pthread_mutex_unlock(&ls->lock);

        store_time_refresh(ls, 0);
        size_t taken = writer_drain(ls);
        int64_t now = ls_time_mono_ns();
        int64_t wait_ns = IDLE_WAIT_NS;
        for (int i = 0; i < ls->nstreams; i++) {
            struct store_stream *st = &ls->streams[i];
            if (!st->pending.len)
                continue;
            int64_t due = st->pending_since_ns + FRAME_MAX_AGE_NS;
            if (now >= due)
                stream_commit(ls, st, 0);
            else if (due - now < wait_ns)
                wait_ns = due - now;
        }
        if (now >= next_expire && ls->dir_ready) {
            store_dir_expire(&ls->dir, store_age_cutoff_us(ls));
            next_expire = now + EXPIRE_EVERY_NS;
        }
        rings_reap(ls);
        if (now >= next_check || stop || req != ls->flush_done || ls->check_files_now) {
            ls->check_files_now = 0;
            writer_check_files(ls);
            next_check = now + CHECK_EVERY_NS;
        }
        if (stop || req != ls->flush_done) {
            if (stop) {
                writer_drain(ls); /* whatever came in since */
                for (int i = 0; i < ls->nstreams; i++)
                    stream_finish(ls, &ls->streams[i]);
                if (ls->dir_ready)
                    ls_fs_fsync_dir(ls->dir.dir);
            } else {
                writer_sync_all(ls);
                if (rotate)
                    writer_rotate(ls);
            }
            pthread_mutex_lock(&ls->lock);
            if (rotate)
                ls->rotated_next_seq = ls->dir.next_seq;
            ls->flush_done = req;
            ls->flush_result = flush_outcome(ls);
            pthread_cond_broadcast(&ls->flushed);
            pthread_mutex_unlock(&ls->lock);
            if (stop)
                break;
            continue;
        }
        if (taken)
            continue;
        pthread_mutex_lock(&ls->lock);
        atomic_store(&ls->writer_sleeping, 1);
        if (!ls->stop && ls->flush_requested == ls->flush_done) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += wait_ns % 1000000000;
            ts.tv_sec += wait_ns / 1000000000 + ts.tv_nsec / 1000000000;
            ts.tv_nsec %= 1000000000;
            pthread_cond_timedwait(&ls->wake, &ls->lock, &ts);
        }
        atomic_store(&ls->writer_sleeping, 0);
        pthread_mutex_unlock(&ls->lock);
    }
    return NULL;
}
