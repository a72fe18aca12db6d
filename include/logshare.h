/*
 * logshare.h - the whole public API of liblogshare.
 *
 * liblogshare runs inside an app. It writes log records to bounded,
 * rotating, crash-safe files in a directory the app owns, compressed and
 * encrypted to a support public key; hands the files that belong in a
 * support request to the app (logshare_get_support_files); packages them
 * for sharing; reports them to a logshared server; and answers support's
 * requests for logs once the user agrees.
 *
 * Conventions, for every function below:
 *  - Functions return 0 on success or a negative LOGSHARE_E* code;
 *    logshare_strerror() names it. Functions that return a pointer
 *    return NULL on failure. A function that fails sets each
 *    out-parameter it was given to NULL (or 0 for a count), so a
 *    caller may free what it got back without looking at the code.
 *  - Handles are opaque. Every *_new or *_open has a matching *_free or
 *    *_close, and passing NULL to those is a no-op.
 *  - "Borrowed" arguments are only read during the call; the library
 *    keeps its own copy of anything it needs later. Anything a function
 *    returns through an out-parameter belongs to the caller unless its
 *    comment says otherwise.
 *  - Options live in a logshare_options object with setters, so new
 *    options never change the layout of a struct the app compiled
 *    against.
 */
#ifndef LOGSHARE_H
#define LOGSHARE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define LOGSHARE_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#define LOGSHARE_API __attribute__((visibility("default")))
#else
#define LOGSHARE_PRINTF(fmt_index, first_arg)
#define LOGSHARE_API
#endif

/* ------------------------------------------------------------------ */
/* Version                                                            */
/* ------------------------------------------------------------------ */

#define LOGSHARE_VERSION_MAJOR 0
#define LOGSHARE_VERSION_MINOR 1
#define LOGSHARE_VERSION_PATCH 0
#define LOGSHARE_VERSION_STRING "0.1.0"

/* The version of the library actually linked, e.g. "0.1.0". Static
 * storage; never free it. */
LOGSHARE_API const char *logshare_version(void);

/* ------------------------------------------------------------------ */
/* Errors                                                             */
/* ------------------------------------------------------------------ */

/* Every error the library (and the server, which shares this
 * vocabulary) can report. Values are stable: new codes are only ever
 * appended. */
typedef enum logshare_error {
    LOGSHARE_OK = 0,
    LOGSHARE_EINVAL = -1,        /* an argument or input is invalid */
    LOGSHARE_ENOMEM = -2,        /* out of memory */
    LOGSHARE_EIO = -3,           /* a read, write or fsync failed */
    LOGSHARE_ENOENT = -4,        /* no such file, record or object */
    LOGSHARE_EEXIST = -5,        /* it already exists */
    LOGSHARE_EKEY = -6,          /* a key is malformed or does not fit */
    LOGSHARE_ECORRUPT = -7,      /* data failed authentication: tampered or foreign */
    LOGSHARE_ETRUNCATED = -8,    /* a file ends mid-frame or before its final frame (torn tail) */
    LOGSHARE_EFORMAT = -9,       /* unknown file format or version */
    LOGSHARE_ENOSPC = -10,       /* the disk or a quota is full */
    LOGSHARE_EPERM = -11,        /* permission denied (file system or server) */
    LOGSHARE_ENETWORK = -12,     /* the server could not be reached */
    LOGSHARE_ETIMEDOUT = -13,    /* an operation took longer than allowed */
    LOGSHARE_EHTTP = -14,        /* the server answered with an error */
    LOGSHARE_EAUTH = -15,        /* no token, or the token was refused */
    LOGSHARE_ETOOLARGE = -16,    /* more than a configured limit */
    LOGSHARE_ECLOSED = -17,      /* the handle is closing or closed */
    LOGSHARE_EQUEUED = -18,      /* not sent now; kept in the outbox for later */
    LOGSHARE_EBUSY = -19,        /* the resource is in use; try again */
    LOGSHARE_ECONFLICT = -20,    /* the request conflicts with the current state */
    LOGSHARE_ERATELIMIT = -21,   /* too many requests; try again later */
    LOGSHARE_EUNAVAILABLE = -22, /* a backend is down */
    LOGSHARE_EUNSUPPORTED = -23, /* not supported by this build or server */
    LOGSHARE_ECANCELED = -24,    /* canceled by the caller */
    LOGSHARE_EINTERNAL = -25,    /* a bug: an invariant did not hold */
    LOGSHARE_ETLS = -26          /* TLS failed: the server's certificate could not be verified */
} logshare_error;

/* A short English description of an error code ("torn tail: ..."). Never
 * NULL; unknown codes give "unknown error". Static storage. */
LOGSHARE_API const char *logshare_strerror(int err);

/* The stable snake_case name of an error code ("truncated"), as used in
 * the server's JSON errors and in logs. Never NULL; unknown codes give
 * "unknown_error". Static storage. */
LOGSHARE_API const char *logshare_error_name(int err);

/* ------------------------------------------------------------------ */
/* Levels                                                             */
/* ------------------------------------------------------------------ */

typedef enum logshare_level {
    LOGSHARE_LEVEL_TRACE = 0,
    LOGSHARE_LEVEL_DEBUG = 1,
    LOGSHARE_LEVEL_INFO = 2,
    LOGSHARE_LEVEL_WARN = 3,
    LOGSHARE_LEVEL_ERROR = 4,
    LOGSHARE_LEVEL_FATAL = 5
} logshare_level;

/* "trace", "debug", ... Static storage; "unknown" out of range. */
LOGSHARE_API const char *logshare_level_name(logshare_level level);

/* Parses a level name (case-insensitive, "warning" accepted for warn).
 * Returns 0 and sets *level, or LOGSHARE_EINVAL. */
LOGSHARE_API int logshare_level_parse(const char *name, logshare_level *level);

/* ------------------------------------------------------------------ */
/* The log store: open, log, flush, get_support_files                 */
/* ------------------------------------------------------------------ */

/*
 * A store is a directory the app owns. liblogshare writes one file per
 * stream at a time ("<stream>.<seq>.lslog", see docs/log-format.md),
 * starts a new file at every open and whenever a file reaches
 * max_file_bytes, and deletes the oldest files (any stream) to keep the
 * total under max_total_bytes and younger than max_age. The
 * subdirectory "<dir>/outbox/" belongs to the sharing code: the store
 * never counts it, lists it or deletes from it.
 *
 * Threads: logging calls may be made from any number of threads at once
 * and never wait on the disk, compression or encryption: each thread
 * copies its record into its own preallocated ring buffer (allocated at
 * that thread's first call, or taken over from a thread that exited),
 * and one background writer per store drains the rings, compresses,
 * encrypts and writes. When a thread's ring is
 * full the record is dropped and counted, and the writer itself writes
 * the count as a record of its own in the dropped records' stream the
 * next time it drains (within ~100 ms once it keeps up, and at flush and
 * close), whether or not that thread ever logs again.
 *
 * Fork: in a child process after fork(), a store inherited from the
 * parent is inert: logging calls return LOGSHARE_ECLOSED and write
 * nothing, logshare_flush and logshare_get_support_files return
 * LOGSHARE_ECLOSED, and logshare_close only frees the child's memory.
 * The parent's files are never touched by the child: it closes its
 * copies of the store's descriptors (the lock included) at the fork, so
 * a child that lives on does not keep the parent from reopening.
 *
 * Exit: if the process calls exit() with a store still open, an atexit
 * handler drains what was logged before, finishes each file cleanly and
 * stops the writer; later logging calls return LOGSHARE_ECLOSED and a
 * later logshare_close only frees memory. A crash or _exit() loses what
 * was still in memory; everything already on disk stays readable.
 */

/* An open log store. Opaque; made by logshare_open, freed by
 * logshare_close. */
typedef struct logshare logshare;

/* Options for logshare_open. Opaque so that new options never change a
 * struct layout the app compiled against. */
typedef struct logshare_options logshare_options;

/* The most streams one store can have. */
#define LOGSHARE_MAX_STREAMS 16

