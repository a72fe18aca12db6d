/*
 * server_config.c - the key table behind server_config.h and its three
 * sources (INI file, environment, flags). Every key has one entry here:
 * section, name, type, default and help text, so the parser, the env
 * lookup, --help and docs/server.md cannot drift apart.
 */
#include "config/server_config.h"

#include <arpa/inet.h>
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

/* A string key's own rule: NULL when value is acceptable, else what the
 * value should look like, for the one-line message. Checked when the
 * value is read, so a bad setting stops the server before it opens
 * anything and the message names where the value came from. */
typedef const char *(*value_check)(const char *value);

struct key_def {
    const char *section;
    const char *name;
    enum key_type type;
    size_t offset;
    const char *def; /* NULL: unset */
    const char *help;
    value_check check; /* strings only; NULL: any text */
};

static const char *check_listen(const char *v);
static const char *check_not_empty(const char *v);
static const char *check_public_url(const char *v);
static const char *check_webhook_url(const char *v);
static const char *check_database_url(const char *v);
static const char *check_algorithm(const char *v);
static const char *check_trusted_proxies(const char *v);

#define S(sec, name, field, def, help)                                                             \
    {                                                                                              \
        sec, name, KEY_STRING, offsetof(server_config, field), def, help, NULL                     \
    }
#define SC(sec, name, field, def, check, help)                                                     \
    {                                                                                              \
        sec, name, KEY_STRING, offsetof(server_config, field), def, help, check                    \
    }
#define I(sec, name, field, def, help)                                                             \
    {                                                                                              \
        sec, name, KEY_INT, offsetof(server_config, field), def, help, NULL                        \
    }
#define B(sec, name, field, def, help)                                                             \
    {                                                                                              \
        sec, name, KEY_BOOL, offsetof(server_config, field), def, help, NULL                       \
    }

