/*
 * auth_cli.c - `logshared token` and `logshared user add` (see
 * auth_cli.h and SPEC "logshared (server)"). Thin: argument parsing and
 * messages here, the work in auth.c and the ticket store.
 */
#include "auth_cli.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "logshare.h"
#include "ls_fs.h"
#include "config/server_config.h"
#include "ticket_store.h"

#define DEFAULT_TTL_S 86400
#define MAX_TTL_S (10LL * 365 * 86400)
#define MIN_PASSWORD_LEN 8

static void cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("logshared: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void token_usage(FILE *out)
{
    fprintf(out,
            "usage: logshared token --data-dir DIR --user ID [--role user|support|admin]\n"
            "                       [--ttl SECONDS] [--issuer ISS] [--audience AUD]\n"
            "                       [--secret-file FILE] [--config FILE]\n\n"
            "Prints a bearer token (HS256 JWT) for user ID, signed with DIR/jwt-secret\n"
            "(created on first use).\n\n"
            "  --data-dir DIR     the server's data directory\n"
            "  --user ID          the token's subject (sub): the user id, 1 to 255 bytes of\n"
            "                     UTF-8 without control characters (what the server takes)\n"
            "  --role ROLE        user (default), support or admin\n"
            "  --ttl SECONDS      lifetime, 1 to 315360000 (ten years; default 86400)\n"
            "  --issuer ISS       iss claim; set it when the server checks the issuer\n"
            "  --audience AUD     aud claim; set it when the server checks the audience\n"
            "  --secret-file FILE the HS256 secret, when the server's auth.secret_file is set\n"
            "  --config FILE      the server's INI file (default $LOGSHARE_CONFIG)\n\n"
            "The server's settings, from --config FILE and the LOGSHARE_* variables as the\n"
            "server reads them, are the defaults: [server] data_dir for --data-dir (which\n"
            "is required when neither sets it), [auth] issuer, audience and secret_file for\n"
            "--issuer, --audience and --secret-file. With [auth] algorithm RS256 or ES256 it\n"
            "refuses (exit 2): the server then takes only tokens from the holder of the\n"
            "private key.\n");
}

/* argv[*i] is a flag that takes a value: returns it and advances, or
 * NULL when the value is missing. */
static const char *flag_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

/* The server's own settings, read as `logshared` reads them: defaults,
 * the INI file of --config (config_file, or LOGSHARE_CONFIG when NULL),
 * then the LOGSHARE_<SECTION>_<KEY> variables. A token or login made
 * here then fits the server that runs with the same file and
 * environment. 0, or 2 (a usage error, printed with cmd's name). */
static int server_settings(const char *cmd, const char *config_file, server_config *sc)
{
    char err[512] = "";
    char *av[] = {"--config", (char *)config_file};
    int rc = server_config_load(sc, config_file ? 2 : 0, av, 0, err, sizeof err);
    if (rc != 0) {
        cli_fail("%s: %s", cmd, err[0] ? err : logshare_strerror(rc));
        return 2;
    }
    return 0;
}

/* Whether the data directory was given by a setting rather than left
 * at the server's default: only then may --data-dir be left out (a
 * default "./logshare-data" would make a secret or database wherever
 * the command happens to run). */
static int data_dir_configured(const char *config_file)
{
    const char *f = getenv("LOGSHARE_CONFIG"), *d = getenv("LOGSHARE_SERVER_DATA_DIR");
    return config_file || (f && *f) || (d && *d);
}

/* What `logshared token` was given, flags over the server's settings. */
struct token_args {
    const char *data_dir, *user, *role_name, *ttl_text;
    const char *issuer, *audience, *secret_file, *algorithm;
};

static int token_issue(const struct token_args *t);

int logshared_cmd_token(int argc, char **argv)
{
    struct token_args t = {.role_name = "user"};
    const char *config_file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = !strcmp(a, "--secret-file") ? &t.secret_file
                            : !strcmp(a, "--data-dir")  ? &t.data_dir
                            : !strcmp(a, "--user")      ? &t.user
                            : !strcmp(a, "--role")      ? &t.role_name
                            : !strcmp(a, "--ttl")       ? &t.ttl_text
                            : !strcmp(a, "--issuer")    ? &t.issuer
                            : !strcmp(a, "--audience")  ? &t.audience
                            : !strcmp(a, "--config")    ? &config_file
                                                        : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            token_usage(stdout);
            return 0;
        }
        if (!slot) {
            cli_fail("token: unknown argument '%s' (see --help)", a);
            return 2;
        }
        if (!(*slot = flag_value(argc, argv, &i))) {
            cli_fail("token: %s needs a value", a);
            return 2;
        }
    }
    server_config sc;
    memset(&sc, 0, sizeof sc);
    int rc = server_settings("token", config_file, &sc);
    if (rc == 0) {
        if (!t.data_dir && data_dir_configured(config_file))
            t.data_dir = sc.data_dir;
        t.issuer = t.issuer ? t.issuer : sc.auth_issuer;
        t.audience = t.audience ? t.audience : sc.auth_audience;
        t.secret_file = t.secret_file ? t.secret_file : sc.auth_secret_file;
        t.algorithm = sc.auth_algorithm;
        rc = token_issue(&t);
    }
    server_config_clear(&sc);
    return rc;
}

