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
 *    return NULL on failure.
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
    LOGSHARE_EINVAL = -1,       /* an argument or input is invalid */
    LOGSHARE_ENOMEM = -2,       /* out of memory */
    LOGSHARE_EIO = -3,          /* a read, write or fsync failed */
    LOGSHARE_ENOENT = -4,       /* no such file, record or object */
    LOGSHARE_EEXIST = -5,       /* it already exists */
    LOGSHARE_EKEY = -6,         /* a key is malformed or does not fit */
    LOGSHARE_ECORRUPT = -7,     /* data failed authentication: tampered or foreign */
    LOGSHARE_ETRUNCATED = -8,   /* a file ends mid-frame or before its final frame (torn tail) */
    LOGSHARE_EFORMAT = -9,      /* unknown file format or version */
    LOGSHARE_ENOSPC = -10,      /* the disk or a quota is full */
    LOGSHARE_EPERM = -11,       /* permission denied (file system or server) */
    LOGSHARE_ENETWORK = -12,    /* the server could not be reached */
    LOGSHARE_ETIMEDOUT = -13,   /* an operation took longer than allowed */
    LOGSHARE_EHTTP = -14,       /* the server answered with an error */
    LOGSHARE_EAUTH = -15,       /* no token, or the token was refused */
    LOGSHARE_ETOOLARGE = -16,   /* more than a configured limit */
    LOGSHARE_ECLOSED = -17,     /* the handle is closing or closed */
    LOGSHARE_EQUEUED = -18,     /* not sent now; kept in the outbox for later */
    LOGSHARE_EBUSY = -19,       /* the resource is in use; try again */
    LOGSHARE_ECONFLICT = -20,   /* the request conflicts with the current state */
    LOGSHARE_ERATELIMIT = -21,  /* too many requests; try again later */
    LOGSHARE_EUNAVAILABLE = -22, /* a backend is down */
    LOGSHARE_EUNSUPPORTED = -23, /* not supported by this build or server */
    LOGSHARE_ECANCELED = -24,   /* canceled by the caller */
    LOGSHARE_EINTERNAL = -25    /* a bug: an invariant did not hold */
} logshare_error;

/* A short English description of an error code ("torn tail: ..."). Never
 * NULL; unknown codes give "unknown error". Static storage. */
LOGSHARE_API const char *logshare_strerror(int err);

/* The stable snake_case name of an error code ("truncated"), as used in
 * the server's JSON errors and in logs. Static storage. */
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

/* (declared with the log store) */

/* ------------------------------------------------------------------ */
/* Sharing: export and report, the outbox                             */
/* ------------------------------------------------------------------ */

/* (declared with export and report) */

/* ------------------------------------------------------------------ */
/* Push requests for logs, and end-of-call surveys                    */
/* ------------------------------------------------------------------ */

/* (declared with push requests and surveys) */

#ifdef __cplusplus
}
#endif

#endif /* LOGSHARE_H */
