/*
 * store.h - the internals of a log store (logshare_open and friends),
 * shared by the files of src/client/store_*.c.
 *
 * Shape: each logging thread owns an SPSC ring (store_ring.h) it copies
 * records into; one writer thread per store (store_writer.c) merges the
 * rings by time, encodes records into per-stream frames, and writes
 * them through the file format in src/common/logfmt*. The directory
 * bookkeeping (names, quota, age) is store_dir.c. A process-wide
 * registry (store.c) knows the live stores for fork and exit handling.
 */
#ifndef STORE_H
#define STORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include <zstd.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "logfmt.h"
#include "logfmt_frame.h"
#include "logfmt_printf.h"
#include "logshare.h"
#include "ls_buf.h"

/* ---- options ---- */
struct logshare_options {
    char *dir;
    char streams[LOGSHARE_MAX_STREAMS][LOGFMT_STREAM_NAME_MAX + 1];
    int nstreams;
    int streams_set; /* the first add replaces the default */
    int have_pk;
    int key_error; /* a public key was given but refused: open fails with it */
    unsigned char pk[crypto_box_PUBLICKEYBYTES];
    int plaintext;
    uint64_t max_file_bytes, max_total_bytes;
    int64_t max_age_s;
    int min_level;
    size_t buffer_bytes;
};

/* ---- the format registry: format pointer -> id and argument kinds ---- */
#define STORE_FMT_MAX 4096
#define STORE_FMT_SLOTS 8192

struct store_fmt_info {
    const char *fmt;
    uint32_t id;
    uint8_t supported; /* 0: format at the call instead */
    uint8_t nargs;
    unsigned char kinds[LOGFMT_MAX_ARGS];
    short str_prec[LOGFMT_MAX_ARGS]; /* strings: how far the call may read (logfmt_printf.h) */
    uint8_t nstrs;                   /* how many of the arguments are strings */
    uint8_t strs_unbounded;          /* none of them has a precision */
    uint32_t strmask;                /* bit i: argument i is a string */
    uint32_t starmask;               /* bit i: argument i is a clamped '*' (logfmt_printf.h) */
    uint8_t str_at[LOGFMT_MAX_ARGS]; /* their positions, in order */
};

struct store_fmt_table {
    _Atomic(struct store_fmt_info *) slots[STORE_FMT_SLOTS];
    struct store_fmt_info *by_id[STORE_FMT_MAX]; /* written before the slot is published */
    _Atomic uint32_t count;
    pthread_mutex_t lock; /* only for adding */
};

/* The info for fmt, adding it on first sight (allocates then, once per
 * format). NULL when the table is full or out of memory. */
const struct store_fmt_info *store_fmt_get(struct store_fmt_table *t, const char *fmt);

static inline size_t store_fmt_hash(const char *fmt)
{
    uint64_t x = (uint64_t)(uintptr_t)fmt;
    x ^= x >> 29;
    x *= 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 40) & (STORE_FMT_SLOTS - 1);
}

/* store_fmt_get with its common case (the format sits in its home
 * slot) inlined into the logging call. */
static inline const struct store_fmt_info *store_fmt_lookup(struct store_fmt_table *t,
                                                            const char *fmt)
{
    const struct store_fmt_info *info =
        atomic_load_explicit(&t->slots[store_fmt_hash(fmt)], memory_order_acquire);
    if (__builtin_expect(info && info->fmt == fmt, 1))
        return info;
    return store_fmt_get(t, fmt);
}
/* The table's entries are freed with the store (store_free_memory). */
void store_fmt_table_init(struct store_fmt_table *t);

/* ---- per-thread rings ---- */
enum store_ring_kind { RING_PAD = 0, RING_TEXT = 1, RING_BINARY = 2 };

/* Every ring record starts with this; size is a multiple of 8. */
struct ring_rec {
    uint32_t size;
    uint8_t kind, level, stream, nargs;
    int64_t time_us;
    uint32_t aux; /* BINARY: format id; TEXT: text length */
    uint32_t reserved;
};

