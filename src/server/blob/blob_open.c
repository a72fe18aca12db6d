/*
 * blob_open.c - see blob_open.h. The Azure settings are checked here,
 * not in the key table, because they matter only together and only
 * with backend = azure; each message names the key as the INI file,
 * the environment and the flags spell it.
 */
#include "blob_open.h"

#include <stdio.h>
#include <string.h>

#include "blob_azure.h"
#include "logshare.h"

static int missing(const char *key, const char *flag, const char *env)
{
    fprintf(stderr, "logshared: [blob] backend = azure needs [blob] %s (%s, %s)\n", key, flag, env);
    return LOGSHARE_EINVAL;
}

static int open_azure(const server_config *cfg, struct blob_store **out)
{
    if (!cfg->blob_azure_account || !*cfg->blob_azure_account)
        return missing("azure_account", "--azure-account", "LOGSHARE_BLOB_AZURE_ACCOUNT");
    if (!cfg->blob_azure_key_file || !*cfg->blob_azure_key_file)
        return missing("azure_key_file", "--azure-key-file", "LOGSHARE_BLOB_AZURE_KEY_FILE");
    if (!cfg->blob_azure_container || !*cfg->blob_azure_container)
        return missing("azure_container", "--azure-container", "LOGSHARE_BLOB_AZURE_CONTAINER");
    char *key = NULL;
    int rc = blob_azure_read_key_file(cfg->blob_azure_key_file, &key);
    if (rc) {
        fprintf(stderr, "logshared: [blob] azure_key_file %s: %s\n", cfg->blob_azure_key_file,
                rc == LOGSHARE_EKEY ? "does not hold a base64 account key" : logshare_strerror(rc));
        return LOGSHARE_EINVAL;
    }
    struct blob_azure_config az = {
        .account = cfg->blob_azure_account,
        .key = key,
        .container = cfg->blob_azure_container,
        .endpoint = cfg->blob_azure_endpoint,
        .create_container = 1,
    };
    rc = blob_azure_open(&az, out);
    blob_azure_key_free(key);
    return rc;
}

int blob_store_open_configured(const server_config *cfg, struct blob_store **out)
{
    const char *backend = cfg->blob_backend ? cfg->blob_backend : "fs";
    if (!strcmp(backend, "fs"))
        return blob_fs_open(cfg->data_dir, out);
    if (!strcmp(backend, "azure"))
        return open_azure(cfg, out);
    fprintf(stderr, "logshared: [blob] backend '%s': expected fs or azure\n", backend);
    return LOGSHARE_EINVAL;
}