/* Defaults used when an option is not set. */
#define LOGSHARE_DEFAULT_STREAM "main"
#define LOGSHARE_DEFAULT_MAX_FILE_BYTES (4u * 1024u * 1024u)
#define LOGSHARE_DEFAULT_MAX_TOTAL_BYTES (64u * 1024u * 1024u)
#define LOGSHARE_DEFAULT_MAX_AGE_SECONDS (7 * 24 * 3600)
#define LOGSHARE_DEFAULT_BUFFER_BYTES (1024u * 1024u)

/* New options with every default set: no directory, no key (one of
 * logshare_options_set_public_key*, or set_plaintext, is required), the
 * single stream LOGSHARE_DEFAULT_STREAM, minimum level INFO. Returns
 * NULL when out of memory. Free with logshare_options_free. */
LOGSHARE_API logshare_options *logshare_options_new(void);

/* Frees options. NULL is a no-op. A store opened with them keeps its own
 * copy, so options may be freed right after logshare_open. */
LOGSHARE_API void logshare_options_free(logshare_options *opts);

/* The store's directory (borrowed; copied). Created with its parents,
 * mode 0700, if missing. Required. A relative path is taken from the
 * working directory at logshare_open: a later chdir() does not move the
 * store. LOGSHARE_EINVAL for NULL or "". */
LOGSHARE_API int logshare_options_set_dir(logshare_options *opts, const char *dir);

/* Adds a stream (name borrowed; copied). Streams are numbered in the
 * order they are added, from 0; that number is the `stream` argument of
 * the logging calls. The first call replaces the default stream. Names
 * are 1-32 characters of [a-z0-9_-]. LOGSHARE_EINVAL for a bad or
 * repeated name, LOGSHARE_ETOOLARGE past LOGSHARE_MAX_STREAMS. */
LOGSHARE_API int logshare_options_add_stream(logshare_options *opts, const char *name);

/* The support public key files are encrypted to, as the text that
 * `logshare keygen` writes to PREFIX.pub (borrowed; parsed now).
 * LOGSHARE_EKEY when it is not such a key, or is well-formed but no
 * file could be sealed to it (an all-zero or other low-order point).
 * Clears plaintext mode. */
LOGSHARE_API int logshare_options_set_public_key(logshare_options *opts, const char *text);

/* Same, reading the key from a file. LOGSHARE_ENOENT / LOGSHARE_EPERM /
 * LOGSHARE_EIO when it cannot be read, LOGSHARE_EINVAL when path is a
 * directory, LOGSHARE_EKEY when malformed or refused (as above) or
 * larger than 4 KiB. */
LOGSHARE_API int logshare_options_set_public_key_file(logshare_options *opts, const char *path);

/* Development only: when on is nonzero, files are compressed but not
 * encrypted (readable without a key; still checksummed, so torn tails
 * and changed bytes are detected). Clears any public key. */
LOGSHARE_API int logshare_options_set_plaintext(logshare_options *opts, int on);

/* Size at which a file is closed and a new one started (>= 32768); no
 * file ever exceeds it. LOGSHARE_EINVAL below that. If max_total_bytes
 * cannot hold one full file per stream, open lowers max_file_bytes to
 * max_total / streams; a record too large for even an empty file of that
 * size is dropped and counted as write_failed. */
LOGSHARE_API int logshare_options_set_max_file_bytes(logshare_options *opts, uint64_t bytes);

/* Total size of all log files of all streams (the outbox excluded);
 * oldest files are deleted first to stay under it (>= 32768).
 * LOGSHARE_EINVAL below that or for a NULL opts. */
LOGSHARE_API int logshare_options_set_max_total_bytes(logshare_options *opts, uint64_t bytes);

/* Files whose last write is older than this are deleted (> 0; an age
 * beyond the Unix epoch, up to INT64_MAX, deletes nothing for age).
 * LOGSHARE_EINVAL for 0, a negative value or a NULL opts. */
LOGSHARE_API int logshare_options_set_max_age_seconds(logshare_options *opts, int64_t seconds);

/* Records below this level are discarded at the call (not counted as
 * dropped). LOGSHARE_EINVAL for an unknown level. */
LOGSHARE_API int logshare_options_set_min_level(logshare_options *opts, logshare_level level);

/* Size of each logging thread's ring buffer, in bytes (65536 to 1 GiB,
 * rounded up to a power of two). A bigger ring absorbs longer bursts
 * before records are dropped. LOGSHARE_EINVAL outside that range or for
 * a NULL opts. */
LOGSHARE_API int logshare_options_set_buffer_bytes(logshare_options *opts, size_t bytes);

/* Opens a store (opts borrowed). Starts the background writer and a new
 * file per stream. On success *out is the handle (free with
 * logshare_close). Errors: LOGSHARE_EINVAL (no dir, or neither a key
 * nor plaintext), LOGSHARE_EKEY (the public key given was malformed or
 * refused, even if its setter's error was ignored), LOGSHARE_EBUSY
 * (another process or handle has the store open),
 * LOGSHARE_ENOMEM, and the setters' errors for a key file that could
 * not be read (LOGSHARE_ENOENT, LOGSHARE_EPERM, LOGSHARE_EIO,
 * LOGSHARE_EINVAL: not LOGSHARE_EKEY, the key was never seen), even if
 * the setter's error was ignored. A directory that cannot be created or written, or a
 * full disk, does NOT fail the open: records are dropped and counted,
 * logshare_last_error() says why, and writing resumes when the
 * directory becomes writable again (checked about once a second). */
LOGSHARE_API int logshare_open(const logshare_options *opts, logshare **out);

/* Writes everything logged before the call, finishes each file with a
 * final frame (so readers know it is complete), fsyncs, stops the writer
 * and frees the store. Call it only after every other thread has made
 * its last logging call on this handle: once it returns the handle is
 * gone, and any use of it (a logging call, a second close) is undefined
 * behaviour, not LOGSHARE_ECLOSED. NULL is a no-op. */
LOGSHARE_API void logshare_close(logshare *ls);

/* The number of the stream called name, LOGSHARE_ENOENT if there is
 * none, LOGSHARE_EINVAL for a NULL ls or name. */
LOGSHARE_API int logshare_stream_index(const logshare *ls, const char *name);

/* Logs one record, formatting it now (any format string is fine; a %c
 * of 0 adds nothing). Safe from any thread, but not from a signal
 * handler (no logging call is async-signal-safe: a handler interrupting
 * a call on the same thread would corrupt that thread's ring); never
 * blocks; never allocates except at a thread's first call on this
 * store. Messages longer than 4000 bytes are cut and end with
 * "...[truncated]". Returns 0 when queued, LOGSHARE_ENOSPC when the
 * thread's ring was full (dropped and counted), LOGSHARE_EINVAL for a
 * bad stream or level, LOGSHARE_ECLOSED after exit() or in a forked
 * child, LOGSHARE_ENOMEM when the thread's first call cannot allocate
 * its ring (the record is counted as write_failed). A record below the
 * minimum level returns 0. */
LOGSHARE_API int logshare_log(logshare *ls, int stream, logshare_level level, const char *fmt, ...)
    LOGSHARE_PRINTF(4, 5);
LOGSHARE_API int logshare_vlog(logshare *ls, int stream, logshare_level level, const char *fmt,
                               va_list ap) LOGSHARE_PRINTF(4, 0);

/* The fast path: like logshare_log, but the format string is stored
 * once per file and each call only copies its raw arguments (strings
 * are copied too); the text is formatted when the file is read. fmt
 * MUST be a string literal (or other storage that never changes or goes
 * away while the store is open): the library remembers it by address.
 * Use it through LOGSHARE_LOG, which refuses anything but a literal at
 * compile time (and, in C11 with GCC or Clang, calls logshare_log_args
 * instead, falling back to this function). The first call with a
 * given format takes a lock and allocates (once per format and store;
 * later calls take no lock). "%.*s" and "%.Ns" read at most that many
 * bytes, so an array without a NUL is fine. A record stored raw reads
 * back exactly as printf prints it, and is not cut at 4000 bytes (it
 * holds at most 4096 bytes of strings, and widths of at most 1024).
 * These calls are formatted now instead, as logshare_log does (so
 * their text is cut at 4000 bytes, visibly): conversions with no
 * portable binary form (%n, which still stores its count, %ls, %lc, %Lf,
 * glibc's %m, positional "%1$d"), a width or precision over 1024 (a
 * literal one, or a '*' one; a '*' precision of a %s may be any size),
 * a format longer than 1024 bytes, more than 24 arguments, more than
 * 4096 bytes of string arguments, and every format after the store's
 * first 4096. Returns as logshare_log. */