static int token_issue(const struct token_args *t)
{
    const char *data_dir = t->data_dir, *user = t->user, *role_name = t->role_name;
    const char *ttl_text = t->ttl_text, *issuer = t->issuer, *audience = t->audience;
    const char *secret_file = t->secret_file;
    if (!data_dir || !user) {
        cli_fail("token: --data-dir and --user are required (see --help)");
        return 2;
    }
    if (!*data_dir) {
        cli_fail("token: --data-dir must not be empty");
        return 2;
    }
    /* The server's algorithm, from the same file and variables: with a
     * public key, tokens come from the identity provider holding the
     * private one, and an HS256 token from here would only be refused. */
    const char *alg = t->algorithm;
    if (alg && *alg && strcasecmp(alg, "HS256") != 0) {
        cli_fail("token: the server's auth.algorithm is %s: it takes only tokens signed with "
                 "that key's private half, which this command does not have (it signs HS256)",
                 alg);
        return 2;
    }
    enum auth_role role;
    if (auth_role_parse(role_name, &role) != 0) {
        cli_fail("token: --role must be user, support or admin, not '%s'", role_name);
        return 2;
    }
    long long ttl = DEFAULT_TTL_S;
    if (ttl_text) {
        char *end;
        ttl = strtoll(ttl_text, &end, 10);
        if (*end || end == ttl_text || ttl <= 0 || ttl > MAX_TTL_S) {
            cli_fail("token: --ttl must be a number of seconds between 1 and %lld", MAX_TTL_S);
            return 2;
        }
    }
    /* the server's rule for "sub": a token it would refuse is no token */
    const char *bad = auth_user_id_problem(user, strlen(user));
    json_t *as_json = bad ? NULL : json_string(user);
    if (!bad && !as_json)
        bad = "must be UTF-8 text";
    json_decref(as_json);
    if (bad) {
        cli_fail("token: --user %s (the server refuses such a subject)", bad);
        return 2;
    }
    int rc = ls_fs_mkdir_p(data_dir, 0700);
    if (rc != 0) {
        cli_fail("token: cannot create %s: %s", data_dir, logshare_strerror(rc));
        return 1;
    }
    struct auth_config cfg = {.data_dir = data_dir,
                              .issuer = issuer && *issuer ? issuer : NULL,
                              .audience = audience && *audience ? audience : NULL,
                              .secret_file = secret_file && *secret_file ? secret_file : NULL};
    struct auth *auth = NULL;
    if ((rc = auth_new(&cfg, &auth)) != 0) {
        /* name the file that failed: with --secret-file it is not in DIR */
        if (cfg.secret_file)
            cli_fail("token: cannot load the signing secret %s: %s", cfg.secret_file,
                     logshare_strerror(rc));
        else
            cli_fail("token: cannot load the signing secrets in %s: %s", data_dir,
                     logshare_strerror(rc));
        return 1;
    }
    char *token = NULL;
    rc = auth_issue_token(auth, user, role, (int64_t)time(NULL), ttl, &token);
    auth_free(auth);
    if (rc != 0) {
        cli_fail("token: %s", logshare_strerror(rc));
        return 1;
    }
    printf("%s\n", token);
    free(token);
    return fflush(stdout) == 0 ? 0 : 1;
}

