#!/usr/bin/env bash
# `logshared token` and `logshared user` read the server's settings as
# the server does (SPEC "Configuration": an INI file, LOGSHARE_*
# variables, flags over both): --config FILE or LOGSHARE_CONFIG gives
# them the data directory, the issuer and audience the server checks,
# and the database. They used to ignore the INI file (--config was an
# unknown argument), so a server configured with an issuer refused every
# token they made unless each value was repeated by hand.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
INI=$TEST_TMP/logshared.ini
cat >"$INI" <<EOF
[server]
data_dir = $DATA

[auth]
issuer = https://id.example.test
audience = logshare-test
EOF
start_server "$DATA" --config "$INI"

# whoami TOKEN: the status of an authenticated read (a user listing its
# own log requests): 200 with a token the server takes, 401 without.
whoami() { req GET /api/v1/log-requests -H "Authorization: Bearer $1"; }

# --- token ----------------------------------------------------------------------------
assert_exit 0 "token --config without --data-dir" -- \
  "$LOGSHARED_BIN" token --config "$INI" --user alice
TOK=$(cat "$TEST_TMP/out")
whoami "$TOK"; expect 200 "" "a token made with --config (issuer and audience from the file)"

assert_exit 0 "token with LOGSHARE_CONFIG" -- \
  env LOGSHARE_CONFIG="$INI" "$LOGSHARED_BIN" token --user bob
whoami "$(cat "$TEST_TMP/out")"; expect 200 "" "a token made with LOGSHARE_CONFIG"

# The variables win over the file, the flags over both, as for the server.
assert_exit 0 "token with another issuer in the environment" -- \
  env LOGSHARE_AUTH_ISSUER=https://other.example.test \
  "$LOGSHARED_BIN" token --config "$INI" --user carol
whoami "$(cat "$TEST_TMP/out")"; expect 401 unauthorized "the environment's issuer is used"
assert_exit 0 "token with --audience over the file" -- \
  "$LOGSHARED_BIN" token --config "$INI" --user carol --audience someone-else
whoami "$(cat "$TEST_TMP/out")"; expect 401 unauthorized "the flag's audience is used"

# Without a file the data directory is still required: a default
# ./logshare-data would create a secret wherever the command runs.
assert_exit 2 "token without --data-dir or a configured one" -- \
  env -u LOGSHARE_CONFIG -u LOGSHARE_SERVER_DATA_DIR "$LOGSHARED_BIN" token --user dave
assert_contains "$(cat "$TEST_TMP/err")" "--data-dir and --user are required" "its message"
assert_exit 0 "token with LOGSHARE_SERVER_DATA_DIR" -- \
  env LOGSHARE_SERVER_DATA_DIR="$DATA" LOGSHARE_AUTH_ISSUER=https://id.example.test \
  LOGSHARE_AUTH_AUDIENCE=logshare-test "$LOGSHARED_BIN" token --user dave
whoami "$(cat "$TEST_TMP/out")"; expect 200 "" "a token made from the variables alone"

# A file the server would refuse is refused here, naming the line.
printf '[auth]\nalgorithm = HS512\n' >"$TEST_TMP/bad.ini"
assert_exit 2 "token with a bad INI file" -- \
  "$LOGSHARED_BIN" token --config "$TEST_TMP/bad.ini" --data-dir "$DATA" --user erin
assert_contains "$(cat "$TEST_TMP/err")" "bad.ini" "the message names the file"
# A server on public keys takes no HS256 token, also when the file says so.
printf '[auth]\nalgorithm = ES256\npublic_key_file = %s\n' "$INI" >"$TEST_TMP/es.ini"
assert_exit 2 "token for an ES256 server" -- \
  "$LOGSHARED_BIN" token --config "$TEST_TMP/es.ini" --data-dir "$DATA" --user erin
assert_contains "$(cat "$TEST_TMP/err")" "ES256" "the message names the algorithm"
assert_exit 2 "--config without a file" -- "$LOGSHARED_BIN" token --user erin --config
pass "token reads the server's settings"

# --- user -----------------------------------------------------------------------------
assert_exit 0 "user add --config without --data-dir" -- \
  sh -c 'printf "correct horse battery\n" | "$0" user add agent --role support --config "$1"' \
  "$LOGSHARED_BIN" "$INI"
assert_eq "agent|support" "$(sqlite3 "$DATA/logshare.db" "SELECT name, role FROM users WHERE name = 'agent'")" \
  "the login is in the server's database"
assert_exit 0 "user role with LOGSHARE_CONFIG" -- \
  env LOGSHARE_CONFIG="$INI" "$LOGSHARED_BIN" user role agent --role admin
assert_eq "admin" "$(sqlite3 "$DATA/logshare.db" "SELECT role FROM users WHERE name = 'agent'")" \
  "the role changed in the server's database"
assert_exit 2 "user del without --data-dir or a configured one" -- \
  env -u LOGSHARE_CONFIG -u LOGSHARE_SERVER_DATA_DIR "$LOGSHARED_BIN" user del agent
assert_exit 0 "user del --config" -- "$LOGSHARED_BIN" user del agent --config "$INI"
assert_eq 0 "$(sqlite3 "$DATA/logshare.db" "SELECT count(*) FROM users WHERE name = 'agent'")" \
  "the login is gone"
pass "user reads the server's settings"

stop_ok
