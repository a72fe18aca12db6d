/*
 * auth_cli.h - the `logshared token` and `logshared user` subcommands.
 *
 * main.c dispatches to these when argv[1] is "token" or "user", passing
 * argv from the subcommand on (argv[0] is "token" / "user"). Each prints
 * its own --help and returns the exit status: 0 success, 1 failure,
 * 2 usage error. Errors are one line on stderr.
 *
 *   logshared token --data-dir DIR --user ID [--role user|support|admin]
 *                   [--ttl SECONDS] [--issuer ISS] [--audience AUD]
 *                   [--secret-file FILE]
 *       prints an HS256 JWT signed with <DIR>/jwt-secret (created if
 *       missing) or FILE. Default role user, default ttl 86400. iss, aud
 *       and the secret file default to LOGSHARE_AUTH_ISSUER,
 *       LOGSHARE_AUTH_AUDIENCE and LOGSHARE_AUTH_SECRET_FILE (the
 *       server's auth.* settings from the environment).
 *   logshared user add NAME --role ROLE --data-dir DIR [--database URL]
 *       creates a dashboard login in <DIR>/logshare.db (or the database
 *       URL, also from LOGSHARE_DATABASE_URL); the password is
 *       the first line of stdin (at least 8 characters).
 */
#ifndef LOGSHARED_AUTH_CLI_H
#define LOGSHARED_AUTH_CLI_H

int logshared_cmd_token(int argc, char **argv);
int logshared_cmd_user(int argc, char **argv);

#endif
