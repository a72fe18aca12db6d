/*
 * server_config.h - logshared's settings: one table of keys, read from an
 * INI file (--config), then LOGSHARE_<SECTION>_<KEY> environment
 * variables, then command-line flags (--<key with dashes>), each source
 * overriding the one before (SPEC "logshared"). docs/server.md lists
 * every key; `logshared --help` prints the table too.
 *
 * Ownership: a server_config owns every string in it; free with
 * server_config_clear.
 */
#ifndef LOGSHARED_SERVER_CONFIG_H
#define LOGSHARED_SERVER_CONFIG_H

#include <stdint.h>
#include <stdio.h>

/* The most addresses [server] trusted_proxies may list (checked). */
#define SERVER_CONFIG_MAX_TRUSTED_PROXIES 16

typedef struct server_config {
    /* [server] */
    char *listen; /* HOST:PORT or [IPv6]:PORT, port 0..65535 (0 = a free port); checked */
    char *data_dir;
    char *port_file;  /* written with the bound port once serving */
    char *public_url; /* base of links we hand out; main sets http(s)://listen when unset */
    char *tls_cert;
    char *tls_key;
    char *trusted_proxies;  /* comma-separated addresses whose X-Forwarded-For we trust */
    int64_t threads;        /* 0 = one per core */
    int64_t worker_threads; /* pool for blocking work (fsync, commits); 0 = inline */
    int64_t shutdown_timeout_s;
    int64_t durable; /* 1: fsync every commit (SQLite synchronous=FULL) */
    /* [database] */
    char *database_url; /* NULL: SQLite in data_dir; postgres://... PostgreSQL */
    /* [blob] */
    int64_t blob_orphan_grace_s;   /* sweep unreferenced blobs older than this; 0 off */
    int64_t blob_sweep_interval_s; /* sweep again this long after a pass; 0: at startup only */
    char *blob_backend;            /* "fs" (the data dir) or "azure"; blob_open.c checks */
    char *blob_azure_account;      /* backend = azure: the storage account */
    char *blob_azure_key_file;     /* ...a file holding its key (base64), never the key itself */
    char *blob_azure_container;    /* ...the container, created if missing */
    char *blob_azure_endpoint;     /* ...NULL: https://<account>.blob.core.windows.net */
    /* [limits] */
    int64_t max_body_bytes;
    int64_t max_file_bytes;
    int64_t max_files;
    int64_t max_fields;
    int64_t max_field_bytes;
    int64_t max_part_header_bytes;
    int64_t max_json_bytes;
    int64_t max_connections;
    int64_t max_connections_per_address;
    int64_t connection_timeout_s;
    int64_t header_timeout_s;
    int64_t min_body_rate; /* bytes/s averaged over the body, after the grace period */
    int64_t min_body_rate_grace_s;
    int64_t connection_memory_bytes;
    /* [rate] token buckets: a sustained rate per second and a burst */
    int64_t user_rate;
    int64_t user_burst;
    int64_t address_rate;
    int64_t address_burst;
    /* [auth] */
    char *auth_algorithm; /* HS256, RS256, ES256 */
    char *auth_secret_file;
    char *auth_public_key_file;
    char *auth_issuer;
    char *auth_audience;
    int64_t link_ttl_s; /* default lifetime of signed download links */
    int64_t link_max_ttl_s;
    /* [push] log requests (SSE, webhook) and surveys: docs/push-and-surveys.md */
    char *push_webhook_url;         /* POST each new log request here; unset: no webhook */
    char *push_webhook_secret_file; /* HMAC key (default <data_dir>/webhook-secret) */
    int64_t push_webhook_timeout_ms;
    int64_t push_webhook_retry_initial_ms;
    int64_t push_webhook_retry_max_ms;
    int64_t push_webhook_max_attempts;
    int64_t push_stream_heartbeat_ms;
    int64_t push_max_streams;
    int64_t push_max_streams_per_user;
    int64_t push_expiry_sweep_ms;
    /* [tracker] hand-off of new tickets (docs/server.md "Tracker hand-off") */
    char *tracker_webhook_url;         /* POST each new ticket here; unset: no tracker */
    char *tracker_webhook_secret_file; /* HMAC key (default <data_dir>/tracker-secret) */
    int64_t tracker_timeout_ms;
    int64_t tracker_retry_initial_ms;
    int64_t tracker_retry_max_ms;
    int64_t tracker_max_attempts;
    /* [dashboard] */
    char *dashboard_support_secret_key_file; /* decrypts attachments for the log viewer */
    int64_t dashboard_session_idle_ttl_s;
    int64_t dashboard_session_max_ttl_s;
    int64_t dashboard_secure_cookie; /* 1: Secure cookies even without tls_cert */
} server_config;

/* Fills the embedded defaults (every string allocated). 0 or ENOMEM. */
int server_config_defaults(server_config *c);

/* Loads, in order: defaults, the INI file named by --config (or
 * LOGSHARE_CONFIG), the environment, then the flags in
 * argv[first..argc). Values with a form of their own (listen, URLs, the
 * algorithm) are checked as they are read, and settings that need each
 * other at the end. On a usage problem returns LOGSHARE_EINVAL with a
 * one-line message in err (err_size) naming the setting (as the file
 * line, variable or flag it came from) and what is expected. */
int server_config_load(server_config *c, int argc, char **argv, int first, char *err,
                       size_t err_size);

/* Sets one key ("section.key" or the flag spelling "key-name") from
 * text. 0, LOGSHARE_ENOENT (unknown key), LOGSHARE_EINVAL (bad value) or
 * LOGSHARE_ETOOLARGE (a number, with its k/M/G suffix, past INT64_MAX). */
int server_config_set(server_config *c, const char *key, const char *value);

/* Prints one warning line to out for each variable in envp (NULL for
 * `environ`) that has the shape of a setting, LOGSHARE_<SECTION>_...
 * with SECTION one of the key table's sections (any case), but names
 * none: a typo would otherwise be ignored in silence. Other LOGSHARE_*
 * variables (LOGSHARE_TOKEN, meant for the CLI) are left alone. */
void server_config_warn_env(char **envp, FILE *out);

/* Prints the key table (flag, env variable, default, meaning). */
void server_config_print_keys(FILE *out);

/* Frees the strings. NULL is a no-op. */
void server_config_clear(server_config *c);

#endif
