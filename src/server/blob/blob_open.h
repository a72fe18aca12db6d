/*
 * blob_open.h - opens the blob store the settings name ([blob] backend):
 * the one place that knows every implementation, so main.c only asks
 * for "the" blob store.
 */
#ifndef LOGSHARED_BLOB_OPEN_H
#define LOGSHARED_BLOB_OPEN_H

#include "blob_store.h"
#include "config/server_config.h"

/* Opens the configured blob store: "fs" (the default) under
 * cfg->data_dir, or "azure" with the [blob] azure_* settings (its key
 * read from azure_key_file; the container created if missing). On
 * failure a line on stderr names the setting or the cause;
 * LOGSHARE_EINVAL means a setting is wrong (a usage error: exit 2).
 * *out is the caller's: blob_store_destroy it. */
int blob_store_open_configured(const server_config *cfg, struct blob_store **out);

#endif
