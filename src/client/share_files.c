/*
 * share_files.c - the plain data of sharing: ticket fields, the list of
 * files to ship, their SHA-256, and manifest.json (docs/export-format.md).
 *
 * The manifest is the contract between a device and whoever unpacks an
 * export or a report: every file with its stream, size and hash, so a
 * receiver can prove nothing was lost or changed on the way.
 */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ls_hex.h"
#include "ls_time.h"
#include "share.h"

int share_string_set(char **slot, const char *value)
{
    char *copy = NULL;
    if (value && !(copy = strdup(value)))
        return LOGSHARE_ENOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

void share_fields_clear(share_fields *f)
{
    free(f->description);
    for (size_t i = 0; i < f->call_id_count; i++)
        free(f->call_ids[i]);
    free(f->call_ids);
    free(f->customer_name);
    free(f->customer_email);
    free(f->app_version);
    free(f->platform);
    free(f->source);
    free(f->log_request_id);
    free(f->endpoint);
    for (size_t i = 0; i < f->extra_count; i++) {
        free(f->extra_names[i]);
        free(f->extra_values[i]);
    }
    free(f->extra_names);
    free(f->extra_values);
    memset(f, 0, sizeof *f);
}

int share_fields_add_call_id(share_fields *f, const char *id)
{
    for (size_t i = 0; i < f->call_id_count; i++)
        if (strcmp(f->call_ids[i], id) == 0)
            return 0;
    char **grown = realloc(f->call_ids, (f->call_id_count + 1) * sizeof *grown);
    if (!grown)
        return LOGSHARE_ENOMEM;
    f->call_ids = grown;
    if (!(f->call_ids[f->call_id_count] = strdup(id)))
        return LOGSHARE_ENOMEM;
    f->call_id_count++;
    return 0;
}

int share_fields_add_extra(share_fields *f, const char *name, const char *value)
{
    char **n = realloc(f->extra_names, (f->extra_count + 1) * sizeof *n);
    if (!n)
        return LOGSHARE_ENOMEM;
    f->extra_names = n;
    char **v = realloc(f->extra_values, (f->extra_count + 1) * sizeof *v);
    if (!v)
        return LOGSHARE_ENOMEM;
    f->extra_values = v;
    char *nc = strdup(name), *vc = strdup(value);
    if (!nc || !vc) {
        free(nc);
        free(vc);
        return LOGSHARE_ENOMEM;
    }
    f->extra_names[f->extra_count] = nc;
    f->extra_values[f->extra_count] = vc;
    f->extra_count++;
    return 0;
}

const char *share_fields_endpoint(const share_fields *f)
{
    return f->endpoint ? f->endpoint : SHARE_TICKETS_ENDPOINT;
}

int share_fields_copy(share_fields *dst, const share_fields *src)
{
    int rc = 0;
    rc = rc ? rc : share_string_set(&dst->description, src->description);
    rc = rc ? rc : share_string_set(&dst->customer_name, src->customer_name);
    rc = rc ? rc : share_string_set(&dst->customer_email, src->customer_email);
    rc = rc ? rc : share_string_set(&dst->app_version, src->app_version);
    rc = rc ? rc : share_string_set(&dst->platform, src->platform);
    rc = rc ? rc : share_string_set(&dst->source, src->source);
    rc = rc ? rc : share_string_set(&dst->log_request_id, src->log_request_id);
    rc = rc ? rc : share_string_set(&dst->endpoint, src->endpoint);
    for (size_t i = 0; rc == 0 && i < src->call_id_count; i++)
        rc = share_fields_add_call_id(dst, src->call_ids[i]);
    for (size_t i = 0; rc == 0 && i < src->extra_count; i++)
        rc = share_fields_add_extra(dst, src->extra_names[i], src->extra_values[i]);
    return rc;
}

void share_file_list_clear(share_file_list *l)
{
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].path);
        free(l->items[i].name);
        free(l->items[i].stream);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* A name that is safe as an archive member and a multipart filename on
 * any receiver: its base name, with anything outside [A-Za-z0-9._-]
 * replaced, and never "." / ".." / empty / hidden. */
static char *safe_name(const char *name)
{
    const char *slash = strrchr(name, '/');
    if (slash)
        name = slash + 1;
    size_t len = strlen(name);
    if (len > 200)
        len = 200;
    char *out = malloc(len + 6);
    if (!out)
        return NULL;
    size_t o = 0;
    if (len == 0 || name[0] == '.')
        out[o++] = 'f', out[o++] = '_';
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        out[o++] = ok ? c : '_';
    }
    out[o] = '\0';
    return out;
}

static int name_taken(const share_file_list *l, const char *name, const char *stream)
{
    /* manifest.json is reserved for the manifest itself (stream "manifest") */
    if (strcmp(name, "manifest.json") == 0 && strcmp(stream, "manifest") != 0)
        return 1;
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->items[i].name, name) == 0)
            return 1;
    return 0;
}