static void user_usage(FILE *out)
{
    fprintf(out,
            "usage: logshared user add NAME --role user|support|admin --data-dir DIR\n"
            "       logshared user passwd NAME --data-dir DIR\n"
            "       logshared user role NAME --role user|support|admin --data-dir DIR\n"
            "       logshared user del NAME --data-dir DIR\n"
            "       (each also takes [--database URL] [--config FILE])\n\n"
            "Manages dashboard logins in the server's database: DIR/" TICKET_STORE_SQLITE_FILENAME
            "\nunless a database URL is given.\n\n"
            "  add     creates a login; its password is read from the first line of stdin\n"
            "          (at least %d characters) and stored as an Argon2id hash\n"
            "  passwd  sets a new password (read the same way); the login's sessions\n"
            "          end at their next request\n"
            "  role    changes the role; open sessions take it at their next request\n"
            "  del     removes the login; its sessions end at their next request\n\n"
            "  --role ROLE     the login's role: support or admin for agents\n"
            "  --data-dir DIR  the server's data directory\n"
            "  --database URL  the server's database when it is not the default SQLite file\n"
            "                  (postgresql://..., or sqlite:PATH)\n"
            "  --config FILE   the server's INI file (default $LOGSHARE_CONFIG)\n\n"
            "The server's settings, from --config FILE and the LOGSHARE_* variables as the\n"
            "server reads them, are the defaults: [server] data_dir for --data-dir (which is\n"
            "required when neither sets it), [database] url for --database.\n\n"
            "Exit status: 0 done, 1 failed (no such login, name taken, a password too\n"
            "short, database error), 2 usage error.\n",
            MIN_PASSWORD_LEN);
}

