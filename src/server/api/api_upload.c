/*
 * api_upload.c - POST /api/v1/tickets (and its alias) and POST
 * /api/v1/tickets/{id}/attachments: a multipart body streamed through
 * our parser (http/multipart.h) into the blob store.
 *
 * Each file part goes straight to a blob writer while OpenSSL's SHA-256
 * (EVP, which uses the CPU's SHA extensions) hashes the same bytes; no
 * file is ever held in memory. Writers stay open (hidden temporary files)
 * until the whole body has parsed and the fields checked out; then every
 * blob is committed (durable), and only then the ticket (or the new
 * attachments), in one transaction (PITFALLS, Durability). Committing
 * late keeps the window in which a crash can leave a committed blob
 * without its ticket down to those few fsyncs; a crash mid-body leaves
 * only temporary files, which the blob store sweeps. On any failure before that, the
 * blobs written so far are removed and the open one aborted; cleanup
 * does it also when the client disconnects mid-upload (MHD's completed
 * callback), so a failed request leaves nothing behind.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "http/metrics.h"
#include "http/multipart.h"
#include "log_requests_api.h"
#include "logshare.h"
#include "ls_buf.h"
#include "ls_hex.h"
#include "ls_time.h"

#define MAX_IDEMPOTENCY_KEY 255

enum field_id {
    F_DESCRIPTION,
    F_CALL_ID,
    F_CUSTOMER_NAME,
    F_CUSTOMER_EMAIL,
    F_APP_VERSION,
    F_PLATFORM,
    F_SOURCE,
    F_LOG_REQUEST_ID,
    F_COUNT
};
static const char *const field_names[F_COUNT] = {"description",    "call_id",       "customer_name",
                                                 "customer_email", "app_version",   "platform",
                                                 "source",         "log_request_id"};

struct upload {
    int add_to_existing; /* POST .../attachments */
    struct auth_identity who;
    char ticket_id[TICKET_ID_MAX];
    char idem_key[MAX_IDEMPOTENCY_KEY + 1];
    multipart_parser *mp;
    /* the part being read */
    int cur_field;   /* enum field_id, -1 for a file, -2 for none */
    int cur_unnamed; /* the current file part came with filename="" */
    ls_buf value;
    struct blob_writer *writer;
    EVP_MD_CTX *sha;
    /* what has been read */
    char *fields[F_COUNT];
    char **call_ids;
    size_t n_call_ids;
    struct ticket_attachment *atts; /* blob_key set once the blob is committed */
    struct blob_writer **writers;   /* per attachment: open until commit_blobs */
    size_t n_atts;
    int committed; /* the database has it: never remove the blobs now */
    /* An Idempotency-Key retry of a request that already made its ticket:
     * the body is read and dropped, then this ticket is the answer. */
    struct ticket *replay;
};

static void upload_free(struct upload *u)
{
    if (!u)
        return;
    multipart_parser_free(u->mp);
    ls_buf_free(&u->value);
    EVP_MD_CTX_free(u->sha);
    for (int i = 0; i < F_COUNT; i++)
        free(u->fields[i]);
    for (size_t i = 0; i < u->n_call_ids; i++)
        free(u->call_ids[i]);
    free(u->call_ids);
    for (size_t i = 0; i < u->n_atts; i++) {
        blob_writer_abort(u->writers[i]);
        ticket_attachment_clear(&u->atts[i]);
    }
    free(u->atts);
    free(u->writers);
    ticket_free(u->replay);
    free(u);
}

/* Removes every blob this upload committed (the request failed). */
static void remove_blobs(struct api_app *app, struct upload *u)
{
    for (size_t i = 0; i < u->n_atts; i++)
        if (u->atts[i].blob_key)
            blob_store_remove(app->blobs, u->atts[i].blob_key);
}

static int content_type_ok(const char *ct)
{
    size_t n = strlen(ct), slash = 0;
    if (n == 0 || n > 127)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)ct[i];
        if (c == '/')
            slash++;
        else if (c <= 32 || c >= 127 || strchr("()<>@,;:\\\"[]?={}", c))
            return 0;
    }
    return slash == 1 && ct[0] != '/' && ct[n - 1] != '/';
}

/* A blob store failure is the server's, never the client's: 503, which
 * clients retry. (A read-only or unwritable store gave EPERM, a 403, on
 * which the client library gives a report up for good.) */
static int blob_failure(http_request *req, int rc)
{
    snprintf(req->fail_message, sizeof req->fail_message, "blob store: %s", logshare_strerror(rc));
    return LOGSHARE_EUNAVAILABLE;
}

