/*
 * surveys_api.c - POST /api/v1/surveys and GET /api/v1/surveys/stats
 * (see surveys_api.h).
 *
 * A multipart survey streams its files straight into the blob store, as
 * a ticket upload does, because "report an issue" attaches the logs. As
 * there, the blobs stay uncommitted (temporary) until the whole body has
 * parsed and the survey checked out; then, on a worker thread, every blob
 * is committed and right after it the ticket, so the window in which a
 * crash leaves a committed blob without its ticket is a few fsyncs (the
 * startup orphan sweep relies on that). Files of a survey without
 * report_issue are never committed. Nothing is half-stored: if the
 * survey is refused, or the request fails or is cut, cleanup aborts or
 * removes every blob written; the ticket (when there is one) is committed
 * before the survey that names it, and a retry with the same
 * Idempotency-Key finds both again instead of storing them twice.
 */
#include "surveys_api.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "http/metrics.h"
#include "http/multipart.h"
#include "logshare.h"
#include "ls_buf.h"
#include "ls_hex.h"
#include "ls_time.h"
#include "push_service.h"
#include "surveys_validate.h"

#define MAX_IDEMPOTENCY_KEY 200

struct survey_upload {
    struct auth_identity who;
    int multipart;
    char idem_key[MAX_IDEMPOTENCY_KEY + 1];
    char ticket_id[TICKET_ID_MAX];
    ls_buf json; /* the survey JSON: the whole body, or the `survey` field */
    int in_survey_field;
    int in_ignored_field;
    int have_survey_field;
    multipart_parser *mp;
    struct blob_writer *writer;
    EVP_MD_CTX *sha;
    struct ticket_attachment *atts;
    struct blob_writer **writers; /* per attachment: open until commit_blobs */
    size_t n_atts;
    size_t n_committed; /* atts[0..n_committed) are durable blobs */
    int committed;      /* a ticket references the blobs: never remove them */
    survey parsed;
    int parsed_ok;
};

static void upload_free(struct survey_upload *u)
{
    if (!u)
        return;
    ls_buf_free(&u->json);
    multipart_parser_free(u->mp);
    EVP_MD_CTX_free(u->sha);
    for (size_t i = 0; i < u->n_atts; i++) {
        blob_writer_abort(u->writers[i]);
        ticket_attachment_clear(&u->atts[i]);
    }
    free(u->atts);
    free(u->writers);
    surveys_clear(&u->parsed);
    free(u);
}

/* Removes the blobs this survey committed (refused, failed, or replayed). */
static void remove_blobs(struct api_app *app, struct survey_upload *u)
{
    for (size_t i = 0; i < u->n_committed; i++)
        if (u->atts[i].blob_key)
            blob_store_remove(app->blobs, u->atts[i].blob_key);
    u->n_committed = 0;
}

/* Drops the files that were written but not committed. */
static void abort_writers(struct survey_upload *u)
{
    for (size_t i = 0; i < u->n_atts; i++) {
        blob_writer_abort(u->writers[i]);
        u->writers[i] = NULL;
    }
}

/* Makes every blob durable, in order; cleanup removes the committed ones
 * if anything after fails. */
static int commit_blobs(http_request *req, struct survey_upload *u)
{
    while (u->n_committed < u->n_atts) {
        struct blob_writer *w = u->writers[u->n_committed];
        u->writers[u->n_committed] = NULL;
        int rc = blob_writer_commit(w);
        if (rc) {
            snprintf(req->fail_message, sizeof req->fail_message, "blob store: %s",
                     logshare_strerror(rc));
            return LOGSHARE_EUNAVAILABLE;
        }
        u->n_committed++;
    }
    return 0;
}

/* Parses u->json into u->parsed; on refusal fills req->fail_message. */
static int parse_survey(http_request *req, struct survey_upload *u)
{
    if (u->parsed_ok)
        return 0;
    char err[160];
    int rc =
        surveys_parse(u->json.data ? u->json.data : "", u->json.len, &u->parsed, err, sizeof err);
    if (rc == LOGSHARE_EINVAL)
        snprintf(req->fail_message, sizeof req->fail_message, "%s", err);
    if (!rc)
        u->parsed_ok = 1;
    return rc;
}

