/*
 * test_store_hostile.c - readers face files made by someone else: the
 * server's log viewer decodes uploads, and a plaintext file's checksum
 * chain can be recomputed by anyone. So frames that authenticate but
 * carry hostile records (nasty printf formats, lying lengths, random
 * bytes) must be refused or rendered safely, never crash or over-read
 * (run under ASan by `make test-asan`).
 */
#include "logfmt.h"
#include "logfmt_printf.h"
#include "logfmt_frame.h"
#include "sodium.h"
#include "store_testutil.h"

static const char *const nasty_formats[] = {
    "%s%s%s%s%s%s", "%n",      "%hhn %d", "%*.*d",    "%99999d",  "%.5000s", "%1024.1024f", "%",
    "%%%",          "%lc %ls", "%Lf",     "%-+ #0'd", "%p %p %p", "%c%c",    "%zu %td %jd", "%.*s",
    "%*s",          "%ll",     "%q",      "tail %",   "%1025d",   "%.*f"};

static unsigned rnd(unsigned n)
{
    return n ? randombytes_uniform(n) : 0;
}

static void put(ls_buf *b, unsigned type, const unsigned char *body, size_t len)
{
    unsigned char h[11];
    h[0] = (unsigned char)type;
    size_t hl = 1 + logfmt_put_varint(h + 1, len);
    if (rnd(20) == 0) /* sometimes a length that lies */
        hl = 1 + logfmt_put_varint(h + 1, len + rnd(50));
    ls_buf_append(b, h, hl);
    ls_buf_append(b, body, len);
}

static void hostile_payload(ls_buf *b)
{
    unsigned char body[2048];
    int n = (int)rnd(12);
    for (int i = 0; i < n; i++) {
        size_t len = 0;
        switch (rnd(5)) {
        case 0: { /* a format definition */
            const char *f = nasty_formats[rnd(sizeof nasty_formats / sizeof *nasty_formats)];
            len = logfmt_put_varint(body, rnd(4));
            memcpy(body + len, f, strlen(f));
            len += strlen(f);
            put(b, LOGFMT_REC_FORMAT, body, len);
            break;
        }
        case 1: { /* a binary record with random arguments */
            body[len++] = (unsigned char)rnd(7);
            len += logfmt_put_varint(body + len, rnd(100));
            len += logfmt_put_varint(body + len, rnd(4));
            size_t extra = rnd(200);
            randombytes_buf(body + len, extra);
            len += extra;
            put(b, LOGFMT_REC_BINARY, body, len);
            break;
        }
        case 2: { /* text or dropped with random content */
            size_t extra = rnd(100);
            randombytes_buf(body, extra);
            put(b, 2 + rnd(4), body, extra);
            break;
        }
        case 3: { /* a well-formed text record, so whole frames decode often
                   * enough that "records come out" is checked every run */
            body[len++] = (unsigned char)rnd(LOGSHARE_LEVEL_FATAL + 1);
            body[len++] = 0; /* zigzag time delta 0 */
            size_t extra = 1 + rnd(60);
            for (size_t k = 0; k < extra; k++)
                body[len++] = (unsigned char)(' ' + rnd(95));
            put(b, LOGFMT_REC_TEXT, body, len);
            break;
        }
        default: { /* raw garbage */
            size_t extra = rnd(64);
            randombytes_buf(body, extra);
            ls_buf_append(b, body, extra);
            break;
        }
        }
    }
}

static void forged_plaintext_frames_with_hostile_records_never_crash_a_reader(void **state)
{
    (void)state;
    long rounds = tu_scale(20000, 5000);
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    ls_buf file = LS_BUF_INIT, payload = LS_BUF_INIT, scratch = LS_BUF_INIT;
    long clean = 0, corrupt = 0, records = 0;
    for (long r = 0; r < rounds; r++) {
        logfmt_sealer s;
        unsigned char hb[LOGFMT_HEADER_MAX];
        size_t hl;
        assert_int_equal(logfmt_sealer_begin(&s, NULL, 1, 0, "main", cctx, hb, &hl), 0);
        ls_buf_reset(&file);
        ls_buf_append(&file, hb, hl);
        int frames = 1 + (int)rnd(3);
        for (int f = 0; f < frames; f++) {
            ls_buf_reset(&payload);
            hostile_payload(&payload);
            assert_int_equal(logfmt_seal_frame(&s, (const unsigned char *)payload.data, payload.len,
                                               1700000000000000, 1700000000000001, f == frames - 1,
                                               &scratch, &file),
                             0);
        }
        logshare_reader *rd = NULL;
        assert_int_equal(logshare_reader_open_buffer(file.data, file.len, NULL, &rd), 0);
        logshare_record rec;
        int rc;
        while ((rc = logshare_reader_next(rd, &rec)) == 1) {
            assert_int_equal(strlen(rec.message), rec.message_len);
            assert_true(rec.level <= LOGSHARE_LEVEL_FATAL);
            records++;
        }
        if (rc == 0)
            clean++;
        else if (rc == LOGSHARE_ECORRUPT)
            corrupt++;
        else
            fail_msg("round %ld: unexpected %d", r, rc);
        logshare_reader_close(rd);
    }
    /* Both outcomes happen: the generator is not trivially rejected. */
    assert_true(clean > 0 && corrupt > 0 && records > 0);
    ZSTD_freeCCtx(cctx);
    ls_buf_free(&file);
    ls_buf_free(&payload);
    ls_buf_free(&scratch);
}

