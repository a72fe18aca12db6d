#!/usr/bin/env bash
# report_cli.sh - the sharing commands' surface: TLS is verified (a
# self-signed server is refused until its CA is given), the progress bar
# is drawn on a terminal only, usage errors exit 2 with one clear line,
# `outbox --remove` drops an item, and the demo calling app reports and
# exports through the library.
source "$LOGSHARE_TEST_LIB/testlib.sh"
HELPER="$LOGSHARE_BUILD_DIR/tests/report/share_helper"
DEMO="$LOGSHARE_BUILD_DIR/examples/calling-app/logshare-calling-app"
L="$LOGSHARE_BIN"

"$HELPER" keygen "$TEST_TMP/support" || fail "keygen"
STORE="$TEST_TMP/store"
"$HELPER" write "$STORE" "$TEST_TMP/support.pub" 300 "$TEST_TMP/expected" || fail "writing records"

# --- TLS: verified by default
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$TEST_TMP/tls.key" -out "$TEST_TMP/tls.crt" 2>/dev/null ||
  fail "openssl could not make a certificate"
start_server "$TEST_TMP/srv" --tls-cert "$TEST_TMP/tls.crt" --tls-key "$TEST_TMP/tls.key"
HTTPS="https://127.0.0.1:$SERVER_PORT"
TOKEN=$("$LOGSHARED_BIN" token --data-dir "$TEST_TMP/srv" --user alice)
# a certificate that does not verify is not "network down": no retries
# (--attempts 4 would take seconds), exit 1, a line that says so
SECONDS=0
assert_exit 1 "self-signed server without its CA" -- "$L" report --dir "$STORE" --server "$HTTPS" --token "$TOKEN" \
  --description "tls" --call-id call-tls-1 --attempts 4
[ "$SECONDS" -le 2 ] || fail "a certificate failure was retried (${SECONDS} s)"
assert_contains "$(cat "$TEST_TMP/err")" "TLS certificate could not be verified" "the failure names the certificate"
assert_contains "$(cat "$TEST_TMP/err")" "self-signed" "curl's reason is given"
assert_contains "$(cat "$TEST_TMP/err")" "--ca-file" "the fix is named"
[ "$(wc -l <"$TEST_TMP/err")" = 1 ] || fail "more than one line: $(cat "$TEST_TMP/err")"
assert_exit 0 "outbox list" -- "$L" outbox --dir "$STORE" --json
assert_contains "$(cat "$TEST_TMP/out")" '"code": "tls_error"' "the item keeps the TLS error"
assert_contains "$(cat "$TEST_TMP/out")" '"attempts": 1' "tried once"
assert_contains "$(cat "$TEST_TMP/out")" '"status": "failed"' "marked failed, not pending"
assert_exit 0 "with --ca-file" -- "$L" outbox --dir "$STORE" --send --server "$HTTPS" --token "$TOKEN" \
  --ca-file "$TEST_TMP/tls.crt"
assert_contains "$(cat "$TEST_TMP/out")" "-> ticket tk_" "sent over verified TLS"
stop_server
pass "TLS is verified; a private CA is accepted only when given"

# --- other permanent errors are not retried either: a malformed URL
assert_exit 1 "malformed server URL" -- "$L" report --dir "$STORE" --server "http://[::1" --token "$TOKEN" \
  --description "bad url" --call-id call-badurl-1 --attempts 4
assert_contains "$(cat "$TEST_TMP/err")" "could not be sent (invalid_argument" "bad URL named"
assert_exit 0 "outbox list" -- "$L" outbox --dir "$STORE" --json
assert_contains "$(cat "$TEST_TMP/out")" '"status": "failed"' "bad-URL item marked failed"
item=$("$L" outbox --dir "$STORE" | awk '/bad url/ {print $1}')
[ -n "$item" ] || fail "bad-URL item not listed"
assert_exit 0 "remove it" -- "$L" outbox --dir "$STORE" --remove "$item"
pass "a malformed URL fails at once, with its own message"

