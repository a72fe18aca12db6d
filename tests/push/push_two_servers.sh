#!/usr/bin/env bash
# push_two_servers.sh - two logshared processes on one data dir (one
# push.db), as behind a load balancer: every log-request event reaches
# the streams open on both servers, whichever server made the change,
# within a bounded time and exactly once.
# - A request created through A reaches a stream on B (and the
#   reverse), a few times over; the stream on the creating server still
#   gets it at once. (The old code published to the creating process's
#   streams only: the other server's stream got nothing until the device
#   reconnected.)
# - A decline made through either server, and a ticket through B that
#   fulfils a request, reach the streams on both as one
#   log_request_update each.
# - After all of it, each stream holds each request's log_request event
#   exactly once, with distinct ids.
source "$LOGSHARE_TEST_LIB/testlib.sh"

DATA=$TEST_TMP/data
start_server "$DATA" --stream-heartbeat-ms 500
A=$SERVER_URL; PID_A=$SERVER_PID
start_server "$DATA" --stream-heartbeat-ms 500
B=$SERVER_URL; PID_B=$SERVER_PID
token() { "$LOGSHARED_BIN" token --data-dir "$DATA" --user "$1" ${2:+--role "$2"}; }
ALICE=$(token alice)
AGENT=$(token agent support)

# api URL METHOD PATH TOKEN [JSON] -> body in $BODY, status in $STATUS
api() {
  local args=(-s -o "$TEST_TMP/body" -w '%{http_code}' -X "$2" -H "Authorization: Bearer $4")
  [ $# -ge 5 ] && args+=(-H 'Content-Type: application/json' --data-binary "$5")
  STATUS=$(curl "${args[@]}" "$1$3")
  BODY=$(cat "$TEST_TMP/body")
}
# The "id" of a request in a JSON body.
body_id() { grep -o '"id":"lr_[0-9a-f]*"' <<<"$BODY" | head -1 | cut -d'"' -f4; }

# wait_for FILE TEXT SECONDS: true once FILE contains TEXT.
wait_for() {
  local end=$((SECONDS + $3 + 1))
  until grep -q -- "$2" "$1" 2>/dev/null; do
    [ $SECONDS -ge $end ] && return 1
    sleep 0.02
  done
}
# events FILE REQUEST_ID TYPE: how many TYPE events in FILE carry the request.
events() {
  awk -v id="\"id\":\"$2\"" -v type="$3" '
    /^event: / { ev = substr($0, 8) }
    /^data: / { if (ev == type && index($0, id)) n++; ev = "" }
    END { print n + 0 }' "$1"
}
# within FILE TEXT: seconds (bounded at 3) until FILE has TEXT, or fail.
arrives() {
  wait_for "$1" "$2" 3 || fail "$2 did not reach $(basename "$1") within 3 s"
}

curl -sN -H "Authorization: Bearer $ALICE" "$A/api/v1/log-requests/stream" >"$TEST_TMP/onA" 2>/dev/null &
_server_pids+=($!)
curl -sN -H "Authorization: Bearer $ALICE" "$B/api/v1/log-requests/stream" >"$TEST_TMP/onB" 2>/dev/null &
_server_pids+=($!)
wait_for "$TEST_TMP/onA" "retry:" 5 || fail "the stream on A did not open"
wait_for "$TEST_TMP/onB" "retry:" 5 || fail "the stream on B did not open"

# --- creations through either server reach both streams ---------------
IDS=()
for i in 1 2 3 4 5 6; do
  if [ $((i % 2)) = 1 ]; then VIA=$A; OTHER=onB; else VIA=$B; OTHER=onA; fi
  t0=$(date +%s%N)
  api "$VIA" POST /api/v1/log-requests "$AGENT" "{\"user_id\":\"alice\",\"reason\":\"r$i\",\"expires_in\":600}"
  assert_eq 201 "$STATUS" "create $i"
  R=$(body_id)
  [ -n "$R" ] || fail "no id in $BODY"
  IDS+=("$R")
  arrives "$TEST_TMP/$OTHER" "$R"
  t1=$(date +%s%N)
  arrives "$TEST_TMP/onA" "$R"
  arrives "$TEST_TMP/onB" "$R"
  pass "request $i made through $([ "$VIA" = "$A" ] && echo A || echo B) reached the stream on the other server in $(((t1 - t0) / 1000000)) ms"
done

# --- a decline through B reaches the stream on A (and B's own) --------
api "$B" POST "/api/v1/log-requests/${IDS[0]}/decline" "$ALICE"
assert_eq 200 "$STATUS" "decline through B"
api "$A" POST "/api/v1/log-requests/${IDS[1]}/decline" "$ALICE"
assert_eq 200 "$STATUS" "decline through A"
# --- a ticket through B that names a request fulfils it: both hear ------
echo "alice's log line" >"$TEST_TMP/log.txt"
STATUS=$(curl -s -o "$TEST_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $ALICE" \
  -F description="logs for support" -F source=push -F "log_request_id=${IDS[2]}" \
  -F "f=@$TEST_TMP/log.txt" "$B/api/v1/tickets")
assert_eq 201 "$STATUS" "ticket through B for ${IDS[2]}"
ANSWERED=("${IDS[0]}" "${IDS[1]}" "${IDS[2]}")
for f in onA onB; do
  for R in "${ANSWERED[@]}"; do
    end=$((SECONDS + 4))
    until [ "$(events "$TEST_TMP/$f" "$R" log_request_update)" -ge 1 ]; do
      [ $SECONDS -ge $end ] && fail "the answer to $R did not reach $f within 3 s"
      sleep 0.02
    done
  done
done
pass "declines through either server, and a fulfilling ticket, reach the streams on both"

# --- exactly once --------------------------------------------------------
# Long enough for several polls of both servers: a duplicate would show.
sleep 2.5
for f in onA onB; do
  for R in "${IDS[@]}"; do
    assert_eq 1 "$(events "$TEST_TMP/$f" "$R" log_request)" "log_request events of $R on $f"
  done
  for R in "${ANSWERED[@]}"; do
    assert_eq 1 "$(events "$TEST_TMP/$f" "$R" log_request_update)" "log_request_update events of $R on $f"
  done
  assert_eq 6 "$(grep '^id: ' "$TEST_TMP/$f" | sort -u | wc -l)" "distinct event ids on $f"
  assert_eq 6 "$(grep -c '^id: ' "$TEST_TMP/$f")" "event ids on $f"
done
pass "each stream got each event exactly once"

# --- a stream opened later on B starts with what is pending --------------
timeout 1 curl -sN -H "Authorization: Bearer $ALICE" "$B/api/v1/log-requests/stream" \
  >"$TEST_TMP/late" 2>/dev/null || true
for R in "${IDS[@]:3}"; do
  assert_eq 1 "$(events "$TEST_TMP/late" "$R" log_request)" "pending $R on a new stream on B"
done
for R in "${ANSWERED[@]}"; do
  assert_eq 0 "$(events "$TEST_TMP/late" "$R" log_request)" "answered $R on a new stream"
done
pass "a new stream on B gets the pending requests once"

# Both stop cleanly (under the sanitizers: no leak, no error at exit).
for pid in "$PID_A" "$PID_B"; do
  kill -TERM "$pid"
  rc=0; wait "$pid" || rc=$?
  assert_eq 0 "$rc" "exit status of logshared $pid after SIGTERM: $(tail -3 "$TEST_TMP/server.log")"
done
pass "both servers stopped cleanly"