/* A plaintext file of the given frames (records, len, first_us each),
 * the last one final, as anyone can forge one. */
static void forge(ls_buf *file, const unsigned char *const *recs, const size_t *lens,
                  const int64_t *first, int frames)
{
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    ls_buf scratch = LS_BUF_INIT;
    logfmt_sealer s;
    unsigned char hb[LOGFMT_HEADER_MAX];
    size_t hl;
    assert_int_equal(logfmt_sealer_begin(&s, NULL, 1, 0, "main", cctx, hb, &hl), 0);
    ls_buf_append(file, hb, hl);
    for (int f = 0; f < frames; f++)
        assert_int_equal(logfmt_seal_frame(&s, recs[f], lens[f], first[f], first[f],
                                           f == frames - 1, &scratch, file),
                         0);
    ls_buf_free(&scratch);
    ZSTD_freeCCtx(cctx);
}

/* fuzz/corpus/logfile/time-overflow: a record's time delta that takes
 * the time past INT64_MAX was signed overflow (undefined behaviour; in
 * practice a record dated in 1677). The file is refused instead. */
static void a_time_delta_past_int64_is_corrupt_not_overflow(void **state)
{
    (void)state;
    /* text record: level info, zigzag delta +20 (varint 40), "x" */
    static const unsigned char rec[] = {LOGFMT_REC_TEXT, 3, LOGSHARE_LEVEL_INFO, 40, 'x'};
    const unsigned char *recs[] = {rec};
    size_t lens[] = {sizeof rec};
    int64_t first[] = {INT64_MAX - 10};
    ls_buf file = LS_BUF_INIT;
    forge(&file, recs, lens, first, 1);
    logshare_reader *rd = NULL;
    assert_int_equal(logshare_reader_open_buffer(file.data, file.len, NULL, &rd), 0);
    logshare_record rec_out;
    assert_int_equal(logshare_reader_next(rd, &rec_out), LOGSHARE_ECORRUPT);
    logshare_reader_close(rd);
    /* The same delta from an ordinary time is an ordinary record. */
    first[0] = 1700000000000000;
    ls_buf_reset(&file);
    forge(&file, recs, lens, first, 1);
    assert_int_equal(logshare_reader_open_buffer(file.data, file.len, NULL, &rd), 0);
    assert_int_equal(logshare_reader_next(rd, &rec_out), 1);
    assert_true(rec_out.time_us == 1700000000000020);
    assert_int_equal(logshare_reader_next(rd, &rec_out), 0);
    logshare_reader_close(rd);
    ls_buf_free(&file);
}

/* fuzz/corpus/logfile/empty-first-frame: an empty frame before any
 * payload was decoded did pointer arithmetic on NULL (undefined; caught
 * by clang's UBSan). It is a frame without records. */
static void an_empty_first_frame_holds_no_records(void **state)
{
    (void)state;
    static const unsigned char rec[] = {LOGFMT_REC_TEXT, 3, LOGSHARE_LEVEL_WARN, 0, 'y'};
    const unsigned char *recs[] = {NULL, rec};
    size_t lens[] = {0, sizeof rec};
    int64_t first[] = {0, 1700000000000000};
    ls_buf file = LS_BUF_INIT;
    forge(&file, recs, lens, first, 2);
    logshare_reader *rd = NULL;
    assert_int_equal(logshare_reader_open_buffer(file.data, file.len, NULL, &rd), 0);
    logshare_record out;
    assert_int_equal(logshare_reader_next(rd, &out), 1);
    assert_string_equal(out.message, "y");
    assert_int_equal(logshare_reader_next(rd, &out), 0);
    logshare_reader_close(rd);
    ls_buf_free(&file);
}

/* A frame of n deferred records that each pad 12 empty strings to 4096
 * columns: 41 bytes of payload render to 48 KiB of text. */
static void padding_payload(ls_buf *b, int n)
{
    static const char fmt[] = "%*s%*s%*s%*s%*s%*s%*s%*s%*s%*s%*s%*s";
    unsigned char rec[64];
    size_t len = 0;
    rec[len++] = LOGFMT_REC_FORMAT;
    rec[len++] = (unsigned char)(1 + strlen(fmt));
    rec[len++] = 0; /* format id 0 */
    ls_buf_append(b, rec, len);
    ls_buf_append(b, fmt, strlen(fmt));
    len = 0;
    rec[len++] = LOGFMT_REC_BINARY;
    rec[len++] = 3 + 12 * 3;
    rec[len++] = LOGSHARE_LEVEL_INFO;
    rec[len++] = 0; /* time delta */
    rec[len++] = 0; /* format id */
    for (int i = 0; i < 12; i++) {
        len += logfmt_put_varint(rec + len, logfmt_zigzag(4096)); /* the '*' width */
        rec[len++] = 0;                                           /* an empty string */
    }
    for (int i = 0; i < n; i++)
        ls_buf_append(b, rec, len);
}