start_server "$TEST_TMP/srv2"
TOKEN=$("$LOGSHARED_BIN" token --data-dir "$TEST_TMP/srv2" --user alice)

# --- progress bar: on a terminal only
script -qec "'$L' report --dir '$STORE' --server '$SERVER_URL' --token '$TOKEN' --description tty --call-id call-tty-1" \
  /dev/null >"$TEST_TMP/tty.out" 2>&1 || fail "report on a terminal: $(cat "$TEST_TMP/tty.out")"
grep -q 'uploading \[' "$TEST_TMP/tty.out" || fail "no progress bar on a terminal: $(cat -v "$TEST_TMP/tty.out")"
grep -q '/s' "$TEST_TMP/tty.out" || fail "the progress bar shows no rate"
assert_exit 0 "report without a terminal" -- "$L" report --dir "$STORE" --server "$SERVER_URL" --token "$TOKEN" \
  --description notty --call-id call-notty-1
[ -s "$TEST_TMP/err" ] && fail "stderr is not a terminal but got: $(cat -v "$TEST_TMP/err")"
assert_contains "$(cat "$TEST_TMP/out")" "tk_" "the ticket id printed"
script -qec "'$L' export --dir '$STORE' --out '$TEST_TMP/tty.zip'" /dev/null >"$TEST_TMP/tty.out" 2>&1 ||
  fail "export on a terminal: $(cat "$TEST_TMP/tty.out")"
grep -q 'exporting \[####################\]' "$TEST_TMP/tty.out" ||
  fail "no full export progress bar on a terminal: $(cat -v "$TEST_TMP/tty.out")"
grep -q '/s' "$TEST_TMP/tty.out" || fail "the export progress bar shows no rate"
assert_exit 0 "export without a terminal" -- "$L" export --dir "$STORE" --out "$TEST_TMP/notty.zip"
[ -s "$TEST_TMP/err" ] && fail "export: stderr is not a terminal but got: $(cat -v "$TEST_TMP/err")"
pass "progress bar on a terminal, none otherwise (report and export)"

# --- usage errors: exit 2, one line
assert_exit 2 "no description" -- "$L" report --dir "$STORE" --server "$SERVER_URL" --token "$TOKEN"
assert_eq 1 "$(wc -l <"$TEST_TMP/err")" "one error line"
assert_exit 2 "bad server URL" -- "$L" report --dir "$STORE" --server "ftp://x" --token "$TOKEN" --description d
assert_exit 2 "no token" -- env -u LOGSHARE_TOKEN "$L" report --dir "$STORE" --server "$SERVER_URL" --description d
assert_exit 2 "unknown option" -- "$L" outbox --dir "$STORE" --bogus
assert_exit 2 "--send without --server" -- "$L" outbox --dir "$STORE" --send
assert_exit 0 "report --help" -- "$L" report --help
assert_contains "$(cat "$TEST_TMP/out")" "--description" "report --help"
assert_exit 0 "outbox --help" -- "$L" outbox --help
echo "$TOKEN" >"$TEST_TMP/token"
assert_exit 0 "--token-file" -- "$L" report --dir "$STORE" --server "$SERVER_URL" --token-file "$TEST_TMP/token" \
  --description "token from a file" --no-logs --file "$TEST_TMP/expected"
# a token file that cannot be used is a failed run (1), not a usage
# error (2); a too-long one is refused, not cut to a bad signature
assert_exit 1 "missing token file" -- "$L" report --dir "$STORE" --server "$SERVER_URL" \
  --token-file "$TEST_TMP/no-such-token" --description d
