/* ls_buf.c - growable byte buffer (see ls_buf.h). */
#include "ls_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logshare.h"

int ls_buf_reserve(ls_buf *b, size_t extra)
{
    if (b->len + extra + 1 < b->len)
        return LOGSHARE_ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *nd = realloc(b->data, cap);
    if (!nd)
        return LOGSHARE_ENOMEM;
    b->data = nd;
    b->cap = cap;
    return 0;
}

int ls_buf_append(ls_buf *b, const void *data, size_t len)
{
    int rc = ls_buf_reserve(b, len);
    if (rc)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int ls_buf_append_str(ls_buf *b, const char *s)
{
    return ls_buf_append(b, s, strlen(s));
}

int ls_buf_vprintf(ls_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return LOGSHARE_EINVAL;
    int rc = ls_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int ls_buf_printf(ls_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ls_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void ls_buf_reset(ls_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *ls_buf_steal(ls_buf *b)
{
    char *d = b->data;
    if (!d)
        d = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

void ls_buf_free(ls_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
