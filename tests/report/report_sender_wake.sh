#!/usr/bin/env bash
# report_sender_wake.sh - logshare_outbox_sender_wake against a real
# logshared: an item queued with logshare_outbox_add while the background
# sender sleeps (its next poll is 30 s away) is delivered within 2 s of
# the wake, exactly once.
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
