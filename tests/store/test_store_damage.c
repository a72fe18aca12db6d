/*
 * test_store_damage.c - what readers do with files that are not as
 * written: cut at every byte offset (a crash while writing), a byte
 * changed anywhere (damage or tampering), the wrong key.
 *
 * The rule checked everywhere: every record returned is one that was
 * written, in order, and none comes from a frame that failed; a cut is
 * reported as a torn tail (LOGSHARE_ETRUNCATED) and a change as an
 * error that is NOT a torn tail.
 */
#include "logfmt.h"
#include "store_testutil.h"

#define BATCHES 5
#define PER_BATCH 10

struct sample {
    char *dir;
    char *pub, *sec;
    unsigned char *data;
    size_t len;
    size_t frame_end[BATCHES + 2]; /* end offset of each frame */
    size_t frame_records[BATCHES + 2];
    size_t nframes;
    size_t header_len;
};

/* One file: BATCHES frames of PER_BATCH records, then a FINAL frame. */
static void sample_make(struct sample *s, int encrypted)
{
    memset(s, 0, sizeof *s);
    s->dir = tu_tmpdir("damage");
    tu_keys(&s->pub, &s->sec);
    logshare_options *o = tu_options(s->dir, encrypted ? s->pub : NULL, NULL);
    logshare *ls = tu_open(o);
    logshare_options_free(o);
    for (int b = 0; b < BATCHES; b++) {
        for (int i = 0; i < PER_BATCH; i++)
            assert_int_equal(LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "record %d of call %s",
                                          b * PER_BATCH + i, "c-9"),
                             0);
        assert_int_equal(logshare_flush(ls, 0), 0);
    }
    logshare_close(ls);
    logshare_support_file *files;
    size_t n;
    assert_int_equal(logshare_list_support_files(s->dir, &files, &n), 0);
    assert_int_equal(n, 1);
    FILE *f = fopen(files[0].path, "rb");
    assert_non_null(f);
    s->len = files[0].size;
    s->data = malloc(s->len);
    assert_int_equal(fread(s->data, 1, s->len, f), s->len);
    fclose(f);
    logshare_support_files_free(files, n);
    logfmt_header h;
    assert_int_equal(logfmt_header_decode(s->data, s->len, &h), 0);
    s->header_len = h.header_len;
    size_t off = h.header_len;
    while (off < s->len) {
        logfmt_frame_header fh;
        assert_int_equal(logfmt_frame_header_decode(s->data + off, &fh), 0);
        off += LOGFMT_FRAME_HEADER_LEN + fh.body_len;
        s->frame_end[s->nframes] = off;
        s->frame_records[s->nframes] = fh.first_us ? PER_BATCH : 0;
        s->nframes++;
    }
    assert_int_equal(off, s->len);
    assert_int_equal(s->nframes, BATCHES + 1);
}

static void sample_free(struct sample *s)
{
    tu_rmrf(s->dir);
    free(s->dir);
    free(s->pub);
    free(s->sec);
    free(s->data);
}

/* Reads data; returns the final status (0, or a negative error from
 * open or next) and the number of records, checking each is the next
 * one written. */
static int read_buffer(const unsigned char *data, size_t len, const char *sec, size_t *records)
{
    logshare_reader *r = NULL;
    *records = 0;
    int rc = logshare_reader_open_buffer(data, len, sec, &r);
    if (rc != 0)
        return rc;
    logshare_record rec;
    while ((rc = logshare_reader_next(r, &rec)) == 1) {
        char want[64];
        snprintf(want, sizeof want, "record %zu of call c-9", *records);
        assert_string_equal(rec.message, want);
        (*records)++;
    }
    /* Errors are sticky. */
    if (rc < 0)
        assert_int_equal(logshare_reader_next(r, &rec), rc);
    logshare_reader_close(r);
    return rc;
}

/* Records in the frames that end at or before off. */
static size_t records_before(const struct sample *s, size_t off)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nframes && s->frame_end[i] <= off; i++)
        n += s->frame_records[i];
    return n;
}

static void cut_everywhere(int encrypted)
{
    struct sample s;
    sample_make(&s, encrypted);
    size_t n;
    assert_int_equal(read_buffer(s.data, s.len, s.sec, &n), 0);
    assert_int_equal(n, BATCHES * PER_BATCH);
    for (size_t cut = 0; cut < s.len; cut++) {
        int rc = read_buffer(s.data, cut, s.sec, &n);
        if (rc != LOGSHARE_ETRUNCATED)
            fail_msg("cut at %zu of %zu: got %d, want a torn tail", cut, s.len, rc);
        assert_int_equal(n, records_before(&s, cut));
    }
    sample_free(&s);
}

static void a_file_cut_at_any_byte_is_a_torn_tail_with_every_complete_record(void **state)
{
    (void)state;
    cut_everywhere(1);
}

static void a_plaintext_file_cut_at_any_byte_is_a_torn_tail_too(void **state)
{
    (void)state;
    cut_everywhere(0);
}

/* A power loss can leave the end of a file zero-filled: the size made
 * it to disk, the data did not. Cut anywhere and fill with zeros (a run
 * longer than a MAC, or any run at a frame boundary): a torn tail with
 * every complete record, not tampering. */
