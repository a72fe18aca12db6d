#!/usr/bin/env bash
# report_server_kill.sh - logshared is killed with SIGKILL in the middle
# of a report's upload and started again on the same port: the client
# retries with the same Idempotency-Key and the report arrives exactly
# once, with every byte (checked through the support list API and the
# attachment's hash). And the other side: `logshare report` itself
# killed with SIGKILL mid-upload leaves its report in the outbox, and a
# later `outbox --send` delivers it exactly once.
source "$LOGSHARE_TEST_LIB/testlib.sh"
HELPER="$LOGSHARE_BUILD_DIR/tests/report/share_helper"
L="$LOGSHARE_BIN"

"$HELPER" keygen "$TEST_TMP/support" || fail "keygen"
STORE="$TEST_TMP/store"
"$HELPER" write "$STORE" "$TEST_TMP/support.pub" 200 "$TEST_TMP/expected" || fail "writing records"
# a big attachment, uploaded at 4 MB/s: the upload lasts about 2 s
head -c 8000000 /dev/urandom >"$TEST_TMP/capture.bin"
want_sha=$(sha256sum "$TEST_TMP/capture.bin" | cut -d' ' -f1)

start_server "$TEST_TMP/srv"
PORT=$SERVER_PORT
TOKEN=$("$LOGSHARED_BIN" token --data-dir "$TEST_TMP/srv" --user alice)
SUPPORT=$("$LOGSHARED_BIN" token --data-dir "$TEST_TMP/srv" --user agent --role support)

"$L" report --dir "$STORE" --server "$SERVER_URL" --token "$TOKEN" --description "killed mid-upload" \
  --call-id call-kill-1 --file "$TEST_TMP/capture.bin" --max-rate 4000000 --attempts 30 --json \
  >"$TEST_TMP/report.out" 2>"$TEST_TMP/report.err" &
client=$!

# wait until the upload is under way, seen from the server: it is
# writing the big attachment into a temporary blob (.tmp-*) with some of
# its bytes; then kill the server mid-body
touch "$TEST_TMP/started"
midway() { find "$TEST_TMP/srv/blobs" -name '.tmp-*' -size +100k -newer "$TEST_TMP/started" 2>/dev/null | grep -q .; }
for _ in $(seq 1 200); do
  midway && break
  sleep 0.02
done
midway || fail "the upload never reached the server's blob directory"
kill -0 $client 2>/dev/null || fail "the report finished before the kill: $(cat "$TEST_TMP/report.err")"
stop_server KILL
sleep 0.5
start_server "$TEST_TMP/srv" --listen "127.0.0.1:$PORT"
assert_eq "$PORT" "$SERVER_PORT" "restarted on the same port"

client_exit=0; wait $client || client_exit=$?
assert_eq 0 "$client_exit" "report after the restart (stderr: $(cat "$TEST_TMP/report.err"))"
TID=$("$HELPER" json "$TEST_TMP/report.out" id) || fail "no ticket: $(cat "$TEST_TMP/report.out")"

curl -sS -f -H "Authorization: Bearer $SUPPORT" "$SERVER_URL/api/v1/tickets?call_id=call-kill-1" >"$TEST_TMP/list.json"
assert_eq 1 "$("$HELPER" count "$TEST_TMP/list.json")" "exactly one ticket after the kill"
curl -sS -f -H "Authorization: Bearer $SUPPORT" "$SERVER_URL/api/v1/tickets/$TID" >"$TEST_TMP/ticket.json"
"$HELPER" attachments "$TEST_TMP/ticket.json" | grep ' capture.bin ' >"$TEST_TMP/att" || fail "capture.bin missing"
read -r aid _ sha size <"$TEST_TMP/att"
assert_eq "$want_sha" "$sha" "the server's hash of the big attachment"
curl -sS -f -H "Authorization: Bearer $SUPPORT" "$SERVER_URL/api/v1/tickets/$TID/attachments/$aid" |
  sha256sum | cut -d' ' -f1 >"$TEST_TMP/got_sha"
assert_eq "$want_sha" "$(cat "$TEST_TMP/got_sha")" "downloaded bytes"
assert_exit 0 "outbox list" -- "$L" outbox --dir "$STORE"
assert_contains "$(cat "$TEST_TMP/out")" "the outbox is empty" "outbox empty"
pass "a report survives logshared's SIGKILL mid-upload and arrives exactly once"

# --- the client killed mid-upload: the item stays, a later send delivers it once
touch "$TEST_TMP/started"
"$L" report --dir "$STORE" --server "$SERVER_URL" --token "$TOKEN" --description "client killed mid-upload" \
  --call-id call-kill-2 --file "$TEST_TMP/capture.bin" --max-rate 4000000 --json \
  >"$TEST_TMP/report2.out" 2>"$TEST_TMP/report2.err" &
client=$!
for _ in $(seq 1 200); do
  midway && break
  sleep 0.02
done
midway || fail "the second upload never reached the server's blob directory"
kill -0 $client 2>/dev/null || fail "the report finished before the kill: $(cat "$TEST_TMP/report2.err")"
kill -KILL $client
client_exit=0; wait $client || client_exit=$?
assert_eq 137 "$client_exit" "the client died by SIGKILL"
curl -sS -f -H "Authorization: Bearer $SUPPORT" "$SERVER_URL/api/v1/tickets?call_id=call-kill-2" >"$TEST_TMP/list.json"
assert_eq 0 "$("$HELPER" count "$TEST_TMP/list.json")" "no ticket from the half upload"
assert_exit 0 "outbox list" -- "$L" outbox --dir "$STORE" --json
assert_contains "$(cat "$TEST_TMP/out")" "client killed mid-upload" "the killed report is still queued"
assert_exit 0 "outbox --send" -- "$L" outbox --dir "$STORE" --send --server "$SERVER_URL" --token "$TOKEN" --json
TID=$("$HELPER" json "$TEST_TMP/out" id) || fail "no ticket: $(cat "$TEST_TMP/out")"
assert_exit 0 "outbox --send again" -- "$L" outbox --dir "$STORE" --send --server "$SERVER_URL" --token "$TOKEN"
curl -sS -f -H "Authorization: Bearer $SUPPORT" "$SERVER_URL/api/v1/tickets?call_id=call-kill-2" >"$TEST_TMP/list.json"
assert_eq 1 "$("$HELPER" count "$TEST_TMP/list.json")" "exactly one ticket after the client's kill"
curl -sS -f -H "Authorization: Bearer $SUPPORT" "$SERVER_URL/api/v1/tickets/$TID" >"$TEST_TMP/ticket.json"
"$HELPER" attachments "$TEST_TMP/ticket.json" | grep ' capture.bin ' >"$TEST_TMP/att" || fail "capture.bin missing"
read -r aid _ sha size <"$TEST_TMP/att"
assert_eq "$want_sha" "$sha" "the big attachment after the client's kill"
pass "a report whose client was killed mid-upload is delivered once by a later outbox --send"
