#!/usr/bin/env bash
# The tracker hand-off with two servers on one data dir and one
# PostgreSQL database (docs/server.md "Tracker hand-off", "Several
# servers"): both drain the same hand-off rows, so each ticket, whichever
# server took it, reaches the receiver once in effect (the receiver
# answers 500 to each first POST, so claims and retries interleave);
# and a server killed in the middle of an attempt is replaced by the
# other once its claim ends, with the same delivery id.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
mkdir -p "$TEST_TMP/bodies" "$DATA"
LOG=$TEST_TMP/hook.log
MODE=$TEST_TMP/mode
RECEIVER=
trap 'kill $RECEIVER 2>/dev/null || true; stop_postgres; _cleanup' EXIT
wait_for() { # SECONDS WHAT COMMAND...
  local s=$1 what=$2 i; shift 2
  for i in $(seq 1 $((s * 10))); do "$@" && return 0; sleep 0.1; done
  fail "$what (waited $s s); server log: $(tail -5 "$TEST_TMP/server.log")"
}
start_postgres
DB="host=$PG port=$PG_PORT dbname=logshare user=postgres"
# One key for both servers (they share the data dir's tracker-secret
# too; an explicit file lets the receiver start first).
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TEST_TMP/secret"
echo flaky >"$MODE"
python3 "$LOGSHARE_SOURCE_DIR/tests/server/tracker_receiver.py" "$TEST_TMP/hook.port" "$LOG" \
  "$MODE" "$TEST_TMP/secret" "$TEST_TMP/bodies" &
RECEIVER=$!
for i in $(seq 1 100); do [ -s "$TEST_TMP/hook.port" ] && break; sleep 0.05; done
HOOK="http://127.0.0.1:$(cat "$TEST_TMP/hook.port")/hook"
ARGS=(--database-url "$DB" --tracker-webhook-url "$HOOK" --tracker-webhook-secret-file "$TEST_TMP/secret"
  --tracker-retry-initial-ms 50 --tracker-retry-max-ms 200 --tracker-timeout-ms 2000)

start_server "$DATA" "${ARGS[@]}"; A_PID=$SERVER_PID; A_URL=$SERVER_URL
start_server "$DATA" "${ARGS[@]}"; B_PID=$SERVER_PID; B_URL=$SERVER_URL
ALICE=$(token alice)
IDS=()
for i in $(seq 1 20); do
  url=$A_URL; [ $((i % 2)) = 0 ] && url=$B_URL
  SERVER_URL=$url
  req POST /api/v1/tickets -H "Authorization: Bearer $ALICE" -F "description=ticket $i"
  expect 201 "" "upload $i"
  IDS+=("$(jget id)")
done
delivered_all() {
  local id
  for id in "${IDS[@]}"; do grep -q "^flaky .* $id\$" "$LOG" 2>/dev/null || return 1; done
}
wait_for 30 "not every ticket was delivered" delivered_all
for id in "${IDS[@]}"; do
  assert_eq 1 "$(grep -c "^flaky .* $id\$" "$LOG")" "2xx deliveries of $id"
  assert_eq 1 "$(grep " $id\$" "$LOG" | awk '{print $2}' | sort -u | wc -l)" "delivery ids of $id"
done
grep -q 'sig bad' "$LOG" && fail "a bad signature: $(grep 'sig bad' "$LOG" | head -3)"
# Both servers read the same result.
for url in "$A_URL" "$B_URL"; do
  SERVER_URL=$url
  wait_for 10 "tracker_status never delivered on $url" \
    bash -c "curl -sf -H 'Authorization: Bearer $ALICE' '$url/api/v1/tickets/${IDS[0]}' | grep -q '\"tracker_status\":\"delivered\"'"
  req GET "/api/v1/tickets/${IDS[19]}" -H "Authorization: Bearer $ALICE"
  assert_eq "https://tracker.example/item/${IDS[19]}" "$(jget tracker_url)" "tracker_url via $url"
done
[ "$(grep -c "^flaky " "$LOG")" = 20 ] || fail "$(grep -c '^flaky ' "$LOG") 2xx deliveries for 20 tickets"
pass "two servers on one database hand each of 20 tickets off once, retries included"

# A server killed mid-attempt: the other takes the hand-off over when
# the claim (timeout_ms + 10 s) ends, with the same delivery id.
SERVER_PID=$B_PID; stop_ok
echo silent >"$MODE"
SERVER_URL=$A_URL
req POST /api/v1/tickets -H "Authorization: Bearer $ALICE" -F "description=server dies"
expect 201 "" "upload to A"
K=$(jget id)
wait_for 10 "the POST never reached the receiver" grep -q "^silent .* $K\$" "$LOG"
SERVER_PID=$A_PID; stop_server KILL
echo ok >"$MODE"
t0=$(date +%s)
start_server "$DATA" "${ARGS[@]}"
wait_for 30 "the other server never took the hand-off over" grep -q "^ok .* $K\$" "$LOG"
took=$(( $(date +%s) - t0 ))
assert_eq 1 "$(grep " $K\$" "$LOG" | awk '{print $2}' | sort -u | wc -l)" "delivery ids of $K"
[ "$took" -ge 8 ] || fail "taken over after $took s, before the claim (12 s) ended"
pass "a server killed mid-attempt is replaced after its claim ends (${took} s), same delivery id"

# The database goes away and comes back: the worker says so once, does
# not crash, and hands off again once it is back.
"${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG/data" -m fast stop >/dev/null
wait_for 10 "the outage was not logged" grep -q 'tracker hand-offs: cannot claim' "$TEST_TMP/server.log"
sleep 1.5 # a few polls into the outage
assert_eq 1 "$(grep -c 'tracker hand-offs: cannot claim' "$TEST_TMP/server.log")" "outage messages"
"${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG/data" -o "-p $PG_PORT -k $PG -c listen_addresses=''" \
  -l "$PG/log" -w start >/dev/null
wait_for 15 "claims did not resume" grep -q 'tracker hand-offs: claiming again' "$TEST_TMP/server.log"
req POST /api/v1/tickets -H "Authorization: Bearer $ALICE" -F "description=after the outage"
expect 201 "" "upload after the outage"
P=$(jget id)
wait_for 15 "not delivered after the outage" grep -q "^ok .* $P\$" "$LOG"
stop_ok
pass "a database outage is logged once and hand-offs resume after it"
