/*
 * blob_azure.c - the Azure Blob Storage blob store: blob_store.h's ops
 * on top of the request engine (blob_azure_http.c). blob_azure.h says
 * what it does; here is why it does it so.
 *
 * Writing. put_open talks to nobody (it runs on an HTTP thread and must
 * be cheap, as the directory store's is); it only picks a random upload
 * id. write buffers up to one block (the buffer grows with the blob, so
 * a small blob costs little memory) and hands each full block to a
 * thread that sends it with Put Block while the next one fills
 * (hand_off_block). Block ids are base64 of "<upload id>-<index>": all of one
 * length, as Azure requires, and never the same for two writers, so two
 * uploads racing for one key cannot mix blocks. commit sends a blob that
 * fit in one block with one Put Blob, else the last block and Put Block
 * List; both carry If-None-Match: * (blobs are immutable: an existing
 * blob gives 409/412, LOGSHARE_EEXIST) and the upload id as metadata.
 * A 201 from either means Azure has stored the blob durably (it is
 * replicated before the answer), so the ticket may be committed next;
 * the blob's Last-Modified is the time of that commit, as blob_store.h
 * asks. abort sends nothing: uncommitted blocks are invisible, and Azure
 * discards them by itself (after a week, or when the blob is next
 * committed), so nothing of an aborted upload ever becomes visible.
 *
 * A commit whose answer was lost is retried; if the retry finds the
 * blob already there, its upload id metadata tells whether it is this
 * very upload (success) or another (LOGSHARE_EEXIST).
 *
 * Reading. get_open fetches the first chunk of the range at once (its
 * Content-Range gives the blob's size); the rest comes chunk by chunk,
 * one chunk fetched ahead by a thread while the caller reads the last
 * (start_ahead; close cancels it), each with If-Match on the first
 * answer's ETag, so a blob
 * deleted and written again under the same key in between is an error
 * (LOGSHARE_EIO), never a mix of two blobs.
 */
#include "blob_azure.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "blob_azure_internal.h"
#include "logshare.h"
#include "ls_buf.h"
#include "ls_fs.h"
#include "ls_hex.h"

#define AZ_UPLOAD_ID_BYTES 8
/* Larger List Blobs pages are refused rather than held (5000 blobs with
 * long names stay well below). */
#define AZ_LIST_MAX_RESPONSE (32u << 20)
#define AZ_MIN_BUFFER (64u << 10)
#define AZ_CHECK_TIMEOUT_MS 5000L

struct az_store {
    struct blob_store base;
    struct az_conn conn;
    size_t block_size;
    size_t read_chunk;
    unsigned list_page;
};

struct az_writer {
    struct blob_writer base;
    struct az_store *s;
    char *key;
    unsigned char *buf; /* the block being filled */
    size_t len, cap;
    uint32_t blocks; /* blocks sent with Put Block, or on their way */
    /* The block on its way, sent by the sender thread while buf fills. */
    unsigned char *spare;
    size_t spare_cap, spare_len;
    uint32_t spare_index;
    pthread_t sender;
    int sending;
    int send_rc;
    char upload_id[2 * AZ_UPLOAD_ID_BYTES + 1];
};

struct az_reader {
    struct blob_reader base;
    struct az_store *s;
    char *key;
    char etag[80];
    uint64_t next; /* where the next chunk starts */
    uint64_t end;  /* end of the range */
    unsigned char *buf;
    size_t buf_len, buf_pos, buf_cap;
    /* The chunk after buf, fetched ahead by the fetcher thread into
     * spare (up to ahead_to) while the caller reads buf. */
    unsigned char *spare;
    size_t spare_len;
    uint64_t ahead_to;
    pthread_t fetcher;
    int fetching;
    int fetch_rc;
    atomic_int cancel; /* close: stop the fetch ahead now */
};

/* ---- writing ------------------------------------------------------- */