assert_contains "$(cat "$TEST_TMP/err")" "No such file" "the error names the cause"
assert_eq 1 "$(wc -l <"$TEST_TMP/err")" "one error line (missing token file)"
: >"$TEST_TMP/empty-token"
assert_exit 1 "empty token file" -- "$L" outbox --dir "$STORE" --send --server "$SERVER_URL" \
  --token-file "$TEST_TMP/empty-token"
{ printf '%s' "$TOKEN"; head -c 20000 /dev/zero | tr '\0' 'a'; } >"$TEST_TMP/long-token"
assert_exit 1 "too long token file" -- "$L" report --dir "$STORE" --server "$SERVER_URL" \
  --token-file "$TEST_TMP/long-token" --description d
assert_contains "$(cat "$TEST_TMP/err")" "longer than" "a too-long token file is named as such"
assert_exit 1 "watch with a missing token file" -- "$L" watch --dir "$STORE" --server "$SERVER_URL" \
  --token-file "$TEST_TMP/no-such-token"
pass "usage errors exit 2 with one line; --help; --token-file"

# --- outbox --remove
assert_exit 75 "queue one" -- "$L" report --dir "$STORE" --server "http://127.0.0.1:1" --token "$TOKEN" \
  --description "to be removed" --attempts 1
assert_contains "$(cat "$TEST_TMP/err")" "logshare: report: could not reach the server" "the queued line's prefix"
item=$(ls "$STORE/outbox" | grep -v '^\.' | head -1)
assert_exit 0 "remove" -- "$L" outbox --dir "$STORE" --remove "$item"
assert_exit 1 "remove again" -- "$L" outbox --dir "$STORE" --remove "$item"
assert_exit 2 "remove a path" -- "$L" outbox --dir "$STORE" --remove "../x"
assert_exit 0 "list" -- "$L" outbox --dir "$STORE"
assert_contains "$(cat "$TEST_TMP/out")" "the outbox is empty" "removed"
pass "outbox --remove drops one item"

# --- outbox quota: the report that does not fit is refused, the queued ones stay
assert_exit 75 "queue 1" -- "$L" report --dir "$STORE" --server "http://127.0.0.1:1" --token "$TOKEN" \
  --description "quota 1" --attempts 1 --outbox-max-items 2
assert_exit 75 "queue 2" -- "$L" report --dir "$STORE" --server "http://127.0.0.1:1" --token "$TOKEN" \
  --description "quota 2" --attempts 1 --outbox-max-items 2
assert_exit 1 "queue 3 past the quota" -- "$L" report --dir "$STORE" --server "http://127.0.0.1:1" --token "$TOKEN" \
  --description "quota 3" --attempts 1 --outbox-max-items 2
