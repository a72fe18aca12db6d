/*
 * sqlite_fold.c - Unicode lower-casing for the SQLite store's text
 * search (sqlite_store.h). SQLite's LIKE and lower() fold ASCII only, so
 * "?q=élise" did not find "ÉLISE" on SQLite while PostgreSQL's ILIKE
 * did: the same search gave different tickets depending on the store.
 * The search compares ls_fold(column) with a folded pattern instead.
 */
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "logshare.h"
#include "sqlite_store.h"

/* glibc's C.UTF-8 has the full Unicode case mappings whatever locale the
 * process runs in; without it only ASCII is folded (as SQLite does). */
static locale_t fold_locale;
static pthread_once_t fold_once = PTHREAD_ONCE_INIT;

static void fold_init(void)
{
    fold_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

static unsigned fold_cp(unsigned cp)
{
    if (cp < 0x80)
        return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    if (!fold_locale)
        return cp;
    unsigned low = (unsigned)towlower_l((wint_t)cp, fold_locale);
    return low ? low : cp;
}

/* Decodes one well-formed UTF-8 sequence at p (length *n); 0 with *n 1
 * for anything else, which the caller copies as it is. */
static unsigned decode(const unsigned char *p, size_t avail, size_t *n)
{
    unsigned c = p[0], min;
    size_t len;
    if (c < 0x80) {
        *n = 1;
        return c;
    }
    if ((c & 0xE0) == 0xC0)
        len = 2, min = 0x80, c &= 0x1F;
    else if ((c & 0xF0) == 0xE0)
        len = 3, min = 0x800, c &= 0x0F;
    else if ((c & 0xF8) == 0xF0)
        len = 4, min = 0x10000, c &= 0x07;
    else
        len = 0, min = 0;
    *n = 1;
    if (!len || len > avail)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *n = len;
    return c;
}

static size_t encode(unsigned c, char *out)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

char *sq_fold(const char *s, size_t len, size_t *out_len)
{
    pthread_once(&fold_once, fold_init);
    /* at most twice the bytes: a 1-byte input stays 1 byte (ASCII, or a
     * stray byte copied), any longer one becomes at most 4 */
    char *out = malloc(len * 2 + 1);
    if (!out)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n;
        unsigned c = decode(p + i, len - i, &n);
        if (n == 1 && p[i] >= 0x80) /* not UTF-8: kept, compared as bytes */
            out[o++] = (char)p[i];
        else
            o += encode(fold_cp(c), out + o);
        i += n;
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return out;
}

static void sql_fold(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    const char *text = (const char *)sqlite3_value_text(argv[0]);
    size_t len = (size_t)sqlite3_value_bytes(argv[0]);
    size_t n = 0;
    char *folded = text ? sq_fold(text, len, &n) : NULL;
    if (!folded) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sqlite3_result_text(ctx, folded, (int)n, free);
}

int sq_register_fold(sqlite3 *db)
{
    return sq_error(sqlite3_create_function_v2(
        db, "ls_fold", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL, sql_fold,
        NULL, NULL, NULL));
}