static void block_id(const struct az_writer *w, uint32_t index, char out[64])
{
    char raw[40];
    int n = snprintf(raw, sizeof raw, "%s-%08u", w->upload_id, (unsigned)index);
    sodium_bin2base64(out, 64, (const unsigned char *)raw, (size_t)n,
                      sodium_base64_VARIANT_ORIGINAL);
}

static int az_put_open(struct blob_store *bs, const char *key, struct blob_writer **out)
{
    struct az_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->key = strdup(key))) {
        free(w);
        return LOGSHARE_ENOMEM;
    }
    unsigned char rnd[AZ_UPLOAD_ID_BYTES];
    randombytes_buf(rnd, sizeof rnd);
    ls_hex_encode(rnd, sizeof rnd, w->upload_id);
    w->s = bs->state;
    *out = &w->base;
    return 0;
}

static int put_block(struct az_writer *w, uint32_t index, const unsigned char *data, size_t len)
{
    char id[64];
    block_id(w, index, id);
    struct az_req r = {
        .op = "put block",
        .method = "PUT",
        .key = w->key,
        .params = {{"comp", "block"}, {"blockid", id}},
        .n_params = 2,
        .body = data,
        .body_len = len,
        .retry = 1,
    };
    int rc = az_request(&w->s->conn, &r);
    if (rc == 0)
        rc = az_status_error(&r);
    az_req_free(&r);
    return rc;
}

/* Sends what is in buf as the next block, now, on this thread. */
static int send_block_now(struct az_writer *w)
{
    int rc = put_block(w, w->blocks, w->buf, w->len);
    if (rc == 0) {
        w->blocks++;
        w->len = 0;
    }
    return rc;
}

static void *sender_main(void *arg)
{
    struct az_writer *w = arg;
    w->send_rc = put_block(w, w->spare_index, w->spare, w->spare_len);
    return NULL;
}

/* The block on its way, if any, has arrived: its result. */
static int wait_sender(struct az_writer *w)
{
    if (!w->sending)
        return 0;
    pthread_join(w->sender, NULL);
    w->sending = 0;
    return w->send_rc;
}

/* A full buffer goes to a thread of its own while the next one fills:
 * the HTTP thread that receives the body waits only when a whole block
 * has arrived before the previous one is stored, not for every block's
 * round trip to Azure. At most one block per writer is on its way, so a
 * writer holds at most two blocks of memory. */
static int hand_off_block(struct az_writer *w)
{
    int rc = wait_sender(w);
    if (rc)
        return rc;
    unsigned char *full = w->buf;
    size_t full_cap = w->cap;
    w->buf = w->spare;
    w->cap = w->spare_cap;
    w->spare = full;
    w->spare_cap = full_cap;
    w->spare_len = w->len;
    w->spare_index = w->blocks++;
    w->len = 0;
    w->send_rc = 0;
    if (pthread_create(&w->sender, NULL, sender_main, w) == 0) {
        w->sending = 1;
        return 0;
    }
    /* No thread to be had: send it here instead. */
    sender_main(w);
    return w->send_rc;
}

static int grow_buffer(struct az_writer *w, size_t need)
{
    size_t cap = w->cap ? w->cap : AZ_MIN_BUFFER;
    while (cap < need)
        cap *= 2;
    if (cap > w->s->block_size)
        cap = w->s->block_size;
    unsigned char *p = realloc(w->buf, cap);
    if (!p)
        return LOGSHARE_ENOMEM;
    w->buf = p;
    w->cap = cap;
    return 0;
}

static int az_write(struct blob_writer *bw, const void *data, size_t len)
{
    struct az_writer *w = (struct az_writer *)bw;
    const unsigned char *p = data;
    while (len > 0) {
        if (w->len == w->s->block_size) {
            /* One block is kept for commit: the list's last entry. */
            if (w->blocks + 2 > BLOB_AZURE_MAX_BLOCKS)
                return LOGSHARE_ETOOLARGE;
            int rc = hand_off_block(w);
            if (rc)
                return rc;
        }
        size_t room = w->s->block_size - w->len;
        size_t n = len < room ? len : room;
        if (w->len + n > w->cap) {
            int rc = grow_buffer(w, w->len + n);
            if (rc)
                return rc;
        }
        memcpy(w->buf + w->len, p, n);
        w->len += n;
        p += n;
        len -= n;
    }
    return 0;
}

