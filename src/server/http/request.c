/*
 * request.c - the life of one request inside the HTTP layer (http.h):
 * the access handler libmicrohttpd calls for headers, body pieces and the
 * end, the completed callback, the checks made before any handler runs,
 * the client address (X-Forwarded-For from trusted proxies only), the
 * request id and the one structured log line per request.
 *
 * MHD calls the access handler first with the headers, then once per
 * piece of body, then once with *upload_data_size == 0. A response can be
 * queued only on the first or the last of these (PITFALLS), so:
 *  - everything decidable from the headers (route, Transfer-Encoding,
 *    Content-Length limit, duplicate Content-Length, field names and
 *    values that could frame a body differently for a proxy, Host, rate
 *    limits, auth, a %00 in the target, a query cut by http_on_uri) is
 *    decided on the first call. The answer is
 *    queued then only when the request declares a body (refused before
 *    it is read; MHD closes the connection after such an answer);
 *    without a body it is held for the last call, where MHD keeps the
 *    connection alive;
 *  - a body error (malformed multipart, a file over the limit) marks the
 *    request failed; the rest of the body is drained (bounded by the
 *    body limit) and the error is answered on the last call;
 *  - a chunked body that crosses the body limit, or a body slower than
 *    min_body_rate, is cut: return MHD_NO, the connection closes with no
 *    status. The log line says status=0 and why. A body that stops
 *    arriving is cut by the watchdog (server.c), which shuts the socket
 *    down; the completed callback then logs it as cut.
 * The completed callback runs for every request, finished or not, and
 * is where cleanup (abort partial uploads), the log line and metrics
 * happen.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "http/http.h"
#include "http/ratelimit.h"
#include "http/router.h"
#include "http/server_internal.h"
#include "logshare.h"
#include "ls_hex.h"
#include "ls_time.h"

/* ---- small helpers ------------------------------------------------- */

const char *http_header(http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

struct header_count {
    const char *name;
    int n;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    (void)value;
    struct header_count *c = cls;
    if (strcasecmp(key, c->name) == 0)
        c->n++;
    return MHD_YES;
}

int http_header_count(http_request *req, const char *name)
{
    struct header_count c = {name, 0};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, count_header, &c);
    return c.n;
}

const char *http_query(http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

int http_rate_limit_user(http_request *req, const char *user_id, int *retry_after_s)
{
    snprintf(req->user_id, sizeof req->user_id, "%.*s", (int)sizeof req->user_id - 1, user_id);
    return ratelimit_take(req->server->rl_user, user_id, ls_time_mono_ns(), retry_after_s);
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

/* The headers that frame a body, from one pass over them. */
#define TE_MAX_BYTES 256 /* "chunked" with room for a few codings */

#define NAME_QUOTE_MAX 40 /* of a refused field name, in the error message */

struct framing {
    int cl_lines;              /* Content-Length header lines */
    const char *cl_value;      /* the first one's value */
    int te_lines;              /* Transfer-Encoding header lines */
    int te_oversized;          /* their values did not fit in te */
    int te_has_chunked;        /* "chunked" appears in one of them */
    char te[TE_MAX_BYTES + 1]; /* every Transfer-Encoding value, in order, joined with "," */
    size_t te_len;
    /* The first field name that is not a token, or that glues something
     * onto Content-Length / Transfer-Encoding (field_name_refused). */
    const char *bad_name;
    const char *bad_value_of; /* the first field whose value holds a control character */
    int ct_lines;             /* Content-Type header lines */
    int host_lines;           /* Host header lines */
    const char *host_value;   /* the first one's value */
};

/* tchar of RFC 9110 5.6.2: what a field name is made of. */
static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int has_prefix_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* RFC 9110 5.5: CR, LF and NUL in a field value must be refused (or
 * replaced). libmicrohttpd 0.9.75 keeps a bare CR inside the value
 * ("X: a<CR>Content-Length: 5" is one field X), where a peer that ends
 * lines at a bare CR sees a Content-Length: refused like a bad name.
 * Other controls but HTAB are refused too: no honest client sends them. */
static int field_value_refused(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; p && *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return 1;
    return 0;
}

/* libmicrohttpd 0.9.75 keeps a field name as sent up to the colon
 * ("Content-Length : 3" is a field "Content-Length " that frames
 * nothing) and appends a folded line (obs-fold) to the previous field's
 * NAME ("Content-Length:\r\n 3" becomes "Content-Length3" with an empty
 * value). Either way it reads no body where a proxy in front that trims
 * the space or unfolds the line reads one, and the body is then taken
 * as the next request: a desync (request smuggling). RFC 9112 5.1 and
 * 5.2 say to refuse both with 400. A name that is not a token is
 * refused; so is a token that starts with a framing field's name and
 * goes on, which only folding makes (no such field exists). A fold onto
 * another field ("X-A: a\r\n b" becomes "X-Ab") cannot be told from a
 * real name and frames nothing. */
static int field_name_refused(const char *key)
{
    if (!key || !*key)
        return 1;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        if (!is_tchar(*p))
            return 1;
    return (has_prefix_ci(key, MHD_HTTP_HEADER_CONTENT_LENGTH) &&
            strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) != 0) ||
           (has_prefix_ci(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) &&
            strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) != 0);
}