static int on_part_begin(void *ctx, const multipart_part *part)
{
    http_request *req = ctx;
    struct api_app *app = req->app;
    struct survey_upload *u = req->state;
    if (!part->filename) {
        if (strcmp(part->name, "source") == 0) {
            /* The client library's outbox names every request's source;
             * on this endpoint it can only be "survey": read and drop. */
            u->in_ignored_field = 1;
            return 0;
        }
        if (strcmp(part->name, "survey") != 0 || u->have_survey_field) {
            /* name the field sent: one after 'survey' is not 'survey' again */
            if (strcmp(part->name, "survey") == 0)
                snprintf(req->fail_message, sizeof req->fail_message, "field 'survey' given twice");
            else
                snprintf(req->fail_message, sizeof req->fail_message,
                         "unknown field '%.60s' (a survey form has one 'survey' field and files)",
                         part->name);
            return LOGSHARE_EINVAL;
        }
        u->in_survey_field = 1;
        u->have_survey_field = 1;
        return 0;
    }
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
    a->name = api_filename_preserve(part->filename);
    a->content_type = strdup("application/octet-stream");
    if (!a->id || !a->name || !a->content_type)
        return LOGSHARE_ENOMEM;
    char key[BLOB_KEY_MAX];
    if ((rc = blob_key_for_attachment(u->ticket_id, aid, key, sizeof key)))
        return rc;
    if ((rc = blob_store_put_open(app->blobs, key, &u->writer))) {
        u->writer = NULL;
        snprintf(req->fail_message, sizeof req->fail_message, "blob store: %s",
                 logshare_strerror(rc));
        return LOGSHARE_EUNAVAILABLE;
    }
    a->blob_key = strdup(key);
    if (!a->blob_key || !EVP_DigestInit_ex(u->sha, EVP_sha256(), NULL))
        return LOGSHARE_ENOMEM;
    return 0;
}

static int on_part_data(void *ctx, const char *data, size_t len)
{
    http_request *req = ctx;
    struct survey_upload *u = req->state;
    if (u->in_ignored_field)
        return 0;
    if (u->in_survey_field)
        return ls_buf_append(&u->json, data, len);
    if (!EVP_DigestUpdate(u->sha, data, len))
        return LOGSHARE_EINTERNAL;
    int rc = blob_writer_write(u->writer, data, len);
    if (rc) {
        snprintf(req->fail_message, sizeof req->fail_message, "blob store: %s",
                 logshare_strerror(rc));
        return LOGSHARE_EUNAVAILABLE;
    }
    return 0;
}

static int on_part_end(void *ctx)
{
    http_request *req = ctx;
    struct survey_upload *u = req->state;
    if (u->in_ignored_field) {
        u->in_ignored_field = 0;
        return 0;
    }
    if (u->in_survey_field) {
        u->in_survey_field = 0;
        /* Refuse a bad survey before its files are uploaded. */
        return parse_survey(req, u);
    }
    struct ticket_attachment *a = &u->atts[u->n_atts - 1];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_DigestFinal_ex(u->sha, md, &mdlen))
        return LOGSHARE_EINTERNAL;
    ls_hex_encode(md, mdlen, a->sha256);
    a->size = u->writer->bytes_written;
    blob_writer_end(u->writer);            /* its tail starts for the disk now */
    u->writers[u->n_atts - 1] = u->writer; /* committed in commit_blobs */
    u->writer = NULL;
    return 0;
}

static const multipart_callbacks callbacks = {on_part_begin, on_part_data, on_part_end};

int api_surveys_create_begin(http_request *req)
{
    struct api_app *app = req->app;
    const server_config *cfg = app->cfg;
    struct survey_upload *u = calloc(1, sizeof *u);
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
                                      "Idempotency-Key must be 1 to %d visible ASCII characters",
                                      MAX_IDEMPOTENCY_KEY);
        memcpy(u->idem_key, key, n + 1);
    }
    const char *ct = http_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (api_media_type_is(ct, "application/json")) {
        if (req->content_length != UINT64_MAX &&
            req->content_length > (uint64_t)cfg->max_json_bytes)
            return http_respond_error(req, LOGSHARE_ETOOLARGE, 413,
                                      "a JSON survey is at most %lld bytes",
                                      (long long)cfg->max_json_bytes);
        return 0;
    }
    char boundary[80];
    int rc = multipart_boundary_from_content_type(ct, boundary, sizeof boundary);
    if (rc == LOGSHARE_EUNSUPPORTED || !ct)
        return http_respond_error(req, LOGSHARE_EUNSUPPORTED, 415,
                                  "expected application/json or multipart/form-data");
    if (rc)
        return http_respond_error(req, LOGSHARE_EINVAL, 400,
                                  "multipart/form-data without a valid boundary");
    multipart_limits lim = {
        .max_parts = (size_t)cfg->max_files + 2,
        .max_files = (size_t)cfg->max_files,
        .max_header_bytes = (size_t)cfg->max_part_header_bytes,
        .max_field_bytes = (size_t)cfg->max_json_bytes,
        .max_file_bytes = (uint64_t)cfg->max_file_bytes,
        .max_total_bytes = (uint64_t)cfg->max_body_bytes,
    };
    u->multipart = 1;
    u->sha = EVP_MD_CTX_new();
    u->mp = multipart_parser_new(boundary, &lim, &callbacks, req);
    if (!u->sha || !u->mp)
        return LOGSHARE_ENOMEM;
    return ticket_id_new(TICKET_ID_PREFIX, u->ticket_id);
}

