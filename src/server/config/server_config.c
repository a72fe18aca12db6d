/*
 * server_config.c - the key table behind server_config.h and its three
 * sources (INI file, environment, flags). Every key has one entry here:
 * section, name, type, default and help text, so the parser, the env
 * lookup, --help and docs/server.md cannot drift apart.
 */
#include "config/server_config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "logshare.h"
#include "ls_fs.h"

extern char **environ;

enum key_type { KEY_STRING, KEY_INT, KEY_BOOL };

struct key_def {
    const char *section;
    const char *name;
    enum key_type type;
    size_t offset;
    const char *def; /* NULL: unset */
    const char *help;
};

#define S(sec, name, field, def, help)                                                             \
    {                                                                                              \
        sec, name, KEY_STRING, offsetof(server_config, field), def, help                           \
    }
#define I(sec, name, field, def, help)                                                             \
    {                                                                                              \
        sec, name, KEY_INT, offsetof(server_config, field), def, help                              \
    }
#define B(sec, name, field, def, help)                                                             \
    {                                                                                              \
        sec, name, KEY_BOOL, offsetof(server_config, field), def, help                             \
    }

static const struct key_def keys[] = {
    S("server", "listen", listen, "127.0.0.1:8080",
      "HOST:PORT to serve on; port 0 picks a free port"),
    S("server", "data_dir", data_dir, "./logshare-data", "database, blobs and secrets"),
    S("server", "port_file", port_file, NULL, "write the bound port to this file once serving"),
    S("server", "public_url", public_url, NULL,
      "absolute base URL for links handed out; default http(s)://HOST:PORT from listen "
      "and the bound port (the host name for a wildcard address)"),
    S("server", "tls_cert", tls_cert, NULL, "PEM certificate: serve HTTPS (with tls_key)"),
    S("server", "tls_key", tls_key, NULL, "PEM private key for tls_cert"),
    S("server", "trusted_proxies", trusted_proxies, NULL,
      "comma-separated proxy addresses whose X-Forwarded-For is believed"),
    I("server", "threads", threads, "0", "HTTP threads (epoll, one pool); 0 = one per core"),
    I("server", "worker_threads", worker_threads, "8",
      "threads for blocking work (fsync, database commits); 0 = on the HTTP threads"),
    I("server", "shutdown_timeout_s", shutdown_timeout_s, "10",
      "on SIGTERM/SIGINT, how long in-flight requests may take to finish"),
    B("server", "durable", durable, "1",
      "fsync every database commit (0 trades power-loss safety for speed)"),
    S("database", "url", database_url, NULL,
      "ticket database: unset = SQLite in data_dir; postgresql://... or host=... = PostgreSQL; "
      "sqlite:PATH"),
    I("blob", "orphan_grace_s", blob_orphan_grace_s, "3600",
      "at startup, remove in the background committed blobs no ticket references that are "
      "older than this (a crash between blob and ticket commit leaves them); 0 = never"),
    I("limits", "max_body_bytes", max_body_bytes, "2147483648", "largest request body"),
    I("limits", "max_file_bytes", max_file_bytes, "2147483648", "largest attached file"),
    I("limits", "max_files", max_files, "32", "files per request"),
    I("limits", "max_fields", max_fields, "64", "form fields (non-file parts) per request"),
    I("limits", "max_field_bytes", max_field_bytes, "65536", "largest form field value"),
    I("limits", "max_part_header_bytes", max_part_header_bytes, "16384",
      "header block of one multipart part"),
    I("limits", "max_json_bytes", max_json_bytes, "65536", "largest JSON request body"),
    I("limits", "max_connections", max_connections, "10240",
      "open connections in total (each idle log-request stream is one)"),
    I("limits", "max_connections_per_address", max_connections_per_address, "64",
      "open connections from one address"),
    I("limits", "connection_timeout_s", connection_timeout_s, "60",
      "close a connection idle for this long"),
    I("limits", "header_timeout_s", header_timeout_s, "20",
      "a request's headers must arrive within this long of connecting or the previous response"),
    I("limits", "min_body_rate", min_body_rate, "1024",
      "bytes/s a body must average after the grace period, or it is cut"),
    I("limits", "min_body_rate_grace_s", min_body_rate_grace_s, "10",
      "grace period for min_body_rate"),
    I("limits", "connection_memory_bytes", connection_memory_bytes, "131072",
      "per-connection buffer (bigger reads, more memory)"),
    I("rate", "user_rate", user_rate, "20", "requests per second per user (sustained)"),
    I("rate", "user_burst", user_burst, "100", "requests a user may burst"),
    I("rate", "address_rate", address_rate, "50", "requests per second per client address"),
    I("rate", "address_burst", address_burst, "200", "requests an address may burst"),
    S("auth", "algorithm", auth_algorithm, "HS256",
      "JWT algorithm: HS256, RS256 or ES256 (pinned)"),
    S("auth", "secret_file", auth_secret_file, NULL,
      "HS256 secret (default <data_dir>/jwt-secret)"),
    S("auth", "public_key_file", auth_public_key_file, NULL, "PEM public key for RS256/ES256"),
    S("auth", "issuer", auth_issuer, NULL, "required \"iss\" claim (unchecked when unset)"),
    S("auth", "audience", auth_audience, NULL, "required \"aud\" claim (unchecked when unset)"),
    I("auth", "link_ttl_s", link_ttl_s, "3600", "default lifetime of signed download links"),
    I("auth", "link_max_ttl_s", link_max_ttl_s, "604800", "longest lifetime a link may ask for"),
    S("push", "webhook_url", push_webhook_url, NULL,
      "POST every new log request here, signed (the app's push provider); unset: none"),
    S("push", "webhook_secret_file", push_webhook_secret_file, NULL,
      "HMAC-SHA256 key for webhook signatures (default <data_dir>/webhook-secret, generated)"),
    I("push", "webhook_timeout_ms", push_webhook_timeout_ms, "10000", "one webhook attempt"),
    I("push", "webhook_retry_initial_ms", push_webhook_retry_initial_ms, "1000",
      "first webhook retry delay; doubles per attempt"),
    I("push", "webhook_retry_max_ms", push_webhook_retry_max_ms, "300000",
      "longest delay between webhook attempts"),
    I("push", "webhook_max_attempts", push_webhook_max_attempts, "0",
      "attempts before a delivery is marked failed; 0: retry until the request expires"),
    I("push", "stream_heartbeat_ms", push_stream_heartbeat_ms, "15000",
      "comment line on idle log-request streams (also finds dead clients)"),
    I("push", "max_streams", push_max_streams, "10000", "open log-request streams in total"),
    I("push", "max_streams_per_user", push_max_streams_per_user, "16",
      "open log-request streams per user"),
    I("push", "expiry_sweep_ms", push_expiry_sweep_ms, "1000",
      "how often overdue log requests are marked expired"),
    S("dashboard", "support_secret_key_file", dashboard_support_secret_key_file, NULL,
      "support secret key (logshare keygen's PREFIX.key): the log viewer decrypts with it"),
    I("dashboard", "session_idle_ttl_s", dashboard_session_idle_ttl_s, "28800",
      "a dashboard session ends after this long without use"),
    I("dashboard", "session_max_ttl_s", dashboard_session_max_ttl_s, "86400",
      "and at the latest this long after login"),
    B("dashboard", "secure_cookie", dashboard_secure_cookie, "0",
      "mark the session cookie Secure behind an HTTPS proxy (always on with tls_cert)"),
};

