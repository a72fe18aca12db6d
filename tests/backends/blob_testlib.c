/*
 * blob_testlib.c - see blob_testlib.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "blob_testlib.h"

unsigned char blob_test_byte(unsigned seed, uint64_t i)
{
    return (unsigned char)((i * 131 + seed * 7 + (i >> 9)) & 0xff);
}

int blob_test_put(struct blob_store *bs, const char *key, unsigned seed, size_t size)
{
    struct blob_writer *w;
    int rc = blob_store_put_open(bs, key, &w);
    if (rc != 0)
        return rc;
    unsigned char chunk[7919];
    for (size_t off = 0; off < size;) {
        size_t n = size - off < sizeof chunk ? size - off : sizeof chunk;
        for (size_t i = 0; i < n; i++)
            chunk[i] = blob_test_byte(seed, off + i);
        if ((rc = blob_writer_write(w, chunk, n)) != 0) {
            blob_writer_abort(w);
            return rc;
        }
        off += n;
    }
    return blob_writer_commit(w);
}

void blob_test_expect_range(struct blob_store *bs, const char *key, unsigned seed, uint64_t offset,
                            uint64_t length, uint64_t expect_len, uint64_t expect_total)
{
    struct blob_reader *r;
    uint64_t total = 0;
    assert_int_equal(blob_store_get_open(bs, key, offset, length, &r, &total), 0);
    assert_int_equal(total, expect_total);
    unsigned char buf[3001]; /* odd too: reads cross chunk boundaries anywhere */
    uint64_t pos = offset;
    size_t got;
    for (;;) {
        assert_int_equal(blob_reader_read(r, buf, sizeof buf, &got), 0);
        if (got == 0)
            break;
        for (size_t i = 0; i < got; i++)
            assert_int_equal(buf[i], blob_test_byte(seed, pos + i));
        pos += got;
    }
    assert_int_equal(pos - offset, expect_len);
    blob_reader_close(r);
}
