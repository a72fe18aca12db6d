/*
 * blob_azure.h - the Azure Blob Storage blob store (blob_store.h).
 *
 * Each blob is one block blob named by its key in one container:
 * <endpoint>/<container>/<key>. Requests are signed with the account's
 * Shared Key (blob_azure_sign.c); the REST API version is
 * BLOB_AZURE_API_VERSION. Writers stream: bytes are buffered up to one
 * block, each full block goes up with Put Block, and commit either
 * sends the whole (small) blob with one Put Blob or the block list with
 * Put Block List, both with If-None-Match: * so an existing blob is
 * never replaced (LOGSHARE_EEXIST). Readers fetch the range in ranged
 * GETs of read_chunk bytes each, so memory stays bounded however large
 * the blob.
 *
 * Errors: an endpoint that cannot be reached, times out or keeps
 * answering 5xx/429 gives LOGSHARE_EUNAVAILABLE; 403 (wrong key, clock
 * skew) LOGSHARE_EPERM; 404 LOGSHARE_ENOENT; other refusals
 * LOGSHARE_EIO. Every failure is logged on stderr with the Azure error
 * code. Idempotent calls are retried a bounded number of times.
 *
 * The store has no sweep_uploads (Azure discards uncommitted blocks by
 * itself, after a week) and no open_fd (no local files); signed_url
 * gives a read-only service SAS URL for one blob.
 */
#ifndef LOGSHARED_BLOB_AZURE_H
#define LOGSHARED_BLOB_AZURE_H

#include <stddef.h>

#include "blob_store.h"

#define BLOB_AZURE_API_VERSION "2021-08-06"
#define BLOB_AZURE_DEFAULT_BLOCK (4u << 20)
#define BLOB_AZURE_DEFAULT_READ_CHUNK (4u << 20)
#define BLOB_AZURE_DEFAULT_LIST_PAGE 1000u
/* Azure's own limit for Put Block List. */
#define BLOB_AZURE_MAX_BLOCKS 50000u

struct blob_azure_config {
    const char *account;   /* storage account name: 3..24 of [a-z0-9] */
    const char *key;       /* the account key, base64 (as the portal shows it) */
    const char *container; /* 3..63 of [a-z0-9-], as Azure names containers */
    /* http(s)://host[:port][/path], no query; NULL or "": the public
     * https://<account>.blob.core.windows.net. Azurite is path-style:
     * http://127.0.0.1:PORT/devstoreaccount1. */
    const char *endpoint;
    /* 0 for the defaults above; tests set small ones to cross block,
     * chunk and page boundaries cheaply. */
    size_t block_size;    /* 1 KiB .. 100 MiB */
    size_t read_chunk;    /* 1 KiB .. 100 MiB */
    unsigned list_page;   /* 1 .. 5000 */
    int create_container; /* 1: create it if missing (409 is fine) */
};

/* Opens the store: checks the settings (LOGSHARE_EINVAL, with a line on
 * stderr naming the bad one), then, with create_container, creates the
 * container if it does not exist, which needs the endpoint to answer
 * (LOGSHARE_EUNAVAILABLE, LOGSHARE_EPERM...). cfg is borrowed: every
 * string is copied. *out is the caller's: blob_store_destroy it. */
int blob_azure_open(const struct blob_azure_config *cfg, struct blob_store **out);

/* Reads an account key file: the base64 key (surrounding white space
 * is ignored). *key is the caller's: free it with blob_azure_key_free,
 * which wipes it first. LOGSHARE_ENOENT and the like when the file
 * cannot be read, LOGSHARE_EKEY when it does not hold a base64 key. */
int blob_azure_read_key_file(const char *path, char **key);
void blob_azure_key_free(char *key);

#endif