static enum MHD_Result scan_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    struct framing *f = cls;
    if (!f->bad_name && field_name_refused(key))
        f->bad_name = key ? key : "";
    if (!f->bad_value_of && field_value_refused(value))
        f->bad_value_of = key ? key : "";
    if (key && strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0 && f->host_lines++ == 0)
        f->host_value = value;
    if (key && strcasecmp(key, MHD_HTTP_HEADER_CONTENT_TYPE) == 0)
        f->ct_lines++;
    if (!key)
        return MHD_YES;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (f->cl_lines++ == 0)
            f->cl_value = value;
        return MHD_YES;
    }
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) != 0)
        return MHD_YES;
    f->te_lines++;
    if (value && strcasestr(value, "chunked"))
        f->te_has_chunked = 1;
    size_t n = value ? strlen(value) : 0;
    if (f->te_oversized || n + 1 > TE_MAX_BYTES - f->te_len) {
        f->te_oversized = 1;
        return MHD_YES;
    }
    if (f->te_len)
        f->te[f->te_len++] = ',';
    memcpy(f->te + f->te_len, value ? value : "", n);
    f->te_len += n;
    f->te[f->te_len] = '\0';
    return MHD_YES;
}

static void framing_scan(http_request *req, struct framing *f)
{
    memset(f, 0, sizeof *f);
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, scan_framing, f);
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* libmicrohttpd 0.9.75 decodes a body as chunked only when the one
 * Transfer-Encoding value is "chunked" (any case); with anything else it
 * waits for a body it cannot frame and the client hangs. So everything
 * else is refused from the headers (RFC 9112 6.1, 6.3), and the
 * connection closed after the answer: the body's framing is unknown.
 * 400 when chunked is not the final coding, is applied twice or has
 * parameters; 501 for a coding we do not implement (gzip, ...). */
static int check_transfer_encoding(http_request *req, const struct framing *f)
{
    if (!f->te_lines)
        return 0;
    if (f->te_lines == 1 && strcasecmp(f->te, "chunked") == 0)
        return 0;
    req->close_after = 1;
    if (f->te_oversized)
        return http_respond_error(req, LOGSHARE_EINVAL, 400, "Transfer-Encoding too long");
    size_t n = 0, n_chunked = 0;
    int last_chunked = 0;
    char unknown[64] = "";
    for (const char *e = f->te; e;) {
        const char *comma = strchr(e, ',');
        const char *end = comma ? comma : e + strlen(e);
        const char *next = comma ? comma + 1 : NULL;
        while (e < end && is_ows(*e))
            e++;
        const char *name_end = e;
        while (name_end < end && *name_end != ';')
            name_end++;
        while (name_end > e && is_ows(name_end[-1]))
            name_end--;
        size_t len = (size_t)(name_end - e);
        if (e < end) { /* empty list elements are allowed and mean nothing */
            n++;
            last_chunked = len == 7 && strncasecmp(e, "chunked", 7) == 0;
            n_chunked += (size_t)last_chunked;
            if (!last_chunked && !unknown[0])
                snprintf(unknown, sizeof unknown, "%.*s", (int)(len < 40 ? len : 40), e);
        }
        e = next;
    }
    if (n == 0)
        return http_respond_error(req, LOGSHARE_EINVAL, 400, "empty Transfer-Encoding");
    if (n_chunked && !last_chunked)
        return http_respond_error(req, LOGSHARE_EINVAL, 400,
                                  "Transfer-Encoding: chunked must be the final coding");
    if (unknown[0])
        return http_respond_error(req, LOGSHARE_EUNSUPPORTED, 501,
                                  "transfer coding '%s' is not supported (only chunked)", unknown);
    return http_respond_error(req, LOGSHARE_EINVAL, 400,
                              "Transfer-Encoding must be exactly 'chunked' (once, no parameters)");
}

/* Host = uri-host [ ":" port ] (RFC 9110 7.2, RFC 3986 3.2.2): the
 * characters of a reg-name, an IP literal in brackets, or a port. Empty
 * is allowed (a target without an authority). Anything else ("a b",
 * "x/y", "user@x") is what a proxy or the dashboard's Origin check
 * (which compares Origin with Host) might read differently. */
static int host_value_ok(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; p && *p; p++)
        if (!isalnum(*p) && !strchr("-._~!$&'()*+,;=%:[]", *p))
            return 0;
    return 1;
}

/* White space after a field value is not part of it (RFC 9112 5:
 * field-line = name ":" OWS value OWS), but libmicrohttpd 0.9.75 keeps
 * it: "Host: a " was refused as an invalid Host, and the dashboard's
 * Origin check, comparing "a " with the Origin's "a", refused the login.
 * The one Host value is cut in place, so every reader sees "a" (it lives
 * in MHD's writable read buffer, handed over as const; MHD itself only
 * asks whether a Host is there). */
