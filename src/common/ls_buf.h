/*
 * ls_buf.h - a growable byte buffer, always NUL-terminated.
 *
 * Not for hot paths (it may call realloc); for building JSON, HTTP
 * bodies, file names and the like.
 */
#ifndef LS_BUF_H
#define LS_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct ls_buf {
    char *data; /* owned; NUL-terminated when not NULL */
    size_t len;
    size_t cap;
} ls_buf;

#define LS_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Ensures room for extra more bytes plus the NUL. 0 or LOGSHARE_ENOMEM. */
int ls_buf_reserve(ls_buf *b, size_t extra);
int ls_buf_append(ls_buf *b, const void *data, size_t len);
int ls_buf_append_str(ls_buf *b, const char *s);
int ls_buf_printf(ls_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ls_buf_vprintf(ls_buf *b, const char *fmt, va_list ap);
/* Empties the buffer, keeping its memory. */
void ls_buf_reset(ls_buf *b);
/* Hands the data to the caller (who frees it) and empties the buffer. */
char *ls_buf_steal(ls_buf *b);
/* Frees the data. The buffer can be reused afterwards. */
void ls_buf_free(ls_buf *b);

#endif