static const struct key_def keys[] = {
    SC("server", "listen", listen, "127.0.0.1:8080", check_listen,
       "HOST:PORT to serve on ([ADDRESS]:PORT for IPv6); port 0 picks a free port"),
    SC("server", "data_dir", data_dir, "./logshare-data", check_not_empty,
       "database, blobs and secrets"),
    S("server", "port_file", port_file, NULL, "write the bound port to this file once serving"),
    SC("server", "public_url", public_url, NULL, check_public_url,
       "absolute http:// or https:// base URL for links handed out; default http(s)://HOST:PORT "
       "from listen "
       "and the bound port (the host name for a wildcard address)"),
    S("server", "tls_cert", tls_cert, NULL, "PEM certificate: serve HTTPS (with tls_key)"),
    S("server", "tls_key", tls_key, NULL, "PEM private key for tls_cert"),
    SC("server", "trusted_proxies", trusted_proxies, NULL, check_trusted_proxies,
       "comma-separated proxy addresses (IPv4 or IPv6, at most 16) whose X-Forwarded-For is "
       "believed"),
    I("server", "threads", threads, "0", "HTTP threads (epoll, one pool); 0 = one per core"),
    I("server", "worker_threads", worker_threads, "8",
      "threads for blocking work (fsync, database commits); 0 = on the HTTP threads"),
    I("server", "shutdown_timeout_s", shutdown_timeout_s, "10",
      "on SIGTERM/SIGINT, how long in-flight requests may take to finish"),
    B("server", "durable", durable, "1",
      "fsync every database commit (0 trades power-loss safety for speed)"),
    SC("database", "url", database_url, NULL, check_database_url,
       "ticket database: unset = SQLite in data_dir; postgresql://... or host=... = PostgreSQL; "
       "sqlite:PATH"),
    I("blob", "orphan_grace_s", blob_orphan_grace_s, "3600",
      "at startup and every sweep_interval_s, remove in the background committed blobs no "
      "ticket references that are older than this (a crash between blob and ticket commit "
      "leaves them); 0 = never"),
    I("blob", "sweep_interval_s", blob_sweep_interval_s, "3600",
      "after the startup sweep, sweep again this long after each pass: orphaned blobs "
      "(orphan_grace_s) and uploads a crash cut off (temporary files no upload holds: at "
      "startup, or after a minute); 0 = at startup only"),
    S("blob", "backend", blob_backend, "fs",
      "where attachment bytes live: fs (data_dir/blobs) or azure (Azure Blob Storage, the "
      "azure_* keys)"),
    SC("blob", "azure_account", blob_azure_account, NULL, check_not_empty,
       "backend azure: the storage account name"),
    SC("blob", "azure_key_file", blob_azure_key_file, NULL, check_not_empty,
       "backend azure: a file holding the account key (base64)"),
    SC("blob", "azure_container", blob_azure_container, NULL, check_not_empty,
       "backend azure: the container (created at startup if missing)"),
    SC("blob", "azure_endpoint", blob_azure_endpoint, NULL, check_public_url,
       "backend azure: the Blob service URL; unset: https://ACCOUNT.blob.core.windows.net "
       "(Azurite: http://127.0.0.1:10000/devstoreaccount1)"),
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
      "open connections from one address (an IPv6 client: from its /64)"),
    I("limits", "connection_timeout_s", connection_timeout_s, "60",
      "close a connection idle for this long"),
    I("limits", "header_timeout_s", header_timeout_s, "20",
      "a request's headers must arrive within this long of connecting or the previous response"),
    I("limits", "min_body_rate", min_body_rate, "1024",
      "bytes/s a body must average after the grace period, or it is cut"),
    I("limits", "min_body_rate_grace_s", min_body_rate_grace_s, "10",
      "grace period for min_body_rate, from the end of the headers"),
    I("limits", "connection_memory_bytes", connection_memory_bytes, "131072",
      "per-connection buffer (bigger reads, more memory)"),
    I("rate", "user_rate", user_rate, "20", "requests per second per user (sustained)"),
    I("rate", "user_burst", user_burst, "100", "requests a user may burst"),
    I("rate", "address_rate", address_rate, "50", "requests per second per client address"),
    I("rate", "address_burst", address_burst, "200", "requests an address may burst"),
    SC("auth", "algorithm", auth_algorithm, "HS256", check_algorithm,
       "JWT algorithm: HS256, RS256 or ES256 (pinned)"),
    S("auth", "secret_file", auth_secret_file, NULL, "HS256 secret; unset: <data_dir>/jwt-secret"),
    S("auth", "public_key_file", auth_public_key_file, NULL, "PEM public key for RS256/ES256"),
    S("auth", "issuer", auth_issuer, NULL, "required \"iss\" claim (unchecked when unset)"),
    S("auth", "audience", auth_audience, NULL, "required \"aud\" claim (unchecked when unset)"),
    I("auth", "link_ttl_s", link_ttl_s, "3600", "default lifetime of signed download links"),
    I("auth", "link_max_ttl_s", link_max_ttl_s, "604800", "longest lifetime a link may ask for"),
    SC("push", "webhook_url", push_webhook_url, NULL, check_webhook_url,
       "POST every new log request here, signed (the app's push provider); unset: none"),
    S("push", "webhook_secret_file", push_webhook_secret_file, NULL,
      "HMAC-SHA256 key for webhook signatures; unset: <data_dir>/webhook-secret, generated"),
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
    SC("tracker", "webhook_url", tracker_webhook_url, NULL, check_webhook_url,
       "hand every new ticket to a tracker: POST it here, signed; unset: no tracker"),
    S("tracker", "webhook_secret_file", tracker_webhook_secret_file, NULL,
      "HMAC-SHA256 key for tracker signatures; unset: <data_dir>/tracker-secret, generated"),
    I("tracker", "timeout_ms", tracker_timeout_ms, "10000", "one hand-off attempt (1 or more)"),
    I("tracker", "retry_initial_ms", tracker_retry_initial_ms, "1000",
      "first retry delay (1 or more); doubles per attempt"),
    I("tracker", "retry_max_ms", tracker_retry_max_ms, "300000",
      "longest delay between attempts (at least retry_initial_ms)"),
    I("tracker", "max_attempts", tracker_max_attempts, "20",
      "attempts before a hand-off is marked failed (1 to 1000)"),
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

#define LISTEN_FORM "expected HOST:PORT, PORT 0 to 65535 (0: a free port), IPv6 as [ADDRESS]:PORT"

/* "0" to "65535", decimal digits only (strtol would take "-1", " 1"
 * and "4x", and getaddrinfo wraps 99999 to 34463). */
static int port_valid(const char *p, size_t n)
{
    if (n == 0 || n > 5)
        return 0;
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    return v <= 65535;
}

static int has_space_or_control(const char *v)
{
    for (; *v; v++)
        if ((unsigned char)*v <= ' ' || *v == 0x7f)
            return 1;
    return 0;
}

