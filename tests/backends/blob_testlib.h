/*
 * blob_testlib.h - what the blob store tests (directory and Azure) share:
 * blobs of deterministic content, written in odd-sized chunks and read
 * back by range against that content.
 */
#ifndef BLOB_TESTLIB_H
#define BLOB_TESTLIB_H

#include <stddef.h>
#include <stdint.h>

#include "blob_store.h"

/* Byte i of the blob made with seed. */
unsigned char blob_test_byte(unsigned seed, uint64_t i);

/* Writes size bytes of seed's content under key in chunks of a prime
 * size (so they never align with a store's blocks) and commits. 0 or
 * the store's error (the writer aborted). */
int blob_test_put(struct blob_store *bs, const char *key, unsigned seed, size_t size);

/* Reads [offset, offset + length) of key (cmocka asserts): the store
 * must report expect_total as the blob's size, deliver expect_len bytes
 * and every one of them as seed's content. */
void blob_test_expect_range(struct blob_store *bs, const char *key, unsigned seed, uint64_t offset,
                            uint64_t length, uint64_t expect_len, uint64_t expect_total);

#endif