struct store_ring {
    /* The calling thread's own line, which no other thread touches: the
     * writer reading head would otherwise turn every call's first loads
     * into misses while it drains. */
    _Alignas(64) uint64_t prod_head;    /* the producer's copy of head */
    uint64_t cached_tail;               /* producer's view of tail */
    _Alignas(64) _Atomic uint64_t head; /* producer publishes; writer reads */
    _Atomic uint64_t dropped;           /* producer adds; anyone reads */
    /* The same drops by stream: the writer compares them with noted[]
     * and writes the difference as a DROPPED record by itself, so a
     * count reaches the file even if the thread never logs again. */
    _Atomic uint64_t dropped_by_stream[LOGSHARE_MAX_STREAMS];
    _Alignas(64) _Atomic uint64_t tail;   /* writer */
    uint64_t noted[LOGSHARE_MAX_STREAMS]; /* writer: drops already handed to a stream */
    _Alignas(64) unsigned char *buf;
    uint64_t cap, mask;
    _Atomic int abandoned; /* the thread exited: free once drained */
};

struct store_ring *store_ring_new(size_t cap);
void store_ring_free(struct store_ring *r);

/* ---- the directory ---- */
struct store_file {
    char *path;
    char stream[LOGFMT_STREAM_NAME_MAX + 1];
    uint64_t seq;
    uint64_t size;
    int64_t mtime_us;
    int current; /* being written: never deleted */
};

struct store_dir {
    char *dir;
    struct store_file *files; /* sorted by seq */
    size_t n, cap;
    uint64_t total;
    uint64_t next_seq;
};

/* Builds the file name of a log file. New string; NULL on ENOMEM. */
char *store_dir_file_path(const char *dir, const char *stream, uint64_t seq);
/* Parses "<stream>.<seq>.lslog". 1 if it is a log file name, else 0. */
int store_dir_parse_name(const char *name, char stream[LOGFMT_STREAM_NAME_MAX + 1], uint64_t *seq);
/* (Re)reads the directory's log files (never the outbox). */
int store_dir_scan(struct store_dir *d);
/* Adds a file being created (current). */
int store_dir_add(struct store_dir *d, const char *path, const char *stream, uint64_t seq);
struct store_file *store_dir_find(struct store_dir *d, uint64_t seq);
/* Deletes the oldest files that are not current until total + need <=
 * max_total. 0, or LOGSHARE_ENOSPC when even that is not enough. */
int store_dir_make_room(struct store_dir *d, uint64_t need, uint64_t max_total);
/* Deletes files (not current) last written before cutoff_us. */
void store_dir_expire(struct store_dir *d, int64_t cutoff_us);
void store_dir_destroy(struct store_dir *d);

/* ---- the writer's per-stream state ---- */
struct store_stream {
    char name[LOGFMT_STREAM_NAME_MAX + 1];
    int fd; /* -1: no file (not yet, or after a failure) */
    uint64_t seq;
    uint64_t size;
    uint64_t header_size; /* size with no frame yet */
    logfmt_sealer sealer;
    unsigned char emitted[STORE_FMT_MAX / 8]; /* formats defined in this file */
    ls_buf pending;                           /* encoded records of the next frame */
    uint64_t pending_records;
    int64_t pending_first_us, pending_prev_us;
    int64_t pending_since_ns;
    uint64_t full_unnoted; /* buffer-full drops taken from the rings, not yet noted */
    uint64_t lost_unnoted; /* records lost to write failures, not yet noted */
    uint64_t lost_noted_in_pending;
    int64_t retry_at_ns;
    int error; /* the stream's last write or open error, 0 once it writes
                * again: last_error is 0 only when no stream has one */
};

/* ---- the store ---- */
enum store_state { STORE_OPEN = 0, STORE_CLOSING = 1, STORE_FINISHED = 2 };

struct logshare {
    /* What every logging call reads, together on the first line, which
     * the writer never writes after open (use_tsc sat beside the writer's
     * counters, whose every update cost the next call a miss). */
    uint64_t id; /* process-unique, for the threads' ring caches */
    unsigned fork_gen;
    _Atomic int state;
    int min_level;
    int nstreams;
    int use_tsc; /* see "Record times" below */
    int plaintext;
    unsigned char pk[crypto_box_PUBLICKEYBYTES];
    uint64_t max_file_bytes, max_total_bytes;
    int64_t max_age_s;
    size_t ring_bytes;
    size_t frame_target;

    struct store_fmt_table fmts;

