/*
 * upload_client.c - a libcurl test and benchmark client for logshared's
 * ticket upload. It streams multipart bodies generated on the fly (a
 * 1 GiB file never exists on disk or in memory), hashes each file with
 * SHA-256 while sending it, runs many uploads in parallel (curl multi),
 * and checks every 201 answer's attachments against the local hashes.
 *
 *   upload_client --url URL --token T [--size BYTES] [--files N]
 *                 [--parallel N] [--requests N] [--abort-after BYTES]
 *                 [--chunked] [--no-description] [--idempotency-key K]
 *                 [--expect STATUS] [--summary] [--no-verify]
 *
 * Exit 0 when every request answered --expect (default 201) and, for
 * 201, every attachment's size and sha256 matched; 1 otherwise. With
 * --abort-after the client stops sending after that many body bytes and
 * closes the connection (a disconnect mid-upload); exit 0 then means
 * every transfer was indeed aborted. --summary prints one line of
 * totals and the client's CPU seconds (used by bench/bench-upload.sh);
 * --no-verify skips the check of the answer's JSON (for the nginx peer,
 * which answers no JSON).
 */
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_FILES 64

struct opts {
    const char *url, *token, *idem;
    uint64_t size;
    int files, parallel, requests, chunked, no_desc, summary, no_verify;
    long expect;
    uint64_t abort_after;
};

struct xfer {
    const struct opts *o;
    int index;
    CURL *h;
    struct curl_slist *hdrs;
    char head[512], between[256], tail[128];
    size_t head_len, between_len, tail_len;
    int seg; /* 0 head, then per file: 1+2k data, 2+2k between/tail */
    size_t seg_off;
    uint64_t file_off;
    uint64_t sent;
    uint64_t rng;
    EVP_MD_CTX *sha;
    char hashes[MAX_FILES][65];
    char *resp;
    size_t resp_len;
};

static uint64_t next_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void finish_hash(struct xfer *x, int file)
{
    unsigned char md[32];
    unsigned int n;
    EVP_DigestFinal_ex(x->sha, md, &n);
    for (int i = 0; i < 32; i++)
        sprintf(x->hashes[file] + 2 * i, "%02x", md[i]);
    EVP_DigestInit_ex(x->sha, EVP_sha256(), NULL);
}

static size_t copy_text(struct xfer *x, const char *t, size_t tlen, char *buf, size_t cap)
{
    size_t n = tlen - x->seg_off;
    if (n > cap)
        n = cap;
    memcpy(buf, t + x->seg_off, n);
    x->seg_off += n;
    if (x->seg_off == tlen) {
        x->seg++;
        x->seg_off = 0;
    }
    return n;
}

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *userp)
{
    struct xfer *x = userp;
    size_t cap = size * nmemb;
    const struct opts *o = x->o;
    if (o->abort_after && x->sent >= o->abort_after)
        return CURL_READFUNC_ABORT;
    if (o->abort_after && cap > o->abort_after - x->sent)
        cap = (size_t)(o->abort_after - x->sent);
    size_t n = 0;
    int last = 2 * o->files; /* the tail segment's number */
    if (x->seg == 0) {
        n = copy_text(x, x->head, x->head_len, buf, cap);
    } else if (x->seg <= last) {
        if (x->seg % 2 == 1) { /* file data */
            uint64_t left = o->size - x->file_off;
            size_t want = cap & ~(size_t)7;
            if (want == 0)
                want = cap;
            if (want > left)
                want = (size_t)left;
            size_t i = 0;
            for (; i + 8 <= want; i += 8) {
                uint64_t r = next_rand(&x->rng);
                memcpy(buf + i, &r, 8);
            }
            for (; i < want; i++)
                buf[i] = (char)next_rand(&x->rng);
            EVP_DigestUpdate(x->sha, buf, want);
            x->file_off += want;
            n = want;
            if (x->file_off == o->size) {
                finish_hash(x, x->seg / 2);
                x->file_off = 0;
                x->seg++;
            }
        } else if (x->seg < last) {
            n = copy_text(x, x->between, x->between_len, buf, cap);
        } else {
            n = copy_text(x, x->tail, x->tail_len, buf, cap);
        }
    }
    x->sent += n;
    return n;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
    struct xfer *x = userp;
    size_t n = size * nmemb;
    char *r = realloc(x->resp, x->resp_len + n + 1);
    if (!r)
        return 0;
    x->resp = r;
    memcpy(x->resp + x->resp_len, data, n);
    x->resp_len += n;
    x->resp[x->resp_len] = '\0';
    return n;
}

