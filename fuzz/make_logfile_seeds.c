/*
 * make_logfile_seeds.c - writes the seeds of fuzz/corpus/logfile from
 * log files the real library writes (a plaintext store and one
 * encrypted to the harness's fixed key), in each of the harness's
 * input modes (see fuzz_logfile.c). Run once by hand:
 *   build/fuzz/make_logfile_seeds fuzz/corpus/logfile
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_logfile.h"
#include "logfmt.h"
#include "logfmt_frame.h"
#include "logshare.h"
#include "ls_buf.h"

static const char *g_out;

static void put(const char *name, int mode, const unsigned char *d, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", g_out, name);
    FILE *f = fopen(path, "wb");
    unsigned char m = (unsigned char)mode;
    if (!f || fwrite(&m, 1, 1, f) != 1 || (n && fwrite(d, 1, n, f) != n) || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

/* A store with a few records of every kind, closed cleanly. */
static void write_store(const char *dir, const char *pk_text)
{
    logshare_options *o = logshare_options_new();
    logshare *ls = NULL;
    if (!o || logshare_options_set_dir(o, dir) != 0 ||
        (pk_text ? logshare_options_set_public_key(o, pk_text)
                 : logshare_options_set_plaintext(o, 1)) != 0 ||
        logshare_options_set_min_level(o, LOGSHARE_LEVEL_TRACE) != 0 ||
        logshare_open(o, &ls) != 0) {
        fprintf(stderr, "cannot open a store in %s\n", dir);
        exit(1);
    }
    logshare_options_free(o);
    logshare_log(ls, 0, LOGSHARE_LEVEL_INFO, "hello %s", "world");
    logshare_log(ls, 0, LOGSHARE_LEVEL_TRACE, "t\xc3\xa9xt \t %d", -1);
    logshare_log_static(ls, 0, LOGSHARE_LEVEL_WARN, "n=%d u=%u x=%#x ll=%lld", -5, 7u, 255u,
                        (long long)1 << 40);
    logshare_log_static(ls, 0, LOGSHARE_LEVEL_ERROR, "s=%s .*s=%.*s c=%c p=%p", "str", 3, "abcdef",
                        'z', (void *)0x1234);
    logshare_log_static(ls, 0, LOGSHARE_LEVEL_DEBUG, "f=%f e=%.3e g=%g w=%*d %-8s|%%", 1.5,
                        -2.25e10, 0.1, 6, 42, "left");
    logshare_log_static(ls, 0, LOGSHARE_LEVEL_FATAL, "z=%zu j=%jd t=%td hh=%hhd h=%hd", (size_t)9,
                        (intmax_t)-9, (ptrdiff_t)3, (signed char)30, (short)7000);
    logshare_flush(ls, 5000);
    logshare_log(ls, 0, LOGSHARE_LEVEL_INFO, "second frame");
    logshare_close(ls);
}

static unsigned char *slurp(const char *dir, size_t *len)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096] = "";
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".lslog"))
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (d)
        closedir(d);
    FILE *f = path[0] ? fopen(path, "rb") : NULL;
    unsigned char *b = malloc(1 << 20);
    if (!f || !b) {
        fprintf(stderr, "no log file in %s\n", dir);
        exit(1);
    }
    *len = fread(b, 1, 1 << 20, f);
    fclose(f);
    return b;
}

/* The records of a plaintext file as a mode-3 chunk list. */
static void put_chunks(const char *name, int encrypt, const unsigned char *file, size_t len)
{
    logfmt_header h;
    logfmt_opener o;
    ls_buf scratch = LS_BUF_INIT, payload = LS_BUF_INIT, out = LS_BUF_INIT;
    if (logfmt_header_decode(file, len, &h) != 0 || logfmt_opener_begin(&o, &h, NULL, NULL) != 0)
        exit(1);
    unsigned char flags = (unsigned char)encrypt;
    ls_buf_append(&out, &flags, 1);
    for (size_t off = h.header_len; off < len;) {
        size_t used;
        int final;
        logfmt_frame_header fh;
        if (logfmt_open_frame(&o, file + off, len - off, &used, &final, &fh, &scratch, &payload) !=
            0)
            exit(1);
        unsigned char c[11];
        c[0] = (unsigned char) final;
        logfmt_put_u64(c + 1, (uint64_t)fh.first_us);
        c[9] = (unsigned char)(payload.len & 0xff);
        c[10] = (unsigned char)(payload.len >> 8);
        ls_buf_append(&out, c, sizeof c);
        ls_buf_append(&out, payload.data, payload.len);
        off += used;
    }
    put(name, 3, (const unsigned char *)out.data, out.len);
    ls_buf_free(&scratch);
    ls_buf_free(&payload);
    ls_buf_free(&out);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_logfile_seeds CORPUS_DIR\n");
        return 2;
    }
    g_out = argv[1];
    char tmp[] = "/tmp/lfseeds-XXXXXX";
    if (!mkdtemp(tmp))
        return 1;
    char plain_dir[64], enc_dir[64];
    snprintf(plain_dir, sizeof plain_dir, "%s/plain", tmp);
    snprintf(enc_dir, sizeof enc_dir, "%s/enc", tmp);
    unsigned char pk[crypto_box_PUBLICKEYBYTES];
    fuzz_logfile_keys(pk);
    char *pk_text = logfmt_public_key_text(pk);
    write_store(plain_dir, NULL);
    write_store(enc_dir, pk_text);
    free(pk_text);
    size_t plen, elen;
    unsigned char *plain = slurp(plain_dir, &plen), *enc = slurp(enc_dir, &elen);
    put("plain-raw", 0, plain, plen);
    put("plain-nokey", 1, plain, plen);
    put("plain-fixup", 2, plain, plen);
    put("plain-torn", 0, plain, plen - 7);
    put("enc-raw", 0, enc, elen);
    put("enc-nokey", 1, enc, elen);
    put("enc-torn", 0, enc, elen - 30);
    put("header-only", 0, enc, 57 + 8 + LOGFMT_SEALED_KEY_LEN + 24);
    put_chunks("built-plain", 0, plain, plen);
    put_chunks("built-enc", 1, plain, plen);
    free(plain);
    free(enc);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    return system(cmd) != 0;
}