LOGSHARE_API int logshare_log_static(logshare *ls, int stream, logshare_level level,
                                     const char *fmt, ...) LOGSHARE_PRINTF(4, 5);

/* The call LOGSHARE_LOG makes in C11 and later with GCC or Clang: the
 * arguments come already widened to 64 bits each (integers sign- or
 * zero-extended by their own type, float and double as the bits of a
 * double, pointers and strings as their address), so nothing is read
 * through va_arg on the caller's thread. nargs must be the number of
 * arguments after fmt, args an array of that many (NULL when 0); fmt
 * has the same lifetime rule as for logshare_log_static. Returns as
 * logshare_log_static, or LOGSHARE_FORMAT_AT_CALL when the record
 * cannot be stored raw (each case logshare_log_static lists, and an
 * argument count that does not match the format): the caller must then
 * make the same call through logshare_log_static, which formats it at
 * once. strmask has
 * bit i set when args[i] is a char pointer (0 is always correct, only
 * slower): when the format takes exactly those arguments as strings,
 * they are measured without waiting for the format's lookup. Not meant
 * to be called by hand; LOGSHARE_LOG does all of this. */
LOGSHARE_API int logshare_log_args(logshare *ls, int stream, logshare_level level, const char *fmt,
                                   const uint64_t *args, unsigned nargs, uint32_t strmask);
#define LOGSHARE_FORMAT_AT_CALL 1

/* LOGSHARE_LOG(ls, stream, level, "format", args...): the recommended
 * way to log. The format must be a string literal. Every argument is
 * evaluated exactly once. In C11 or later with GCC or Clang it widens
 * the arguments at the call site and calls logshare_log_args (no va_arg
 * on the hot path); elsewhere (C++, other compilers, more than 24
 * arguments) it calls logshare_log_static. Both store the same record,
 * and fall back to formatting at the call for the same calls (see
 * logshare_log_static). */
#define LOGSHARE__FIRST_(first, ...) first
#define LOGSHARE__FIRST(...) LOGSHARE__FIRST_(__VA_ARGS__, 0)
#define LOGSHARE__STATIC(ls, stream, level, ...)                                                   \
    ((void)sizeof("" LOGSHARE__FIRST(__VA_ARGS__)),                                                \
     logshare_log_static((ls), (stream), (level), __VA_ARGS__))
#if !defined(__cplusplus) && defined(__GNUC__) && defined(__STDC_VERSION__) &&                     \
    __STDC_VERSION__ >= 201112L
static inline uint64_t logshare__arg_s(long long v)
{
    return (uint64_t)v;
}
static inline uint64_t logshare__arg_u(unsigned long long v)
{
    return (uint64_t)v;
}
static inline uint64_t logshare__arg_f(double v)
{
    union {
        double d;
        uint64_t u;
    } x;
    x.d = v;
    return x.u;
}
static inline uint64_t logshare__arg_ld(long double v)
{
    (void)v; /* %Lf has no binary form: logshare_log_static formats it */
    return 0;
}
static inline uint64_t logshare__arg_p(const volatile void *v)
{
    return (uint64_t)(uintptr_t)v;
}
/* One argument widened by its own type ("+ 0" decays arrays and
 * promotes bit-fields, _Bool and char). */
#define LOGSHARE__ARG(x)                                                                           \
    _Generic((x) + 0, int                                                                          \
             : logshare__arg_s, unsigned int                                                       \
             : logshare__arg_u, long                                                               \
             : logshare__arg_s, unsigned long                                                      \
             : logshare__arg_u, long long                                                          \
             : logshare__arg_s, unsigned long long                                                 \
             : logshare__arg_u, float                                                              \
             : logshare__arg_f, double                                                             \
             : logshare__arg_f, long double                                                        \
             : logshare__arg_ld, default                                                           \
             : logshare__arg_p)(x)
#define LOGSHARE__CAT_(a, b) a##b
#define LOGSHARE__CAT(a, b) LOGSHARE__CAT_(a, b)
/* How many arguments follow the format: 0 to 24, or X for more. */
#define LOGSHARE__NARGS(...)                                                                       \
    LOGSHARE__NARGS_(__VA_ARGS__, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,   \
                     X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, 24, 23, 22, 21, 20, 19, \
                     18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, ~)
#define LOGSHARE__NARGS_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16,    \
                         _17, _18, _19, _20, _21, _22, _23, _24, _25, _26, _27, _28, _29, _30,     \
                         _31, _32, _33, _34, _35, _36, _37, _38, _39, _40, _41, _42, _43, _44,     \
                         _45, _46, _47, _48, _49, _50, _51, _52, _53, _54, _55, _56, _57, _58,     \
                         _59, _60, _61, _62, _63, _64, n, ...)                                     \
    n
/* LOGSHARE__EACHk(m, n, a1..ak) is m(n, k, a1) m(n, k - 1, a2) ... m(n, 1, ak):
 * argument a_j is at index n - k of the call. */
#define LOGSHARE__EACH1(m, n, a) m(n, 1, a)
#define LOGSHARE__EACH2(m, n, a, ...) m(n, 2, a) LOGSHARE__EACH1(m, n, __VA_ARGS__)
#define LOGSHARE__EACH3(m, n, a, ...) m(n, 3, a) LOGSHARE__EACH2(m, n, __VA_ARGS__)
#define LOGSHARE__EACH4(m, n, a, ...) m(n, 4, a) LOGSHARE__EACH3(m, n, __VA_ARGS__)
#define LOGSHARE__EACH5(m, n, a, ...) m(n, 5, a) LOGSHARE__EACH4(m, n, __VA_ARGS__)
#define LOGSHARE__EACH6(m, n, a, ...) m(n, 6, a) LOGSHARE__EACH5(m, n, __VA_ARGS__)
#define LOGSHARE__EACH7(m, n, a, ...) m(n, 7, a) LOGSHARE__EACH6(m, n, __VA_ARGS__)
#define LOGSHARE__EACH8(m, n, a, ...) m(n, 8, a) LOGSHARE__EACH7(m, n, __VA_ARGS__)
#define LOGSHARE__EACH9(m, n, a, ...) m(n, 9, a) LOGSHARE__EACH8(m, n, __VA_ARGS__)
#define LOGSHARE__EACH10(m, n, a, ...) m(n, 10, a) LOGSHARE__EACH9(m, n, __VA_ARGS__)
#define LOGSHARE__EACH11(m, n, a, ...) m(n, 11, a) LOGSHARE__EACH10(m, n, __VA_ARGS__)
#define LOGSHARE__EACH12(m, n, a, ...) m(n, 12, a) LOGSHARE__EACH11(m, n, __VA_ARGS__)
#define LOGSHARE__EACH13(m, n, a, ...) m(n, 13, a) LOGSHARE__EACH12(m, n, __VA_ARGS__)
#define LOGSHARE__EACH14(m, n, a, ...) m(n, 14, a) LOGSHARE__EACH13(m, n, __VA_ARGS__)
#define LOGSHARE__EACH15(m, n, a, ...) m(n, 15, a) LOGSHARE__EACH14(m, n, __VA_ARGS__)
#define LOGSHARE__EACH16(m, n, a, ...) m(n, 16, a) LOGSHARE__EACH15(m, n, __VA_ARGS__)
#define LOGSHARE__EACH17(m, n, a, ...) m(n, 17, a) LOGSHARE__EACH16(m, n, __VA_ARGS__)
#define LOGSHARE__EACH18(m, n, a, ...) m(n, 18, a) LOGSHARE__EACH17(m, n, __VA_ARGS__)
#define LOGSHARE__EACH19(m, n, a, ...) m(n, 19, a) LOGSHARE__EACH18(m, n, __VA_ARGS__)
#define LOGSHARE__EACH20(m, n, a, ...) m(n, 20, a) LOGSHARE__EACH19(m, n, __VA_ARGS__)
#define LOGSHARE__EACH21(m, n, a, ...) m(n, 21, a) LOGSHARE__EACH20(m, n, __VA_ARGS__)
#define LOGSHARE__EACH22(m, n, a, ...) m(n, 22, a) LOGSHARE__EACH21(m, n, __VA_ARGS__)
#define LOGSHARE__EACH23(m, n, a, ...) m(n, 23, a) LOGSHARE__EACH22(m, n, __VA_ARGS__)
#define LOGSHARE__EACH24(m, n, a, ...) m(n, 24, a) LOGSHARE__EACH23(m, n, __VA_ARGS__)
/* The argument's type after the conversions a call would apply: arrays
 * decay, small integers and bit-fields promote. Not "(a) + 0": with NULL
 * that is arithmetic on a null pointer, which clang warns about. */