int api_surveys_create_body(http_request *req, const char *data, size_t len)
{
    struct api_app *app = req->app;
    struct survey_upload *u = req->state;
    if (!u->multipart) {
        if (u->json.len + len > (size_t)app->cfg->max_json_bytes) {
            snprintf(req->fail_message, sizeof req->fail_message,
                     "a JSON survey is at most %lld bytes", (long long)app->cfg->max_json_bytes);
            return LOGSHARE_ETOOLARGE;
        }
        return ls_buf_append(&u->json, data, len);
    }
    int rc = multipart_parser_feed(u->mp, data, len);
    if (rc && !req->fail_message[0])
        snprintf(req->fail_message, sizeof req->fail_message, "%s", multipart_parser_error(u->mp));
    return rc;
}

/* A replay describes the survey stored the first time, whatever the
 * retry's body says: the answer must never claim a call id or a report
 * that was not stored. */
static json_t *survey_json(const struct survey_record *rec, const survey *s)
{
    char when[LS_TIME_RFC3339_LEN];
    json_t *o = json_object();
    int replayed = rec->replayed && rec->call_id;
    json_object_set_new(o, "id", json_string(rec->id));
    json_object_set_new(o, "call_id", json_string(replayed ? rec->call_id : s->call_id));
    json_object_set_new(o, "created_at",
                        json_string(ls_time_format_rfc3339(rec->created_at, 0, when)));
    json_object_set_new(o, "report_issue",
                        json_boolean(replayed ? rec->report_issue : s->report_issue));
    json_object_set_new(o, "ticket_id", rec->ticket_id ? json_string(rec->ticket_id) : json_null());
    return o;
}

/* The ticket's description: what the user said, then a summary of the
 * scores and issues, so an agent reading the ticket (or its tracker
 * copy) sees the survey without opening it:
 *   End-of-call survey (call c1): <more_info | issue reported>
 *   Scores: overall 1/5 (low), audio 2/5 (low)
 *   Issues: audio: Echo, LowVolume */
static int survey_description(const survey *s, ls_buf *out)
{
    int rc = ls_buf_printf(out, "End-of-call survey (call %s): %s", s->call_id,
                           s->more_info && *s->more_info ? s->more_info : "issue reported");
    const char *sep = "\nScores: ";
    for (int c = 0; !rc && c < SURVEY_CATEGORY_COUNT; c++) {
        const survey_rating *r = &s->ratings[c];
        if (!r->present)
            continue;
        rc =
            ls_buf_printf(out, "%s%s %d", sep, surveys_category_name((survey_category)c), r->score);
        if (!rc && r->lower == SURVEY_DEFAULT_LOWER)
            rc = ls_buf_printf(out, "/%d", r->upper);
        else if (!rc)
            rc = ls_buf_printf(out, " (%d..%d)", r->lower, r->upper);
        if (!rc && surveys_rating_is_low(r))
            rc = ls_buf_printf(out, " (low)");
        sep = ", ";
    }
    sep = "\nIssues: ";
    for (int c = 0; !rc && c < SURVEY_CATEGORY_COUNT; c++) {
        const survey_rating *r = &s->ratings[c];
        if (!r->present || !r->issues)
            continue;
        size_t n;
        const char *const *names = surveys_issue_names((survey_category)c, &n);
        rc = ls_buf_printf(out, "%s%s:", sep, surveys_category_name((survey_category)c));
        const char *isep = " ";
        for (size_t i = 0; !rc && i < n; i++)
            if (r->issues & (1u << i)) {
                rc = ls_buf_printf(out, "%s%s", isep, names[i]);
                isep = ", ";
            }
        sep = "; ";
    }
    return rc;
}