static void trim_host(const struct framing *f)
{
    if (f->host_lines != 1 || !f->host_value)
        return;
    char *v = (char *)f->host_value;
    size_t n = strlen(v);
    while (n && is_ows(v[n - 1]))
        n--;
    if (v[n])
        v[n] = '\0';
}

/* RFC 9112 3.2: a server MUST answer 400 to an HTTP/1.1 request without
 * a Host header, with more than one, or with an invalid one.
 * libmicrohttpd 0.9.75 checks this only in its strict mode, whose own
 * error answers come with their status line sent twice; so here. */
static int check_host(http_request *req, const char *version, const struct framing *f)
{
    int http11 = version && strcmp(version, MHD_HTTP_VERSION_1_1) == 0;
    trim_host(f);
    if (f->host_lines > 1)
        return http_respond_error(req, LOGSHARE_EINVAL, 400, "more than one Host header");
    if (http11 && f->host_lines == 0)
        return http_respond_error(req, LOGSHARE_EINVAL, 400,
                                  "an HTTP/1.1 request needs a Host header");
    if (f->host_lines == 1 && !host_value_ok(f->host_value))
        return http_respond_error(req, LOGSHARE_EINVAL, 400, "invalid Host header");
    return 0;
}

/* Whether the request declares a body. A request without one can be
 * answered on the last call of the access handler, which keeps the
 * connection alive; with one, an answer from the headers must go out at
 * once (the body is not read) and the connection closes. Anything
 * unclear (two Content-Length lines, "00") counts as a body. */
static int request_has_body(const struct framing *f)
{
    return f->te_lines > 0 || f->cl_lines > 1 ||
           (f->cl_lines == 1 && (!f->cl_value || strcmp(f->cl_value, "0") != 0));
}

/* One text per address, so that comparisons, buckets and logs agree: an
 * IPv4-mapped IPv6 address (how a socket listening on [::] sees IPv4
 * peers) is written as IPv4, IPv6 in its short lowercase form. 0, or -1
 * when text is not an IP address. */
static int canonical_ip(const char *text, char *out, size_t cap)
{
    unsigned char b[16];
    if (inet_pton(AF_INET, text, b) == 1)
        return inet_ntop(AF_INET, b, out, (socklen_t)cap) ? 0 : -1;
    if (inet_pton(AF_INET6, text, b) != 1)
        return -1;
    if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)b))
        return inet_ntop(AF_INET, b + 12, out, (socklen_t)cap) ? 0 : -1;
    return inet_ntop(AF_INET6, b, out, (socklen_t)cap) ? 0 : -1;
}

static int addr_to_text(const struct sockaddr *sa, char *out, size_t cap)
{
    char raw[INET6_ADDRSTRLEN];
    if (!sa)
        return -1;
    if (sa->sa_family == AF_INET)
        return inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap)
                   ? 0
                   : -1;
    if (sa->sa_family == AF_INET6 &&
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, raw, sizeof raw))
        return canonical_ip(raw, out, cap);
    return -1;
}

/* addr is canonical (canonical_ip); the configured proxies may be in any
 * form of their addresses. */
static int is_trusted_proxy(const struct http_server *s, const char *addr)
{
    char proxy[INET6_ADDRSTRLEN];
    for (size_t i = 0; i < s->n_proxies; i++)
        if (canonical_ip(s->proxies[i], proxy, sizeof proxy) == 0 && strcmp(proxy, addr) == 0)
            return 1;
    return 0;
}

int http_valid_ip(const char *text)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, text, buf) == 1 || inet_pton(AF_INET6, text, buf) == 1;
}

/* X-Forwarded-For as the proxies sent it: every header line in order,
 * joined with ",". A proxy may append its hop to the client's own line or
 * add a line of its own, so only the whole list in order can be read from
 * the right. */
#define XFF_MAX_BYTES 8192 /* more than any honest proxy chain */

struct xff_join {
    char buf[XFF_MAX_BYTES + 1];
    size_t len;
    int oversized;
};

static enum MHD_Result join_xff(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    (void)kind;
    struct xff_join *j = cls;
    if (strcasecmp(key, "X-Forwarded-For") != 0 || j->oversized)
        return MHD_YES;
    size_t n = value ? strlen(value) : 0;
    size_t need = n + (j->len ? 1 : 0);
    if (need > XFF_MAX_BYTES - j->len) {
        j->oversized = 1; /* never cut: the right end is the part to trust */
        return MHD_YES;
    }
    if (j->len)
        j->buf[j->len++] = ',';
    memcpy(j->buf + j->len, value ? value : "", n);
    j->len += n;
    j->buf[j->len] = '\0';
    return MHD_YES;
}

/* The client address: the peer, unless the peer is a trusted proxy; then
 * the rightmost X-Forwarded-For entry that is not itself a trusted proxy
 * (entries further left are the client's own claims). A list too long or
 * with an entry that is not an address (empty, a port, garbage) between
 * the right end and the client leaves the peer: nothing in it can be
 * trusted once it is known to be mangled. */
