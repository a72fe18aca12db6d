/*
 * blob_azure_internal.h - what the files of the Azure blob store share:
 * Shared Key signing (blob_azure_sign.c), the List Blobs parser
 * (blob_azure_list.c) and the request engine (blob_azure_http.c). Not
 * for callers outside src/server/blob.
 */
#ifndef LOGSHARED_BLOB_AZURE_INTERNAL_H
#define LOGSHARED_BLOB_AZURE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>

/* ---- Shared Key (blob_azure_sign.c) -------------------------------- */

#define AZ_MAX_PARAMS 6
#define AZ_MAX_XMS 6

/* One query parameter, unencoded; the engine encodes it for the URL and
 * the signer uses it as is (the canonical form wants decoded values). */
struct az_param {
    const char *name; /* lower case, as Azure's parameters are */
    const char *value;
};

/* Everything Shared Key signs about one request. */
struct az_sign_input {
    const char *verb;
    uint64_t content_length;  /* signed as "" when 0 (versions since 2015-02-21) */
    const char *content_type; /* NULL: none */
    const char *if_match;
    const char *if_none_match;
    /* x-ms-* headers as "name:value", name lower case, sorted by name,
     * value trimmed (the canonical form); x-ms-date and x-ms-version
     * among them. */
    const char *xms[AZ_MAX_XMS];
    size_t n_xms;
    const char *path; /* the URL's whole path, encoded as sent */
    const struct az_param *params;
    size_t n_params;
};

/* Writes "SharedKey <account>:<signature>" into out (cap bytes).
 * LOGSHARE_EINVAL when it does not fit, LOGSHARE_ENOMEM. */
int az_sign(const unsigned char *key, size_t key_len, const char *account,
            const struct az_sign_input *in, char *out, size_t cap);

/* The base64 signature (out: 45 bytes at least) of a read-only service
 * SAS for blob, valid until expiry ("YYYY-MM-DDTHH:MM:SSZ") over
 * protocols ("https" or "https,http"). */
int az_sas_signature(const unsigned char *key, size_t key_len, const char *account,
                     const char *container, const char *blob, const char *expiry,
                     const char *protocols, const char *version, char *out, size_t cap);

/* RFC 1123 dates, as x-ms-date and Last-Modified carry them. */
void az_date_format(int64_t unix_s, char out[30]);
/* 0 and *unix_s, or -1 for anything but "Www, DD Mmm YYYY HH:MM:SS GMT". */
int az_date_parse(const char *s, size_t len, int64_t *unix_s);

/* ---- List Blobs (blob_azure_list.c) -------------------------------- */

/* Called for each <Blob> of a page; name decoded from XML, NUL-terminated. */
typedef int (*az_list_item_fn)(void *arg, const char *name, int64_t mtime, uint64_t size);

/* Parses one List Blobs answer: every blob goes to fn (a non-zero return
 * stops and is returned); *next_marker gets the NextMarker (NULL when
 * empty: the last page), the caller's to free. LOGSHARE_EIO for text
 * that is not a complete, well-formed answer. */
int az_list_parse(const char *xml, size_t len, az_list_item_fn fn, void *arg, char **next_marker);

/* ---- requests (blob_azure_http.c) ---------------------------------- */

struct az_conn {
    char *account;
    unsigned char key[64];
    size_t key_len;
    char *base_url;  /* scheme://host[:port][/path], no trailing '/' */
    char *base_path; /* the /path part ("" for none) */
    char *container;
    CURLSH *share;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

/* One request and what came back. Inputs first. */
struct az_req {
    const char *op;     /* for log lines: "put block", "get", ... */
    const char *method; /* GET PUT HEAD DELETE */
    const char *key;    /* the blob; NULL: the container itself */
    struct az_param params[AZ_MAX_PARAMS];
    size_t n_params;
    const char *if_match;
    const char *if_none_match;
    const char *xms[AZ_MAX_XMS - 2]; /* extra x-ms-* "name:value", sorted */
    size_t n_xms;
    uint64_t range_start, range_end; /* x-ms-range when range_end > 0 */
    const void *body;
    size_t body_len;
    int retry;                /* 1: idempotent, may be retried */
    long timeout_ms;          /* the whole request; 0: only the connect and low-speed limits */
    const atomic_int *cancel; /* when set (may be NULL): stop now, no retry */
    size_t max_response;      /* body bytes kept; more is LOGSHARE_EIO */
    void *out;                /* response body goes here when set (out_cap bytes) */
    size_t out_cap;

    /* Results. */
    long status;
    int attempts;
    char error_code[64];       /* x-ms-error-code */
    char transport_error[128]; /* libcurl's words for the last failed attempt */
    char etag[80];
    char upload_meta[40]; /* x-ms-meta-logshareupload */
    uint64_t content_length;
    uint64_t range_total; /* from Content-Range: bytes a-b/total */
    int has_range_total;
    char *body_out; /* when out is NULL: the body (malloc'ed, NUL-terminated) */
    size_t body_out_len;
};

/* Performs req with retries; 0 when a status arrived (req->status, 2xx
 * or not), else the transport error as LOGSHARE_EUNAVAILABLE /
 * LOGSHARE_ETLS / LOGSHARE_ENOMEM / LOGSHARE_EIO. 5xx and 429 are
 * retried like transport errors when req->retry. */
int az_request(struct az_conn *c, struct az_req *req);

/* The LOGSHARE_E* for a finished request's status, logging the refusals
 * that need a human (403 and the unexpected). */
int az_status_error(const struct az_req *req);

void az_req_free(struct az_req *req);

/* Appends s percent-encoded (all but RFC 3986's unreserved characters,
 * and '/' when keep_slash) to the ls_buf b. */
struct ls_buf;
int az_append_encoded(struct ls_buf *b, const char *s, int keep_slash);

int az_conn_init(struct az_conn *c);
void az_conn_clear(struct az_conn *c);

#endif