int share_file_list_add(share_file_list *l, const char *path, const char *name, const char *stream,
                        uint64_t size, int64_t first_us, int64_t last_us)
{
    if (!path || !name || !stream)
        return LOGSHARE_EINVAL;
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        share_file *grown = realloc(l->items, cap * sizeof *grown);
        if (!grown)
            return LOGSHARE_ENOMEM;
        l->items = grown;
        l->cap = cap;
    }
    share_file *f = &l->items[l->count];
    memset(f, 0, sizeof *f);
    char *base = safe_name(name);
    if (!base)
        return LOGSHARE_ENOMEM;
    char *unique = base;
    for (unsigned n = 1; name_taken(l, unique, stream); n++) {
        if (unique != base)
            free(unique);
        size_t cap = strlen(base) + 16;
        if (!(unique = malloc(cap))) {
            free(base);
            return LOGSHARE_ENOMEM;
        }
        snprintf(unique, cap, "%s.%u", base, n);
    }
    if (unique != base)
        free(base);
    f->name = unique;
    f->path = strdup(path);
    f->stream = strdup(stream);
    if (!f->path || !f->stream) {
        free(f->path);
        free(f->name);
        free(f->stream);
        return LOGSHARE_ENOMEM;
    }
    f->size = size;
    f->first_us = first_us;
    f->last_us = last_us;
    l->count++;
    return 0;
}

int share_sha256_fd(int fd, uint64_t size, char hex[65])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char buf[65536];
    uint64_t done = 0;
    while (done < size) {
        size_t want = size - done < sizeof buf ? (size_t)(size - done) : sizeof buf;
        ssize_t n = pread(fd, buf, want, (off_t)done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return LOGSHARE_EIO;
        }
        if (n == 0)
            return LOGSHARE_ETRUNCATED;
        crypto_hash_sha256_update(&st, buf, (size_t)n);
        done += (uint64_t)n;
    }
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, digest);
    ls_hex_encode(digest, sizeof digest, hex);
    return 0;
}

static int set_opt_string(json_t *obj, const char *key, const char *value)
{
    if (!value)
        return 0;
    return json_object_set_new(obj, key, json_string(value)) == 0 ? 0 : LOGSHARE_ENOMEM;
}

static json_t *time_or_null(int64_t us)
{
    if (us <= 0)
        return json_null();
    char buf[LS_TIME_RFC3339_LEN];
    return json_string(ls_time_format_rfc3339(us, 1, buf));
}

int share_manifest_build(const share_fields *fields, const share_file_list *files,
                         int64_t created_us, char **out)
{
    char when[LS_TIME_RFC3339_LEN];
    json_t *root = json_object();
    json_t *calls = json_array();
    json_t *list = json_array();
    int rc = (root && calls && list) ? 0 : LOGSHARE_ENOMEM;
    for (size_t i = 0; rc == 0 && i < fields->call_id_count; i++)
        if (json_array_append_new(calls, json_string(fields->call_ids[i])) != 0)
            rc = LOGSHARE_ENOMEM;
    for (size_t i = 0; rc == 0 && i < files->count; i++) {
        const share_file *f = &files->items[i];
        json_t *o =
            json_pack("{s:s, s:s, s:I, s:s, s:o, s:o}", "name", f->name, "stream", f->stream,
                      "size", (json_int_t)f->size, "sha256", f->sha256, "first_record_at",
                      time_or_null(f->first_us), "last_record_at", time_or_null(f->last_us));
        if (!o || json_array_append_new(list, o) != 0)
            rc = LOGSHARE_ENOMEM;
    }
    if (rc == 0) {
        rc =
            json_object_set_new(root, "format", json_string("logshare-export")) ||
                    json_object_set_new(root, "format_version", json_integer(1)) ||
                    json_object_set_new(root, "library_version", json_string(logshare_version())) ||
                    json_object_set_new(root, "created_at",
                                        json_string(ls_time_format_rfc3339(created_us, 1, when)))
                ? LOGSHARE_ENOMEM
                : 0;
    }
    rc = rc ? rc : set_opt_string(root, "description", fields->description);
    if (rc == 0) {
        rc = json_object_set(root, "call_ids", calls) ? LOGSHARE_ENOMEM : 0;
    }
    rc = rc ? rc : set_opt_string(root, "app_version", fields->app_version);
    rc = rc ? rc : set_opt_string(root, "platform", fields->platform);
    rc = rc ? rc : set_opt_string(root, "customer_name", fields->customer_name);
    rc = rc ? rc : set_opt_string(root, "customer_email", fields->customer_email);
    rc = rc ? rc : set_opt_string(root, "source", fields->source);
    rc = rc ? rc : set_opt_string(root, "log_request_id", fields->log_request_id);
    if (rc == 0)
        rc = json_object_set(root, "files", list) ? LOGSHARE_ENOMEM : 0;
    if (rc == 0) {
        *out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (!*out)
            rc = LOGSHARE_ENOMEM;
    }
    json_decref(calls);
    json_decref(list);
    json_decref(root);
    return rc;
}