static int on_part_begin(void *ctx, const multipart_part *part)
{
    http_request *req = ctx;
    struct api_app *app = req->app;
    struct upload *u = req->state;
    ls_buf_reset(&u->value);
    if (!part->filename) {
        if (u->add_to_existing) {
            snprintf(req->fail_message, sizeof req->fail_message,
                     "only files may be added to a ticket (part '%.60s' has no filename)",
                     part->name);
            return LOGSHARE_EINVAL;
        }
        /* max_fields counts text parts alone (the parser's part cap is
         * fields + files together, so 90 call_ids would pass it): the
         * fields read so far are the call ids and the single fields set */
        size_t n_fields = u->n_call_ids;
        for (int i = 0; i < F_COUNT; i++)
            n_fields += u->fields[i] != NULL;
        if (n_fields >= (size_t)app->cfg->max_fields) {
            snprintf(req->fail_message, sizeof req->fail_message,
                     "more than %lld form fields (max_fields)", (long long)app->cfg->max_fields);
            return LOGSHARE_ETOOLARGE;
        }
        for (int i = 0; i < F_COUNT; i++)
            if (strcmp(part->name, field_names[i]) == 0) {
                if (i != F_CALL_ID && u->fields[i]) {
                    snprintf(req->fail_message, sizeof req->fail_message, "field '%s' given twice",
                             field_names[i]);
                    return LOGSHARE_EINVAL;
                }
                u->cur_field = i;
                return 0;
            }
        snprintf(req->fail_message, sizeof req->fail_message, "unknown field '%.60s'", part->name);
        return LOGSHARE_EINVAL;
    }
    /* a file */
    struct ticket_attachment *na = realloc(u->atts, (u->n_atts + 1) * sizeof *na);
    if (!na)
        return LOGSHARE_ENOMEM;
    u->atts = na;
    struct blob_writer **nw = realloc(u->writers, (u->n_atts + 1) * sizeof *nw);
    if (!nw)
        return LOGSHARE_ENOMEM;
    u->writers = nw;
    u->writers[u->n_atts] = NULL;
    struct ticket_attachment *a = &u->atts[u->n_atts];
    memset(a, 0, sizeof *a);
    u->n_atts++;
    char aid[TICKET_ID_MAX];
    int rc = ticket_id_new(ATTACHMENT_ID_PREFIX, aid);
    if (rc)
        return rc;
    a->id = strdup(aid);
    /* A browser form's file input left empty sends filename="" and no
     * bytes: that part is dropped at its end (on_part_end). An empty name
     * with content is kept under a name that says so. */
    u->cur_unnamed = part->filename[0] == '\0';
    a->name = u->cur_unnamed ? strdup("unnamed") : api_filename_preserve(part->filename);
    const char *ct = part->content_type;
    a->content_type = strdup(ct && content_type_ok(ct) ? ct : "application/octet-stream");
    if (!a->id || !a->name || !a->content_type)
        return LOGSHARE_ENOMEM;
    char key[BLOB_KEY_MAX];
    rc = blob_key_for_attachment(u->ticket_id, aid, key, sizeof key);
    if (rc)
        return rc;
    rc = blob_store_put_open(app->blobs, key, &u->writer);
    if (rc) {
        u->writer = NULL;
        return blob_failure(req, rc);
    }
    if (!EVP_DigestInit_ex(u->sha, EVP_sha256(), NULL))
        return LOGSHARE_EINTERNAL;
    u->cur_field = -1;
    return 0;
}

static int on_part_data(void *ctx, const char *data, size_t len)
{
    http_request *req = ctx;
    struct upload *u = req->state;
    if (u->cur_field >= 0)
        return ls_buf_append(&u->value, data, len);
    if (!EVP_DigestUpdate(u->sha, data, len))
        return LOGSHARE_EINTERNAL;
    int rc = blob_writer_write(u->writer, data, len);
    return rc ? blob_failure(req, rc) : 0;
}