static void resolve_client(http_request *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || addr_to_text(ci->client_addr, req->client_addr, sizeof req->client_addr))
        snprintf(req->client_addr, sizeof req->client_addr, "unknown");
    if (!is_trusted_proxy(req->server, req->client_addr))
        return;
    struct xff_join *j = malloc(sizeof *j);
    if (!j)
        return; /* the peer it is */
    j->len = 0;
    j->oversized = 0;
    j->buf[0] = '\0';
    int n_lines = MHD_get_connection_values(req->conn, MHD_HEADER_KIND, join_xff, j);
    if (n_lines <= 0 || j->oversized || j->len == 0) {
        free(j);
        return;
    }
    char client[sizeof req->client_addr];
    client[0] = '\0';
    char *end = j->buf + j->len;
    for (;;) {
        char *start = end;
        while (start > j->buf && start[-1] != ',')
            start--;
        char *a = start, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        size_t n = (size_t)(b - a);
        if (n == 0 || n >= sizeof client) {
            client[0] = '\0'; /* malformed: fall back to the peer */
            break;
        }
        char entry[sizeof client];
        memcpy(entry, a, n);
        entry[n] = '\0';
        if (canonical_ip(entry, client, sizeof client) != 0) {
            client[0] = '\0';
            break;
        }
        if (!is_trusted_proxy(req->server, client) || start == j->buf)
            break;
        end = start - 1; /* the comma before this entry */
    }
    free(j);
    if (client[0])
        memcpy(req->client_addr, client, strlen(client) + 1);
}

static void make_request_id(http_request *req)
{
    const char *given = http_header(req, "X-Request-Id");
    if (given) {
        size_t n = strlen(given);
        int ok = n >= 8 && n < sizeof req->id;
        for (size_t i = 0; ok && i < n; i++)
            ok = (given[i] >= '0' && given[i] <= '9') || (given[i] >= 'a' && given[i] <= 'z') ||
                 (given[i] >= 'A' && given[i] <= 'Z') || given[i] == '-' || given[i] == '_';
        if (ok) {
            memcpy(req->id, given, n + 1);
            return;
        }
    }
    unsigned char rnd[8];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        static uint64_t counter;
        uint64_t c = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
        memcpy(rnd, &c, sizeof rnd);
    }
    ls_hex_encode(rnd, sizeof rnd, req->id);
}

struct conn_track *http_track_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

size_t http_unescape_target(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    for (const char *p = s; (p = strchr(p, '%')) != NULL; p++) {
        if (p[1] == '0' && p[2] == '0') {
            struct conn_track *t = http_track_of(conn);
            if (t)
                t->nul_in_target = 1;
            break;
        }
    }
    return MHD_http_unescape(s);
}

/* More query parameters than any endpoint takes (each takes a handful,
 * and a parameter given twice is refused anyway). */
#define HTTP_MAX_QUERY_PARAMS 64

/* libmicrohttpd 0.9.75 stores each query parameter in the connection's
 * memory pool (connection_memory_bytes), next to the read buffer that
 * holds the request line, before calling us. When they do not fit (a
 * few thousand short ones, "a=b&" repeated in 12 KiB; or a handful after
 * a target of nearly the pool's size) its own 431 cannot be made either:
 * the client waited for header_timeout_s and got no answer. This
 * callback sees the request line first (MHD_OPTION_URI_LOG_CALLBACK),
 * before the parameters are parsed. A query with too many parameters,
 * or in a target longer than half the pool (nginx refuses targets over
 * 8 KiB), is cut to nothing in place (the line is MHD's writable read
 * buffer, handed over as const; MHD reads the parameters from it only
 * after this returns) and the request is answered 400 or 414
 * (begin_request). A target without a query needs no record: libmicrohttpd
 * answers one too long itself (414/431). */
void *http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_server *s = cls;
    char *q = uri ? strchr(uri, '?') : NULL;
    if (!q)
        return NULL;
    size_t n = 1;
    for (const char *p = q + 1; *p; p++)
        n += *p == '&';
    size_t half_pool = (size_t)s->cfg->connection_memory_bytes / 2;
    int cut = n > HTTP_MAX_QUERY_PARAMS ? QUERY_CUT_MANY
              : strlen(uri) > half_pool ? QUERY_CUT_LONG
                                        : 0;
    if (!cut)
        return NULL;
    q[1] = '\0';
    struct conn_track *t = http_track_of(conn);
    if (t)
        t->query_cut = cut;
    return NULL; /* *req_cls stays NULL: http_on_access makes the request */
}

/* RFC 9112 3.2.2: a server must accept a target in absolute form
 * ("GET http://host/api/v1/tickets", as sent to a proxy); the path is
 * what follows the authority ("/" when nothing does). */
static const char *origin_form(const char *url)
{
    const char *rest = NULL;
    if (strncasecmp(url, "http://", 7) == 0)
        rest = url + 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        rest = url + 8;
    if (!rest)
        return url;
    const char *slash = strchr(rest, '/');
    return slash ? slash : "/";
}