/* Waits for a block still on its way: the sender thread uses w. */
static void writer_free(struct az_writer *w)
{
    wait_sender(w);
    free(w->spare);
    free(w->buf);
    free(w->key);
    free(w);
}

static int block_list_body(const struct az_writer *w, ls_buf *b)
{
    int rc = ls_buf_append_str(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
    char id[64];
    for (uint32_t i = 0; rc == 0 && i < w->blocks; i++) {
        block_id(w, i, id);
        rc = ls_buf_printf(b, "<Latest>%s</Latest>", id);
    }
    return rc ? rc : ls_buf_append_str(b, "</BlockList>");
}

/* Put Blob or Put Block List, whichever the writer's state calls for. */
static int send_commit(struct az_writer *w, const ls_buf *list, struct az_req *r)
{
    static char meta_prefix[] = "x-ms-meta-logshareupload:";
    char meta[sizeof meta_prefix + sizeof w->upload_id];
    snprintf(meta, sizeof meta, "%s%s", meta_prefix, w->upload_id);
    *r = (struct az_req){.method = "PUT", .key = w->key, .if_none_match = "*", .retry = 1};
    if (w->blocks > 0) {
        r->op = "put block list";
        r->params[0] = (struct az_param){"comp", "blocklist"};
        r->n_params = 1;
        r->xms[r->n_xms++] = meta;
        r->body = list->data;
        r->body_len = list->len;
    } else {
        r->op = "put blob";
        r->xms[r->n_xms++] = "x-ms-blob-type:BlockBlob";
        r->xms[r->n_xms++] = meta;
        r->body = w->buf;
        r->body_len = w->len;
    }
    return az_request(&w->s->conn, r);
}

/* Is there a committed blob under the writer's key? 1, 0, or an error. */
static int committed_blob(struct az_writer *w, int *ours)
{
    struct az_req r = {.op = "get properties", .method = "HEAD", .key = w->key, .retry = 1};
    int rc = az_request(&w->s->conn, &r);
    if (rc == 0 && r.status == 404)
        rc = 0;
    else if (rc == 0 && (rc = az_status_error(&r)) == 0)
        rc = 1;
    *ours = rc == 1 && strcmp(r.upload_meta, w->upload_id) == 0;
    az_req_free(&r);
    return rc;
}

/* The key was refused as taken (409/412). It is this upload's own blob
 * when an earlier attempt committed it but its answer was lost (the
 * upload id tells); it is nobody's when only another writer's
 * uncommitted blocks are there (Azurite's Put Blob refuses those too,
 * its Put Block List does not): then the bytes go as a block list. */
static int resolve_conflict(struct az_writer *w, ls_buf *list)
{
    int ours;
    int rc = committed_blob(w, &ours);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return ours ? 0 : LOGSHARE_EEXIST;
    if (w->blocks > 0)
        return LOGSHARE_EEXIST; /* a block list is only refused for a committed blob */
    if ((rc = send_block_now(w)) != 0 || (rc = block_list_body(w, list)) != 0)
        return rc;
    struct az_req r;
    rc = send_commit(w, list, &r);
    if (rc == 0 && (r.status == 409 || r.status == 412))
        rc = LOGSHARE_EEXIST;
    else if (rc == 0)
        rc = az_status_error(&r);
    az_req_free(&r);
    return rc;
}

static int az_commit(struct blob_writer *bw)
{
    struct az_writer *w = (struct az_writer *)bw;
    int rc = wait_sender(w);
    if (rc == 0 && w->blocks > 0 && w->len > 0)
        rc = send_block_now(w);
    ls_buf list = LS_BUF_INIT;
    if (rc == 0 && w->blocks > 0)
        rc = block_list_body(w, &list);
    struct az_req r = {0};
    if (rc == 0)
        rc = send_commit(w, &list, &r);
    if (rc == 0 && (r.status == 409 || r.status == 412))
        rc = resolve_conflict(w, &list);
    else if (rc == 0)
        rc = az_status_error(&r);
    az_req_free(&r);
    ls_buf_free(&list);
    writer_free(w);
    return rc;
}

/* Nothing to send: see the top of the file. */
static void az_abort(struct blob_writer *bw)
{
    writer_free((struct az_writer *)bw);
}

/* ---- reading ------------------------------------------------------- */

/* Fetches [from, to) into the reader's buffer. */
/* Fetches [from, to) into dest (rd->buf_cap bytes); *got is what came. */
static int fetch(struct az_reader *rd, unsigned char *dest, uint64_t from, uint64_t to,
                 struct az_req *r, size_t *got)
{
    *r = (struct az_req){
        .op = "get",
        .method = "GET",
        .key = rd->key,
        .range_start = from,
        .range_end = to,
        .if_match = rd->etag[0] ? rd->etag : NULL,
        .retry = 1,
        .out = dest,
        .out_cap = rd->buf_cap,
        .cancel = &rd->cancel,
    };
    int rc = az_request(&rd->s->conn, r);
    *got = 0;
    /* A range starting at or past the end is 416 in Azure, an empty 206
     * in Azurite: the same answer. */
    if (rc == 0 && r->status == 206 && r->has_range_total && r->range_total <= from &&
        r->body_out_len == 0)
        r->status = 416;
    if (rc == 0 && r->status == 206) {
        /* Azure clips a range at the blob's end, and only there. */
        uint64_t want = r->range_total < to ? r->range_total - from : to - from;
        if (!r->has_range_total || r->range_total <= from || r->body_out_len != want)
            rc = LOGSHARE_EIO;
        else
            *got = r->body_out_len;
    }
    return rc;
}

/* A chunk after the first: all of it must come. */
static int fetch_chunk(struct az_reader *rd, unsigned char *dest, uint64_t from, uint64_t to,
                       size_t *got)
{
    struct az_req r;
    int rc = fetch(rd, dest, from, to, &r, got);
    if (rc == 0 && (r.status != 206 || *got != to - from)) {
        /* 412: the blob under this key is not the one we began with;
         * 404: it went away mid-read. Either way the bytes so far
         * cannot be completed: damage, not "no such blob". */
        rc = az_status_error(&r);
        if (rc == 0 || rc == LOGSHARE_ENOENT)
            rc = LOGSHARE_EIO;
    }
    az_req_free(&r);
    return rc;
}

static void *fetcher_main(void *arg)
{
    struct az_reader *rd = arg;
    rd->fetch_rc = fetch_chunk(rd, rd->spare, rd->next, rd->ahead_to, &rd->spare_len);
    return NULL;
}

/* Starts fetching the chunk after buf, so the caller (an HTTP thread
 * sending the download) waits for Azure only when it sends faster than
 * Azure answers. At most one chunk ahead: two chunks of memory a reader.
 * Without memory or a thread, read fetches on the caller's thread. */
static void start_ahead(struct az_reader *rd)
{
    if (rd->fetching || rd->next >= rd->end)
        return;
    if (!rd->spare && !(rd->spare = malloc(rd->buf_cap)))
        return;
    rd->ahead_to = rd->end - rd->next > rd->buf_cap ? rd->next + rd->buf_cap : rd->end;
    rd->fetch_rc = 0;
    rd->fetching = pthread_create(&rd->fetcher, NULL, fetcher_main, rd) == 0;
}

static int wait_ahead(struct az_reader *rd)
{
    if (!rd->fetching)
        return 0;
    pthread_join(rd->fetcher, NULL);
    rd->fetching = 0;
    return rd->fetch_rc;
}

/* The blob's size and ETag, for ranges fetch cannot answer. */
static int properties(struct az_reader *rd, uint64_t *size)
{
    struct az_req r = {.op = "get properties", .method = "HEAD", .key = rd->key, .retry = 1};
    int rc = az_request(&rd->s->conn, &r);
    if (rc == 0 && (rc = az_status_error(&r)) == 0) {
        *size = r.content_length;
        memcpy(rd->etag, r.etag, sizeof rd->etag);
    }
    az_req_free(&r);
    return rc;
}

static void reader_free(struct az_reader *rd)
{
    atomic_store(&rd->cancel, 1);
    wait_ahead(rd);
    free(rd->spare);
    free(rd->buf);
    free(rd->key);
    free(rd);
}

/* Opens the range with its first chunk; 416 (the range starts at or
 * past the end, which includes every range of an empty blob) asks for
 * the size instead. */
static int open_range(struct az_reader *rd, uint64_t offset, uint64_t length, uint64_t *total)
{
    uint64_t first_end = length < rd->buf_cap ? offset + length : offset + rd->buf_cap;
    struct az_req r;
    int rc = length > 0 ? fetch(rd, rd->buf, offset, first_end, &r, &rd->buf_len) : 0;
    uint64_t size;
    if (length > 0 && rc == 0 && r.status == 206) {
        size = r.range_total;
        memcpy(rd->etag, r.etag, sizeof rd->etag);
    } else if (rc == 0 && (length == 0 || r.status == 416)) {
        rc = properties(rd, &size);
    } else if (rc == 0) {
        rc = az_status_error(&r);
        if (rc == 0)
            rc = LOGSHARE_EIO; /* a 2xx that is not 206: the range was ignored */
    }
    if (length > 0)
        az_req_free(&r);
    if (rc)
        return rc;
    *total = size;
    if (offset > size)
        return LOGSHARE_EINVAL;
    rd->end = length >= size - offset ? size : offset + length;
    if (rd->buf_len > rd->end - offset)
        rd->buf_len = (size_t)(rd->end - offset); /* cannot happen: Azure clips at the end */
    rd->next = offset + rd->buf_len;
    return 0;
}

static int az_get_open(struct blob_store *bs, const char *key, uint64_t offset, uint64_t length,
                       struct blob_reader **out, uint64_t *total_size)
{
    struct az_store *s = bs->state;
    struct az_reader *rd = calloc(1, sizeof *rd);
    if (!rd || !(rd->key = strdup(key)))
        goto nomem;
    rd->s = s;
    rd->buf_cap = length < s->read_chunk ? (size_t)(length ? length : 1) : s->read_chunk;
    if (!(rd->buf = malloc(rd->buf_cap)))
        goto nomem;
    int rc = open_range(rd, offset, length, total_size);
    if (rc) {
        reader_free(rd);
        return rc;
    }
    *out = &rd->base;
    return 0;
nomem:
    if (rd)
        free(rd->key);
    free(rd);
    return LOGSHARE_ENOMEM;
}

static int az_read(struct blob_reader *br, void *buf, size_t cap, size_t *got)
{
    struct az_reader *rd = (struct az_reader *)br;
    if (rd->buf_pos == rd->buf_len && rd->next < rd->end) {
        start_ahead(rd);
        int rc;
        if (rd->fetching) {
            if ((rc = wait_ahead(rd)) != 0)
                return rc;
            unsigned char *t = rd->buf;
            rd->buf = rd->spare;
            rd->spare = t;
            rd->buf_len = rd->spare_len;
            rd->next = rd->ahead_to;
        } else {
            uint64_t to = rd->end - rd->next > rd->buf_cap ? rd->next + rd->buf_cap : rd->end;
            if ((rc = fetch_chunk(rd, rd->buf, rd->next, to, &rd->buf_len)) != 0)
                return rc;
            rd->next = to;
        }
        rd->buf_pos = 0;
    }
    size_t n = rd->buf_len - rd->buf_pos < cap ? rd->buf_len - rd->buf_pos : cap;
    memcpy(buf, rd->buf + rd->buf_pos, n);
    rd->buf_pos += n;
    *got = n;
    start_ahead(rd);
    return 0;
}

static void az_close(struct blob_reader *br)
{
    reader_free((struct az_reader *)br);
}

/* ---- the rest ------------------------------------------------------ */

static int az_remove(struct blob_store *bs, const char *key)
{
    struct az_store *s = bs->state;
    struct az_req r = {.op = "delete", .method = "DELETE", .key = key, .retry = 1};
    int rc = az_request(&s->conn, &r);
    /* A 404 after a retry: the attempt whose answer was lost deleted it. */
    if (rc == 0 && r.status == 404 && r.attempts > 1)
        rc = 0;
    else if (rc == 0)
        rc = az_status_error(&r);
    az_req_free(&r);
    return rc;
}

/* /readyz asks often and wants a quick answer: one attempt, no retry,
 * and a service that accepts the connection but never answers is not
 * ready after AZ_CHECK_TIMEOUT_MS rather than after the low-speed limit. */
static int az_check(struct blob_store *bs)
{
    struct az_store *s = bs->state;
    struct az_req r = {.op = "get container properties",
                       .method = "HEAD",
                       .params = {{"restype", "container"}},
                       .n_params = 1,
                       .timeout_ms = AZ_CHECK_TIMEOUT_MS};
    int rc = az_request(&s->conn, &r);
    if (rc == 0)
        rc = az_status_error(&r);
    az_req_free(&r);
    return rc;
}

struct list_ctx {
    blob_list_fn fn;
    void *arg;
};

/* Blobs whose names are not keys were not written by a logshared: they
 * cannot be addressed through the store, so they are not listed (and an
 * orphan sweep never touches them). */
static int list_item(void *arg, const char *name, int64_t mtime, uint64_t size)
{
    struct list_ctx *ctx = arg;
    return blob_key_valid(name) ? ctx->fn(ctx->arg, name, mtime, size) : 0;
}

static int az_list(struct blob_store *bs, blob_list_fn fn, void *arg)
{
    struct az_store *s = bs->state;
    struct list_ctx ctx = {fn, arg};
    char page[16];
    snprintf(page, sizeof page, "%u", s->list_page);
    char *marker = NULL;
    int rc;
    do {
        struct az_req r = {
            .op = "list blobs",
            .method = "GET",
            .params = {{"restype", "container"}, {"comp", "list"}, {"maxresults", page}},
            .n_params = 3,
            .retry = 1,
            .max_response = AZ_LIST_MAX_RESPONSE,
        };
        if (marker)
            r.params[r.n_params++] = (struct az_param){"marker", marker};
        rc = az_request(&s->conn, &r);
        if (rc == 0)
            rc = az_status_error(&r);
        char *next = NULL;
        if (rc == 0)
            rc =
                az_list_parse(r.body_out ? r.body_out : "", r.body_out_len, list_item, &ctx, &next);
        if (rc == LOGSHARE_EIO && r.status == 200)
            fprintf(stderr, "logshared: azure list blobs: a malformed answer\n");
        az_req_free(&r);
        /* A marker that does not move would page forever: a broken or
         * hostile answer, refused. */
        if (rc == 0 && next && marker && strcmp(next, marker) == 0) {
            fprintf(stderr, "logshared: azure list blobs: the same NextMarker twice\n");
            rc = LOGSHARE_EIO;
        }
        free(marker);
        marker = next;
    } while (rc == 0 && marker);
    free(marker);
    return rc;
}

/* A read-only service SAS URL: anyone holding it may GET this one blob
 * until expires_unix_s, and do nothing else. Made offline from the
 * account key; it cannot be revoked short of changing the key. */
static int az_signed_url(struct blob_store *bs, const char *key, int64_t expires_unix_s, char **url)
{
    struct az_store *s = bs->state;
    if (expires_unix_s <= (int64_t)time(NULL))
        return LOGSHARE_EINVAL;
    time_t t = (time_t)expires_unix_s;
    struct tm tm;
    char expiry[32], sig[64];
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 ||
        strftime(expiry, sizeof expiry, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return LOGSHARE_EINVAL;
    /* Plain http only where the endpoint itself is (Azurite). */
    const char *protocols = strncmp(s->conn.base_url, "https:", 6) == 0 ? "https" : "https,http";
    int rc = az_sas_signature(s->conn.key, s->conn.key_len, s->conn.account, s->conn.container, key,
                              expiry, protocols, BLOB_AZURE_API_VERSION, sig, sizeof sig);
    ls_buf b = LS_BUF_INIT;
    if (!rc)
        rc = ls_buf_printf(&b, "%s/%s/", s->conn.base_url, s->conn.container);
    if (!rc)
        rc = az_append_encoded(&b, key, 1);
    if (!rc)
        rc = ls_buf_printf(&b, "?sv=%s&sr=b&sp=r&spr=%s&se=", BLOB_AZURE_API_VERSION, protocols);
    if (!rc)
        rc = az_append_encoded(&b, expiry, 0);
    if (!rc)
        rc = ls_buf_append_str(&b, "&sig=");
    if (!rc)
        rc = az_append_encoded(&b, sig, 0);
    if (rc) {
        ls_buf_free(&b);
        return rc;
    }
    *url = ls_buf_steal(&b);
    return 0;
}

static void az_destroy(struct blob_store *bs)
{
    struct az_store *s = bs->state;
    az_conn_clear(&s->conn);
    sodium_memzero(s->conn.key, sizeof s->conn.key);
    free(s->conn.account);
    free(s->conn.base_url);
    free(s->conn.base_path);
    free(s->conn.container);
    free(s);
}

/* sweep_uploads is NULL: no partial upload is ever visible or ours to
 * remove (Azure discards uncommitted blocks). open_fd is NULL: there
 * is no local file; the dashboard streams through get_open. */
static const struct blob_store_ops az_ops = {
    .name = "azure",
    .put_open = az_put_open,
    .write = az_write,
    .commit = az_commit,
    .abort = az_abort,
    .get_open = az_get_open,
    .read = az_read,
    .close = az_close,
    .remove = az_remove,
    .check = az_check,
    .list = az_list,
    .signed_url = az_signed_url,
    .destroy = az_destroy,
};

/* ---- opening ------------------------------------------------------- */

static int all_of(const char *s, const char *set, size_t min, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    return n >= min && n <= max && strspn(s, set) == n;
}

static int bad_setting(const char *what, const char *why)
{
    fprintf(stderr, "logshared: azure blob store: %s %s\n", what, why);
    return LOGSHARE_EINVAL;
}

static int decode_key(const char *b64, unsigned char *key, size_t cap, size_t *len)
{
    if (!b64 ||
        sodium_base642bin(key, cap, b64, strlen(b64), " \t\r\n", len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        *len == 0)
        return -1;
    return 0;
}

/* Splits the endpoint into the URL prefix and its path. */
static int set_endpoint(struct az_conn *c, const char *endpoint)
{
    ls_buf b = LS_BUF_INIT;
    int rc = endpoint && *endpoint
                 ? ls_buf_append_str(&b, endpoint)
                 : ls_buf_printf(&b, "https://%s.blob.core.windows.net", c->account);
    if (rc)
        return rc;
    while (b.len > 0 && b.data[b.len - 1] == '/')
        b.data[--b.len] = '\0';
    const char *scheme_end = strstr(b.data, "://");
    if ((strncmp(b.data, "http://", 7) != 0 && strncmp(b.data, "https://", 8) != 0) ||
        strpbrk(b.data, "?# \t\r\n") || !scheme_end || !scheme_end[3] || scheme_end[3] == '/') {
        ls_buf_free(&b);
        return bad_setting("azure_endpoint", "must be http(s)://HOST[:PORT][/PATH]");
    }
    const char *path = strchr(scheme_end + 3, '/');
    c->base_path = strdup(path ? path : "");
    c->base_url = ls_buf_steal(&b);
    return c->base_path && c->base_url ? 0 : LOGSHARE_ENOMEM;
}

static int check_sizes(const struct blob_azure_config *cfg)
{
    const size_t lo = 1u << 10, hi = 100u << 20;
    if (cfg->block_size && (cfg->block_size < lo || cfg->block_size > hi))
        return bad_setting("block size", "must be 1 KiB .. 100 MiB");
    if (cfg->read_chunk && (cfg->read_chunk < lo || cfg->read_chunk > hi))
        return bad_setting("read chunk", "must be 1 KiB .. 100 MiB");
    if (cfg->list_page > 5000)
        return bad_setting("list page", "must be 1 .. 5000");
    return 0;
}

static int create_container(struct az_store *s)
{
    struct az_req r = {.op = "create container",
                       .method = "PUT",
                       .params = {{"restype", "container"}},
                       .n_params = 1,
                       .retry = 1};
    int rc = az_request(&s->conn, &r);
    if (rc == 0 && !(r.status == 409 && strcmp(r.error_code, "ContainerAlreadyExists") == 0))
        rc = az_status_error(&r);
    az_req_free(&r);
    return rc;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ready;

static void init_curl(void)
{
    curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static int open_settings(const struct blob_azure_config *cfg, struct az_store *s)
{
    static const char lower_digits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    if (!all_of(cfg->account, lower_digits, 3, 24))
        return bad_setting("azure_account", "must be 3..24 lower-case letters and digits");
    if (!all_of(cfg->container, "abcdefghijklmnopqrstuvwxyz0123456789-", 3, 63) ||
        cfg->container[0] == '-' || strstr(cfg->container, "--"))
        return bad_setting("azure_container",
                           "must be 3..63 lower-case letters, digits and single dashes");
    if (decode_key(cfg->key, s->conn.key, sizeof s->conn.key, &s->conn.key_len))
        return bad_setting("azure_key_file", "must hold the account key in base64");
    int rc = check_sizes(cfg);
    if (rc)
        return rc;
    if (!(s->conn.account = strdup(cfg->account)) || !(s->conn.container = strdup(cfg->container)))
        return LOGSHARE_ENOMEM;
    s->block_size = cfg->block_size ? cfg->block_size : BLOB_AZURE_DEFAULT_BLOCK;
    s->read_chunk = cfg->read_chunk ? cfg->read_chunk : BLOB_AZURE_DEFAULT_READ_CHUNK;
    s->list_page = cfg->list_page ? cfg->list_page : BLOB_AZURE_DEFAULT_LIST_PAGE;
    return set_endpoint(&s->conn, cfg->endpoint);
}

int blob_azure_open(const struct blob_azure_config *cfg, struct blob_store **out)
{
    if (!cfg || !out)
        return LOGSHARE_EINVAL;
    *out = NULL;
    pthread_once(&curl_once, init_curl);
    if (!curl_ready || sodium_init() < 0)
        return LOGSHARE_EINTERNAL;
    struct az_store *s = calloc(1, sizeof *s);
    if (!s)
        return LOGSHARE_ENOMEM;
    s->base.ops = &az_ops;
    s->base.state = s;
    int rc = az_conn_init(&s->conn);
    if (rc == 0)
        rc = open_settings(cfg, s);
    if (rc == 0 && cfg->create_container)
        rc = create_container(s);
    if (rc) {
        az_destroy(&s->base);
        return rc;
    }
    *out = &s->base;
    return 0;
}

int blob_azure_read_key_file(const char *path, char **key)
{
    *key = NULL;
    char *text = NULL;
    size_t n = 0;
    int rc = ls_fs_read_file(path, 4096, &text, &n);
    if (rc)
        return rc;
    unsigned char bin[64];
    size_t len;
    if (decode_key(text, bin, sizeof bin, &len)) {
        sodium_memzero(text, n);
        free(text);
        return LOGSHARE_EKEY;
    }
    sodium_memzero(bin, sizeof bin);
    *key = text;
    return 0;
}

void blob_azure_key_free(char *key)
{
    if (key) {
        sodium_memzero(key, strlen(key));
        free(key);
    }
}