static int on_part_end(void *ctx)
{
    http_request *req = ctx;
    struct upload *u = req->state;
    if (u->cur_field >= 0) {
        int f = u->cur_field;
        u->cur_field = -2;
        const char *v = u->value.data ? u->value.data : "";
        if (!api_utf8_valid(v, u->value.len)) {
            snprintf(req->fail_message, sizeof req->fail_message,
                     "field '%s' is not valid UTF-8 text", field_names[f]);
            return LOGSHARE_EINVAL;
        }
        char *copy = strdup(v);
        if (!copy)
            return LOGSHARE_ENOMEM;
        if (f == F_CALL_ID) {
            char **nc = realloc(u->call_ids, (u->n_call_ids + 1) * sizeof *nc);
            if (!nc) {
                free(copy);
                return LOGSHARE_ENOMEM;
            }
            u->call_ids = nc;
            u->call_ids[u->n_call_ids++] = copy;
        } else {
            u->fields[f] = copy;
        }
        return 0;
    }
    struct ticket_attachment *a = &u->atts[u->n_atts - 1];
    if (u->cur_unnamed && u->writer->bytes_written == 0) { /* an empty file input */
        blob_writer_abort(u->writer);
        u->writer = NULL;
        ticket_attachment_clear(a);
        u->n_atts--;
        u->cur_field = -2;
        return 0;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_DigestFinal_ex(u->sha, md, &mdlen))
        return LOGSHARE_EINTERNAL;
    ls_hex_encode(md, mdlen, a->sha256);
    a->size = u->writer->bytes_written;
    blob_writer_end(u->writer);            /* its tail starts for the disk now */
    u->writers[u->n_atts - 1] = u->writer; /* committed in commit_blobs */
    u->writer = NULL;
    u->cur_field = -2;
    return 0;
}

/* Makes every blob durable. On failure the rest are aborted and the
 * committed ones removed by cleanup. */
static int commit_blobs(http_request *req, struct upload *u)
{
    for (size_t i = 0; i < u->n_atts; i++) {
        struct ticket_attachment *a = &u->atts[i];
        char key[BLOB_KEY_MAX];
        int rc = blob_key_for_attachment(u->ticket_id, a->id, key, sizeof key);
        if (!rc && !(a->blob_key = strdup(key)))
            rc = LOGSHARE_ENOMEM;
        struct blob_writer *w = u->writers[i];
        u->writers[i] = NULL;
        if (rc) {
            blob_writer_abort(w);
            return rc;
        }
        rc = blob_writer_commit(w);
        if (rc) {
            free(a->blob_key); /* nothing was left under it */
            a->blob_key = NULL;
            return blob_failure(req, rc);
        }
    }
    return 0;
}

static const multipart_callbacks upload_callbacks = {on_part_begin, on_part_data, on_part_end};

/* Shared start of both upload routes: content type, parser, state. */
static int upload_begin(http_request *req, struct upload *u)
{
    struct api_app *app = req->app;
    const server_config *cfg = app->cfg;
    char boundary[80];
    int rc = multipart_boundary_from_content_type(http_header(req, MHD_HTTP_HEADER_CONTENT_TYPE),
                                                  boundary, sizeof boundary);
    if (rc == LOGSHARE_EUNSUPPORTED)
        return http_respond_error(req, rc, 415, "expected Content-Type multipart/form-data");
    if (rc)
        return http_respond_error(req, LOGSHARE_EINVAL, 400,
                                  "multipart/form-data without a valid boundary");
    multipart_limits lim = {
        .max_parts = (size_t)(cfg->max_fields + cfg->max_files),
        .max_files = (size_t)cfg->max_files,
        .max_header_bytes = (size_t)cfg->max_part_header_bytes,
        .max_field_bytes = (size_t)cfg->max_field_bytes,
        .max_file_bytes = (uint64_t)cfg->max_file_bytes,
        .max_total_bytes = (uint64_t)cfg->max_body_bytes,
    };
    u->sha = EVP_MD_CTX_new();
    u->mp = multipart_parser_new(boundary, &lim, &upload_callbacks, req);
    if (!u->sha || !u->mp)
        return LOGSHARE_ENOMEM;
    u->cur_field = -2;
    return 0;
}

/* The answer to an Idempotency-Key retry: the first request's ticket.
 * If that ticket answers a log request, the request is marked fulfilled
 * again (a no-op when it is): the first attempt may have committed its
 * ticket without hearing so, and never got that far. */
static int answer_replay(http_request *req, struct upload *u)
{
    if (u->replay->log_request_id)
        api_log_requests_ticket_stored(req, u->who.user_id, u->replay->log_request_id,
                                       u->replay->id);
    return http_respond_json(req, 201, api_ticket_json(req, u->replay));
}