#define NKEYS (sizeof keys / sizeof keys[0])

static int set_value(server_config *c, const struct key_def *k, const char *value)
{
    void *field = (char *)c + k->offset;
    if (k->type == KEY_STRING) {
        char *copy = NULL;
        if (value && *value) {
            copy = strdup(value);
            if (!copy)
                return LOGSHARE_ENOMEM;
        }
        free(*(char **)field);
        *(char **)field = copy;
        return 0;
    }
    if (k->type == KEY_BOOL) {
        int v;
        if (!strcasecmp(value, "1") || !strcasecmp(value, "true") || !strcasecmp(value, "yes") ||
            !strcasecmp(value, "on"))
            v = 1;
        else if (!strcasecmp(value, "0") || !strcasecmp(value, "false") ||
                 !strcasecmp(value, "no") || !strcasecmp(value, "off"))
            v = 0;
        else
            return LOGSHARE_EINVAL;
        *(int64_t *)field = v;
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (end == value || v < 0 || *value == '-')
        return LOGSHARE_EINVAL;
    if (errno == ERANGE)
        return LOGSHARE_ETOOLARGE;
    if (errno)
        return LOGSHARE_EINVAL;
    /* size suffixes make byte limits readable in INI files; a shift past
     * 63 bits would wrap to a small or negative limit, so it is refused */
    int shift = 0;
    if (*end == 'k' || *end == 'K')
        shift = 10, end++;
    else if (*end == 'm' || *end == 'M')
        shift = 20, end++;
    else if (*end == 'g' || *end == 'G')
        shift = 30, end++;
    if (*end)
        return LOGSHARE_EINVAL;
    if (v > (LLONG_MAX >> shift))
        return LOGSHARE_ETOOLARGE;
    v <<= shift;
    *(int64_t *)field = v;
    return 0;
}

/* What set_value's error means, for the messages of all three sources. */
static const char *value_problem(int rc)
{
    return rc == LOGSHARE_ETOOLARGE
               ? "value too large (at most 9223372036854775807, or 8589934591G)"
               : "bad value";
}

static const struct key_def *find_key(const char *key)
{
    for (size_t i = 0; i < NKEYS; i++) {
        char dotted[96], flag[64];
        snprintf(dotted, sizeof dotted, "%s.%s", keys[i].section, keys[i].name);
        snprintf(flag, sizeof flag, "%.*s", (int)sizeof flag - 1, keys[i].name);
        for (char *p = flag; *p; p++)
            if (*p == '_')
                *p = '-';
        /* auth keys get an "auth-" flag prefix unless already unambiguous */
        char aflag[80];
        snprintf(aflag, sizeof aflag, "%s-%s", keys[i].section, flag);
        if (!strcmp(key, dotted) || !strcmp(key, flag) || !strcmp(key, aflag))
            return &keys[i];
    }
    return NULL;
}

int server_config_set(server_config *c, const char *key, const char *value)
{
    const struct key_def *k = find_key(key);
    if (!k)
        return LOGSHARE_ENOENT;
    return set_value(c, k, value);
}

int server_config_defaults(server_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NKEYS; i++) {
        if (keys[i].def) {
            int rc = set_value(c, &keys[i], keys[i].def);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int load_ini(server_config *c, const char *path, char *err, size_t err_size)
{
    char *text;
    size_t len;
    int rc = ls_fs_read_file(path, 1 << 20, &text, &len);
    if (rc) {
        snprintf(err, err_size, "cannot read config %s: %s", path, logshare_strerror(rc));
        return LOGSHARE_EINVAL;
    }
    char section[64] = "";
    int lineno = 0;
    rc = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close || close[1] || (size_t)(close - s - 1) >= sizeof section) {
                snprintf(err, err_size, "%s:%d: bad section header", path, lineno);
                rc = LOGSHARE_EINVAL;
                break;
            }
            *close = '\0';
            snprintf(section, sizeof section, "%.*s", (int)sizeof section - 1, trim(s + 1));
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, err_size, "%s:%d: expected key = value", path, lineno);
            rc = LOGSHARE_EINVAL;
            break;
        }
        *eq = '\0';
        char key[160];
        snprintf(key, sizeof key, "%s.%s", section, trim(s));
        char *value = trim(eq + 1);
        size_t vl = strlen(value);
        if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
            value[vl - 1] = '\0';
            value++;
        }
        const struct key_def *k = find_key(key);
        if (!k || !strchr(key, '.') || strcmp(k->section, section) != 0) {
            snprintf(err, err_size, "%s:%d: unknown key %s", path, lineno, key);
            rc = LOGSHARE_EINVAL;
            break;
        }
        if ((rc = set_value(c, k, value))) {
            snprintf(err, err_size, "%s:%d: %s for %s", path, lineno, value_problem(rc), key);
            rc = LOGSHARE_EINVAL;
            break;
        }
    }
    free(text);
    return rc;
}

