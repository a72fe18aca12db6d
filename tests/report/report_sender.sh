#!/usr/bin/env bash
# report_sender.sh - the background outbox sender against a real
# logshared: an item queued with logshare_outbox_add while the sender
# sleeps (its next poll is 30 s away) is delivered within 2 s of
# logshare_outbox_sender_wake, exactly once; and an app that quits right
# after start, stopping the sender with a grace period, still delivers
# the report an earlier run left in the outbox, exactly once.
source "$LOGSHARE_TEST_LIB/testlib.sh"
HELPER="$LOGSHARE_BUILD_DIR/tests/report/share_helper"

"$HELPER" keygen "$TEST_TMP/support" || fail "keygen"
STORE="$TEST_TMP/store"
"$HELPER" write "$STORE" "$TEST_TMP/support.pub" 50 "$TEST_TMP/expected" || fail "writing records"
start_server "$TEST_TMP/srv"
TOKEN=$("$LOGSHARED_BIN" token --data-dir "$TEST_TMP/srv" --user alice)
SUPPORT=$("$LOGSHARED_BIN" token --data-dir "$TEST_TMP/srv" --user agent --role support)

ms=$("$HELPER" add-wake "$STORE" "$TEST_TMP/support.pub" "$SERVER_URL" "$TOKEN" call-wake-1) ||
  fail "the woken sender did not deliver the item within 2 s (took ${ms:-?} ms)"
curl -sS -f -H "Authorization: Bearer $SUPPORT" "$SERVER_URL/api/v1/tickets?call_id=call-wake-1" \
  >"$TEST_TMP/list.json" || fail "listing tickets"
assert_eq 1 "$("$HELPER" count "$TEST_TMP/list.json")" "tickets for the woken item"
pass "an item added then woken was delivered in $ms ms, once"

# --- quit right after start: the grace period lets the first pass finish
stop_server
L="$LOGSHARE_BIN"
head -c 3000000 /dev/urandom >"$TEST_TMP/capture.bin"
assert_exit 75 "report while the server is down" -- "$L" report --dir "$STORE" --server "http://127.0.0.1:$SERVER_PORT" \
  --token "$TOKEN" --description "left by an earlier run" --call-id call-quit-1 --file "$TEST_TMP/capture.bin" --attempts 1
"$L" outbox --dir "$STORE" --json >"$TEST_TMP/ob.json"
due=$(grep -o '"next_attempt_at": "[^"]*"' "$TEST_TMP/ob.json" | cut -d'"' -f4)
[ -n "$due" ] || fail "no next attempt time in: $(cat "$TEST_TMP/ob.json")"
while [ "$(date -u +%s)" -le "$(date -u -d "$due" +%s)" ]; do sleep 0.2; done # the retry time has come
start_server "$TEST_TMP/srv"
"$HELPER" open-quit "$STORE" "$TEST_TMP/support.pub" "$SERVER_URL" "$TOKEN" 5000 ||
  fail "an app quitting at once left its report queued: $("$L" outbox --dir "$STORE")"
curl -sS -f -H "Authorization: Bearer $SUPPORT" "$SERVER_URL/api/v1/tickets?call_id=call-quit-1" \
  >"$TEST_TMP/list.json" || fail "listing tickets"
assert_eq 1 "$("$HELPER" count "$TEST_TMP/list.json")" "tickets for the report left by an earlier run"
pass "an app quitting right after start still sends the outbox within its grace period"

# --- a token refused (401: expired or revoked while the report waited)
# is the token's fault, not the report's: the item stays pending, is not
# sent again with that token (no 401 storm from the sender), and the
# next sender with a good token delivers it, once. It used to be marked
# failed, which only a forced flush sends: an app's sender never would.
assert_exit 75 "report while offline" -- "$L" report --dir "$STORE" --server "http://127.0.0.1:1" \
  --token "$TOKEN" --description "token refused later" --call-id call-token-1 --attempts 1
sleep 1 # its retry time has come
BAD="${TOKEN%.*}.AAAA" # the signature no longer verifies: 401
"$HELPER" open-send "$STORE" "$TEST_TMP/support.pub" "$SERVER_URL" "$BAD" 2 && fail "sent with a refused token"
"$L" outbox --dir "$STORE" --json >"$TEST_TMP/ob.json"
assert_contains "$(cat "$TEST_TMP/ob.json")" '"status": "pending"' "kept pending after the 401"
assert_contains "$(cat "$TEST_TMP/ob.json")" '"http_status": 401' "the 401 is shown"
assert_contains "$(cat "$TEST_TMP/ob.json")" '"attempts": 2' "one attempt with the refused token, not a retry storm"
"$HELPER" open-send "$STORE" "$TEST_TMP/support.pub" "$SERVER_URL" "$TOKEN" 10 ||
  fail "a good token did not deliver the report: $("$L" outbox --dir "$STORE")"
curl -sS -f -H "Authorization: Bearer $SUPPORT" "$SERVER_URL/api/v1/tickets?call_id=call-token-1" \
  >"$TEST_TMP/list.json" || fail "listing tickets"
assert_eq 1 "$("$HELPER" count "$TEST_TMP/list.json")" "tickets for the report whose token was refused"
pass "a report refused for its token waits for a good one and is then delivered once"
