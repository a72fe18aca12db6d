#!/usr/bin/env bash
# Bad settings stop logshared before it serves, with exit status 2 and
# one line naming the setting (as the flag, variable or file line it
# came from) and what is expected (docs/server.md "Settings"):
#  - listen: HOST:PORT with PORT 0..65535, IPv6 in brackets (a port
#    over 65535 used to wrap: 99999 served on 34463);
#  - public_url and push.webhook_url: http(s):// URLs with a host;
#  - database.url's scheme, auth.algorithm, RS256/ES256 without
#    auth.public_key_file, a missing auth key file;
#  - INI files: a leading UTF-8 BOM is accepted, a key given twice is
#    refused with file:line;
#  - unknown LOGSHARE_<SECTION>_* variables are warned about, other
#    LOGSHARE_* variables (LOGSHARE_TOKEN, the CLI's) are not;
#  - `logshared token` refuses a subject the server would refuse.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data

# refused CODE WHAT NEEDLE -- logshared args...: exit CODE and NEEDLE in
# the one line on stderr. timeout: the old code served these, forever
# (on a free port: args may override it, the environment and files not,
# so their listen cases call refused_as_is).
refused() {
  local code=$1 what=$2 needle=$3; shift 4
  refused_as_is "$code" "$what" "$needle" -- --listen 127.0.0.1:0 "$@"
}
refused_as_is() {
  local code=$1 what=$2 needle=$3; shift 4
  assert_exit "$code" "$what" -- timeout 10 "$LOGSHARED_BIN" --data-dir "$DATA" "$@"
  assert_contains "$(cat "$TEST_TMP/err")" "$needle" "$what: message"
  assert_eq 1 "$(grep -c . "$TEST_TMP/err")" "$what: one line on stderr"
}

# --- listen -------------------------------------------------------------------------
for bad in 127.0.0.1:99999 127.0.0.1:65536 127.0.0.1:-1 nonsense 127.0.0.1:4x 127.0.0.1 \
           ::1:8080 '[::1' '[not-v6]:80' '127.0.0.1: 80' ''; do
  refused 2 "--listen '$bad'" "expected HOST:PORT, PORT 0 to 65535" -- --listen "$bad"
  assert_contains "$(cat "$TEST_TMP/err")" "logshared: --listen '$bad': " "the message names the flag"
done
LOGSHARE_SERVER_LISTEN=127.0.0.1:131072 refused_as_is 2 "listen from the environment" \
  "LOGSHARE_SERVER_LISTEN='127.0.0.1:131072': expected HOST:PORT" --
printf '[server]\nlisten = 127.0.0.1:70000\n' >"$TEST_TMP/listen.ini"
refused_as_is 2 "listen from the INI file" "listen.ini:2: server.listen = '127.0.0.1:70000': expected HOST:PORT" \
  -- --config "$TEST_TMP/listen.ini"
refused 2 "a host that does not resolve" "(server.listen): host 'nosuch.invalid' does not resolve" \
  -- --listen nosuch.invalid:0
# the edges that are fine
start_server "$DATA" --listen 127.0.0.1:0; stop_ok   # start_server's own --listen is replaced
if ip -6 addr show lo 2>/dev/null | grep -q '::1'; then
  "$LOGSHARED_BIN" --data-dir "$DATA" --listen '[::1]:0' --port-file "$TEST_TMP/p6" 2>"$TEST_TMP/v6.log" &
  v6=$!
  for i in $(seq 1 100); do [ -s "$TEST_TMP/p6" ] && break; sleep 0.05; done
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://[::1]:$(cat "$TEST_TMP/p6")/healthz" || true)
  kill -TERM "$v6"; wait "$v6" || fail "IPv6 server did not exit 0"
  assert_eq 200 "$code" "--listen '[::1]:0' serves"
fi
pass "listen addresses checked when read"

# --- URLs, database, auth -------------------------------------------------------------
for bad in 'not a url' 'ftp://x/' 'http://' 'https://:8080/' 'http://h:99999' 'https://x/?a=1'; do
  refused 2 "--public-url '$bad'" "--public-url '$bad': expected an http:// or https:// URL" -- --public-url "$bad"