/* ---- the log line -------------------------------------------------- */

/* Copies s into out with anything not plainly printable %-escaped, so a
 * hostile path cannot forge log lines or fields. */
static void log_safe(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; s && *s && o + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c > 32 && c < 127 && c != '"' && c != '\\' && c != '%')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
    }
    out[o] = '\0';
}

static void log_request(http_request *req, const char *outcome)
{
    char path[256], user[128], method[64], ts[LS_TIME_RFC3339_LEN], err[256];
    log_safe(req->path, path, sizeof path);
    log_safe(req->method, method, sizeof method); /* any token: "GE\"T", raw bytes */
    log_safe(req->user_id[0] ? req->user_id : "-", user, sizeof user);
    ls_time_format_rfc3339(ls_time_now_us(), 1, ts);
    double ms = (double)(ls_time_mono_ns() - req->start_ns) / 1e6;
    err[0] = '\0';
    if (req->fail_message[0]) {
        char m[200];
        snprintf(m, sizeof m, "%.*s", (int)sizeof m - 1, req->fail_message);
        for (char *p = m; *p; p++)
            if (*p == '"' || *p == '\\' || (unsigned char)*p < 32)
                *p = '\''; /* a '\\' at the end would escape the closing quote */
        snprintf(err, sizeof err, " error=\"%s\"", m);
    }
    fprintf(stderr,
            "ts=%s level=info msg=request id=%s method=%s route=%s path=%s status=%u "
            "bytes_in=%llu bytes_out=%llu duration_ms=%.2f addr=%s user=%s outcome=%s%s\n",
            ts, req->id, method, req->route_name ? req->route_name : "-", path, req->status,
            (unsigned long long)req->bytes_in, (unsigned long long)req->bytes_out, ms,
            req->client_addr, user, outcome, err);
}

/* ---- request lifecycle --------------------------------------------- */

/* The route for the request, looked up before any refusal so that a
 * 429 or 405 is counted under the route the path names. */
static enum router_result find_route(http_request *req, const char *url, const http_route **route)
{
    struct http_server *s = req->server;
    enum router_result rr = router_match(s->routes, s->n_routes, req->method, url, req, route);
    const http_route *owner = rr == ROUTER_FOUND ? *route
                              : rr == ROUTER_NO_METHOD
                                  ? router_path_owner(s->routes, s->n_routes, url, req)
                                  : NULL;
    req->route_name = owner ? owner->name : NULL;
    return rr;
}

static int begin_request(http_request *req, const char *url, const char *version, int nul_in_target,
                         int query_cut, const struct framing *f)
{
    struct http_server *s = req->server;
    resolve_client(req);
    const http_route *route = NULL;
    /* a %00 cut the path short: what is left must not name a route */
    enum router_result rr = nul_in_target ? ROUTER_NO_PATH : find_route(req, url, &route);
    int retry = 0;
    char addr_key[RATELIMIT_ADDRESS_KEY_MAX];
    ratelimit_address_key(req->client_addr, addr_key, sizeof addr_key);
    if (ratelimit_take(s->rl_addr, addr_key, ls_time_mono_ns(), &retry))
        return http_respond_rate_limited(req, retry);
    if (nul_in_target)
        return http_respond_error(req, LOGSHARE_EINVAL, 400,
                                  "the request target contains %%00 (a NUL byte)");
    if (query_cut == QUERY_CUT_MANY)
        return http_respond_error(req, LOGSHARE_EINVAL, 400, "more than %d query parameters",
                                  HTTP_MAX_QUERY_PARAMS);
    if (query_cut == QUERY_CUT_LONG)
        return http_respond_error(req, LOGSHARE_EINVAL, MHD_HTTP_URI_TOO_LONG,
                                  "request target with a query over %lld bytes",
                                  (long long)s->cfg->connection_memory_bytes / 2);
    if (f->bad_name) {
        req->close_after = 1; /* it may have been meant to frame a body */
        return http_respond_error(req, LOGSHARE_EINVAL, 400,
                                  "invalid header field name '%.*s' (whitespace before the colon, "
                                  "or a folded line?)",
                                  NAME_QUOTE_MAX, f->bad_name);
    }
    if (f->bad_value_of) {
        req->close_after = 1; /* a bare CR may end a line for a proxy in front */
        return http_respond_error(req, LOGSHARE_EINVAL, 400,
                                  "header field '%.*s' has a control character in its value",
                                  NAME_QUOTE_MAX, f->bad_value_of);
    }
    if (f->te_lines && version && strcmp(version, MHD_HTTP_VERSION_1_1) != 0) {
        /* RFC 9112 6.1: in HTTP/1.0 the framing is then faulty (a 1.0
         * peer knows no chunked and reads the body differently); nginx
         * refuses it the same way */
        req->close_after = 1;
        return http_respond_error(req, LOGSHARE_EINVAL, 400,
                                  "Transfer-Encoding in an HTTP/1.0 request");
    }
    int rc = check_transfer_encoding(req, f);
    if (rc || req->status)
        return rc;
    if (f->cl_lines > 1)
        return http_respond_error(req, LOGSHARE_EINVAL, 400, "more than one Content-Length header");
    if (f->cl_lines == 1 && f->te_has_chunked)
        return http_respond_error(req, LOGSHARE_EINVAL, 400,
                                  "both Content-Length and Transfer-Encoding: chunked");
    req->content_length = UINT64_MAX;
    if (f->cl_lines == 1 && parse_u64(f->cl_value, &req->content_length))
        return http_respond_error(req, LOGSHARE_EINVAL, 400, "bad Content-Length");
    rc = check_host(req, version, f);
    if (rc || req->status)
        return rc;

    if (rr == ROUTER_NO_PATH)
        return http_respond_error(req, LOGSHARE_ENOENT, 404, "no such endpoint: %s %s", req->method,
                                  url);
    if (rr == ROUTER_NO_METHOD) {
        char allow[128];
        router_allowed(s->routes, s->n_routes, url, req, allow, sizeof allow);
        return http_respond_error_code(
            req, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", MHD_HTTP_HEADER_ALLOW, allow,
            "method %s not allowed here (allowed: %s)", req->method, allow);
    }
    req->route = route;
    /* Content-Type is a singleton (RFC 9110 8.3): of two, the handlers
     * read the first (a multipart boundary, the media type), a proxy or
     * filter in front may have checked the other. */
    if (f->ct_lines > 1)
        return http_respond_error(req, LOGSHARE_EINVAL, 400, "more than one Content-Type header");

    uint64_t limit = 0;
    if (req->route->flags & HTTP_ROUTE_UPLOAD)
        limit = (uint64_t)s->cfg->max_body_bytes;
    else if (req->route->flags & HTTP_ROUTE_JSON_BODY)
        limit = (uint64_t)s->cfg->max_json_bytes;
    if (req->content_length != UINT64_MAX && req->content_length > limit)
        return http_respond_error(
            req, LOGSHARE_ETOOLARGE, 413, "request body of %llu bytes is over the limit of %llu",
            (unsigned long long)req->content_length, (unsigned long long)limit);
    return req->route->ops.begin ? req->route->ops.begin(req) : 0;
}