int api_tickets_create_begin(http_request *req)
{
    struct api_app *app = req->app;
    struct upload *u = calloc(1, sizeof *u);
    if (!u)
        return LOGSHARE_ENOMEM;
    req->state = u;
    if (api_authenticate(req, &u->who))
        return 0;
    const char *key = http_header(req, "Idempotency-Key");
    if (key) {
        size_t n = strlen(key);
        int ok = n >= 1 && n <= MAX_IDEMPOTENCY_KEY;
        for (size_t i = 0; ok && i < n; i++)
            ok = key[i] > 32 && key[i] < 127;
        if (!ok)
            return http_respond_error(req, LOGSHARE_EINVAL, 400,
                                      "Idempotency-Key must be 1 to 255 visible ASCII characters");
        memcpy(u->idem_key, key, n + 1);
        /* A retry of a request that already made its ticket is answered
         * with that ticket. A client waiting on Expect: 100-continue gets
         * it at once and never sends its body. Any other is answered
         * after its body, which is dropped as it comes: answered from the
         * headers, the connection would close with the body unread, and
         * the kernel's reset can throw the answer away before the client
         * reads it. */
        int rc = ticket_store_find_idempotent(app->tickets, u->who.user_id, key, &u->replay);
        if (rc == 0) {
            const char *expect = http_header(req, "Expect");
            if (expect && strcasecmp(expect, "100-continue") == 0)
                return answer_replay(req, u);
            return 0;
        }
        if (rc != LOGSHARE_ENOENT)
            return http_respond_error(req, LOGSHARE_EUNAVAILABLE, 503, "database: %s",
                                      logshare_strerror(rc));
    }
    int rc = ticket_id_new(TICKET_ID_PREFIX, u->ticket_id);
    if (rc)
        return rc;
    return upload_begin(req, u);
}

int api_tickets_add_attachments_begin(http_request *req)
{
    struct api_app *app = req->app;
    struct upload *u = calloc(1, sizeof *u);
    if (!u)
        return LOGSHARE_ENOMEM;
    req->state = u;
    u->add_to_existing = 1;
    if (api_authenticate(req, &u->who))
        return 0;
    const char *id = req->params[0];
    struct ticket *t = NULL;
    int rc = ticket_id_valid(id) ? ticket_store_get(app->tickets, id, &t) : LOGSHARE_ENOENT;
    if (rc == LOGSHARE_ENOENT)
        return http_respond_error(req, rc, 404, "no ticket %.60s", id);
    if (rc)
        return http_respond_error(req, LOGSHARE_EUNAVAILABLE, 503, "database: %s",
                                  logshare_strerror(rc));
    int allowed = api_is_support(&u->who) || strcmp(t->user_id, u->who.user_id) == 0;
    ticket_free(t);
    if (!allowed)
        return http_respond_error(req, LOGSHARE_EPERM, 403, "not your ticket");
    snprintf(u->ticket_id, sizeof u->ticket_id, "%.*s", (int)sizeof u->ticket_id - 1, id);
    return upload_begin(req, u);
}

int api_upload_body(http_request *req, const char *data, size_t len)
{
    struct upload *u = req->state;
    if (u->replay)
        return 0;
    int rc = multipart_parser_feed(u->mp, data, len);
    if (rc && !req->fail_message[0])
        snprintf(req->fail_message, sizeof req->fail_message, "%s", multipart_parser_error(u->mp));
    return rc;
}

static const char *valid_sources[] = {"report", "survey", "push", "share"};

static int check_fields(http_request *req, struct upload *u)
{
    const char *d = u->fields[F_DESCRIPTION];
    if (!d || !*d)
        return http_respond_error(req, LOGSHARE_EINVAL, 400, "field 'description' is required");
    const char *src = u->fields[F_SOURCE];
    if (src) {
        int ok = 0;
        for (size_t i = 0; i < sizeof valid_sources / sizeof valid_sources[0]; i++)
            ok |= strcmp(src, valid_sources[i]) == 0;
        if (!ok)
            return http_respond_error(req, LOGSHARE_EINVAL, 400,
                                      "field 'source' must be report, survey, push or share");
    }
    for (size_t i = 0; i < u->n_call_ids; i++)
        if (!*u->call_ids[i] || strlen(u->call_ids[i]) > 256)
            return http_respond_error(req, LOGSHARE_EINVAL, 400,
                                      "a call_id must be 1 to 256 bytes");
    return 0;
}

/* The database lost the COMMIT's answer (PostgreSQL's connection, or
 * SQLite's disk after the WAL write): the rows may exist, so the blobs
 * they would name stay (if the rows do not, the orphan sweep removes
 * them) and the client learns to retry with its key. */
static int upload_outcome_unknown(http_request *req, struct upload *u)
{
    u->committed = 1;
    if (u->add_to_existing)
        return http_respond_error(req, LOGSHARE_EUNAVAILABLE, 503,
                                  "database: the commit's outcome is unknown; the attachments"
                                  " may have been added: check the ticket before retrying");
    return http_respond_error(req, LOGSHARE_EUNAVAILABLE, 503,
                              "database: the commit's outcome is unknown; the ticket may have"
                              " been created: retry with the same Idempotency-Key%s",
                              u->idem_key[0] ? "" : " (this request had none)");
}

