/*
 * multipart_dump.c - runs logshared's multipart parser on one body file
 * and prints what it saw as one JSON line, so an independent parser
 * (Node's undici, tests/server/multipart_compare.mjs) can be compared on
 * the same input:
 *
 *   multipart_dump BOUNDARY FILE [SEED]
 *   {"ok":true,"parts":[{"name":hex,"filename":hex|null,"data":hex},...]}
 *   {"ok":false,"error":"..."}
 *
 * Strings are hex so any byte compares exactly. SEED splits the body
 * into random-sized pieces (1 byte up to 4 KiB) to exercise the
 * streaming paths: every split must give the same answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/multipart.h"
#include "logshare.h"
#include "ls_buf.h"
#include "ls_fs.h"

struct dump {
    ls_buf out;
    int nparts;
};

static void hex(ls_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ls_buf_printf(b, "%02x", (unsigned char)s[i]);
}

static int on_begin(void *ctx, const multipart_part *p)
{
    struct dump *d = ctx;
    ls_buf_append_str(&d->out, d->nparts++ ? ",{\"name\":\"" : "{\"name\":\"");
    hex(&d->out, p->name, strlen(p->name));
    ls_buf_append_str(&d->out, "\",\"filename\":");
    if (p->filename) {
        ls_buf_append_str(&d->out, "\"");
        hex(&d->out, p->filename, strlen(p->filename));
        ls_buf_append_str(&d->out, "\"");
    } else {
        ls_buf_append_str(&d->out, "null");
    }
    ls_buf_append_str(&d->out, ",\"data\":\"");
    return 0;
}

static int on_data(void *ctx, const char *data, size_t len)
{
    hex(&((struct dump *)ctx)->out, data, len);
    return 0;
}

static int on_end(void *ctx)
{
    ls_buf_append_str(&((struct dump *)ctx)->out, "\"}");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: multipart_dump BOUNDARY FILE [SEED]\n");
        return 2;
    }
    char *body;
    size_t len;
    if (ls_fs_read_file(argv[2], 64u << 20, &body, &len)) {
        fprintf(stderr, "multipart_dump: cannot read %s\n", argv[2]);
        return 2;
    }
    unsigned seed = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 0;
    struct dump d = {LS_BUF_INIT, 0};
    multipart_callbacks cb = {on_begin, on_data, on_end};
    multipart_limits lim;
    multipart_limits_default(&lim);
    lim.max_parts = 100000;
    lim.max_files = 100000;
    multipart_parser *p = multipart_parser_new(argv[1], &lim, &cb, &d);
    int rc = p ? 0 : LOGSHARE_EINVAL;
    size_t off = 0;
    srand(seed);
    while (!rc && off < len) {
        size_t n = seed ? 1 + (size_t)rand() % 4096 : len - off;
        if (n > len - off)
            n = len - off;
        rc = multipart_parser_feed(p, body + off, n);
        off += n;
    }
    if (!rc)
        rc = multipart_parser_finish(p);
    if (rc)
        printf("{\"ok\":false,\"error\":\"%s\"}\n", p ? multipart_parser_error(p) : "bad boundary");
    else
        printf("{\"ok\":true,\"parts\":[%s]}\n", d.out.data ? d.out.data : "");
    multipart_parser_free(p);
    ls_buf_free(&d.out);
    free(body);
    return 0;
}