static void setup(struct xfer *x, const struct opts *o, int index)
{
    memset(x, 0, sizeof *x);
    x->o = o;
    x->index = index;
    x->rng = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(index + 1) * 0x100000001B3ULL;
    x->sha = EVP_MD_CTX_new();
    EVP_DigestInit_ex(x->sha, EVP_sha256(), NULL);
    const char *b = "----logshare-test-boundary-7MA4YWxkTrZu0gW";
    if (o->no_desc)
        x->head_len = (size_t)snprintf(
            x->head, sizeof x->head,
            "--%s\r\nContent-Disposition: form-data; name=\"call_id\"\r\n\r\n"
            "call-%d\r\n--%s\r\nContent-Disposition: form-data; name=\"file\"; "
            "filename=\"log-0.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n",
            b, index, b);
    else
        x->head_len = (size_t)snprintf(
            x->head, sizeof x->head,
            "--%s\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\n"
            "upload %d\r\n--%s\r\nContent-Disposition: form-data; name=\"call_id\"\r\n\r\n"
            "call-%d\r\n--%s\r\nContent-Disposition: form-data; name=\"file\"; "
            "filename=\"log-0.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n",
            b, index, b, index, b);
    x->between_len = (size_t)snprintf(x->between, sizeof x->between,
                                      "\r\n--%s\r\nContent-Disposition: form-data; name=\"file\"; "
                                      "filename=\"log-n.bin\"\r\n\r\n",
                                      b);
    x->tail_len = (size_t)snprintf(x->tail, sizeof x->tail, "\r\n--%s--\r\n", b);
    if (o->files == 0) { /* fields only: the head without its file part header */
        x->head_len =
            (size_t)snprintf(x->head, sizeof x->head,
                             "--%s\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\n"
                             "small ticket %d\r\n--%s\r\nContent-Disposition: form-data; "
                             "name=\"call_id\"\r\n\r\ncall-%d\r\n--%s--\r\n",
                             b, index, b, index, b);
    }
    uint64_t total =
        x->head_len + (o->files ? (uint64_t)o->files * o->size +
                                      (uint64_t)(o->files - 1) * x->between_len + x->tail_len
                                : 0);
    x->h = curl_easy_init();
    char hdr[1024];
    snprintf(hdr, sizeof hdr, "Content-Type: multipart/form-data; boundary=%s", b);
    x->hdrs = curl_slist_append(NULL, hdr);
    if (o->token) {
        snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", o->token);
        x->hdrs = curl_slist_append(x->hdrs, hdr);
    }
    if (o->idem) {
        snprintf(hdr, sizeof hdr, "Idempotency-Key: %s", o->idem);
        x->hdrs = curl_slist_append(x->hdrs, hdr);
    }
    x->hdrs = curl_slist_append(x->hdrs, "Expect:");
    if (o->chunked)
        x->hdrs = curl_slist_append(x->hdrs, "Transfer-Encoding: chunked");
    curl_easy_setopt(x->h, CURLOPT_URL, o->url);
    curl_easy_setopt(x->h, CURLOPT_POST, 1L);
    curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(x->h, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(x->h, CURLOPT_READDATA, x);
    curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(x->h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->h, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
    if (!o->chunked)
        curl_easy_setopt(x->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)total);
}

static int check(struct xfer *x, CURLcode res)
{
    const struct opts *o = x->o;
    long status = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
    if (o->abort_after) {
        if (res == CURLE_ABORTED_BY_CALLBACK)
            return 0;
        fprintf(stderr, "request %d: expected an aborted transfer, got %s / %ld\n", x->index,
                curl_easy_strerror(res), status);
        return 1;
    }
    if (res != CURLE_OK) {
        fprintf(stderr, "request %d: %s\n", x->index, curl_easy_strerror(res));
        return 1;
    }
    if (status != o->expect) {
        fprintf(stderr, "request %d: status %ld, expected %ld: %.300s\n", x->index, status,
                o->expect, x->resp ? x->resp : "");
        return 1;
    }
    if (status != 201)
        return 0;
    if (o->no_verify) { /* print the ticket id when the answer has one */
        json_t *d = json_loads(x->resp ? x->resp : "", 0, NULL);
        const char *id = json_string_value(json_object_get(d, "id"));
        if (id && !o->summary)
            printf("%s\n", id);
        json_decref(d);
        return 0;
    }
    json_t *doc = json_loads(x->resp ? x->resp : "", 0, NULL);
    json_t *atts = json_object_get(doc, "attachments");
    int bad = (int)json_array_size(atts) != o->files;
    for (int i = 0; !bad && i < o->files; i++) {
        json_t *a = json_array_get(atts, (size_t)i);
        const char *sha = json_string_value(json_object_get(a, "sha256"));
        json_int_t size = json_integer_value(json_object_get(a, "size"));
        bad = !sha || strcmp(sha, x->hashes[i]) != 0 || (uint64_t)size != o->size;
    }
    if (bad)
        fprintf(stderr, "request %d: attachments do not match what was sent: %.300s\n", x->index,
                x->resp);
    else if (!o->summary)
        printf("%s\n", json_string_value(json_object_get(doc, "id")));
    json_decref(doc);
    return bad;
}

static void teardown(struct xfer *x)
{
    curl_easy_cleanup(x->h);
    curl_slist_free_all(x->hdrs);
    EVP_MD_CTX_free(x->sha);
    free(x->resp);
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    o.size = 1024;
    o.files = 1;
    o.parallel = 1;
    o.requests = 1;
    o.expect = 201;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--url") && v)
            o.url = argv[++i];
        else if (!strcmp(a, "--token") && v)
            o.token = argv[++i];
        else if (!strcmp(a, "--idempotency-key") && v)
            o.idem = argv[++i];
        else if (!strcmp(a, "--size") && v)
            o.size = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--files") && v)
            o.files = atoi(argv[++i]);
        else if (!strcmp(a, "--parallel") && v)
            o.parallel = atoi(argv[++i]);
        else if (!strcmp(a, "--requests") && v)
            o.requests = atoi(argv[++i]);
        else if (!strcmp(a, "--abort-after") && v)
            o.abort_after = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--expect") && v)
            o.expect = atol(argv[++i]);
        else if (!strcmp(a, "--chunked"))
            o.chunked = 1;
        else if (!strcmp(a, "--no-description"))
            o.no_desc = 1;
        else if (!strcmp(a, "--summary"))
            o.summary = 1;
        else if (!strcmp(a, "--no-verify"))
            o.no_verify = 1;
        else {
            fprintf(stderr, "upload_client: bad argument '%s'\n", a);
            return 2;
        }
    }
    if (!o.url || o.files < 0 || o.files > MAX_FILES || o.parallel < 1 || o.requests < 1) {
        fprintf(stderr, "upload_client: need --url; 0..64 files\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    struct xfer *xs = calloc((size_t)o.requests, sizeof *xs);
    int started = 0, done = 0, failures = 0, running = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (done < o.requests) {
        while (started < o.requests && started - done < o.parallel) {
            setup(&xs[started], &o, started);
            curl_multi_add_handle(m, xs[started].h);
            started++;
        }
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct xfer *x;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            failures += check(x, msg->data.result);
            curl_multi_remove_handle(m, x->h);
            teardown(x);
            done++;
        }
        if (running && done < o.requests)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double bytes = (double)o.size * o.files * o.requests;
    if (o.summary) {
        /* The client's own CPU: on a benchmark machine it shares the cores
         * with the server it drives. */
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                     (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
        printf("requests=%d failures=%d seconds=%.3f MBps=%.1f rps=%.1f cpu_s=%.3f\n", o.requests,
               failures, secs, bytes / secs / 1e6, o.requests / secs, cpu);
    }
    free(xs);
    curl_multi_cleanup(m);
    curl_global_cleanup();
    return failures ? 1 : 0;
}