/* Creates the survey's ticket from the blobs (committed by the caller). */
static int create_ticket(http_request *req, struct survey_upload *u, struct ticket **out)
{
    struct api_app *app = req->app;
    const survey *s = &u->parsed;
    ls_buf desc = LS_BUF_INIT;
    if (survey_description(s, &desc)) {
        ls_buf_free(&desc);
        return LOGSHARE_ENOMEM;
    }
    char *call_ids[1] = {s->call_id};
    struct ticket t = {0};
    t.id = u->ticket_id;
    t.user_id = u->who.user_id;
    t.description = desc.data;
    t.call_ids = call_ids;
    t.n_call_ids = 1;
    t.source = "survey";
    t.attachments = u->atts;
    t.n_attachments = u->n_atts;
    char key[MAX_IDEMPOTENCY_KEY + 16];
    snprintf(key, sizeof key, "survey:%s", u->idem_key);
    int replayed = 0;
    int rc = ticket_store_create(app->tickets, &t, u->idem_key[0] ? key : NULL, out, &replayed);
    ls_buf_free(&desc);
    if (rc == TICKET_STORE_EUNKNOWN)
        u->committed = 1; /* the ticket may hold the blobs: the orphan sweep decides */
    if (rc)
        return rc;
    if (replayed)
        remove_blobs(app, u); /* the first attempt's ticket and blobs stand */
    else /* a ticket like any other: /metrics counted only POST /api/v1/tickets */
        http_metrics_ticket_created(http_server_metrics(req->server));
    u->committed = 1;
    return 0;
}

/* The 201 for a stored survey (rec; a replay describes the first one)
 * with its ticket (NULL: the replay's, looked up). Takes rec and ticket. */
static int survey_answer(http_request *req, struct survey_record *rec, struct ticket *ticket,
                         size_t ignored)
{
    struct api_app *app = req->app;
    struct survey_upload *u = req->state;
    json_t *doc = survey_json(rec, &u->parsed);
    if (rec->replayed && rec->ticket_id && !ticket)
        ticket_store_get(app->tickets, rec->ticket_id, &ticket);
    /* The survey is stored: the ticket's JSON finds it (survey_id). */
    json_object_set_new(doc, "ticket", ticket ? api_ticket_json(req, ticket) : json_null());
    if (ignored)
        json_object_set_new(doc, "attachments_ignored", json_integer((json_int_t)ignored));
    ticket_free(ticket);
    survey_record_clear(rec);
    return http_respond_json(req, 201, doc);
}

/* Everything after the body: check, commit blobs and ticket, store the
 * survey. Runs on a worker thread (http_defer): it waits for the disk. */
static int survey_finish(http_request *req)
{
    struct api_app *app = req->app;
    struct survey_upload *u = req->state;
    if (u->multipart) {
        int rc = multipart_parser_finish(u->mp);
        if (rc)
            return http_respond_error(req, rc, 0, "%s", multipart_parser_error(u->mp));
        if (!u->have_survey_field)
            return http_respond_error(req, LOGSHARE_EINVAL, 400,
                                      "the form needs a 'survey' field with the survey JSON");
    }
    int rc = parse_survey(req, u);
    if (rc == LOGSHARE_EINVAL)
        return http_respond_error(req, rc, 400, "%s", req->fail_message);
    if (rc)
        return http_respond_error(req, rc, 500, "cannot read the survey");
    struct push_db *db = push_service_db(app->push);
    struct ticket *ticket = NULL;
    size_t ignored = 0;
    struct survey_record rec;
    /* A retry of a stored survey is answered with the first one before
     * anything of its own is stored: a retry whose body asks for a
     * report the first did not would otherwise create a ticket that no
     * survey names. (A first attempt cut between its ticket and its
     * survey finds no survey here and its ticket again below.) */
    if (u->idem_key[0]) {
        rc = push_db_survey_find(db, u->who.user_id, u->idem_key, &rec);
        if (rc == 0) {
            abort_writers(u);
            return survey_answer(req, &rec, NULL, 0);
        }
        if (rc != LOGSHARE_ENOENT)
            return http_respond_error(req, LOGSHARE_EUNAVAILABLE, 503, "database: %s",
                                      logshare_strerror(rc));
    }
    if (u->parsed.report_issue && u->n_atts > 0) {
        if ((rc = commit_blobs(req, u)))
            return http_respond_error(req, rc, 503, "%s", req->fail_message);
        if ((rc = create_ticket(req, u, &ticket)) == TICKET_STORE_EUNKNOWN)
            return http_respond_error(req, LOGSHARE_EUNAVAILABLE, 503,
                                      "database: the commit's outcome is unknown; the survey's "
                                      "ticket may have been created: retry with the same "
                                      "Idempotency-Key");
        if (rc)
            return http_respond_error(req, LOGSHARE_EUNAVAILABLE, 503, "database: %s",
                                      logshare_strerror(rc));
    } else {
        ignored = u->n_atts; /* files without report_issue are not kept */
        abort_writers(u);
    }
    rc = push_db_survey_insert(db, u->who.user_id, &u->parsed, ticket ? ticket->id : NULL,
                               u->idem_key[0] ? u->idem_key : NULL, ls_time_now_us(), &rec);
    if (rc) {
        ticket_free(ticket);
        return http_respond_error(req, LOGSHARE_EUNAVAILABLE, 503, "database: %s",
                                  logshare_strerror(rc));
    }
    return survey_answer(req, &rec, ticket, ignored);
}