    pthread_mutex_t rings_lock; /* the ring list; taken at a thread's first call */
    struct store_ring **rings;
    size_t nrings, rings_cap;
    uint64_t retired_dropped; /* buffer-full drops of freed rings (rings_lock) */

    /* writer wake-up and flush handshake */
    pthread_mutex_t lock;
    pthread_cond_t wake, flushed;
    _Atomic int writer_sleeping;
    uint64_t flush_requested, flush_done;
    int flush_result;
    int rotate_requested;      /* with a flush: finish every file (store_flush) */
    uint64_t rotated_next_seq; /* after a rotation: files from this seq on were
                                * started since, and may still be written */
    int stop;
    int hold; /* tests: keep the writer from draining (store_test_hold_writer) */
    pthread_t writer;
    int writer_started;

    /* writer-owned */
    struct store_dir dir;
    struct store_stream streams[LOGSHARE_MAX_STREAMS];
    ZSTD_CCtx *cctx;
    ls_buf frame_out, scratch;
    struct drain_cursor *drain_cursors;
    size_t drain_cap;
    int lock_fd;
    int dir_ready;
    dev_t dir_dev;       /* the directory locked and scanned: a removed or */
    ino_t dir_ino;       /* replaced one is noticed (store_writer.c) */
    int check_files_now; /* a frame went into an unlinked file: look now */

    _Atomic uint64_t written, write_failed;
    _Atomic int last_error;
    /* Writer-owned: why records were last lost (0: none since the last
     * flush), and write_failed when the last flush was answered, so a
     * flush reports a loss even if a later write has cleared last_error. */
    int loss_error;
    uint64_t failed_at_flush;

    /* Record times: the cycle counter when the kernel itself trusts it
     * (clocksource "tsc": invariant and synchronized across cores),
     * converted to wall time by the writer; else CLOCK_REALTIME in µs.
     * Reading the counter costs a third of clock_gettime, on the path
     * every logging call takes. use_tsc is on the first line. */
    uint64_t tsc0;
    int64_t mono0_ns;
    uint64_t anchor_tsc; /* writer-owned from here */
    int64_t anchor_wall_us;
    int64_t anchor_mono_ns;
    double us_per_tick;

    logshare *next_live; /* the process-wide registry (store.c) */
};

/* The raw time stamp of a record (see use_tsc). */
static inline int64_t store_raw_time(const logshare *ls)
{
#if defined(__x86_64__)
    if (__builtin_expect(ls->use_tsc, 1))
        return (int64_t)__rdtsc();
#endif
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* store.c */
/* Sets up the time base at open (calibrates the cycle counter). */
void store_time_init(logshare *ls);
/* Writer: refreshes the anchor and rate, at most once a second. */
void store_time_refresh(logshare *ls, int force);
/* Writer: a raw time stamp to µs since the epoch. */
static inline int64_t store_time_us(const logshare *ls, int64_t raw)
{
    if (!ls->use_tsc)
        return raw;
    return ls->anchor_wall_us +
           (int64_t)((double)(int64_t)((uint64_t)raw - ls->anchor_tsc) * ls->us_per_tick);
}

extern _Atomic unsigned store_fork_generation;
/* The calling thread's ring for ls, made on first use. NULL on ENOMEM. */
struct store_ring *store_thread_ring_slow(logshare *ls);
void store_wake_writer(logshare *ls);
/* Flushes as logshare_flush (timeout_ms 0: no limit); with rotate, the
 * writer also finishes every current file (final frame, fsync, closed;
 * the next record of a stream starts a new file), and *next_seq is then
 * the first seq a file started after that can have: every file below it
 * is complete. */
int store_flush(logshare *ls, int timeout_ms, int rotate, uint64_t *next_seq);

/* store_log.c: forgets the calling thread's cached ring (thread exit). */
void store_log_forget_thread(void);

/* store_writer.c */
/* Starts a new file for the stream (header written, directory synced). */
int store_writer_open_file(logshare *ls, struct store_stream *st);
void *store_writer_main(void *arg);
/* Prepares the directory (mkdir, lock, scan, expire): 0, LOGSHARE_EBUSY,
 * or a file system error that the writer will retry. */
int store_writer_prepare_dir(logshare *ls);

/* For tests only: while held, the writer takes nothing from the rings,
 * as if the disk were very slow; releasing wakes it. */
void store_test_hold_writer(logshare *ls, int hold);

#endif