/* fuzz/corpus/logfile/render-bomb: a 173-byte file whose one frame
 * rendered to 600 MB of text, all held at once (1.2 GB from a 1 MiB
 * payload). A frame may render to 32 MiB; past that, LOGSHARE_ETOOLARGE
 * and nothing of the frame is handed out. */
static void a_frame_rendering_past_32_mib_is_refused(void **state)
{
    (void)state;
    ls_buf payload = LS_BUF_INIT, file = LS_BUF_INIT;
    padding_payload(&payload, 800); /* 39 MB of text from 33 KB */
    const unsigned char *recs[] = {(const unsigned char *)payload.data};
    size_t lens[] = {payload.len};
    int64_t first[] = {1700000000000000};
    forge(&file, recs, lens, first, 1);
    assert_true(file.len < 1024);
    logshare_reader *rd = NULL;
    logshare_record rec;
    assert_int_equal(logshare_reader_open_buffer(file.data, file.len, NULL, &rd), 0);
    assert_int_equal(logshare_reader_next(rd, &rec), LOGSHARE_ETOOLARGE);
    assert_int_equal(logshare_reader_next(rd, &rec), LOGSHARE_ETOOLARGE);
    logshare_reader_close(rd);
    /* Padding itself is fine: 100 such records (4.9 MB) read whole. */
    ls_buf_reset(&payload);
    ls_buf_reset(&file);
    padding_payload(&payload, 100);
    recs[0] = (const unsigned char *)payload.data;
    lens[0] = payload.len;
    forge(&file, recs, lens, first, 1);
    assert_int_equal(logshare_reader_open_buffer(file.data, file.len, NULL, &rd), 0);
    int n = 0, rc;
    while ((rc = logshare_reader_next(rd, &rec)) == 1) {
        assert_int_equal(rec.message_len, 12 * 4096);
        n++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, 100);
    logshare_reader_close(rd);
    ls_buf_free(&payload);
    ls_buf_free(&file);
}

/* Frames defining formats ids first .. first + n - 1, each a "%d" and
 * literal text, LOGFMT_FORMAT_MAX bytes long, 900 a frame. */
static void format_frames(ls_buf *file, unsigned n)
{
    char fmt[LOGFMT_FORMAT_MAX];
    memset(fmt, 'a', sizeof fmt);
    memcpy(fmt, "%d ", 3);
    ls_buf payloads[8];
    const unsigned char *recs[8];
    size_t lens[8];
    int64_t first[8];
    int frames = 0;
    for (unsigned id = 0; id < n; frames++) {
        assert_true(frames < 8);
        payloads[frames] = (ls_buf)LS_BUF_INIT;
        for (unsigned k = 0; k < 900 && id < n; k++, id++) {
            unsigned char head[16], idv[8];
            size_t il = logfmt_put_varint(idv, id), hl = 0;
            head[hl++] = LOGFMT_REC_FORMAT;
            hl += logfmt_put_varint(head + hl, il + sizeof fmt);
            ls_buf_append(&payloads[frames], head, hl);
            ls_buf_append(&payloads[frames], idv, il);
            ls_buf_append(&payloads[frames], fmt, sizeof fmt);
        }
        recs[frames] = (const unsigned char *)payloads[frames].data;
        lens[frames] = payloads[frames].len;
        first[frames] = 1700000000000000;
    }
    forge(file, recs, lens, first, frames);
    for (int f = 0; f < frames; f++)
        ls_buf_free(&payloads[f]);
}

/* A file may define as much format text as a writer can (4096 formats
 * of LOGFMT_FORMAT_MAX bytes); 5000 of them (a 5 MB table from a file
 * that compresses to a few KiB; 64 MiB with the 65536 ids a reader
 * takes) is refused as corrupt rather than held. */
static void format_text_past_what_a_writer_defines_is_corrupt(void **state)
{
    (void)state;
    ls_buf file = LS_BUF_INIT;
    logshare_reader *rd = NULL;
    logshare_record rec;
    format_frames(&file, 4096);
    assert_int_equal(logshare_reader_open_buffer(file.data, file.len, NULL, &rd), 0);
    assert_int_equal(logshare_reader_next(rd, &rec), 0);
    logshare_reader_close(rd);
    ls_buf_reset(&file);
    format_frames(&file, 5000);
    assert_true(file.len < 64 * 1024);
    assert_int_equal(logshare_reader_open_buffer(file.data, file.len, NULL, &rd), 0);
    assert_int_equal(logshare_reader_next(rd, &rec), LOGSHARE_ECORRUPT);
    logshare_reader_close(rd);
    ls_buf_free(&file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(forged_plaintext_frames_with_hostile_records_never_crash_a_reader),
        cmocka_unit_test(a_time_delta_past_int64_is_corrupt_not_overflow),
        cmocka_unit_test(an_empty_first_frame_holds_no_records),
        cmocka_unit_test(a_frame_rendering_past_32_mib_is_refused),
        cmocka_unit_test(format_text_past_what_a_writer_defines_is_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