static int load_env(server_config *c, char *err, size_t err_size)
{
    for (size_t i = 0; i < NKEYS; i++) {
        char var[128];
        snprintf(var, sizeof var, "LOGSHARE_%s_%s", keys[i].section, keys[i].name);
        for (char *p = var; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        const char *v = getenv(var);
        int rc = v ? set_value(c, &keys[i], v) : 0;
        if (rc) {
            snprintf(err, err_size, "%s in %s", value_problem(rc), var);
            return LOGSHARE_EINVAL;
        }
    }
    return 0;
}

int server_config_load(server_config *c, int argc, char **argv, int first, char *err,
                       size_t err_size)
{
    int rc = server_config_defaults(c);
    if (rc)
        return rc;
    const char *config_file = getenv("LOGSHARE_CONFIG");
    for (int i = first; i < argc; i++)
        if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc) {
                snprintf(err, err_size, "--config needs a file");
                return LOGSHARE_EINVAL;
            }
            config_file = argv[i + 1];
        }
    if (config_file && (rc = load_ini(c, config_file, err, err_size)))
        return rc;
    if ((rc = load_env(c, err, err_size)))
        return rc;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, err_size, "unexpected argument '%s'", a);
            return LOGSHARE_EINVAL;
        }
        char name[128];
        const char *value;
        const char *eq = strchr(a, '=');
        if (eq) {
            snprintf(name, sizeof name, "%.*s", (int)(eq - a - 2), a + 2);
            value = eq + 1;
        } else {
            snprintf(name, sizeof name, "%.*s", (int)sizeof name - 1, a + 2);
            if (i + 1 >= argc) {
                snprintf(err, err_size, "%s needs a value", a);
                return LOGSHARE_EINVAL;
            }
            value = argv[++i];
        }
        if (!strcmp(name, "config"))
            continue;
        rc = server_config_set(c, name, value);
        if (rc == LOGSHARE_ENOENT) {
            snprintf(err, err_size, "unknown option '--%s' (try --help)", name);
            return LOGSHARE_EINVAL;
        }
        if (rc) {
            snprintf(err, err_size, "%s '%s' for --%s", value_problem(rc), value, name);
            return LOGSHARE_EINVAL;
        }
    }
    if ((c->tls_cert == NULL) != (c->tls_key == NULL)) {
        snprintf(err, err_size, "--tls-cert and --tls-key go together");
        return LOGSHARE_EINVAL;
    }
    if (c->max_files < 1 || c->max_fields < 1 || c->max_body_bytes < 1 || c->max_file_bytes < 1) {
        snprintf(err, err_size, "limits must be at least 1");
        return LOGSHARE_EINVAL;
    }
    return 0;
}

void server_config_print_keys(FILE *out)
{
    fprintf(out, "Settings (INI [section] key, env LOGSHARE_<SECTION>_<KEY>, flag --key-name):\n");
    for (size_t i = 0; i < NKEYS; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "%.*s", (int)sizeof flag - 1, keys[i].name);
        for (char *p = flag; *p; p++)
            if (*p == '_')
                *p = '-';
        fprintf(out, "  --%s%s%-28s [%s] %s%s%s%s\n",
                !strcmp(keys[i].section, "auth") ? "auth-" : "", "", flag, keys[i].section,
                keys[i].help, keys[i].def ? " (default " : "", keys[i].def ? keys[i].def : "",
                keys[i].def ? ")" : "");
    }
}

void server_config_clear(server_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].type == KEY_STRING) {
            char **f = (char **)((char *)c + keys[i].offset);
            free(*f);
            *f = NULL;
        }
}