done
printf '[server]\npublic_url = not a url\n' >"$TEST_TMP/pub.ini"
refused 2 "public_url from the INI file" "pub.ini:2: server.public_url = 'not a url'" -- --config "$TEST_TMP/pub.ini"
refused 2 "--webhook-url" "--webhook-url 'mailto:x@y': expected an http:// or https:// URL" -- --webhook-url mailto:x@y
refused 2 "an empty data dir" "--data-dir '': must not be empty" -- --data-dir ''
refused 2 "database url scheme" "--url 'nosuchscheme://x': expected postgresql://" -- --url nosuchscheme://x
LOGSHARE_DATABASE_URL=sqlite: refused 2 "sqlite: without a path" "LOGSHARE_DATABASE_URL='sqlite:': expected sqlite:PATH" --
refused 2 "unknown algorithm" "--auth-algorithm 'PS512': expected HS256, RS256 or ES256" -- --auth-algorithm PS512
refused 2 "RS256 without a key" "auth.algorithm RS256 needs auth.public_key_file" -- --auth-algorithm RS256
refused 2 "ES256 with a missing key file" "auth.public_key_file $TEST_TMP/none.pem: not found (expected an EC P-256 public key" \
  -- --auth-algorithm ES256 --auth-public-key-file "$TEST_TMP/none.pem"
refused 2 "a missing HS256 secret file" "auth.secret_file $TEST_TMP/none: not found" -- --auth-secret-file "$TEST_TMP/none"
pass "URLs, database url and auth settings"

# --- INI files ------------------------------------------------------------------------
printf '\xEF\xBB\xBF# saved by Notepad\n[limits]\nmax_json_bytes = 100\n' >"$TEST_TMP/bom.ini"
start_server "$DATA" --config "$TEST_TMP/bom.ini"
req PATCH /api/v1/tickets/tk_0123456789abcdef0123456789abcdef -H "Authorization: Bearer $(token sam support)" \
    -H 'Content-Type: application/json' --data-binary "{\"note\":\"$(printf 'n%.0s' $(seq 200))\"}"
expect 413 too_large "max_json_bytes from a file with a BOM"
stop_ok
printf '[server]\nlisten = 127.0.0.1:0\n\n[limits]\nmax_files = 3\n[server]\n listen = 127.0.0.1:1 \n' >"$TEST_TMP/dup.ini"
refused_as_is 2 "a key given twice" "dup.ini:7: server.listen is given twice (first on line 2)" -- --config "$TEST_TMP/dup.ini"
printf '[limits]\nmax_files = 3\nmax_files = 4\n' >"$TEST_TMP/dup2.ini"
refused 2 "a key given twice in a row" "dup2.ini:3: limits.max_files is given twice (first on line 2)" -- --config "$TEST_TMP/dup2.ini"
pass "INI: BOM accepted, a key given twice refused"

# --- unknown LOGSHARE_<SECTION>_* variables -------------------------------------------
: >"$TEST_TMP/server.log"
LOGSHARE_SERVER_LISTN=127.0.0.1:1 LOGSHARE_limits_max_files=3 LOGSHARE_TOKEN=for-the-cli \
  LOGSHARE_DATABASE=x LOGSHARE_LIMITS_MAX_FILES=4 start_server "$DATA"
stop_ok
log=$(cat "$TEST_TMP/server.log")
assert_contains "$log" "warning: ignoring LOGSHARE_SERVER_LISTN: not a setting" "typo in a server variable"
assert_contains "$log" "warning: ignoring LOGSHARE_limits_max_files: not a setting" "lower-case variable"
assert_eq 2 "$(grep -c 'warning: ignoring' <<<"$log")" "no warning for LOGSHARE_TOKEN, LOGSHARE_DATABASE or a real setting"
pass "unknown LOGSHARE_<SECTION>_ variables warned about"

# --- logshared token: the server's subject rule ---------------------------------------
for bad in $'a\nb' $'tab\there' $'del\x7f' "$(printf 'x%.0s' $(seq 256))"; do
  assert_exit 2 "token for a bad subject" -- "$LOGSHARED_BIN" token --data-dir "$DATA" --user "$bad"
  assert_contains "$(cat "$TEST_TMP/err")" "token: --user must" "message names --user"
  assert_eq "" "$(cat "$TEST_TMP/out")" "no token printed"
done
assert_exit 2 "token for invalid UTF-8" -- "$LOGSHARED_BIN" token --data-dir "$DATA" --user $'\xff'
assert_exit 0 "token for a unicode subject" -- "$LOGSHARED_BIN" token --data-dir "$DATA" --user 'zoë'
TOK=$(cat "$TEST_TMP/out")
start_server "$DATA"
req GET /api/v1/tickets/tk_0123456789abcdef0123456789abcdef -H "Authorization: Bearer $TOK"
expect 404 not_found "the server takes the token the command printed"
stop_ok
pass "logshared token applies the server's subject rule"
