#!/usr/bin/env bash
# push_webhooks.sh - webhook deliveries of new log requests: signed with
# HMAC-SHA256, retried with backoff while the receiver is down or
# answering 503, and none lost when the server is killed (SIGKILL) and
# restarted in between.
source "$LOGSHARE_TEST_LIB/testlib.sh"

RECEIVER="$LOGSHARE_BUILD_DIR/tests/push/webhook_receiver"
DATA="$TEST_TMP/data"
mkdir -p "$DATA"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TEST_TMP/secret"

# A free port for the receiver: let it bind port 0 once, then stop it, so
# that the server starts with the receiver down.
"$RECEIVER" 0 "$TEST_TMP/secret" "$TEST_TMP/probe.log" 0 "$TEST_TMP/rport" &
PROBE=$!
for _ in $(seq 100); do [ -s "$TEST_TMP/rport" ] && break; sleep 0.05; done
RPORT=$(cat "$TEST_TMP/rport")
kill "$PROBE"; wait "$PROBE" || true

HOOK_ARGS=(--webhook-url "http://127.0.0.1:$RPORT/hook" --webhook-secret-file "$TEST_TMP/secret"
  --webhook-retry-initial-ms 200 --webhook-retry-max-ms 800 --webhook-timeout-ms 2000)
start_server "$DATA" "${HOOK_ARGS[@]}"
AGENT=$("$LOGSHARED_BIN" token --data-dir "$DATA" --user agent --role support)
create() {
  curl -s -H "Authorization: Bearer $AGENT" -H 'Content-Type: application/json' \
    -d "{\"user_id\":\"$1\",\"reason\":\"hook test\"}" "$SERVER_URL/api/v1/log-requests" |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).id))'
}
IDS=()
for u in u1 u2 u3; do IDS+=("$(create $u)"); done
sleep 1 # a few attempts fail: nothing listens
grep -q "will retry" "$TEST_TMP/server.log" || fail "no failed attempt was logged as retried"
stop_server KILL
pass "3 requests created while the receiver is down; server killed"

start_server "$DATA" "${HOOK_ARGS[@]}"
IDS+=("$(create u4)")
"$RECEIVER" "$RPORT" "$TEST_TMP/secret" "$TEST_TMP/hooks.log" 2 &
RECV=$!
trap 'kill $RECV 2>/dev/null || true; _cleanup' EXIT

deadline=$((SECONDS + 20))
for id in "${IDS[@]}"; do
  until grep -q "^200 .* sig_ok $id\$" "$TEST_TMP/hooks.log" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || fail "no signed 200 delivery for $id; log: $(cat "$TEST_TMP/hooks.log" 2>/dev/null)"
    sleep 0.1
  done
done
pass "all 4 requests delivered, signed, after the restart"
assert_eq 2 "$(grep -c '^503 ' "$TEST_TMP/hooks.log")" "the receiver refused twice and was retried"
! grep -q sig_bad "$TEST_TMP/hooks.log" || fail "a delivery had a bad signature"
grep -q " log_request.created " "$TEST_TMP/hooks.log" || fail "event header missing"
# every delivery id that got a 200 got exactly one (no duplicate once answered)
DUPS=$(grep '^200 ' "$TEST_TMP/hooks.log" | cut -d' ' -f2 | sort | uniq -d)
assert_eq "" "$DUPS" "deliveries answered 200 more than once"
pass "retried after 503s; every signature valid; nothing delivered twice"
kill "$RECV"; wait "$RECV" || true

# --- retries outlast the old 20-attempt cap; answered requests are dropped
# A fresh server with fast retries (20..40 ms) and the default attempt cap
# (none): the receiver stays down for well over 20 attempts, then comes up.
stop_server
DATA2="$TEST_TMP/data2"
mkdir -p "$DATA2"
start_server "$DATA2" --webhook-url "http://127.0.0.1:$RPORT/hook" \
  --webhook-secret-file "$TEST_TMP/secret" --webhook-retry-initial-ms 20 \
  --webhook-retry-max-ms 40 --webhook-timeout-ms 2000
AGENT=$("$LOGSHARED_BIN" token --data-dir "$DATA2" --user agent --role support)
U6=$("$LOGSHARED_BIN" token --data-dir "$DATA2" --user u6)
LIVE=$(create u5)
ANSWERED=$(create u6)
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $U6" \
  "$SERVER_URL/api/v1/log-requests/$ANSWERED/decline")" "u6 declines before any delivery got through"
deadline=$((SECONDS + 30))
until grep -Eq "attempt (2[5-9]|[3-9][0-9]|[0-9]{3,})" "$TEST_TMP/server.log"; do
  [ $SECONDS -lt $deadline ] || fail "no 25th attempt; log: $(tail -5 "$TEST_TMP/server.log")"
  sleep 0.1
done
! grep -q "giving up" "$TEST_TMP/server.log" || fail "a delivery was given up"
pass "still retrying after 25 attempts (the old cap was 20)"
"$RECEIVER" "$RPORT" "$TEST_TMP/secret" "$TEST_TMP/hooks2.log" 0 &
RECV=$!
deadline=$((SECONDS + 20))
until grep -q "^200 .* sig_ok $LIVE\$" "$TEST_TMP/hooks2.log" 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || fail "the live request was not delivered: $(cat "$TEST_TMP/hooks2.log" 2>/dev/null)"
  sleep 0.1
done
sleep 0.5
! grep -q "$ANSWERED" "$TEST_TMP/hooks2.log" || fail "the declined request's wake-up was delivered"
assert_eq 1 "$(grep -c . "$TEST_TMP/hooks2.log")" "exactly one delivery reached the receiver"
pass "the live request delivered once the receiver came up; the declined one dropped"
kill "$RECV"; wait "$RECV" || true