/* ---- the body's rate (min_body_rate) -------------------------------- */

/* The most body a refusal from the headers waits for (drain_then_answer) */
#define DRAIN_MAX_BYTES (64u << 20)
#define DRAIN_MAX_S 30 /* then cut, as nginx's lingering_time */

/* From the end of the headers, when a body is to be read: the watchdog
 * measures it from then on, data or not. */
static void body_watch_start(http_request *req)
{
    int64_t now = ls_time_mono_ns();
    req->body_start_ns = now;
    struct conn_track *t = req->track;
    if (!t)
        return;
    pthread_mutex_lock(&req->server->conn_lock);
    t->body_watch = 1;
    t->body_start_ns = now;
    t->body_bytes = 0;
    pthread_mutex_unlock(&req->server->conn_lock);
}

/* Tells the watchdog how much body came (stop: and to watch no more, the
 * body is complete or being cut here). Returns 1 when the watchdog has
 * already cut the connection for its rate. */
static int body_watch_update(http_request *req, int stop)
{
    struct conn_track *t = req->track;
    if (!t)
        return 0;
    pthread_mutex_lock(&req->server->conn_lock);
    t->body_bytes = req->bytes_in;
    if (stop)
        t->body_watch = 0;
    int slow = t->slow_cut;
    pthread_mutex_unlock(&req->server->conn_lock);
    return slow;
}

static void set_slow_message(http_request *req)
{
    snprintf(req->fail_message, sizeof req->fail_message,
             "body slower than %lld bytes/s: connection cut",
             (long long)req->server->cfg->min_body_rate);
}