#define LOGSHARE__DECL(n, k, a) __typeof__(0 ? (a) : (a)) logshare__v##k = (a);
#define LOGSHARE__SLOT(n, k, a) LOGSHARE__ARG(logshare__v##k),
#define LOGSHARE__PASS(n, k, a) , logshare__v##k
/* Bit (index) set for a char pointer: the library may measure it at
 * once, before it has looked the format up. */
#define LOGSHARE__STRBIT(n, k, a)                                                                  \
    | (_Generic((logshare__v##k), char * : 1u, const char * : 1u, default : 0u) << ((n) - (k)))
#define LOGSHARE__SKIP1(n, m, fmt, ...) LOGSHARE__CAT(LOGSHARE__EACH, n)(m, n, __VA_ARGS__)
/* The compiler checks the format against the arguments as written, in
 * a call that is never evaluated (__builtin_choose_expr's other branch:
 * unlike sizeof, no "side effects in an unevaluated context" warning
 * for an argument like i++). The fallback call passes the promoted
 * copies, which clang's -Wformat would take for the wrong type ("%hd"
 * given an int), so it goes through a pointer the format attribute does
 * not follow. */
#define LOGSHARE__FAST(n, ls, stream, level, ...)                                                  \
    __extension__({                                                                                \
        logshare *logshare__ls =                                                                   \
            ((void)sizeof("" LOGSHARE__FIRST(__VA_ARGS__)),                                        \
             (void)__builtin_choose_expr(                                                          \
                 0, logshare_log_static((ls), (stream), (level), __VA_ARGS__), 0),                 \
             (ls));                                                                                \
        int logshare__st = (stream);                                                               \
        logshare_level logshare__lv = (level);                                                     \
        LOGSHARE__SKIP1(n, LOGSHARE__DECL, __VA_ARGS__)                                            \
        const uint64_t logshare__a[] = {LOGSHARE__SKIP1(n, LOGSHARE__SLOT, __VA_ARGS__)};          \
        int logshare__rc = logshare_log_args(                                                      \
            logshare__ls, logshare__st, logshare__lv, LOGSHARE__FIRST(__VA_ARGS__), logshare__a,   \
            n, 0u LOGSHARE__SKIP1(n, LOGSHARE__STRBIT, __VA_ARGS__));                              \
        if (__builtin_expect(logshare__rc == LOGSHARE_FORMAT_AT_CALL, 0)) {                        \
            int (*logshare__fn)(logshare *, int, logshare_level, const char *, ...) =              \
                logshare_log_static;                                                               \
            logshare__rc = logshare__fn(logshare__ls, logshare__st, logshare__lv,                  \
                                        LOGSHARE__FIRST(__VA_ARGS__)                               \
                                            LOGSHARE__SKIP1(n, LOGSHARE__PASS, __VA_ARGS__));      \
        }                                                                                          \
        logshare__rc;                                                                              \
    })
#define LOGSHARE__LOG0(ls, stream, level, ...) LOGSHARE__STATIC(ls, stream, level, __VA_ARGS__)
#define LOGSHARE__LOG1(...) LOGSHARE__FAST(1, __VA_ARGS__)
#define LOGSHARE__LOG2(...) LOGSHARE__FAST(2, __VA_ARGS__)
#define LOGSHARE__LOG3(...) LOGSHARE__FAST(3, __VA_ARGS__)
#define LOGSHARE__LOG4(...) LOGSHARE__FAST(4, __VA_ARGS__)
#define LOGSHARE__LOG5(...) LOGSHARE__FAST(5, __VA_ARGS__)
#define LOGSHARE__LOG6(...) LOGSHARE__FAST(6, __VA_ARGS__)
#define LOGSHARE__LOG7(...) LOGSHARE__FAST(7, __VA_ARGS__)
#define LOGSHARE__LOG8(...) LOGSHARE__FAST(8, __VA_ARGS__)
#define LOGSHARE__LOG9(...) LOGSHARE__FAST(9, __VA_ARGS__)
#define LOGSHARE__LOG10(...) LOGSHARE__FAST(10, __VA_ARGS__)
#define LOGSHARE__LOG11(...) LOGSHARE__FAST(11, __VA_ARGS__)
#define LOGSHARE__LOG12(...) LOGSHARE__FAST(12, __VA_ARGS__)
#define LOGSHARE__LOG13(...) LOGSHARE__FAST(13, __VA_ARGS__)
#define LOGSHARE__LOG14(...) LOGSHARE__FAST(14, __VA_ARGS__)
#define LOGSHARE__LOG15(...) LOGSHARE__FAST(15, __VA_ARGS__)
#define LOGSHARE__LOG16(...) LOGSHARE__FAST(16, __VA_ARGS__)
#define LOGSHARE__LOG17(...) LOGSHARE__FAST(17, __VA_ARGS__)
#define LOGSHARE__LOG18(...) LOGSHARE__FAST(18, __VA_ARGS__)
#define LOGSHARE__LOG19(...) LOGSHARE__FAST(19, __VA_ARGS__)
#define LOGSHARE__LOG20(...) LOGSHARE__FAST(20, __VA_ARGS__)
#define LOGSHARE__LOG21(...) LOGSHARE__FAST(21, __VA_ARGS__)
#define LOGSHARE__LOG22(...) LOGSHARE__FAST(22, __VA_ARGS__)
#define LOGSHARE__LOG23(...) LOGSHARE__FAST(23, __VA_ARGS__)
#define LOGSHARE__LOG24(...) LOGSHARE__FAST(24, __VA_ARGS__)
#define LOGSHARE__LOGX(ls, stream, level, ...) LOGSHARE__STATIC(ls, stream, level, __VA_ARGS__)
#define LOGSHARE_LOG(ls, stream, level, ...)                                                       \
    LOGSHARE__CAT(LOGSHARE__LOG, LOGSHARE__NARGS(__VA_ARGS__))(ls, stream, level, __VA_ARGS__)
#else
#define LOGSHARE_LOG(ls, stream, level, ...) LOGSHARE__STATIC(ls, stream, level, __VA_ARGS__)
#endif

/* Waits until everything logged before the call (by any thread) is
 * written to the current files and fsynced, or until timeout_ms passes
 * (0 or a negative value waits as long as it takes). This is the one call that waits.
 * Returns 0, LOGSHARE_ETIMEDOUT, LOGSHARE_ECLOSED, or an error of the
 * writer: its current one (logshare_last_error), or, if records were
 * lost (counted as write_failed) since the previous flush was answered
 * (logshare_get_support_files flushes too), the error that lost them
 * (LOGSHARE_ETOOLARGE for a record larger than a whole file may be),
 * even when a later write has worked and cleared logshare_last_error.
 * So 0 means nothing logged since the previous flush was lost to the
 * disk. */
LOGSHARE_API int logshare_flush(logshare *ls, int timeout_ms);

/* Counters since open. buffer_full: records dropped because the
 * calling thread's ring was full; write_failed: records lost because the
 * disk refused them (full, read-only, removed directory), or because a
 * record was larger than a whole file may be (max_file_bytes lowered to
 * a few KiB by the quota, see set_max_file_bytes); written: records on
 * disk. Any out pointer may be NULL. */
LOGSHARE_API void logshare_get_counts(const logshare *ls, uint64_t *written, uint64_t *buffer_full,
                                      uint64_t *write_failed);

/* The last error the writer met (a negative LOGSHARE_E* code), or 0 if
 * the last write succeeded. Cleared when writing works again: with
 * several streams, once each stream whose write failed has written
 * again (one stream that writes does not hide another that cannot).
 * LOGSHARE_ENOENT when the store directory (or a file being written)
 * was removed while open: the writer checks at every flush and about
 * once a second, and after every frame it writes (a frame that went
 * into an unlinked file is counted as write_failed, not written), counts
 * the records it still held as write_failed, makes the directory, its
 * lock and new files again, and goes on. */
LOGSHARE_API int logshare_last_error(const logshare *ls);

/* One log file that belongs in a support request. */
typedef struct logshare_support_file {
    char *path;    /* in the store's directory as opened (made absolute if
                    * relative), or as dir was given to
                    * logshare_list_support_files; owned by the array */
    char *stream;  /* stream name; owned by the array */
    uint64_t size; /* bytes on disk */
    uint64_t seq;  /* file sequence number: orders files across streams */
    /* The times of the file's first and last records in file order, µs
     * since the epoch; 0 if none yet. Records of different threads can
     * reach a file a few milliseconds out of time order, so a record's
     * time may fall that much outside [first, last]. */
    int64_t first_time_us;
    int64_t last_time_us;
} logshare_support_file;

/* Flushes (as logshare_flush with no timeout) and finishes every file
 * being written (a final frame, fsync, closed), then lists every log
 * file of the store, oldest first (by seq). So every file returned is
 * complete and reads with no torn-tail warning (unless an earlier crash
 * left it torn); each stream starts a new file at its next record, and
 * files started while the call runs are left for the next one. Each call
 * thus ends the current files: calling it often makes more, smaller
 * files (the quota still holds). On success *files is a new array
 * of *count entries (possibly 0, then *files may be NULL); free it with
 * logshare_support_files_free. Times come from the files' authenticated
 * frame headers, so the key is not needed. Every file listed existed
 * when it was read; but while other threads log, the quota (or the
 * maximum age) may delete the oldest of them right after the call
 * returns, so open them promptly (an open file stays readable after it
 * is deleted) and treat one that is gone (ENOENT) as rotated away, as
 * logshare_export does. Errors: LOGSHARE_EINVAL,
 * LOGSHARE_ECLOSED, LOGSHARE_ENOMEM, or the directory's read error
 * (LOGSHARE_ENOENT, ...); a write error of the flush is not one (see
 * logshare_last_error): what reached the disk is listed. */
LOGSHARE_API int logshare_get_support_files(logshare *ls, logshare_support_file **files,
                                            size_t *count);

/* The same list for a directory without opening a store (and so without
 * flushing anything): what `logshare files --dir` prints. A missing
 * directory gives LOGSHARE_ENOENT. */
LOGSHARE_API int logshare_list_support_files(const char *dir, logshare_support_file **files,
                                             size_t *count);

/* Frees what the two calls above return. NULL is a no-op. */
LOGSHARE_API void logshare_support_files_free(logshare_support_file *files, size_t count);

/* Makes a new support key pair, as text: *public_key_text (e.g.
 * "logshare-pk-1:<base64>") goes to apps, *secret_key_text
 * ("logshare-sk-1:<base64>") stays with support. Both end with "\n" and
 * are new strings freed with logshare_string_free. LOGSHARE_EINVAL for
 * a NULL out pointer, LOGSHARE_ENOMEM, LOGSHARE_EINTERNAL if libsodium
 * cannot start; on error both outs are NULL. */
LOGSHARE_API int logshare_keygen(char **public_key_text, char **secret_key_text);

/* Writes a new key pair as `logshare keygen --out PREFIX` does:
 * PREFIX.key (secret, mode 0600) and PREFIX.pub, both durably. Refuses to
 * overwrite (LOGSHARE_EEXIST), also against another process creating
 * them at the same moment (one of the two wins the pair; a PREFIX.key
 * left without its .pub is removed again). LOGSHARE_EINVAL for a NULL
 * or empty prefix (or a name too long), LOGSHARE_EEXIST also when
 * PREFIX.key or PREFIX.pub is a directory or anything else, LOGSHARE_ENOENT /
 * LOGSHARE_EPERM / LOGSHARE_ENOSPC / LOGSHARE_EIO from the file system,
 * LOGSHARE_ENOMEM. If public_key_text is not NULL it receives
 * the public key text (free with logshare_string_free). */
LOGSHARE_API int logshare_keygen_files(const char *prefix, char **public_key_text);

/* Frees a string the library returned. NULL is a no-op. */
LOGSHARE_API void logshare_string_free(char *s);

/* ---- Reading log files (support side, the CLI, the server) ---- */

/* An open log file being read. Opaque; logshare_reader_close frees it. */
typedef struct logshare_reader logshare_reader;

/* One record, as logshare_reader_next returns it. The strings belong to
 * the reader and stay valid until the next call on it. */
typedef struct logshare_record {
    int64_t time_us; /* µs since the epoch, UTC */
    logshare_level level;
    const char *stream;  /* the file's stream */
    const char *message; /* formatted text, NUL-terminated */
    size_t message_len;
    uint64_t file_seq; /* the file's sequence number */
} logshare_record;

/* Opens a log file for reading. secret_key_text is the content of a
 * PREFIX.key file (borrowed); NULL reads plaintext files only. The
 * header is checked now. path may also name a pipe or device
 * (/dev/stdin), which is read to its end first (at most 1 GiB). A file
 * cut while it is read (by a live store, or anyone) reads as a torn
 * tail. Errors: LOGSHARE_ENOENT/EPERM/EIO (cannot read), LOGSHARE_EINVAL
 * (a directory), LOGSHARE_ETOOLARGE (a pipe of over 1 GiB),
 * LOGSHARE_EFORMAT (not a log file, or an unknown version),
 * LOGSHARE_EKEY (encrypted but no key given, a malformed key, or a key
 * for another public key), LOGSHARE_ECORRUPT (the header was altered),
 * LOGSHARE_ETRUNCATED (the file ends inside its header, or zero bytes
 * replace its end from there on). */
LOGSHARE_API int logshare_reader_open(const char *path, const char *secret_key_text,
                                      logshare_reader **out);

/* Same for a log file already in memory (data borrowed; copied). */
LOGSHARE_API int logshare_reader_open_buffer(const void *data, size_t len,
                                             const char *secret_key_text, logshare_reader **out);

/* The next record in file order. Returns 1 and fills *rec; 0 at the
 * clean end of a completely written file; LOGSHARE_ETRUNCATED when the
 * file ends early (a torn tail: every complete record came before; warn,
 * it is not an attack by itself), also when its end was zero-filled by a
 * power loss (zeros from a frame boundary, or 16 or more from inside the
 * last frame, to the end; see docs/log-format.md); LOGSHARE_ECORRUPT when a frame fails
 * authentication (tampered or damaged: nothing from that frame on is
 * returned); LOGSHARE_ETOOLARGE when a frame's records would render to
 * more than 32 MiB of text (no writer makes such a frame: a hostile file,
 * treated like a corrupt one). After a negative return every later call
 * returns it too. */
LOGSHARE_API int logshare_reader_next(logshare_reader *r, logshare_record *rec);

/* The file's stream name and sequence number, and its creation time
 * (µs). Pointers owned by the reader. Any out pointer may be NULL. */
LOGSHARE_API void logshare_reader_info(const logshare_reader *r, const char **stream, uint64_t *seq,
                                       int64_t *created_us);

/* Frees a reader. NULL is a no-op. */
LOGSHARE_API void logshare_reader_close(logshare_reader *r);

/* ------------------------------------------------------------------ */
/* Sharing: export and report, the outbox                             */
/* ------------------------------------------------------------------ */

/*
 * Three ways logs leave the device (docs/integration.md shows each):
 *  - logshare_export(): one archive (zip, or tar.zst) with the support
 *    files and a manifest.json, for the app to hand to the user's share
 *    sheet or mail (docs/export-format.md describes the archive).
 *  - logshare_report(): a support ticket on a logshared server. The
 *    report is first written durably to the store's outbox
 *    (<store dir>/outbox/), then sent; it leaves the outbox only after
 *    the server answered 201. A report that cannot be sent now stays
 *    there and is sent later by logshare_flush_outbox(), exactly once:
 *    its Idempotency-Key is made at queue time and reused on every
 *    attempt, and the server returns the first ticket for a repeated key.
 *  - The outbox is generic: push-request uploads and end-of-call surveys
 *    queue there too (source "push" / "survey").
 * The calls below that take a store directory (the *_dir variants, the
 * outbox list and remove) refuse a NULL or "" dir with LOGSHARE_EINVAL.
 */

/* Progress of an upload or export: bytes done and the total (0 while
 * unknown). For a report, both count the bytes of all its files, over
 * every request and retry it takes: done never goes back, and once the
 * ticket has every file the last call has done == total. Called from
 * the thread that runs the operation. Return 0 to
 * go on, non-zero to cancel (the call then returns LOGSHARE_ECANCELED and
 * a report stays in the outbox). */
typedef int (*logshare_progress_fn)(void *user, uint64_t done, uint64_t total);

/* The outcome of sending one report: a created ticket, or why not.
 * Opaque; owned by whoever received it (logshare_report_result_free). */
typedef struct logshare_report_result logshare_report_result;

/* Called by logshare_flush_outbox() after each queued item it tried.
 * result is borrowed for the call. */
typedef void (*logshare_result_fn)(void *user, const logshare_report_result *result);

/* Everything a report or an export carries, and how to reach the
 * server. Opaque, with setters, so it can grow without breaking the ABI.
 * Strings are copied. Every setter returns 0, LOGSHARE_EINVAL or
 * LOGSHARE_ENOMEM. */
typedef struct logshare_share_options logshare_share_options;

LOGSHARE_API logshare_share_options *logshare_share_options_new(void);
LOGSHARE_API void logshare_share_options_free(logshare_share_options *opts);

/* Ticket fields (SPEC.md, POST /api/v1/tickets). A report needs a
 * description (at most 32 KiB: LOGSHARE_ETOOLARGE); an export does not.
 * Text with control characters other than newline and tab is refused
 * (LOGSHARE_EINVAL); call ids and names are single lines. */
LOGSHARE_API int logshare_share_options_set_description(logshare_share_options *opts,
                                                        const char *text);
/* Adds one call id (repeatable; duplicates are kept once). */
LOGSHARE_API int logshare_share_options_add_call_id(logshare_share_options *opts,
                                                    const char *call_id);
LOGSHARE_API int logshare_share_options_set_customer(logshare_share_options *opts, const char *name,
                                                     const char *email);
/* The app's version and platform ("ios 17.2", "linux x86_64"). */
LOGSHARE_API int logshare_share_options_set_app(logshare_share_options *opts,
                                                const char *app_version, const char *platform);
/* "report" (default), "survey", "push" or "share". */
LOGSHARE_API int logshare_share_options_set_source(logshare_share_options *opts,
                                                   const char *source);
/* The push request this upload answers (source "push"). */
LOGSHARE_API int logshare_share_options_set_log_request_id(logshare_share_options *opts,
                                                           const char *id);
/* Attaches one more file of the app's (a screenshot, a config), shipped
 * under name (its base name when NULL), made safe for any receiver: its
 * last path component, characters outside [A-Za-z0-9._-] replaced by
 * '_', a leading '.' prefixed with "f_", ".1", ".2" ... appended when
 * taken (manifest.json is). LOGSHARE_EINVAL for a NULL or "" path or an
 * empty name. The file is read when the report is queued or the archive
 * written: one missing then fails that call (LOGSHARE_ENOENT). */
LOGSHARE_API int logshare_share_options_add_file(logshare_share_options *opts, const char *path,
                                                 const char *name);
/* For requests other than a plain ticket (the survey work uses these):
 * one more multipart text field (name of [a-z0-9_], not one of the
 * ticket fields above; repeatable), and the endpoint the request is
 * POSTed to, a path under /api/v1/ (NULL: /api/v1/tickets). The answer
 * must be 2xx with an "id". Only /api/v1/tickets takes more files than
 * one request holds. */
LOGSHARE_API int logshare_share_options_add_form_field(logshare_share_options *opts,
                                                       const char *name, const char *value);
LOGSHARE_API int logshare_share_options_set_endpoint(logshare_share_options *opts,
                                                     const char *path);
/* Whether the store's support files are included (default 1). */
LOGSHARE_API int logshare_share_options_set_include_logs(logshare_share_options *opts, int include);

/* The server: base URL ("https://support.example.com") and bearer token.
 * Both required to send. LOGSHARE_EINVAL for a URL that does not start
 * with http:// or https://, or an empty token or one with control
 * characters. */
LOGSHARE_API int logshare_share_options_set_server(logshare_share_options *opts, const char *url,
                                                   const char *token);
/* A PEM bundle of CA certificates to trust instead of the system's
 * (NULL: the system's again). TLS is always verified; there is no option
 * to turn that off. */
LOGSHARE_API int logshare_share_options_set_ca_file(logshare_share_options *opts, const char *path);
/* connect_ms: time to connect (default 10000). An upload slower than
 * low_speed_bytes per second for low_speed_seconds is aborted and retried
 * (defaults 64 and 30). total_ms bounds one attempt (default 0: none, so
 * big uploads on slow links may finish). LOGSHARE_EINVAL for a
 * connect_ms <= 0 or any other value < 0. */
LOGSHARE_API int logshare_share_options_set_timeouts(logshare_share_options *opts, long connect_ms,
                                                     long low_speed_bytes, long low_speed_seconds,
                                                     long total_ms);
/* Attempts per send (default 4; 1 to 100) and the exponential backoff
 * between them (0 <= base_ms <= max_ms, else LOGSHARE_EINVAL):
 * the n-th wait is random, uniform between base/2 and min(max_ms,
 * base * 2^(n-1)) (base 500 ms, max_ms 30000 by default).
 * Network errors, 5xx and 429 are retried (a Retry-After is honoured; one
 * longer than max_ms ends the attempts and the item waits in the outbox);
 * other 4xx are not. A 401 (the token expired or was revoked) keeps the
 * item pending: it is not sent again with that token, but with the next
 * one given. */
LOGSHARE_API int logshare_share_options_set_retry(logshare_share_options *opts, int max_attempts,
                                                  long base_ms, long max_ms);
/* The most files one request carries (default 32, logshared's default
 * [limits] max_files; at least 2). A report with more files creates its
 * ticket with the first batch and adds the rest in further requests,
 * each file exactly once. */
LOGSHARE_API int logshare_share_options_set_max_files_per_request(logshare_share_options *opts,
                                                                  size_t max_files);
/* Caps the upload rate, in bytes per second (0, the default: no cap), so
 * a report sent during a call does not take the bandwidth the call
 * needs. */
LOGSHARE_API int logshare_share_options_set_max_send_rate(logshare_share_options *opts,
                                                          uint64_t bytes_per_second);
LOGSHARE_API int logshare_share_options_set_progress(logshare_share_options *opts,
                                                     logshare_progress_fn fn, void *user);
/* Called for every item logshare_flush_outbox() tries. */
LOGSHARE_API int logshare_share_options_set_result_callback(logshare_share_options *opts,
                                                            logshare_result_fn fn, void *user);

/* Result accessors. Strings belong to the result; NULL when not set. */
/* 0 sent, LOGSHARE_EQUEUED kept for a later try, or the error that made
 * the item fail for good (LOGSHARE_EHTTP, LOGSHARE_EAUTH, ...). */
LOGSHARE_API int logshare_report_result_status(const logshare_report_result *r);
/* The created ticket's id, and the ticket JSON as the server sent it. */
LOGSHARE_API const char *logshare_report_result_ticket_id(const logshare_report_result *r);
LOGSHARE_API const char *logshare_report_result_ticket_json(const logshare_report_result *r);
/* The outbox item that carried the report. */
LOGSHARE_API const char *logshare_report_result_outbox_id(const logshare_report_result *r);
/* The last HTTP status (0 when none was received). */
LOGSHARE_API int logshare_report_result_http_status(const logshare_report_result *r);
/* Why it was not sent: the server's error code and message, or the
 * network error. */
LOGSHARE_API const char *logshare_report_result_error_code(const logshare_report_result *r);
LOGSHARE_API const char *logshare_report_result_error_message(const logshare_report_result *r);
LOGSHARE_API void logshare_report_result_free(logshare_report_result *r);

/* Outbox quota: at most max_bytes of queued files and max_items items
 * (defaults 64 MiB, 32; 0 for either is LOGSHARE_EINVAL). A report that
 * would go past it is refused with
 * LOGSHARE_ENOSPC and nothing queued; nothing already queued is ever
 * dropped to make room. */
LOGSHARE_API int logshare_share_options_set_outbox_limits(logshare_share_options *opts,
                                                          uint64_t max_bytes, unsigned max_items);

/* ---- Export (direct sharing) ---- */

typedef enum logshare_export_format {
    LOGSHARE_EXPORT_ZIP = 0,     /* .zip, deflate: opens everywhere */
    LOGSHARE_EXPORT_TAR_ZSTD = 1 /* .tar.zst (pax): smaller, for tools */
} logshare_export_format;

/* "zip" or "tar.zst" (also "tzst") -> format, case-sensitive. 0 or
 * LOGSHARE_EINVAL (also for a NULL name or format). */
LOGSHARE_API int logshare_export_format_parse(const char *name, logshare_export_format *format);

/* Writes one archive at out_path (borrowed) holding the store's support
 * files (after a flush, as logshare_get_support_files) plus the app's
 * files from opts, and manifest.json: every file's name, stream, size,
 * SHA-256 and record time range; call ids, description, app version,
 * platform, creation time, library version. opts may be NULL. Streamed
 * (memory does not grow with the logs); the file appears only when
 * complete (written beside it, fsynced, renamed). The progress callback
 * of opts sees bytes of log data written. */
LOGSHARE_API int logshare_export(logshare *ls, const logshare_share_options *opts,
                                 const char *out_path, logshare_export_format format);

/* The same for a store directory that is not open in this process (the
 * CLI, a crash reporter): files are taken as they are on disk. */
LOGSHARE_API int logshare_export_dir(const char *dir, const logshare_share_options *opts,
                                     const char *out_path, logshare_export_format format);

/* ---- Report (a support ticket) ---- */

/* Queues a report of the store's support files (and the app's files)
 * with opts' fields in the outbox, then sends it to opts' server with
 * retries. Needs a description and a server. Blocks while it sends:
 * call it from a worker thread, not the UI thread.
 * Returns 0 (ticket created), LOGSHARE_EQUEUED (not sent now, kept in
 * the outbox: say so to the user; logshare_flush_outbox sends it later),
 * LOGSHARE_ECANCELED (the progress callback said stop; kept, pending),
 * a server refusal (LOGSHARE_EAUTH, LOGSHARE_ETOOLARGE, LOGSHARE_EHTTP;
 * kept, marked failed, see the result's error message; but a 401, whose
 * LOGSHARE_EAUTH means the token was refused, keeps it pending for the
 * next call or sender with another token), a failure no
 * retry can cure (LOGSHARE_ETLS: the server's certificate does not
 * verify against the system CAs or opts' CA file; LOGSHARE_EINVAL: the
 * server URL is malformed; kept, marked failed, not retried), or an error
 * before anything was queued (LOGSHARE_EINVAL, LOGSHARE_ENOSPC: outbox
 * full, LOGSHARE_EIO ...). When result is not NULL and the report was
 * queued, *result describes the outcome (free it). */
LOGSHARE_API int logshare_report(logshare *ls, const logshare_share_options *opts,
                                 logshare_report_result **result);

/* The same for a store directory not open in this process. */
LOGSHARE_API int logshare_report_dir(const char *dir, const logshare_share_options *opts,
                                     logshare_report_result **result);

/* ---- The outbox ---- */

/* Flag for the flush calls: also send items marked failed and items
 * whose retry time has not come (the user asked explicitly). */
#define LOGSHARE_OUTBOX_FORCE 1u

/* Sends what waits in the store's outbox, oldest first: items whose
 * retry time has come and that are not marked failed (nor refused with
 * a 401 for opts' very token), or all with LOGSHARE_OUTBOX_FORCE. An
 * item whose request can no longer be read (damaged on disk) is listed
 * as failed and reported to the result callback with
 * LOGSHARE_ECORRUPT. opts gives the server and retry policy; its
 * result callback hears about every item tried. *sent and *left (may be
 * NULL) count items delivered and still waiting. When an item gets no
 * answer at all (server unreachable) the rest are not tried this time.
 * Returns 0 even when
 * some items could not be sent (see *left); an error only when the
 * outbox could not be read or opts is incomplete. Blocks. */
LOGSHARE_API int logshare_flush_outbox(logshare *ls, const logshare_share_options *opts,
                                       unsigned flags, size_t *sent, size_t *left);
LOGSHARE_API int logshare_outbox_flush_dir(const char *dir, const logshare_share_options *opts,
                                           unsigned flags, size_t *sent, size_t *left);

/* Queues a request without sending it (push uploads and surveys use
 * this; logshare_report is queue + send): the support files (after a
 * flush) unless opts says not to, the app's files, opts' fields. A
 * background sender or logshare_flush_outbox sends it. *outbox_id (free
 * with logshare_string_free) names the item. */
LOGSHARE_API int logshare_outbox_add(logshare *ls, const logshare_share_options *opts,
                                     char **outbox_id);
LOGSHARE_API int logshare_outbox_add_dir(const char *dir, const logshare_share_options *opts,
                                         char **outbox_id);

/* What waits in the outbox of store dir, as a JSON array (free with
 * logshare_string_free), oldest first; each item has id, created_at,
 * source, description, call_ids, bytes, files, attempts, status
 * ("pending" or "failed"), http_status, next_attempt_at and error
 * {code, message} when known. An empty or missing outbox gives "[]". */
LOGSHARE_API int logshare_outbox_list_json(const char *dir, char **json);

/* Deletes one queued item without sending it (the user changed their
 * mind). LOGSHARE_ENOENT when it is not there. */
LOGSHARE_API int logshare_outbox_remove(const char *dir, const char *outbox_id);

/* ---- Sending the outbox in the background ---- */

/* A background sender. Opaque; logshare_outbox_sender_stop frees it. */
typedef struct logshare_outbox_sender logshare_outbox_sender;

/* Starts a thread that sends the store's outbox now and then keeps
 * sending whatever becomes due (retry times, reports queued later by
 * this or another process), until stopped. This is "sent at the next
 * open": call it right after logshare_open, once the app allows network
 * use (user consent, Wi-Fi ...). opts is copied (server, token, retry
 * policy, callbacks); the callbacks run on the sender's thread. Items
 * marked failed are left for an explicit logshare_flush_outbox with
 * LOGSHARE_OUTBOX_FORCE. The sender does not use ls after the call
 * returns, so it may be stopped before or after logshare_close. */
LOGSHARE_API int logshare_outbox_sender_start(logshare *ls, const logshare_share_options *opts,
                                              logshare_outbox_sender **sender);
LOGSHARE_API int logshare_outbox_sender_start_dir(const char *dir,
                                                  const logshare_share_options *opts,
                                                  logshare_outbox_sender **sender);

/* Makes the sender look at the outbox now (an item was just added with
 * logshare_outbox_add, the network came back): it sends every pending
 * item at once, also those waiting out a retry delay (items marked
 * failed still wait for LOGSHARE_OUTBOX_FORCE). A wake that arrives while
 * the sender is busy sending is not lost: it flushes again right after. */
LOGSHARE_API void logshare_outbox_sender_wake(logshare_outbox_sender *sender);

/* Stops the sender: an upload in flight is aborted (its item stays
 * queued, to be sent later), the thread is joined, memory freed. NULL is
 * a no-op. */
LOGSHARE_API void logshare_outbox_sender_stop(logshare_outbox_sender *sender);

/* The same, for an app that quits: the sender first gets up to grace_ms
 * to finish the pass over the outbox it is making (or, when it has not
 * begun its first pass yet, that pass: a report left by an earlier run
 * is sent even if the app quits right after start). Only then is what
 * is still in flight aborted (and kept). Returns as soon as the sender
 * is idle, so it costs nothing when nothing is being sent. */
LOGSHARE_API void logshare_outbox_sender_stop_grace(logshare_outbox_sender *sender,
                                                    unsigned grace_ms);

/* ------------------------------------------------------------------ */
/* Push requests for logs, and end-of-call surveys                    */
/* ------------------------------------------------------------------ */

/*
 * Support can ask a user's devices for logs (a "log request", SPEC.md):
 * the server pushes it over a server-sent-events stream
 * (GET /api/v1/log-requests/stream). A watcher keeps that stream open,
 * reconnects with backoff (resuming with Last-Event-ID, so nothing sent
 * while it was away is missed), and hands each request to the app, which
 * asks its user. "Yes" uploads the support files as a ticket with
 * source "push" and the request's id, through the outbox (so an upload
 * made offline is sent later, once); "no" tells the server the user
 * declined. docs/push-and-surveys.md shows the whole flow.
 */

/* One request from support, as the watcher hands it to the app. Every
 * string is borrowed for the duration of the callback. */
typedef struct logshare_log_request {
    const char *id;         /* "lr_..." */
    const char *reason;     /* what support wrote: show it to the user */
    const char *ticket_id;  /* the ticket support asks about, or NULL */
    const char *created_at; /* RFC 3339 UTC */
    const char *expires_at; /* RFC 3339 UTC: after it, an answer is refused */
    const char *json;       /* the whole request as the server sent it */
} logshare_log_request;

/* The user's answer. */
typedef enum logshare_consent {
    LOGSHARE_CONSENT_IGNORE = 0, /* no answer now; this watcher will not offer it again,
                                    a new watcher will while it is pending */
    LOGSHARE_CONSENT_UPLOAD = 1, /* yes: upload the support files for it */
    LOGSHARE_CONSENT_DECLINE = 2 /* no: tell support */
} logshare_consent;

/* Called on the thread running logshare_watch for each new request; may
 * block (it asks the user). */
typedef logshare_consent (*logshare_log_request_fn)(void *user,
                                                    const logshare_log_request *request);

/* What the watcher did, for the app's UI or logs. */
typedef enum logshare_watch_event {
    LOGSHARE_WATCH_CONNECTED = 0,    /* the stream is open */
    LOGSHARE_WATCH_DISCONNECTED = 1, /* it dropped; status says why; detail: curl's or the
                                        server's reason and the next try in ms, or only the
                                        reason when the watch ends (see logshare_watch) */
    LOGSHARE_WATCH_UPLOADED = 2,     /* detail: the ticket id */
    LOGSHARE_WATCH_QUEUED = 3,       /* no server now: kept in the outbox; detail: outbox id */
    LOGSHARE_WATCH_DECLINED = 4,     /* the server recorded the user's no */
    LOGSHARE_WATCH_FAILED = 5        /* an upload or decline failed; status says why */
} logshare_watch_event;

/* request_id is NULL for connection events; detail may be NULL. Strings
 * borrowed for the call. */
typedef void (*logshare_watch_event_fn)(void *user, logshare_watch_event event,
                                        const char *request_id, int status, const char *detail);

/* A watcher. Opaque; logshare_watcher_free frees it. */
typedef struct logshare_watcher logshare_watcher;

/* A new watcher with defaults: reconnect after 1 s doubling to 60 s
 * (plus jitter), and a stream silent for 60 s (no heartbeat) counts as
 * dropped. Then set the options (server and token), a store or a
 * directory, and the request callback. Returns NULL when out of memory. */
LOGSHARE_API logshare_watcher *logshare_watcher_new(void);
/* NULL is a no-op. Must not be called while logshare_watch runs. */
LOGSHARE_API void logshare_watcher_free(logshare_watcher *w);

/* Where uploads come from: an open store (borrowed: it must stay open
 * while the watcher runs) or a store directory not open in this process
 * (copied). The last call wins. */
LOGSHARE_API int logshare_watcher_set_store(logshare_watcher *w, logshare *ls);
LOGSHARE_API int logshare_watcher_set_dir(logshare_watcher *w, const char *dir);

/* The server, token, CA file, ticket fields (app version, platform,
 * customer, extra files) and retry policy used for the stream, uploads
 * and declines (borrowed: it must stay valid and unchanged while
 * logshare_watch runs). Uploads get source "push", the request's id and,
 * unless opts has one, the description "Logs requested by support:
 * <reason>". Required. */
LOGSHARE_API int logshare_watcher_set_share_options(logshare_watcher *w,
                                                    const logshare_share_options *opts);

/* The consent callback. Required. */
LOGSHARE_API int logshare_watcher_set_request_callback(logshare_watcher *w,
                                                       logshare_log_request_fn fn, void *user);
/* Optional progress notifications. */
LOGSHARE_API int logshare_watcher_set_event_callback(logshare_watcher *w,
                                                     logshare_watch_event_fn fn, void *user);
/* Reconnect delays: first initial_ms (>= 10), doubling to max_ms. */
LOGSHARE_API int logshare_watcher_set_reconnect(logshare_watcher *w, long initial_ms, long max_ms);
/* A stream that brings no byte (not even a heartbeat) for this long is
 * dropped and reopened (>= 1000 ms). */
LOGSHARE_API int logshare_watcher_set_idle_timeout(logshare_watcher *w, long idle_ms);

/* Runs the watcher on the calling thread until logshare_watcher_stop.
 * Returns 0 after a stop, or ends at once (after a
 * LOGSHARE_WATCH_DISCONNECTED event with the same status and the reason
 * as detail) on an error no retry would cure: LOGSHARE_EAUTH when the
 * server refuses the token (401/403), LOGSHARE_ETLS when its
 * certificate does not verify (give its CA with
 * logshare_share_options_set_ca_file), LOGSHARE_EINVAL for a malformed
 * server URL (or, without an event, a required setting missing),
 * LOGSHARE_EUNSUPPORTED when this libcurl lacks what the URL needs.
 * Network errors, timeouts and server errors (5xx) are retried, never
 * returned. */
LOGSHARE_API int logshare_watch(logshare_watcher *w);

/* Makes logshare_watch return soon (within about a second), from any
 * thread (not from a signal handler). The stop ends that run only: once
 * logshare_watch has returned, the watcher can be run again (back from
 * the background, or with a new token). A stop made while no run is
 * under way is kept for the next one, which returns 0 at once: so a
 * stop that races the start of the thread running logshare_watch is
 * not lost, but do not stop a watcher whose run has already ended (on
 * an error) before running it again. */
LOGSHARE_API void logshare_watcher_stop(logshare_watcher *w);

/* Tells the server the user declined request_id, outside a watcher (an
 * app that asked later). opts gives the server and token. 0, or
 * LOGSHARE_ECONFLICT (already answered or expired), LOGSHARE_EPERM (not
 * this user's), LOGSHARE_ENOENT, LOGSHARE_EAUTH, LOGSHARE_EHTTP (another
 * status); when no answer came, as for a report: LOGSHARE_ETLS (the
 * certificate does not verify), LOGSHARE_EINVAL (malformed URL),
 * LOGSHARE_EUNSUPPORTED, LOGSHARE_ETIMEDOUT or LOGSHARE_ENETWORK (worth
 * another try). */
LOGSHARE_API int logshare_decline_log_request(const logshare_share_options *opts,
                                              const char *request_id);

/*
 * End-of-call survey (SPEC.md): survey_json is the JSON object of
 * POST /api/v1/surveys: {"call_id", "overall"|"audio"|"video"|
 * "screenshare": {"score", "scale"?, "issues"?}, "more_info"?,
 * "report_issue"?}. It goes through the outbox like a report (queued
 * durably, then sent, sent later when offline, once). With
 * "report_issue": true the store's support files (unless
 * logshare_share_options_set_include_logs(opts, 0)) and opts' extra
 * files ride along, and the server makes a ticket (source "survey")
 * linked to the survey; otherwise no file is sent. The server checks
 * scores against their scales and issue names against their category;
 * a refusal (LOGSHARE_EHTTP, error code "invalid_argument") is final.
 * Returns as logshare_report: 0 stored (the result's ticket id is the
 * ticket's, or NULL when none was made; its ticket JSON is the server's
 * answer with the survey id), LOGSHARE_EQUEUED, or an error.
 * LOGSHARE_EINVAL when survey_json is not a JSON object with a call_id.
 */
LOGSHARE_API int logshare_submit_survey(logshare *ls, const logshare_share_options *opts,
                                        const char *survey_json, logshare_report_result **result);
/* The same for a store directory not open in this process. */
LOGSHARE_API int logshare_submit_survey_dir(const char *dir, const logshare_share_options *opts,
                                            const char *survey_json,
                                            logshare_report_result **result);

#ifdef __cplusplus
}
#endif

#endif /* LOGSHARE_H */
