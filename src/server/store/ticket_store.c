/*
 * ticket_store.c - the generic half of ticket_store.h: ids, status
 * names, freeing the plain-data structs, and the wrappers that check
 * arguments once before dispatching to an implementation's ops, so every
 * back end gets the same validation.
 */
#include "ticket_store.h"
#include "ticket_store_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "logshare.h"
#include "ls_hex.h"
#include "ls_time.h"

int ticket_id_new(const char *prefix, char out[TICKET_ID_MAX])
{
    size_t plen = prefix ? strlen(prefix) : 0;
    if (plen == 0 || plen > 8)
        return LOGSHARE_EINVAL;
    for (size_t i = 0; i < plen; i++)
        if (prefix[i] < 'a' || prefix[i] > 'z')
            return LOGSHARE_EINVAL;
    unsigned char rnd[10];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return LOGSHARE_EIO;
    char hex[21];
    ls_hex_encode(rnd, sizeof rnd, hex);
    /* 12 hex digits of milliseconds last until the year 10889. */
    unsigned long long ms = (unsigned long long)(ls_time_now_us() / 1000) & 0xffffffffffffULL;
    snprintf(out, TICKET_ID_MAX, "%s_%012llx%s", prefix, ms, hex);
    return 0;
}

int ticket_id_valid(const char *id)
{
    if (!id)
        return 0;
    size_t i = 0;
    while (id[i] >= 'a' && id[i] <= 'z')
        i++;
    if (i == 0 || i > 8 || id[i] != '_')
        return 0;
    i++;
    size_t digits = 0;
    for (; id[i]; i++, digits++) {
        char c = id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return digits == 32;
}

static const char *const status_names[] = {"open", "in_progress", "closed"};

const char *ticket_status_name(enum ticket_status s)
{
    if ((int)s < 0 || (size_t)s >= sizeof status_names / sizeof status_names[0])
        return "unknown";
    return status_names[s];
}

int ticket_status_parse(const char *name, enum ticket_status *s)
{
    for (size_t i = 0; name && i < sizeof status_names / sizeof status_names[0]; i++) {
        if (strcmp(name, status_names[i]) == 0) {
            *s = (enum ticket_status)i;
            return 0;
        }
    }
    return LOGSHARE_EINVAL;
}

void ticket_attachment_clear(struct ticket_attachment *a)
{
    if (!a)
        return;
    free(a->id);
    free(a->ticket_id);
    free(a->name);
    free(a->content_type);
    free(a->blob_key);
    memset(a, 0, sizeof *a);
}

void ticket_attachment_free(struct ticket_attachment *a)
{
    ticket_attachment_clear(a);
    free(a);
}

void ticket_clear(struct ticket *t)
{
    if (!t)
        return;
    free(t->id);
    free(t->user_id);
    free(t->description);
    for (size_t i = 0; i < t->n_call_ids; i++)
        free(t->call_ids[i]);
    free(t->call_ids);
    free(t->customer_name);
    free(t->customer_email);
    free(t->app_version);
    free(t->platform);
    free(t->source);
    free(t->log_request_id);
    free(t->assignee);
    free(t->tracker_url);
    free(t->tracker_status);
    for (size_t i = 0; i < t->n_notes; i++) {
        free(t->notes[i].author);
        free(t->notes[i].text);
    }
    free(t->notes);
    for (size_t i = 0; i < t->n_attachments; i++)
        ticket_attachment_clear(&t->attachments[i]);
    free(t->attachments);
    memset(t, 0, sizeof *t);
}

void ticket_free(struct ticket *t)
{
    ticket_clear(t);
    free(t);
}

/* strdup that keeps NULL and notes a failure in *failed. */
static char *dup_or_null(const char *s, int *failed)
{
    if (!s)
        return NULL;
    char *c = strdup(s);
    if (!c)
        *failed = 1;
    return c;
}

int ticket_copy(const struct ticket *t, struct ticket **out)
{
    *out = NULL;
    struct ticket *c = calloc(1, sizeof *c);
    if (!c)
        return LOGSHARE_ENOMEM;
    int failed = 0;
    c->id = dup_or_null(t->id, &failed);
    c->status = t->status;
    c->created_at = t->created_at;
    c->updated_at = t->updated_at;
    c->user_id = dup_or_null(t->user_id, &failed);
    c->description = dup_or_null(t->description, &failed);
    c->customer_name = dup_or_null(t->customer_name, &failed);
    c->customer_email = dup_or_null(t->customer_email, &failed);
    c->app_version = dup_or_null(t->app_version, &failed);
    c->platform = dup_or_null(t->platform, &failed);
    c->source = dup_or_null(t->source, &failed);
    c->log_request_id = dup_or_null(t->log_request_id, &failed);
    c->assignee = dup_or_null(t->assignee, &failed);
    c->tracker_url = dup_or_null(t->tracker_url, &failed);
    c->tracker_status = dup_or_null(t->tracker_status, &failed);
    if (t->n_call_ids && (c->call_ids = calloc(t->n_call_ids, sizeof *c->call_ids)))
        for (; c->n_call_ids < t->n_call_ids; c->n_call_ids++)
            c->call_ids[c->n_call_ids] = dup_or_null(t->call_ids[c->n_call_ids], &failed);
    if (t->n_notes && (c->notes = calloc(t->n_notes, sizeof *c->notes)))
        for (; c->n_notes < t->n_notes; c->n_notes++) {
            const struct ticket_note *n = &t->notes[c->n_notes];
            c->notes[c->n_notes].author = dup_or_null(n->author, &failed);
            c->notes[c->n_notes].text = dup_or_null(n->text, &failed);
            c->notes[c->n_notes].created_at = n->created_at;
        }
    if (t->n_attachments && (c->attachments = calloc(t->n_attachments, sizeof *c->attachments)))
        for (; c->n_attachments < t->n_attachments; c->n_attachments++) {
            const struct ticket_attachment *a = &t->attachments[c->n_attachments];
            struct ticket_attachment *b = &c->attachments[c->n_attachments];
            b->id = dup_or_null(a->id, &failed);
            b->ticket_id = dup_or_null(a->ticket_id, &failed);
            b->name = dup_or_null(a->name, &failed);
            b->size = a->size;
            memcpy(b->sha256, a->sha256, sizeof b->sha256);
            b->content_type = dup_or_null(a->content_type, &failed);
            b->blob_key = dup_or_null(a->blob_key, &failed);
            b->created_at = a->created_at;
        }
    if (failed || c->n_call_ids != t->n_call_ids || c->n_notes != t->n_notes ||
        c->n_attachments != t->n_attachments) {
        ticket_free(c);
        return LOGSHARE_ENOMEM;
    }
    *out = c;
    return 0;
}

void ticket_list_clear(struct ticket_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        ticket_free(l->items[i]);
    free(l->items);
    free(l->next_cursor);
    memset(l, 0, sizeof *l);
}

void ticket_user_free(struct ticket_user *u)
{
    if (!u)
        return;
    free(u->name);
    free(u->role);
    free(u->password_hash);
    free(u);
}

/* ---- argument checks shared by every back end ---------------------- */

static int sha256_hex_valid(const char *h)
{
    size_t n = strnlen(h, 65);
    if (n != 64)
        return 0;
    for (size_t i = 0; i < 64; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
            return 0;
    return 1;
}

static int attachments_valid(const struct ticket_attachment *a, size_t n)
{
    if (n && !a)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!ticket_id_valid(a[i].id) || !a[i].name || !a[i].blob_key || !*a[i].blob_key ||
            !sha256_hex_valid(a[i].sha256))
            return 0;
    return 1;
}

int ticket_store_migrate(struct ticket_store *ts, int *schema_version)
{
    if (!ts)
        return LOGSHARE_EINVAL;
    return ts->ops->migrate(ts, schema_version);
}

int ticket_store_create(struct ticket_store *ts, const struct ticket *t,
                        const char *idempotency_key, struct ticket **out, int *replayed)
{
    if (out)
        *out = NULL;
    if (replayed)
        *replayed = 0;
    if (!ts || !t || !ticket_id_valid(t->id) || !t->user_id || !*t->user_id || !t->description ||
        (t->n_call_ids && !t->call_ids) || !attachments_valid(t->attachments, t->n_attachments) ||
        (idempotency_key && !*idempotency_key))
        return LOGSHARE_EINVAL;
    for (size_t i = 0; i < t->n_call_ids; i++)
        if (!t->call_ids[i])
            return LOGSHARE_EINVAL;
    return ts->ops->create(ts, t, idempotency_key, out, replayed);
}

int ticket_store_find_idempotent(struct ticket_store *ts, const char *user_id, const char *key,
                                 struct ticket **out)
{
    if (!ts || !user_id || !key || !out)
        return LOGSHARE_EINVAL;
    *out = NULL;
    return ts->ops->find_idempotent(ts, user_id, key, out);
}

int ticket_store_get(struct ticket_store *ts, const char *id, struct ticket **out)
{
    if (!ts || !id || !out)
        return LOGSHARE_EINVAL;
    *out = NULL;
    if (!ticket_id_valid(id))
        return LOGSHARE_ENOENT;
    return ts->ops->get(ts, id, out);
}

int ticket_store_list(struct ticket_store *ts, const struct ticket_filter *f,
                      struct ticket_list *out)
{
    if (!ts || !f || !out)
        return LOGSHARE_EINVAL;
    memset(out, 0, sizeof *out);
    if (f->limit > TICKET_LIST_MAX_LIMIT || f->status > TICKET_STATUS_CLOSED || f->status < -1)
        return LOGSHARE_EINVAL;
    return ts->ops->list(ts, f, out);
}

int ticket_store_update(struct ticket_store *ts, const char *id, const struct ticket_update *u,
                        struct ticket **out)
{
    if (out)
        *out = NULL;
    if (!ts || !id || !u || u->status < -1 || u->status > TICKET_STATUS_CLOSED ||
        (u->note && !*u->note) ||
        (u->idempotency_key && (!*u->idempotency_key || !u->key_user || !*u->key_user)))
        return LOGSHARE_EINVAL;
    if (!ticket_id_valid(id))
        return LOGSHARE_ENOENT;
    return ts->ops->update(ts, id, u, out);
}

int ticket_store_add_attachments(struct ticket_store *ts, const char *ticket_id,
                                 const struct ticket_attachment *a, size_t n, struct ticket **out)
{
    if (out)
        *out = NULL;
    if (!ts || !ticket_id || n == 0 || !attachments_valid(a, n))
        return LOGSHARE_EINVAL;
    if (!ticket_id_valid(ticket_id))
        return LOGSHARE_ENOENT;
    return ts->ops->add_attachments(ts, ticket_id, a, n, out);
}

int ticket_store_get_attachment(struct ticket_store *ts, const char *ticket_id,
                                const char *attachment_id, struct ticket_attachment **out)
{
    if (!ts || !ticket_id || !attachment_id || !out)
        return LOGSHARE_EINVAL;
    *out = NULL;
    if (!ticket_id_valid(ticket_id) || !ticket_id_valid(attachment_id))
        return LOGSHARE_ENOENT;
    return ts->ops->get_attachment(ts, ticket_id, attachment_id, out);
}

int ticket_store_blob_referenced(struct ticket_store *ts, const char *blob_key, int *referenced)
{
    if (referenced)
        *referenced = 0;
    if (!ts || !blob_key || !*blob_key || !referenced)
        return LOGSHARE_EINVAL;
    return ts->ops->blob_referenced(ts, blob_key, referenced);
}

int ticket_store_user_create(struct ticket_store *ts, const char *name, const char *role,
                             const char *password_hash)
{
    if (!ts || !name || !*name || !role || !password_hash || !*password_hash)
        return LOGSHARE_EINVAL;
    if (strcmp(role, "user") && strcmp(role, "support") && strcmp(role, "admin"))
        return LOGSHARE_EINVAL;
    return ts->ops->user_create(ts, name, role, password_hash);
}

int ticket_store_user_get(struct ticket_store *ts, const char *name, struct ticket_user **out)
{
    if (!ts || !name || !out)
        return LOGSHARE_EINVAL;
    *out = NULL;
    return ts->ops->user_get(ts, name, out);
}

int ticket_store_user_update(struct ticket_store *ts, const char *name, const char *role,
                             const char *password_hash)
{
    if (!ts || !name || !*name || (!role && !password_hash) || (password_hash && !*password_hash))
        return LOGSHARE_EINVAL;
    if (role && strcmp(role, "user") && strcmp(role, "support") && strcmp(role, "admin"))
        return LOGSHARE_EINVAL;
    return ts->ops->user_update(ts, name, role, password_hash);
}

int ticket_store_user_delete(struct ticket_store *ts, const char *name)
{
    if (!ts || !name || !*name)
        return LOGSHARE_EINVAL;
    return ts->ops->user_delete(ts, name);
}

int ticket_store_check(struct ticket_store *ts)
{
    if (!ts)
        return LOGSHARE_EINVAL;
    return ts->ops->check(ts);
}

int ticket_store_identity(struct ticket_store *ts, char out[TICKET_STORE_IDENTITY_MAX])
{
    if (!ts || !out)
        return LOGSHARE_EINVAL;
    out[0] = '\0';
    return ts->ops->identity(ts, out);
}

void ticket_store_set_tracker(struct ticket_store *ts, const char *tracker)
{
    if (ts)
        ts->tracker = tracker;
}

int ticket_store_handoff_claim(struct ticket_store *ts, int64_t now, int64_t lease_until,
                               struct ticket_handoff *out, int64_t *next_due)
{
    if (next_due)
        *next_due = 0;
    if (!ts || !out || lease_until <= now)
        return LOGSHARE_EINVAL;
    return ts->ops->handoff_claim(ts, now, lease_until, out, next_due);
}

int ticket_store_handoff_record(struct ticket_store *ts, const struct ticket_handoff *h,
                                const struct ticket_handoff_result *r)
{
    if (!ts || !h || !r)
        return LOGSHARE_EINVAL;
    return ts->ops->handoff_record(ts, h, r);
}

int ticket_store_handoff_release(struct ticket_store *ts, const struct ticket_handoff *h)
{
    if (!ts || !h)
        return LOGSHARE_EINVAL;
    return ts->ops->handoff_release(ts, h);
}

int ticket_store_handoff_counts(struct ticket_store *ts, struct ticket_handoff_counts *out)
{
    if (!ts || !out)
        return LOGSHARE_EINVAL;
    memset(out, 0, sizeof *out);
    return ts->ops->handoff_counts(ts, out);
}

const char *ticket_handoff_status_after(const struct ticket_handoff_result *r)
{
    return r->delivered ? "delivered" : r->next_attempt_at ? "pending" : "failed";
}

/* A stored copy of a ticket just created, as the store answers it: with
 * the hand-off it queued in the same transaction. */
int ticket_created_copy(struct ticket_store *ts, const struct ticket *t, int64_t now,
                        struct ticket **out)
{
    int rc = ticket_stored_copy(t, now, out);
    if (rc == 0 && ts->tracker && !((*out)->tracker_status = strdup("pending"))) {
        ticket_free(*out);
        *out = NULL;
        rc = LOGSHARE_ENOMEM;
    }
    return rc;
}

void ticket_store_destroy(struct ticket_store *ts)
{
    if (ts)
        ts->ops->destroy(ts);
}

int ticket_store_open_url(const char *database_url, const char *data_dir, int durable,
                          struct ticket_store **out)
{
    if (!out)
        return LOGSHARE_EINVAL;
    *out = NULL;
    int rc;
    if (!database_url || !*database_url || !strncmp(database_url, "sqlite:", 7)) {
        char *path = NULL;
        if (database_url && *database_url) {
            path = strdup(database_url + 7);
        } else if (data_dir && *data_dir) {
            size_t len = strlen(data_dir) + sizeof TICKET_STORE_SQLITE_FILENAME + 1;
            if ((path = malloc(len)))
                snprintf(path, len, "%s/%s", data_dir, TICKET_STORE_SQLITE_FILENAME);
        } else {
            return LOGSHARE_EINVAL;
        }
        if (!path)
            return LOGSHARE_ENOMEM;
        struct ticket_store_sqlite_options opts = {.durable = durable};
        rc = *path ? ticket_store_sqlite_open(path, &opts, out) : LOGSHARE_EINVAL;
        free(path);
    } else if (!strncmp(database_url, "postgres://", 11) ||
               !strncmp(database_url, "postgresql://", 13) || strchr(database_url, '=')) {
        rc = ticket_store_pg_open(database_url, 0, out);
    } else {
        return LOGSHARE_EINVAL;
    }
    if (rc == 0 && (rc = ticket_store_migrate(*out, NULL)) != 0) {
        ticket_store_destroy(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- helpers for back ends (ticket_store_impl.h) ------------------- */

int ticket_stored_copy(const struct ticket *t, int64_t now, struct ticket **out)
{
    int rc = ticket_copy(t, out);
    if (rc != 0)
        return rc;
    struct ticket *c = *out;
    c->status = TICKET_STATUS_OPEN;
    c->created_at = c->updated_at = t->created_at ? t->created_at : now;
    free(c->assignee);
    free(c->tracker_url);
    free(c->tracker_status);
    c->assignee = c->tracker_url = c->tracker_status = NULL;
    for (size_t i = 0; i < c->n_notes; i++) {
        free(c->notes[i].author);
        free(c->notes[i].text);
    }
    free(c->notes);
    c->notes = NULL;
    c->n_notes = 0;
    for (size_t i = 0; i < c->n_attachments; i++) {
        struct ticket_attachment *a = &c->attachments[i];
        free(a->ticket_id);
        if (!(a->ticket_id = strdup(c->id))) {
            ticket_free(c);
            *out = NULL;
            return LOGSHARE_ENOMEM;
        }
        if (!a->created_at)
            a->created_at = now;
    }
    return 0;
}

int ticket_cursor_encode(int64_t created_at, const char *id, char **out)
{
    size_t len = 24 + strlen(id) + 1;
    *out = malloc(len);
    if (!*out)
        return LOGSHARE_ENOMEM;
    snprintf(*out, len, "%lld.%s", (long long)created_at, id);
    return 0;
}

int ticket_cursor_decode(const char *cursor, int64_t *created_at, char id[TICKET_ID_MAX])
{
    const char *p = cursor;
    long long v = 0;
    if (!p || *p < '0' || *p > '9')
        return LOGSHARE_EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (INT64_MAX - 9) / 10)
            return LOGSHARE_EINVAL;
        v = v * 10 + (*p - '0');
    }
    if (*p != '.' || strlen(p + 1) >= TICKET_ID_MAX || !ticket_id_valid(p + 1))
        return LOGSHARE_EINVAL;
    *created_at = v;
    strcpy(id, p + 1);
    return 0;
}

char *ticket_like_pattern(const char *q)
{
    size_t len = strlen(q);
    char *pat = malloc(2 * len + 3);
    if (!pat)
        return NULL;
    char *o = pat;
    *o++ = '%';
    for (const char *p = q; *p; p++) {
        if (*p == '%' || *p == '_' || *p == '\\')
            *o++ = '\\';
        *o++ = *p;
    }
    *o++ = '%';
    *o = '\0';
    return pat;
}