assert_contains "$(cat "$TEST_TMP/err")" "outbox is full" "quota refusal"
bytes=$(du -sb "$STORE"/*.lslog | awk '{s+=$1} END {print s}')
assert_exit 1 "past the byte quota" -- "$L" report --dir "$STORE" --server "http://127.0.0.1:1" --token "$TOKEN" \
  --description "quota bytes" --attempts 1 --outbox-max-bytes "$((bytes * 2 + 100))"
assert_exit 0 "list" -- "$L" outbox --dir "$STORE" --json
assert_eq 2 "$(grep -c '"id"' "$TEST_TMP/out")" "the two queued reports, nothing else"
assert_exit 0 "send them" -- "$L" outbox --dir "$STORE" --send --server "$SERVER_URL" --token "$TOKEN"
pass "the outbox quota refuses a report that does not fit and keeps the rest"

# --- the demo app: a call, a report, an export
assert_exit 0 "demo app" -- "$DEMO" --dir "$TEST_TMP/demo" --public-key-file "$TEST_TMP/support.pub" \
  --server "$SERVER_URL" --token "$TOKEN" --run "call 1; report demo report; export $TEST_TMP/demo.zip; quit"
assert_contains "$(cat "$TEST_TMP/out")" "ticket tk_" "demo report"
unzip -l "$TEST_TMP/demo.zip" >"$TEST_TMP/demo.list" || fail "demo export does not list"
grep -q "media\." "$TEST_TMP/demo.list" || fail "demo export lacks the media stream"
"$HELPER" decrypt "$TEST_TMP/support.key" "$TEST_TMP"/demo/calling.*.lslog >"$TEST_TMP/demo.txt" 2>/dev/null ||
  fail "demo logs do not decrypt"
assert_contains "$(cat "$TEST_TMP/demo.txt")" "state=Connected" "demo call logged"
# the call set-up is spread over time as on a network: six lines, six times
"$L" decrypt --key "$TEST_TMP/support.key" "$TEST_TMP"/demo/calling.*.lslog 2>/dev/null |
  grep -E "start direction|state=Connecting|ice gathering|ice pair|state=Connected|participant joined" \
  >"$TEST_TMP/setup.txt" || true
assert_eq 6 "$(wc -l <"$TEST_TMP/setup.txt")" "call set-up lines"
assert_eq 6 "$(cut -d' ' -f1 "$TEST_TMP/setup.txt" | sort -u | wc -l)" "distinct call set-up times"
assert_exit 0 "demo --version" -- "$DEMO" --version
assert_contains "$(cat "$TEST_TMP/out")" "liblogshare" "demo --version names the library"
pass "the demo calling app reports and exports"

# --- damaged outbox items: a torn state.json is resent (same key), a torn
# request.json is listed as damaged and `outbox --send` says so (exit 1);
# neither vanishes from the list unseen
DSTORE="$TEST_TMP/damaged"
mkdir -p "$DSTORE" && cp "$STORE"/*.lslog "$DSTORE"/
for d in torn-state torn-request; do
  assert_exit 75 "queue $d" -- "$L" report --dir "$DSTORE" --server "http://127.0.0.1:1" --token "$TOKEN" \
    --description "$d" --call-id "call-$d" --attempts 1
done
first=$(ls "$DSTORE/outbox" | sort | head -1)
second=$(ls "$DSTORE/outbox" | sort | tail -1)
echo '{"vers' >"$DSTORE/outbox/$first/state.json"
echo '{"version":1,' >"$DSTORE/outbox/$second/request.json"
assert_exit 0 "list damaged" -- "$L" outbox --dir "$DSTORE"
assert_contains "$(cat "$TEST_TMP/out")" "$first" "the item with a torn state is listed"
assert_contains "$(cat "$TEST_TMP/out")" "$second" "the item with a torn request is listed"
assert_contains "$(cat "$TEST_TMP/out")" "damaged" "the damage is named"
assert_exit 1 "send with a damaged item" -- "$L" outbox --dir "$DSTORE" --send --server "$SERVER_URL" --token "$TOKEN"
assert_contains "$(cat "$TEST_TMP/out")" "$first -> ticket" "the torn-state item is sent"
assert_contains "$(cat "$TEST_TMP/err")" "$second could not be sent" "the damaged item is reported"
assert_exit 0 "remove the damaged item" -- "$L" outbox --dir "$DSTORE" --remove "$second"
assert_exit 0 "list after removal" -- "$L" outbox --dir "$DSTORE"
assert_contains "$(cat "$TEST_TMP/out")" "the outbox is empty" "nothing left"
pass "damaged outbox items are resent or reported, never lost unseen"

# --- a ticket made while stdout is full: exit 1, and its id on stderr,
# so the user need not report again to learn it
if [ -w /dev/full ]; then
  assert_exit 1 "report with a full stdout" -- sh -c '"$1" report --dir "$2" --server "$3" --token "$4" \
    --description "full stdout" >/dev/full' _ "$L" "$STORE" "$SERVER_URL" "$TOKEN"
  assert_eq 1 "$(wc -l <"$TEST_TMP/err")" "one line"
  tid=$(grep -o 'tk_[0-9a-f]*' "$TEST_TMP/err" || true)
  [ -n "$tid" ] || fail "the ticket id is not on stderr: $(cat "$TEST_TMP/err")"
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$SERVER_URL/api/v1/tickets/$tid")
  assert_eq 200 "$code" "the ticket named on stderr exists"
  pass "report names its ticket on stderr when stdout cannot take it"
fi