static const char *check_listen(const char *v)
{
    if (has_space_or_control(v))
        return LISTEN_FORM;
    const char *colon;
    if (v[0] == '[') {
        const char *close = strchr(v, ']');
        char addr[INET6_ADDRSTRLEN + 1];
        struct in6_addr a6;
        size_t n = close ? (size_t)(close - v - 1) : 0;
        if (!close || n == 0 || n >= sizeof addr)
            return LISTEN_FORM;
        memcpy(addr, v + 1, n);
        addr[n] = '\0';
        if (inet_pton(AF_INET6, addr, &a6) != 1)
            return "not an IPv6 address in the brackets; " LISTEN_FORM;
        if (close[1] != ':')
            return LISTEN_FORM;
        colon = close + 1;
    } else {
        colon = strrchr(v, ':');
        if (!colon || colon == v)
            return LISTEN_FORM;
        if (memchr(v, ':', (size_t)(colon - v)))
            return "an IPv6 address goes in brackets; " LISTEN_FORM;
    }
    return port_valid(colon + 1, strlen(colon + 1)) ? NULL : LISTEN_FORM;
}

static const char *check_not_empty(const char *v)
{
    return *v ? NULL : "must not be empty";
}

/* http(s)://HOST[:PORT][/PATH...]: the links we hand out and the
 * webhook we call are absolute HTTP URLs; anything else (a typo, a
 * relative path, ftp://) would only show up later as broken links. */
static const char *check_http_url(const char *v)
{
    static const char form[] = "expected an http:// or https:// URL with a host";
    if (!*v)
        return NULL; /* unset */
    const char *rest = !strncasecmp(v, "http://", 7)    ? v + 7
                       : !strncasecmp(v, "https://", 8) ? v + 8
                                                        : NULL;
    if (!rest || has_space_or_control(v))
        return form;
    size_t auth_len = strcspn(rest, "/?#");
    const char *at = memchr(rest, '@', auth_len);
    const char *host = at ? at + 1 : rest;
    size_t host_len = auth_len - (size_t)(host - rest);
    const char *port = NULL;
    if (host_len && host[0] == '[') {
        const char *close = memchr(host, ']', host_len);
        if (!close || close == host + 1)
            return form;
        if (close + 1 < host + host_len) {
            if (close[1] != ':')
                return form;
            port = close + 2;
        }
    } else {
        port = memchr(host, ':', host_len);
        if (port == host)
            return form;
        if (port)
            port++;
    }
    if (host_len == 0 || (port && !port_valid(port, (size_t)(host + host_len - port))))
        return form;
    return NULL;
}

static const char *check_public_url(const char *v)
{
    const char *why = check_http_url(v);
    if (!why && strpbrk(v, "?#"))
        why = "expected an http:// or https:// URL without a query or fragment (paths are "
              "appended to it)";
    return why;
}

static const char *check_webhook_url(const char *v)
{
    return check_http_url(v);
}

/* The forms ticket_store_open_url takes (store/ticket_store.c); checked
 * here too so that a typo is a usage error naming the setting rather
 * than "cannot open the ticket database". */
static const char *check_database_url(const char *v)
{
    if (!*v || !strncmp(v, "postgres://", 11) || !strncmp(v, "postgresql://", 13) || strchr(v, '='))
        return NULL;
    if (!strncmp(v, "sqlite:", 7))
        return v[7] ? NULL : "expected sqlite:PATH with a file name";
    return "expected postgresql://..., a PostgreSQL conninfo (host=... dbname=...) or "
           "sqlite:PATH";
}

static const char *check_algorithm(const char *v)
{
    if (!*v || !strcasecmp(v, "HS256") || !strcasecmp(v, "RS256") || !strcasecmp(v, "ES256"))
        return NULL;
    return "expected HS256, RS256 or ES256";
}

/* Every entry an IP address, and no more than the server keeps: an
 * entry dropped would leave the clients behind that proxy all sharing its
 * address (one rate-limit bucket). */
static const char *check_trusted_proxies(const char *v)
{
    static const char *const sep = ", \t";
    size_t n = 0;
    for (const char *p = v + strspn(v, sep); *p; p += strspn(p, sep)) {
        size_t len = strcspn(p, sep);
        char addr[INET6_ADDRSTRLEN];
        unsigned char bin[16];
        if (len >= sizeof addr)
            return "expected IP addresses (no names, ports or CIDR ranges), separated by commas";
        memcpy(addr, p, len);
        addr[len] = '\0';
        if (inet_pton(AF_INET, addr, bin) != 1 && inet_pton(AF_INET6, addr, bin) != 1)
            return "expected IP addresses (no names, ports or CIDR ranges), separated by commas";
        if (++n > SERVER_CONFIG_MAX_TRUSTED_PROXIES)
            return "at most 16 addresses";
        p += len;
    }
    return NULL;
}