/* Returns 0 to go on, or -1 to cut the connection. */
static int body_piece(http_request *req, const char *data, size_t len)
{
    struct http_server *s = req->server;
    const http_route *rt = req->route;
    int64_t now = ls_time_mono_ns();
    if (!req->body_start_ns)
        req->body_start_ns = now;
    req->bytes_in += len;
    http_metrics_bytes_received(s->metrics, len);
    uint64_t limit = (rt && (rt->flags & HTTP_ROUTE_UPLOAD))      ? (uint64_t)s->cfg->max_body_bytes
                     : (rt && (rt->flags & HTTP_ROUTE_JSON_BODY)) ? (uint64_t)s->cfg->max_json_bytes
                                                                  : 0;
    if (body_watch_update(req, 0)) {
        set_slow_message(req); /* the watchdog cut it and counted it */
        return -1;
    }
    if (req->bytes_in > limit) {
        body_watch_update(req, 1);
        snprintf(req->fail_message, sizeof req->fail_message,
                 "body over the limit of %llu bytes: connection cut", (unsigned long long)limit);
        http_metrics_cut(s->metrics, "body_limit");
        return -1;
    }
    double elapsed = (double)(now - req->body_start_ns) / 1e9;
    if (s->cfg->min_body_rate > 0 && elapsed > (double)s->cfg->min_body_rate_grace_s &&
        (double)req->bytes_in < (double)s->cfg->min_body_rate * elapsed) {
        body_watch_update(req, 1);
        set_slow_message(req);
        http_metrics_cut(s->metrics, "slow_body");
        return -1;
    }
    if (req->status && !req->failed && elapsed > DRAIN_MAX_S) {
        /* a refusal waiting for its body (drain_then_answer): a client
         * that trickles it at min_body_rate must not hold the connection
         * for hours to be told 401 */
        body_watch_update(req, 1);
        snprintf(req->fail_message, sizeof req->fail_message,
                 "refused request's body still coming after %d s: connection cut", DRAIN_MAX_S);
        http_metrics_cut(s->metrics, "refused_body");
        return -1;
    }
    if (req->status || req->failed)
        return 0; /* draining */
    if (rt->flags & HTTP_ROUTE_JSON_BODY) {
        char *nb = realloc(req->body, req->body_len + len + 1);
        if (!nb) {
            req->failed = LOGSHARE_ENOMEM;
            return 0;
        }
        memcpy(nb + req->body_len, data, len);
        req->body = nb;
        req->body_len += len;
        req->body[req->body_len] = '\0';
        return 0;
    }
    if (!rt->ops.body) {
        req->failed = LOGSHARE_ETOOLARGE;
        snprintf(req->fail_message, sizeof req->fail_message, "this endpoint takes no body");
        return 0;
    }
    int rc = rt->ops.body(req, data, len);
    if (rc && !req->failed) {
        req->failed = rc;
        if (!req->fail_message[0])
            snprintf(req->fail_message, sizeof req->fail_message, "%.*s",
                     (int)sizeof req->fail_message - 1, logshare_strerror(rc));
    }
    return 0;
}

/* Queues the response held since the first call or a worker's answer. */
static enum MHD_Result queue_held(http_request *req)
{
    struct MHD_Response *r = req->held_response;
    req->held_response = NULL;
    if (!r)
        return MHD_NO;
    enum MHD_Result ok = MHD_queue_response(req->conn, req->status, r);
    MHD_destroy_response(r);
    return ok;
}

static void track_request_start(http_request *req)
{
    struct conn_track *t = req->track;
    if (!t)
        return;
    pthread_mutex_lock(&req->server->conn_lock);
    t->in_request = 1;
    t->body_done = 0;
    t->body_watch = 0;
    t->slow_cut = 0;
    pthread_mutex_unlock(&req->server->conn_lock);
}

/* The first call: headers only. libmicrohttpd's convention is to answer
 * on the last call (*upload_data_size == 0); a response queued now makes
 * it skip the body and close the connection. So an answer from the
 * headers is held for the last call when the request has no body (keep-
 * alive for GET, HEAD, DELETE), or when its body is to be drained first
 * (drain_then_answer), and queued now only to refuse a body before
 * reading it (413, a refusal before the route is known, a client waiting
 * on Expect: 100-continue: those close). */

/* Whether an answer made from the headers waits for the body, read and
 * dropped. A client that did not send "Expect: 100-continue" sends its
 * body anyway; closing with it unread makes the kernel reset the
 * connection, which can throw the answer away before the client reads it
 * (a 429 whose Retry-After is never seen, a 401 taken for a network
 * error, and a blind retry). Only a declared body up to DRAIN_MAX_BYTES,
 * for DRAIN_MAX_S at most (body_piece), at min_body_rate at least: a
 * refused client cannot make the server read more than that for nothing. Not for a 413 (the body is
 * what is too big), a chunked body (no declared size), a framing in doubt (close_after), or a
 * refusal before a route is known (the per-address limit, 404, 405: a flood is closed at once). */

static int drain_then_answer(http_request *req)
{
    if (!req->route || req->close_after || req->status == 413 ||
        req->content_length > DRAIN_MAX_BYTES)
        return 0;
    const char *expect = http_header(req, "Expect");
    return !(expect && strcasecmp(expect, "100-continue") == 0);
}

static enum MHD_Result blank_expect(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)cls;
    (void)kind;
    if (key && value && strcasecmp(key, "Expect") == 0)
        ((char *)value)[0] = '\0';
    return MHD_YES;
}

/* libmicrohttpd 0.9.75 sends "100 Continue" to any HTTP/1.1 request
 * with "Expect: 100-continue", even one that declares no body (a GET,
 * Content-Length: 0); when the client's next request is already in the
 * buffer, it then refuses the answer we queue on the last call and
 * closes the connection: the client got "100 Continue" and nothing else.
 * RFC 9110 10.1.1 lets a server omit the 100 when the framing says there
 * is no content, so the field is emptied for those (in place: the value
 * lives in MHD's writable read buffer, handed over as const, and MHD
 * looks it up again after this call). */
static void no_continue_without_body(http_request *req)
{
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, blank_expect, NULL);
}

