#!/usr/bin/env bash
# report_progress.sh - the progress callback of logshare_report, seen by
# an app against a real logshared: over a report that takes several
# requests (more files than one request carries) and over a retry after
# the server was killed mid-upload, done never goes back, the total
# never changes, and the last call says done == total. It used to start
# again from 0 with every request and end on 0/0 (the ticket read back).
# The ticket arrives once, with every file and the right hashes.
source "$LOGSHARE_TEST_LIB/testlib.sh"
HELPER="$LOGSHARE_BUILD_DIR/tests/report/share_helper"

"$HELPER" keygen "$TEST_TMP/support" || fail "keygen"
STORE="$TEST_TMP/store"
"$HELPER" write "$STORE" "$TEST_TMP/support.pub" 300 "$TEST_TMP/expected" || fail "writing records"
for i in 1 2 3 4 5; do head -c 200000 /dev/urandom >"$TEST_TMP/app$i.bin"; done
start_server "$TEST_TMP/srv"
PORT=$SERVER_PORT
TOKEN=$("$LOGSHARED_BIN" token --data-dir "$TEST_TMP/srv" --user alice)
SUPPORT=$("$LOGSHARED_BIN" token --data-dir "$TEST_TMP/srv" --user agent --role support)

check_ticket() { # CALLID TICKET FILES...
  curl -sS -f -H "Authorization: Bearer $SUPPORT" "$SERVER_URL/api/v1/tickets?call_id=$1" >"$TEST_TMP/list.json"
  assert_eq 1 "$("$HELPER" count "$TEST_TMP/list.json")" "$1: exactly one ticket"
  curl -sS -f -H "Authorization: Bearer $SUPPORT" "$SERVER_URL/api/v1/tickets/$2" >"$TEST_TMP/ticket.json"
  "$HELPER" attachments "$TEST_TMP/ticket.json" >"$TEST_TMP/atts"
  local logs f want
  logs=$(ls "$STORE"/*.lslog | wc -l)
  assert_eq $((logs + 1 + $# - 2)) "$(wc -l <"$TEST_TMP/atts")" "$1: every log, the manifest and the app's files"
  shift 2
  for f in "$@"; do
    want=$(sha256sum "$f" | cut -d' ' -f1)
    grep -q " $(basename "$f") $want " "$TEST_TMP/atts" || fail "$f missing or with another hash"
  done
}

# several requests: 2 files per request
"$HELPER" report-progress "$STORE" "$SERVER_URL" "$TOKEN" 2 call-prog-1 "$TEST_TMP"/app{1,2,3,4,5}.bin \
  >"$TEST_TMP/p1.out" 2>"$TEST_TMP/p1.err" || fail "progress over batches: $(cat "$TEST_TMP/p1.err")"
check_ticket call-prog-1 "$(cat "$TEST_TMP/p1.out")" "$TEST_TMP"/app{1,2,3,4,5}.bin
pass "progress over a report of several requests is monotonic and ends at its total"

# a retry: the server is killed mid-upload and comes back
head -c 6000000 /dev/urandom >"$TEST_TMP/big.bin"
touch "$TEST_TMP/started"
SHARE_HELPER_MAX_RATE=3000000 "$HELPER" report-progress "$STORE" "$SERVER_URL" "$TOKEN" 32 call-prog-2 \
  "$TEST_TMP/big.bin" >"$TEST_TMP/p2.out" 2>"$TEST_TMP/p2.err" &
client=$!
midway() { find "$TEST_TMP/srv/blobs" -name '.tmp-*' -size +100k -newer "$TEST_TMP/started" 2>/dev/null | grep -q .; }
for _ in $(seq 1 300); do
  midway && break
  sleep 0.02
done
midway || fail "the upload never reached the server's blob directory"
kill -0 $client 2>/dev/null || fail "the report finished before the kill: $(cat "$TEST_TMP/p2.err")"
stop_server KILL
sleep 0.3
start_server "$TEST_TMP/srv" --listen "127.0.0.1:$PORT"
assert_eq "$PORT" "$SERVER_PORT" "restarted on the same port"
client_exit=0; wait $client || client_exit=$?
assert_eq 0 "$client_exit" "progress over a retry: $(cat "$TEST_TMP/p2.err")"
check_ticket call-prog-2 "$(cat "$TEST_TMP/p2.out")" "$TEST_TMP/big.bin"
pass "progress over a retry after a server kill never goes back and ends at its total"

# a report made while an earlier one waits in the outbox: logshare_report
# sends that one too, after its own; the app's progress stays on its own
# report's 100% (it started over with the earlier report's bytes)
L="$LOGSHARE_BIN"
assert_exit 75 "an earlier report while offline" -- "$L" report --dir "$STORE" --server "http://127.0.0.1:1" \
  --token "$TOKEN" --description "earlier" --call-id call-prog-3 --file "$TEST_TMP/app1.bin" --attempts 1
sleep 1 # its retry time has come
"$HELPER" report-progress "$STORE" "$SERVER_URL" "$TOKEN" 32 call-prog-4 \
  >"$TEST_TMP/p4.out" 2>"$TEST_TMP/p4.err" || fail "progress with an earlier report queued: $(cat "$TEST_TMP/p4.err")"
check_ticket call-prog-4 "$(cat "$TEST_TMP/p4.out")"
curl -sS -f -H "Authorization: Bearer $SUPPORT" "$SERVER_URL/api/v1/tickets?call_id=call-prog-3" >"$TEST_TMP/list.json"
assert_eq 1 "$("$HELPER" count "$TEST_TMP/list.json")" "the earlier report, sent along, once"
pass "progress stays on the report's own 100% while the earlier ones go out"
