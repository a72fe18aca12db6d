#!/usr/bin/env bash
# SIGTERM while a webhook waits for a receiver that does not answer: the
# server exits within shutdown_timeout_s, not after webhook_timeout_ms
# (the delivery thread was joined only when its POST timed out: 10 s by
# default, whatever shutdown_timeout_s said). The given-up POST is not
# counted as a failed attempt; its delivery stays queued and the next
# start sends it again, with the same delivery id.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
echo silent >"$TEST_TMP/mode"
python3 "$LOGSHARE_SOURCE_DIR/tests/server/hook_receiver.py" "$TEST_TMP/hook.port" \
  "$TEST_TMP/hook.log" "$TEST_TMP/mode" &
RECEIVER=$!
trap 'kill $RECEIVER 2>/dev/null || true; _cleanup' EXIT
for i in $(seq 1 100); do [ -s "$TEST_TMP/hook.port" ] && break; sleep 0.05; done
HOOK="http://127.0.0.1:$(cat "$TEST_TMP/hook.port")/hook"

start_server "$DATA" --shutdown-timeout-s 1 --push-webhook-url "$HOOK"
req POST /api/v1/log-requests -H "Authorization: Bearer $(token sam support)" \
  -H 'Content-Type: application/json' -d '{"user_id":"alice","reason":"logs please"}'
expect 201 "" "log request"
for i in $(seq 1 100); do grep -q '^silent' "$TEST_TMP/hook.log" 2>/dev/null && break; sleep 0.05; done
ID=$(awk '/^silent/ {print $2; exit}' "$TEST_TMP/hook.log")
[ -n "$ID" ] || fail "the webhook never reached the receiver"
t0=$(date +%s%N)
stop_ok
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "SIGTERM to exit with a webhook waiting: $ms ms"
[ "$ms" -lt 2500 ] || fail "exit took $ms ms with shutdown_timeout_s 1 (a webhook in flight)"
grep -q "webhook $ID attempt" "$TEST_TMP/server.log" &&
  fail "the given-up POST was logged as a failed attempt: $(grep "webhook $ID" "$TEST_TMP/server.log")"

echo ok >"$TEST_TMP/mode"
start_server "$DATA" --push-webhook-url "$HOOK"
for i in $(seq 1 100); do grep -q "^ok $ID" "$TEST_TMP/hook.log" && break; sleep 0.05; done
grep -q "^ok $ID" "$TEST_TMP/hook.log" || fail "the delivery was not sent again after the restart"
stop_ok
pass "SIGTERM with a webhook waiting: prompt exit, delivery sent again by the next start"