static void zero_fill_everywhere(int encrypted)
{
    struct sample s;
    sample_make(&s, encrypted);
    static const size_t fills[] = {16, 100, 4096};
    unsigned char *copy = calloc(1, s.len + 4096);
    for (size_t cut = 0; cut < s.len; cut++) {
        int boundary = cut == s.header_len;
        for (size_t i = 0; i < s.nframes; i++)
            boundary |= cut == s.frame_end[i];
        for (size_t f = 0; f < sizeof fills / sizeof *fills + 2; f++) {
            size_t fill = f < 3 ? fills[f] : f == 3 ? 1 : 30;
            if (f >= 3 && !boundary)
                continue; /* short runs only where a frame begins */
            /* Where the original bytes after the cut are zeros too, the
             * fill restores them: the file is intact up to there. */
            size_t same = cut;
            while (same < s.len && same < cut + fill && s.data[same] == 0)
                same++;
            if (same == s.len)
                continue; /* the whole file restored, zeros appended */
            memcpy(copy, s.data, cut);
            memset(copy + cut, 0, fill);
            size_t n;
            int rc = read_buffer(copy, cut + fill, s.sec, &n);
            if (rc != LOGSHARE_ETRUNCATED)
                fail_msg("cut at %zu of %zu, %zu zeros: got %d, want a torn tail", cut, s.len, fill,
                         rc);
            assert_int_equal(n, records_before(&s, same));
        }
    }
    free(copy);
    sample_free(&s);
}

static void a_zero_filled_tail_is_a_torn_tail_not_tampering(void **state)
{
    (void)state;
    zero_fill_everywhere(1);
    zero_fill_everywhere(0);
}

static void flip_everywhere(int encrypted)
{
    struct sample s;
    sample_make(&s, encrypted);
    unsigned char *copy = malloc(s.len);
    for (size_t at = 0; at < s.len; at++) {
        for (int bit = 0; bit < 8; bit += 7) {
            memcpy(copy, s.data, s.len);
            copy[at] ^= (unsigned char)(1u << bit);
            size_t n;
            int rc = read_buffer(copy, s.len, s.sec, &n);
            if (rc == 0 || rc == LOGSHARE_ETRUNCATED)
                fail_msg("byte %zu bit %d changed: got %d (%zu records), not detected", at, bit, rc,
                         n);
            /* Nothing from the bad frame on. */
            size_t frame_start = s.header_len;
            size_t limit = 0;
            for (size_t i = 0; i < s.nframes; i++) {
                if (at < s.frame_end[i])
                    break;
                limit += s.frame_records[i];
                frame_start = s.frame_end[i];
            }
            if (at < s.header_len)
                limit = 0;
            if (n > limit)
                fail_msg("byte %zu changed (frame from %zu): %zu records returned, at most %zu", at,
                         frame_start, n, limit);
        }
    }
    free(copy);
    sample_free(&s);
}

static void a_changed_byte_anywhere_is_detected_and_nothing_from_its_frame_is_returned(void **state)
{
    (void)state;
    flip_everywhere(1);
}

static void a_changed_byte_in_a_plaintext_file_is_detected_too(void **state)
{
    (void)state;
    flip_everywhere(0);
}

static void appended_or_reordered_frames_are_corrupt(void **state)
{
    (void)state;
    struct sample s;
    sample_make(&s, 1);
    size_t n;
    /* Bytes after the final frame. */
    unsigned char *more = malloc(s.len + 40);
    memcpy(more, s.data, s.len);
    memcpy(more + s.len, s.data + s.header_len, 40);
    assert_int_equal(read_buffer(more, s.len + 40, s.sec, &n), LOGSHARE_ECORRUPT);
    assert_int_equal(n, BATCHES * PER_BATCH);
    /* Frames 1 and 2 swapped. */
    size_t a = s.frame_end[0], b = s.frame_end[1], c = s.frame_end[2];
    memcpy(more, s.data, a);
    memcpy(more + a, s.data + b, c - b);
    memcpy(more + a + (c - b), s.data + a, b - a);
    memcpy(more + c, s.data + c, s.len - c);
    assert_int_equal(read_buffer(more, s.len, s.sec, &n), LOGSHARE_ECORRUPT);
    assert_int_equal(n, PER_BATCH);
    free(more);
    sample_free(&s);
}

static void the_wrong_key_or_no_key_is_refused(void **state)
{
    (void)state;
    struct sample s;
    sample_make(&s, 1);
    char *pub2, *sec2;
    tu_keys(&pub2, &sec2);
    size_t n;
    assert_int_equal(read_buffer(s.data, s.len, sec2, &n), LOGSHARE_EKEY);
    assert_int_equal(read_buffer(s.data, s.len, NULL, &n), LOGSHARE_EKEY);
    assert_int_equal(read_buffer(s.data, s.len, "logshare-sk-1:garbage", &n), LOGSHARE_EKEY);
    assert_int_equal(read_buffer(s.data, s.len, pub2, &n), LOGSHARE_EKEY); /* a public key */
    assert_int_equal(n, 0);
    /* Not a log file at all. */
    assert_int_equal(
        read_buffer((const unsigned char *)"hello, world, this is text", 26, s.sec, &n),
        LOGSHARE_EFORMAT);
    free(pub2);
    free(sec2);
    sample_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_file_cut_at_any_byte_is_a_torn_tail_with_every_complete_record),
        cmocka_unit_test(a_plaintext_file_cut_at_any_byte_is_a_torn_tail_too),
        cmocka_unit_test(a_zero_filled_tail_is_a_torn_tail_not_tampering),
        cmocka_unit_test(
            a_changed_byte_anywhere_is_detected_and_nothing_from_its_frame_is_returned),
        cmocka_unit_test(a_changed_byte_in_a_plaintext_file_is_detected_too),
        cmocka_unit_test(appended_or_reordered_frames_are_corrupt),
        cmocka_unit_test(the_wrong_key_or_no_key_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