/* Sets k from text. On LOGSHARE_EINVAL, *why (when the key has a rule
 * of its own) says what was expected; NULL for a plain bad value. */
static int set_value(server_config *c, const struct key_def *k, const char *value, const char **why)
{
    void *field = (char *)c + k->offset;
    *why = NULL;
    if (k->type == KEY_STRING) {
        if (k->check && (*why = k->check(value)))
            return LOGSHARE_EINVAL;
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
static const char *value_problem(int rc, const char *why)
{
    if (why)
        return why;
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
    const char *why;
    if (!k)
        return LOGSHARE_ENOENT;
    return set_value(c, k, value, &why);
}

int server_config_defaults(server_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NKEYS; i++) {
        const char *why;
        if (keys[i].def) {
            int rc = set_value(c, &keys[i], keys[i].def, &why);
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

#define UTF8_BOM "\xEF\xBB\xBF"

static int load_ini(server_config *c, const char *path, char *err, size_t err_size)
{
    char *text;
    size_t len;
    int rc = ls_fs_read_file(path, 1 << 20, &text, &len);
    if (rc) {
        snprintf(err, err_size, "cannot read config %s: %s", path, logshare_strerror(rc));
        return LOGSHARE_EINVAL;
    }
    /* Windows editors start UTF-8 files with a byte order mark. */
    char *start = len >= 3 && !memcmp(text, UTF8_BOM, 3) ? text + 3 : text;
    /* The line each key was set on: a key given twice would otherwise
     * silently keep the last value, whichever of the two was meant. */
    int set_on[NKEYS] = {0};
    char section[64] = "";
    int lineno = 0;
    rc = 0;
    for (char *line = start, *next; line && *line; line = next) {
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
        size_t ki = (size_t)(k - keys);
        if (set_on[ki]) {
            snprintf(err, err_size, "%s:%d: %s is given twice (first on line %d)", path, lineno,
                     key, set_on[ki]);
            rc = LOGSHARE_EINVAL;
            break;
        }
        set_on[ki] = lineno;
        const char *why;
        if ((rc = set_value(c, k, value, &why))) {
            snprintf(err, err_size, "%s:%d: %s = '%.200s': %s", path, lineno, key, value,
                     value_problem(rc, why));
            rc = LOGSHARE_EINVAL;
            break;
        }
    }
    free(text);
    return rc;
}

/* LOGSHARE_<SECTION>_<KEY> of keys[i], upper case. */
static void env_name(size_t i, char *var, size_t cap)
{
    snprintf(var, cap, "LOGSHARE_%s_%s", keys[i].section, keys[i].name);
    for (char *p = var; *p; p++)
        *p = (char)toupper((unsigned char)*p);
}

static int load_env(server_config *c, char *err, size_t err_size)
{
    for (size_t i = 0; i < NKEYS; i++) {
        char var[128];
        env_name(i, var, sizeof var);
        const char *v = getenv(var);
        const char *why = NULL;
        int rc = v ? set_value(c, &keys[i], v, &why) : 0;
        if (rc) {
            snprintf(err, err_size, "%s='%.200s': %s", var, v, value_problem(rc, why));
            return LOGSHARE_EINVAL;
        }
    }
    return 0;
}

/* 1 when name (up to '=') is LOGSHARE_<SECTION>_... for one of our
 * sections, in any case: the shape of a server setting. Other LOGSHARE_
 * variables (LOGSHARE_TOKEN for the CLI, LOGSHARE_CONFIG) are not. */
static int env_looks_like_setting(const char *name, size_t n)
{
    if (n < 9 || strncasecmp(name, "LOGSHARE_", 9) != 0)
        return 0;
    for (size_t i = 0; i < NKEYS; i++) {
        size_t sl = strlen(keys[i].section);
        if (n > 9 + sl + 1 && !strncasecmp(name + 9, keys[i].section, sl) && name[9 + sl] == '_')
            return 1;
    }
    return 0;
}

void server_config_warn_env(char **envp, FILE *out)
{
    for (char **e = envp ? envp : environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
        if (!env_looks_like_setting(*e, n))
            continue;
        int known = 0;
        for (size_t i = 0; i < NKEYS && !known; i++) {
            char var[128];
            env_name(i, var, sizeof var);
            known = strlen(var) == n && !memcmp(var, *e, n);
        }
        if (!known)
            fprintf(out,
                    "logshared: warning: ignoring %.*s: not a setting (the environment names "
                    "settings LOGSHARE_<SECTION>_<KEY> in upper case; see --help)\n",
                    (int)(n > 200 ? 200 : n), *e);
    }
}

/* [tracker]: numbers with a range of their own, named in the message. */
static int check_tracker(const server_config *c, char *err, size_t err_size)
{
    const char *key = NULL;
    if (c->tracker_timeout_ms < 1 || c->tracker_timeout_ms > INT32_MAX)
        key = "tracker.timeout_ms (--tracker-timeout-ms) must be 1 to 2147483647";
    else if (c->tracker_retry_initial_ms < 1 || c->tracker_retry_initial_ms > INT32_MAX)
        key = "tracker.retry_initial_ms (--tracker-retry-initial-ms) must be 1 to 2147483647";
    else if (c->tracker_retry_max_ms < c->tracker_retry_initial_ms ||
             c->tracker_retry_max_ms > INT32_MAX)
        key = "tracker.retry_max_ms (--tracker-retry-max-ms) must be at least "
              "tracker.retry_initial_ms and at most 2147483647";
    else if (c->tracker_max_attempts < 1 || c->tracker_max_attempts > 1000)
        key = "tracker.max_attempts (--tracker-max-attempts) must be 1 to 1000";
    if (key)
        snprintf(err, err_size, "%s", key);
    return key ? LOGSHARE_EINVAL : 0;
}

/* Settings that are each fine alone but not together. */
static int check_combinations(const server_config *c, char *err, size_t err_size)
{
    if (check_tracker(c, err, err_size))
        return LOGSHARE_EINVAL;
    if ((c->tls_cert == NULL) != (c->tls_key == NULL)) {
        snprintf(err, err_size, "--tls-cert and --tls-key go together");
        return LOGSHARE_EINVAL;
    }
    if (c->max_files < 1 || c->max_fields < 1 || c->max_body_bytes < 1 || c->max_file_bytes < 1) {
        snprintf(err, err_size, "limits must be at least 1");
        return LOGSHARE_EINVAL;
    }
    if (c->auth_algorithm && strcasecmp(c->auth_algorithm, "HS256") != 0 &&
        !c->auth_public_key_file) {
        snprintf(err, err_size,
                 "auth.algorithm %s needs auth.public_key_file (--auth-public-key-file FILE, "
                 "LOGSHARE_AUTH_PUBLIC_KEY_FILE): the PEM public key tokens are checked with",
                 c->auth_algorithm);
        return LOGSHARE_EINVAL;
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
        const struct key_def *k = find_key(name);
        const char *why = NULL;
        if (!k) {
            snprintf(err, err_size, "unknown option '--%s' (try --help)", name);
            return LOGSHARE_EINVAL;
        }
        if ((rc = set_value(c, k, value, &why))) {
            snprintf(err, err_size, "--%s '%.200s': %s", name, value, value_problem(rc, why));
            return LOGSHARE_EINVAL;
        }
    }
    return check_combinations(c, err, err_size);
}

/* One line a key: its flag (auth keys by their "auth-" form, which says
 * where they belong), section, help, and "(default X)" only for a real
 * default, so tests/server/docs_settings.sh can compare it with
 * docs/server.md. */
void server_config_print_keys(FILE *out)
{
    fprintf(out, "Settings (INI [section] key, env LOGSHARE_<SECTION>_<KEY>, flag --key-name):\n");
    for (size_t i = 0; i < NKEYS; i++) {
        char flag[96];
        /* [tracker] shares webhook_* names with [push], which owns the
         * bare flags: its flags always carry the section. */
        int prefixed = !strcmp(keys[i].section, "auth") || !strcmp(keys[i].section, "tracker");
        snprintf(flag, sizeof flag, "--%s%s%s", prefixed ? keys[i].section : "",
                 prefixed ? "-" : "", keys[i].name);
        for (char *p = flag; *p; p++)
            if (*p == '_')
                *p = '-';
        fprintf(out, "  %-30s [%s] %s%s%s%s\n", flag, keys[i].section, keys[i].help,
                keys[i].def ? " (default " : "", keys[i].def ? keys[i].def : "",
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