static enum MHD_Result first_call(http_request *req, const char *url, const char *version)
{
    struct conn_track *t = req->track;
    int nul = t && t->nul_in_target;
    int query_cut = t ? t->query_cut : 0;
    if (t)
        t->nul_in_target = t->query_cut = 0;
    track_request_start(req);
    struct framing f;
    framing_scan(req, &f);
    req->in_begin = 1;
    int rc = begin_request(req, url, version, nul, query_cut, &f);
    if (rc && !req->status)
        http_respond_error(req, rc, 0, "%s", logshare_strerror(rc));
    req->in_begin = 0;
    if (rc && !req->status)
        return MHD_NO; /* no answer could be made (out of memory): close */
    int has_body = request_has_body(&f);
    if (!has_body)
        no_continue_without_body(req);
    if (!req->status) {
        if (has_body)
            body_watch_start(req);
        return MHD_YES;
    }
    if (!has_body && !req->close_after)
        return MHD_YES; /* queued on the last call */
    if (drain_then_answer(req)) {
        body_watch_start(req);
        return MHD_YES; /* body_piece drops the body; queued on the last call */
    }
    return queue_held(req);
}

enum MHD_Result http_on_access(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **req_cls)
{
    struct http_server *s = cls;
    http_request *req = *req_cls;
    if (!req) {
        req = calloc(1, sizeof *req);
        if (!req)
            return MHD_NO;
        *req_cls = req;
        req->conn = conn;
        req->server = s;
        req->app = s->app;
        req->method = method;
        url = origin_form(url);
        req->path = url;
        req->start_ns = ls_time_mono_ns();
        req->track = http_track_of(conn);
        make_request_id(req);
        http_metrics_thread_request(s->metrics);
        return first_call(req, url, version);
    }
    if (*upload_data_size) {
        size_t len = *upload_data_size;
        *upload_data_size = 0;
        if (body_piece(req, upload_data, len)) {
            req->cut = 1;
            return MHD_NO;
        }
        return MHD_YES;
    }
    if (req->deferred) /* resumed after http_defer: queue what the work answered */
        return queue_held(req);
    struct conn_track *t = req->track;
    if (t) {
        pthread_mutex_lock(&s->conn_lock);
        t->body_done = 1;
        t->body_watch = 0;
        pthread_mutex_unlock(&s->conn_lock);
    }
    if (req->held_response) /* answered from the headers, no body */
        return queue_held(req);
    if (req->status)
        return MHD_YES;
    if (req->failed) {
        http_respond_error(req, req->failed, 0, "%s",
                           req->fail_message[0] ? req->fail_message
                                                : logshare_strerror(req->failed));
        return req->status ? MHD_YES : MHD_NO;
    }
    int rc = req->route->ops.end ? req->route->ops.end(req) : LOGSHARE_EINTERNAL;
    if (req->deferred)
        return MHD_YES;
    if (!req->status)
        http_respond_error(req, rc ? rc : LOGSHARE_EINTERNAL, 0, "%s",
                           logshare_strerror(rc ? rc : LOGSHARE_EINTERNAL));
    /* never leave a finished request without an answer: the client would
     * wait forever. Closing is the last resort. */
    return req->status ? MHD_YES : MHD_NO;
}

void http_on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                       enum MHD_RequestTerminationCode toe)
{
    struct http_server *s = cls;
    http_request *req = *req_cls;
    struct conn_track *t = http_track_of(conn);
    int slow_cut = 0;
    if (t) {
        pthread_mutex_lock(&s->conn_lock);
        t->in_request = 0;
        t->idle_since_ns = ls_time_mono_ns();
        slow_cut = t->slow_cut;
        t->slow_cut = 0;
        t->body_watch = 0;
        pthread_mutex_unlock(&s->conn_lock);
        t->nul_in_target = t->query_cut = 0;
    }
    if (!req)
        return;
    if (req->held_response) { /* never queued: the connection ended first */
        MHD_destroy_response(req->held_response);
        req->held_response = NULL;
    }
    if (slow_cut && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        req->cut = 1; /* the watchdog's (server.c): a body that stopped coming */
        set_slow_message(req);
    }
    int ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && req->status && !req->failed;
    if (req->route && req->route->ops.cleanup)
        req->route->ops.cleanup(req, ok);
    const char *outcome = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK      ? "done"
                          : req->cut                                      ? "cut"
                          : toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timeout"
                          : toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ? "shutdown"
                          : toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT    ? "client_abort"
                                                                          : "error";
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && !req->cut)
        req->status = req->status ? req->status : 0;
    /* Counted with the other cuts: a request that went quiet past
     * connection_timeout_s was ended by a limit too. */
    if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED && !req->cut)
        http_metrics_cut(s->metrics, "idle_timeout");
    if (strcmp(req->method, "HEAD") == 0)
        req->bytes_out = 0; /* libmicrohttpd sent the headers alone */
    log_request(req, outcome);
    http_metrics_request(s->metrics, req->route_name ? req->route_name : "unmatched",
                         toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? req->status : 0);
    free(req->body);
    free(req);
    *req_cls = NULL;
}