/* The first line of stdin without its line ending, or NULL. */
static char *read_password(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

/* Reads the password from stdin and hashes it into *hash. 0, or 1 with
 * the reason printed. */
static int password_from_stdin(char **hash)
{
    char *password = read_password();
    if (!password || strlen(password) < MIN_PASSWORD_LEN) {
        cli_fail("user: the password (first line of stdin) must have at least %d characters",
                 MIN_PASSWORD_LEN);
        free(password);
        return 1;
    }
    int rc = auth_password_hash(password, hash);
    memset(password, 0, strlen(password));
    free(password);
    if (rc != 0) {
        cli_fail("user: cannot hash the password: %s", logshare_strerror(rc));
        return 1;
    }
    return 0;
}

enum user_action { USER_ADD, USER_PASSWD, USER_ROLE, USER_DEL };

static int user_apply(enum user_action action, const char *name, const char *role,
                      const char *data_dir, const char *database_url)
{
    char *hash = NULL;
    if ((action == USER_ADD || action == USER_PASSWD) && password_from_stdin(&hash) != 0)
        return 1;
    struct ticket_store *ts = NULL;
    int rc = 0;
    if (action == USER_ADD) {
        rc = ls_fs_mkdir_p(data_dir, 0700);
    } else if (!database_url || !*database_url) {
        /* The others change a database that exists: opening would make
         * an empty one in a mistyped directory. */
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", data_dir, TICKET_STORE_SQLITE_FILENAME);
        if (access(path, F_OK) != 0) {
            cli_fail("user: no database in %s (%s: %s)", data_dir, path, strerror(errno));
            free(hash);
            return 1;
        }
    }
    if (rc == 0)
        rc = ticket_store_open_url(database_url, data_dir, 1, &ts);
    if (rc == 0) {
        switch (action) {
        case USER_ADD:
            rc = ticket_store_user_create(ts, name, role, hash);
            break;
        case USER_PASSWD:
            rc = ticket_store_user_update(ts, name, NULL, hash);
            break;
        case USER_ROLE:
            rc = ticket_store_user_update(ts, name, role, NULL);
            break;
        case USER_DEL:
            rc = ticket_store_user_delete(ts, name);
            break;
        }
    }
    ticket_store_destroy(ts);
    free(hash);
    if (rc == LOGSHARE_EEXIST)
        cli_fail("user: a login named '%s' already exists", name);
    else if (rc == LOGSHARE_ENOENT)
        cli_fail("user: no login named '%s' in the database of %s", name, data_dir);
    else if (rc != 0)
        cli_fail("user: cannot change '%s' in the database of %s: %s", name, data_dir,
                 logshare_strerror(rc));
    else if (action == USER_ADD)
        printf("added %s (%s)\n", name, role);
    else if (action == USER_PASSWD)
        printf("changed the password of %s\n", name);
    else if (action == USER_ROLE)
        printf("%s is now %s\n", name, role);
    else
        printf("removed %s\n", name);
    return rc == 0 ? 0 : 1;
}

static int user_check_and_apply(int action, const char *name, const char *role,
                                const char *data_dir, const char *database_url);

int logshared_cmd_user(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            user_usage(stdout);
            return 0;
        }
    }
    static const char *const actions[] = {"add", "passwd", "role", "del"};
    int action = -1;
    for (int i = 0; argc >= 2 && i < 4; i++)
        if (!strcmp(argv[1], actions[i]))
            action = i;
    if (action < 0) {
        cli_fail("user: the action is add, passwd, role or del (see --help)");
        return 2;
    }
    const char *name = NULL, *role = NULL, *data_dir = NULL, *database_url = NULL;
    const char *config_file = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--role") || !strcmp(a, "--data-dir") || !strcmp(a, "--database") ||
            !strcmp(a, "--config")) {
            const char *v = flag_value(argc, argv, &i);
            if (!v) {
                cli_fail("user: %s needs a value", a);
                return 2;
            }
            *(!strcmp(a, "--role")       ? &role
              : !strcmp(a, "--data-dir") ? &data_dir
              : !strcmp(a, "--config")   ? &config_file
                                         : &database_url) = v;
        } else if (a[0] == '-' || name) {
            cli_fail("user: unexpected argument '%s' (see --help)", a);
            return 2;
        } else {
            name = a;
        }
    }
    server_config sc;
    memset(&sc, 0, sizeof sc);
    int rc = server_settings("user", config_file, &sc);
    if (rc == 0) {
        if (!data_dir && data_dir_configured(config_file))
            data_dir = sc.data_dir;
        if (!database_url)
            database_url = sc.database_url;
        if (database_url && !*database_url)
            database_url = NULL;
        rc = user_check_and_apply(action, name, role, data_dir, database_url);
    }
    server_config_clear(&sc);
    return rc;
}

static int user_check_and_apply(int action, const char *name, const char *role,
                                const char *data_dir, const char *database_url)
{
    static const char *const actions[] = {"add", "passwd", "role", "del"};
    int needs_role = action == USER_ADD || action == USER_ROLE;
    if (!name || !data_dir || (needs_role && !role)) {
        cli_fail("user: %s needs NAME%s and --data-dir (see --help)", actions[action],
                 needs_role ? ", --role" : "");
        return 2;
    }
    if (role && !needs_role) {
        cli_fail("user: %s takes no --role", actions[action]);
        return 2;
    }
    enum auth_role parsed;
    if (role && auth_role_parse(role, &parsed) != 0) {
        cli_fail("user: --role must be user, support or admin, not '%s'", role);
        return 2;
    }
    size_t nlen = strlen(name);
    if (nlen > 128) {
        cli_fail("user: NAME must be at most 128 bytes");
        return 2;
    }
    for (size_t i = 0; i < nlen; i++) {
        if ((unsigned char)name[i] < 0x21 || name[i] == 0x7f) {
            cli_fail("user: NAME must not contain spaces or control characters");
            return 2;
        }
    }
    return user_apply((enum user_action)action, name, role, data_dir, database_url);
}