int api_surveys_create_end(http_request *req)
{
    return http_defer(req, survey_finish);
}

void api_surveys_create_cleanup(http_request *req, int ok)
{
    (void)ok;
    struct api_app *app = req->app;
    struct survey_upload *u = req->state;
    if (!u)
        return;
    if (u->writer)
        blob_writer_abort(u->writer);
    if (!u->committed)
        remove_blobs(app, u);
    upload_free(u);
    req->state = NULL;
}

static int parse_time_param(http_request *req, const char *name, int64_t *out)
{
    const char *v = http_query(req, name);
    *out = 0;
    if (!v)
        return 0;
    if (ls_time_parse_rfc3339(v, out)) {
        http_respond_error(req, LOGSHARE_EINVAL, 400, "%s must be an RFC 3339 time", name);
        return LOGSHARE_EINVAL;
    }
    return 0;
}

/* The JSON text a push_db query made (rc its result; text is freed) as a
 * document, or NULL once the request is answered: 503 when the database
 * failed, 500 when memory ran out. */
static json_t *db_json(http_request *req, int rc, char *text)
{
    json_t *doc = rc ? NULL : json_loads(text, 0, NULL);
    free(text);
    if (rc)
        http_respond_error(req, LOGSHARE_EUNAVAILABLE, 503, "database: %s", logshare_strerror(rc));
    else if (!doc)
        http_respond_error(req, LOGSHARE_ENOMEM, 500, "out of memory");
    return doc;
}

int api_surveys_stats(http_request *req)
{
    struct api_app *app = req->app;
    struct auth_identity who;
    if (api_require_support(req, &who, "reading survey stats"))
        return 0;
    static const char *const params[] = {"since", "until", "bucket", NULL};
    if (api_query_check(req, params))
        return 0;
    int64_t since, until;
    if (parse_time_param(req, "since", &since) || parse_time_param(req, "until", &until))
        return 0;
    /* A reversed range is a mistake (swapped pickers), not a question
     * whose answer is "nothing". */
    if (http_query(req, "since") && http_query(req, "until") && since > until)
        return http_respond_error(req, LOGSHARE_EINVAL, 400, "since is later than until");
    int hourly;
    if (api_query_choice(req, "bucket", "day", "hour", &hourly))
        return 0;
    char *text = NULL;
    int rc = push_db_survey_stats(push_service_db(app->push), since, until, hourly ? 3600 : 86400,
                                  &text);
    json_t *doc = db_json(req, rc, text);
    return doc ? http_respond_json(req, 200, doc) : 0;
}

int api_surveys_list(http_request *req)
{
    struct api_app *app = req->app;
    struct auth_identity who;
    if (api_require_support(req, &who, "reading surveys"))
        return 0;
    static const char *const params[] = {"ticket_id", NULL};
    if (api_query_check(req, params))
        return 0;
    const char *ticket = http_query(req, "ticket_id");
    if (!ticket || !ticket_id_valid(ticket))
        return http_respond_error(req, LOGSHARE_EINVAL, 400,
                                  "ticket_id is required: the ticket a survey created");
    char *text = NULL;
    int rc = push_db_surveys_for_ticket(push_service_db(app->push), ticket, &text);
    json_t *list = db_json(req, rc, text);
    if (!list)
        return 0;
    json_t *doc = json_object();
    json_object_set_new(doc, "surveys", list);
    return http_respond_json(req, 200, doc);
}
