/*
 * azblob_tool.c - a look into an Azure container for blob_azure.sh,
 * through the blob store under test (blob_azure.c) talking to a real
 * Azurite with its well-known development key:
 *
 *   azblob_tool ENDPOINT CONTAINER list        "KEY SIZE" per blob
 *   azblob_tool ENDPOINT CONTAINER put KEY     stdin becomes blob KEY
 *   azblob_tool ENDPOINT CONTAINER get KEY     blob KEY to stdout
 *
 * Exit 0, or 1 with the error on stderr.
 */
#include <stdio.h>
#include <string.h>

#include "blob_azure.h"
#include "logshare.h"

#define DEV_KEY                                                                                    \
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

static int print_blob(void *arg, const char *key, int64_t mtime, uint64_t size)
{
    (void)arg;
    (void)mtime;
    printf("%s %llu\n", key, (unsigned long long)size);
    return 0;
}

static int put_stdin(struct blob_store *bs, const char *key)
{
    struct blob_writer *w;
    int rc = blob_store_put_open(bs, key, &w);
    char buf[65536];
    size_t n;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, stdin)) > 0)
        rc = blob_writer_write(w, buf, n);
    if (rc == 0)
        return blob_writer_commit(w);
    blob_writer_abort(w);
    return rc;
}

static int get_stdout(struct blob_store *bs, const char *key)
{
    struct blob_reader *r = NULL;
    int rc = blob_store_get_open(bs, key, 0, BLOB_TO_END, &r, NULL);
    char buf[65536];
    size_t got;
    while (rc == 0 && (rc = blob_reader_read(r, buf, sizeof buf, &got)) == 0 && got > 0)
        if (fwrite(buf, 1, got, stdout) != got)
            rc = LOGSHARE_EIO;
    blob_reader_close(r);
    return rc;
}

int main(int argc, char **argv)
{
    int with_key = argc >= 5 && (!strcmp(argv[3], "put") || !strcmp(argv[3], "get"));
    if (argc < 4 || (strcmp(argv[3], "list") && !with_key)) {
        fprintf(stderr, "usage: azblob_tool ENDPOINT CONTAINER list | put KEY | get KEY\n");
        return 2;
    }
    struct blob_azure_config cfg = {
        .account = "devstoreaccount1",
        .key = DEV_KEY,
        .container = argv[2],
        .endpoint = argv[1],
    };
    struct blob_store *bs;
    int rc = blob_azure_open(&cfg, &bs);
    if (rc == 0) {
        rc = !strcmp(argv[3], "list")  ? blob_store_list(bs, print_blob, NULL)
             : !strcmp(argv[3], "put") ? put_stdin(bs, argv[4])
                                       : get_stdout(bs, argv[4]);
        blob_store_destroy(bs);
    }
    if (rc)
        fprintf(stderr, "azblob_tool: %s\n", logshare_strerror(rc));
    return rc ? 1 : 0;
}
