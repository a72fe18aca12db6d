/*
 * share.h - internals shared by export, report and the outbox.
 *
 * The sharing code works on two plain structures: the ticket fields a
 * report or export carries (share_fields) and a list of files to ship
 * (share_file_list). The public logshare_share_options object
 * (share_options.c) holds both plus the server settings; export.c turns
 * fields + files into an archive, outbox.c into a durable queued item,
 * report_http.c into one multipart POST.
 */
#ifndef LS_SHARE_H
#define LS_SHARE_H

#include <stddef.h>
#include <stdint.h>

#include "logshare.h"

/* The ticket fields of SPEC.md's POST /api/v1/tickets. Every string is
 * owned by the struct (NULL when unset). */
typedef struct share_fields {
    char *description;
    char **call_ids;
    size_t call_id_count;
    char *customer_name;
    char *customer_email;
    char *app_version;
    char *platform;
    char *source;         /* report, survey, push, share */
    char *log_request_id; /* set for push requests */
    /* The generic part, so other requests can ride the outbox (a survey
     * is POST /api/v1/surveys with a "survey" field): the endpoint (NULL:
     * /api/v1/tickets) and more form fields, name/value pairs. */
    char *endpoint;
    char **extra_names, **extra_values;
    size_t extra_count;
} share_fields;

void share_fields_clear(share_fields *f);
/* Deep copy; dst must be zeroed or cleared. 0 or LOGSHARE_ENOMEM. */
int share_fields_copy(share_fields *dst, const share_fields *src);
int share_fields_add_call_id(share_fields *f, const char *id);
int share_fields_add_extra(share_fields *f, const char *name, const char *value);
/* The endpoint a request goes to. */
#define SHARE_TICKETS_ENDPOINT "/api/v1/tickets"
const char *share_fields_endpoint(const share_fields *f);
/* Replaces *slot with a copy of value (NULL clears). */
int share_string_set(char **slot, const char *value);

/* One file to ship. */
typedef struct share_file {
    char *path;                /* where it is read from; owned */
    char *name;                /* name in the archive and the upload; owned, unique */
    char *stream;              /* log stream, or "attachment" for app files; owned */
    uint64_t size;             /* bytes shipped: a snapshot, the file may grow later */
    int64_t first_us, last_us; /* record time range, 0 when unknown */
    char sha256[65];           /* lowercase hex once computed, else "" */
} share_file;

typedef struct share_file_list {
    share_file *items;
    size_t count, cap;
} share_file_list;

void share_file_list_clear(share_file_list *l);
/* Appends a copy. The name is made unique within the list ("x", "x.1"..)
 * and reduced to a safe base name. */
int share_file_list_add(share_file_list *l, const char *path, const char *name, const char *stream,
                        uint64_t size, int64_t first_us, int64_t last_us);

/* SHA-256 of the first size bytes of an open fd from offset 0, hex. A
 * file shorter than size gives LOGSHARE_ETRUNCATED. */
int share_sha256_fd(int fd, uint64_t size, char hex[65]);

/* Writes the manifest.json text (caller frees *json). */
int share_manifest_build(const share_fields *fields, const share_file_list *files,
                         int64_t created_us, char **json);

/* The settings behind a logshare_share_options handle. */
struct logshare_share_options {
    share_fields fields;
    share_file_list extra_files; /* app attachments; size 0 = stat at use */
    char *server_url;
    char *token;
    char *ca_file;
    long connect_timeout_ms;
    long low_speed_bytes;   /* abort when slower than this ... */
    long low_speed_seconds; /* ... for this long */
    long total_timeout_ms;  /* 0 = none */
    uint64_t max_send_rate; /* bytes/s, 0 = no cap */
    int max_attempts;
    long backoff_base_ms;
    long backoff_max_ms;
    int include_logs;
    size_t max_files_per_request;
    uint64_t outbox_max_bytes;
    unsigned outbox_max_items;
    logshare_progress_fn progress;
    void *progress_user;
    logshare_result_fn on_result;
    void *on_result_user;
};

/* A default option set (used when the caller passes NULL). */
void share_options_defaults(logshare_share_options *o);

#endif