/* The blocking part of an upload: blobs made durable, then the
 * transaction. Runs on a worker thread (http_defer). */
static int upload_finish(http_request *req)
{
    struct api_app *app = req->app;
    struct upload *u = req->state;
    int rc = multipart_parser_finish(u->mp);
    if (rc)
        return http_respond_error(req, rc, 0, "%s", multipart_parser_error(u->mp));
    struct ticket *out = NULL;
    int replayed = 0;
    if (u->add_to_existing && u->n_atts == 0)
        return http_respond_error(req, LOGSHARE_EINVAL, 400, "no file in the request");
    if (!u->add_to_existing && (check_fields(req, u) || req->status))
        return 0;
    /* A ticket answering a log request must name one of the user's own;
     * checked before anything is stored. */
    if (!u->add_to_existing && u->fields[F_LOG_REQUEST_ID] &&
        api_log_requests_check_for_ticket(req, u->who.user_id, u->fields[F_LOG_REQUEST_ID]))
        return 0;
    if ((rc = commit_blobs(req, u)))
        return http_respond_error(req, rc, 0, "%s",
                                  req->fail_message[0] ? req->fail_message : logshare_strerror(rc));
    if (u->add_to_existing) {
        rc = ticket_store_add_attachments(app->tickets, u->ticket_id, u->atts, u->n_atts, &out);
    } else {
        struct ticket t = {0};
        t.id = u->ticket_id;
        t.user_id = u->who.user_id;
        t.description = u->fields[F_DESCRIPTION];
        t.call_ids = u->call_ids;
        t.n_call_ids = u->n_call_ids;
        t.customer_name = u->fields[F_CUSTOMER_NAME];
        t.customer_email = u->fields[F_CUSTOMER_EMAIL];
        t.app_version = u->fields[F_APP_VERSION];
        t.platform = u->fields[F_PLATFORM];
        t.source = u->fields[F_SOURCE];
        t.log_request_id = u->fields[F_LOG_REQUEST_ID];
        t.attachments = u->atts;
        t.n_attachments = u->n_atts;
        rc = ticket_store_create(app->tickets, &t, u->idem_key[0] ? u->idem_key : NULL, &out,
                                 &replayed);
    }
    if (rc == TICKET_STORE_EUNKNOWN)
        return upload_outcome_unknown(req, u);
    if (rc) {
        ticket_free(out);
        if (rc == LOGSHARE_ENOENT)
            return http_respond_error(req, rc, 404, "the ticket is gone");
        if (rc == LOGSHARE_EEXIST)
            return http_respond_error(req, rc, 409, "an id was already taken; retry");
        if (rc == LOGSHARE_EINVAL)
            return http_respond_error(req, rc, 400, "the ticket store refused a field");
        return http_respond_error(req, LOGSHARE_EUNAVAILABLE, 503, "database: %s",
                                  logshare_strerror(rc));
    }
    if (!u->add_to_existing && out->log_request_id)
        api_log_requests_ticket_stored(req, u->who.user_id, out->log_request_id, out->id);
    if (replayed) {
        remove_blobs(app, u); /* the first request's ticket stands; ours never existed */
        u->committed = 1;     /* nothing left to undo */
    } else {
        u->committed = 1;
        if (!u->add_to_existing)
            http_metrics_ticket_created(http_server_metrics(req->server));
    }
    http_metrics_upload_duration(http_server_metrics(req->server),
                                 (double)(ls_time_mono_ns() - req->start_ns) / 1e9);
    json_t *doc = api_ticket_json(req, out);
    ticket_free(out);
    return http_respond_json(req, 201, doc);
}

int api_upload_end(http_request *req)
{
    struct upload *u = req->state;
    if (u->replay)
        return answer_replay(req, u);
    /* The commit waits for the disk (an fsync per blob, one for the
     * ticket store's group commit): off the HTTP threads it goes. Many
     * commits waiting at once is also what lets the store put many
     * tickets in one transaction. */
    return http_defer(req, upload_finish);
}

void api_upload_cleanup(http_request *req, int ok)
{
    (void)ok;
    struct api_app *app = req->app;
    struct upload *u = req->state;
    if (!u)
        return;
    if (u->writer)
        blob_writer_abort(u->writer);
    u->writer = NULL;
    if (!u->committed)
        remove_blobs(app, u);
    upload_free(u);
    req->state = NULL;
}
