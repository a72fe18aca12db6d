#!/usr/bin/env bash
# push_upgrade_two_servers.sh - a push.db made before the feed and the
# delivery claims (schema step 5, as written by logshared up to commit
# 18ac668) taken over by two servers started together on its data dir:
# - both come up, and push.db is migrated once (steps 6 and 7);
# - a webhook delivery queued before the upgrade is sent exactly once;
# - a request made before the upgrade and declined through A reaches the
#   stream on B, once (the old code told only A's own streams);
# - a server killed (-9) in the middle of a delivery: the other server
#   sends it once the claim runs out (webhook_timeout_ms + 10 s), not
#   before.
source "$LOGSHARE_TEST_LIB/testlib.sh"
command -v node >/dev/null || { echo "node not installed"; exit 77; }
command -v sqlite3 >/dev/null || { echo "sqlite3 not installed"; exit 77; }

DATA=$TEST_TMP/data
mkdir -p "$DATA"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TEST_TMP/secret"

# Receiver: logs "<ms> <delivery id> <answer>" per POST. While the file
# "down" exists it answers 503; while "hang" exists the next POST gets
# no answer at all (the file is removed); otherwise 200.
node -e '
const fs = require("fs");
const [dir, portFile] = process.argv.slice(1);
const log = (id, what) => fs.appendFileSync(dir + "/hooks.log", `${Date.now()} ${id} ${what}\n`);
require("http").createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    const id = req.headers["x-logshare-delivery"];
    if (fs.existsSync(dir + "/down")) { log(id, 503); res.writeHead(503); res.end(); return; }
    if (fs.existsSync(dir + "/hang")) { fs.unlinkSync(dir + "/hang"); log(id, "hang"); return; }
    log(id, 200); res.writeHead(200); res.end("ok");
  });
}).listen(0, "127.0.0.1", function () { fs.writeFileSync(portFile, String(this.address().port)); });
' "$TEST_TMP" "$TEST_TMP/rport" &
_server_pids+=($!)
for _ in $(seq 100); do [ -s "$TEST_TMP/rport" ] && break; sleep 0.05; done
[ -s "$TEST_TMP/rport" ] || fail "the receiver did not start"
: >>"$TEST_TMP/hooks.log"
HOOK_ARGS=(--webhook-url "http://127.0.0.1:$(cat "$TEST_TMP/rport")/hook"
  --webhook-secret-file "$TEST_TMP/secret" --webhook-timeout-ms 1000
  --webhook-retry-initial-ms 200 --webhook-retry-max-ms 500)
q() { sqlite3 "$DATA/push.db" "$1"; }
token() { "$LOGSHARED_BIN" token --data-dir "$DATA" --user "$1" ${2:+--role "$2"}; }
# create URL USER -> the new request's id in $RID
create() {
  curl -s -o "$TEST_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $AGENT" \
    -H 'Content-Type: application/json' -d "{\"user_id\":\"$2\",\"reason\":\"upgrade\"}" \
    "$1/api/v1/log-requests" >"$TEST_TMP/code"
  assert_eq 201 "$(cat "$TEST_TMP/code")" "create through $1"
  RID=$(grep -o '"id":"lr_[0-9a-f]*"' "$TEST_TMP/body" | head -1 | cut -d'"' -f4)
}
# delivery_of REQUEST -> the id of the webhook delivery announcing it
delivery_of() { q "SELECT id FROM webhook_deliveries WHERE log_request_id = '$1'"; }
# answers DELIVERY WHAT: how many POSTs of DELIVERY got WHAT
answers() { awk -v d="$1" -v w="$2" '$2 == d && $3 == w { n++ } END { print n + 0 }' "$TEST_TMP/hooks.log"; }

# --- a push.db from before the upgrade ----------------------------------
# Made by this build, then taken back to step 5: the tables, columns and
# version rows 18ac668 wrote (steps 6 and 7 only add).
touch "$TEST_TMP/down"
start_server "$DATA" "${HOOK_ARGS[@]}"
AGENT=$(token agent support)
ALICE=$(token alice)
create "$SERVER_URL" alice
R1=$RID
stop_server
q "DROP TRIGGER log_request_events_created; DROP TRIGGER log_request_events_answered;
   DROP TABLE log_request_events; ALTER TABLE webhook_deliveries DROP COLUMN lease_until;
   DELETE FROM push_schema_version WHERE version > 5;
   UPDATE webhook_deliveries SET attempts = 0, next_attempt_at = 0;"
assert_eq 5 "$(q 'SELECT max(version) FROM push_schema_version')" "schema before the upgrade"
D1=$(delivery_of "$R1")
[ -n "$D1" ] || fail "no delivery queued for $R1"
rm -f "$TEST_TMP/down"
: >"$TEST_TMP/hooks.log" # the refused attempts from before

# --- two servers take it over together ----------------------------------
start_together() {
  local i t
  PIDS=(); URLS=()
  for i in 1 2; do
    "$LOGSHARED_BIN" --listen 127.0.0.1:0 --data-dir "$DATA" --port-file "$TEST_TMP/p$i" \
      "${HOOK_ARGS[@]}" >>"$TEST_TMP/server.log" 2>&1 &
    PIDS+=($!); _server_pids+=($!)
  done
  for i in 1 2; do
    for t in $(seq 200); do
      [ -s "$TEST_TMP/p$i" ] && break
      kill -0 "${PIDS[$((i - 1))]}" 2>/dev/null || fail "server $i exited: $(tail -3 "$TEST_TMP/server.log")"
      sleep 0.05
    done
    [ -s "$TEST_TMP/p$i" ] || fail "server $i did not start within 10 s"
    URLS+=("http://127.0.0.1:$(cat "$TEST_TMP/p$i")")
  done
}
start_together
A=${URLS[0]}; PID_A=${PIDS[0]}; B=${URLS[1]}; PID_B=${PIDS[1]}
assert_eq "1 2 3 4 5 6 7" "$(q 'SELECT version FROM push_schema_version ORDER BY version' | tr '\n' ' ' | sed 's/ $//')" "schema versions after the upgrade"
pass "two servers started together migrated the old push.db once"

deadline=$((SECONDS + 10))
until [ "$(answers "$D1" 200)" -ge 1 ]; do
  [ $SECONDS -lt $deadline ] || fail "the delivery queued before the upgrade was not sent within 10 s: $(cat "$TEST_TMP/hooks.log")"
  sleep 0.05
done
sleep 1.5 # a second send by the other server would have begun by now
assert_eq 1 "$(grep -c " $D1 " "$TEST_TMP/hooks.log")" "POSTs of the delivery queued before the upgrade"
assert_eq delivered "$(q "SELECT status FROM webhook_deliveries WHERE id = '$D1'")" "its status"
pass "the delivery queued before the upgrade was sent once"

curl -sN -H "Authorization: Bearer $ALICE" "$B/api/v1/log-requests/stream" >"$TEST_TMP/onB" 2>/dev/null &
_server_pids+=($!)
for _ in $(seq 100); do grep -q "$R1" "$TEST_TMP/onB" 2>/dev/null && break; sleep 0.05; done
grep -q "$R1" "$TEST_TMP/onB" || fail "the stream on B did not start with $R1"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $ALICE" \
  "$A/api/v1/log-requests/$R1/decline")
assert_eq 200 "$code" "decline through A"
for _ in $(seq 60); do grep -q '^event: log_request_update' "$TEST_TMP/onB" && break; sleep 0.05; done
sleep 1.5 # another poll of B's feed: a duplicate would show
assert_eq 1 "$(grep -c '^event: log_request_update' "$TEST_TMP/onB")" "updates of $R1 on the stream on B"
assert_contains "$(grep -A1 '^event: log_request_update' "$TEST_TMP/onB")" '"status":"declined"' "the update on B"
pass "a request from before the upgrade, declined through A, reached the stream on B once"

# --- kill -9 in the middle of a delivery ---------------------------------
# B paused: A alone finds the new delivery due, claims it and sends it;
# the receiver never answers. A dies; B goes on.
kill -STOP "$PID_B"
touch "$TEST_TMP/hang"
create "$A" bob
D2=$(delivery_of "$RID")
for _ in $(seq 100); do [ "$(answers "$D2" hang)" = 1 ] && break; sleep 0.05; done
assert_eq 1 "$(answers "$D2" hang)" "the attempt A made"
kill -KILL "$PID_A"
wait "$PID_A" 2>/dev/null || true
kill -CONT "$PID_B"
deadline=$((SECONDS + 20))
until [ "$(answers "$D2" 200)" -ge 1 ]; do
  [ $SECONDS -lt $deadline ] || fail "B did not send $D2 within 20 s of A's death"
  sleep 0.1
done
sleep 1
hung=$(awk -v d="$D2" '$2 == d && $3 == "hang" { print $1 }' "$TEST_TMP/hooks.log")
sent=$(awk -v d="$D2" '$2 == d && $3 == 200 { print $1 }' "$TEST_TMP/hooks.log")
# The claim lasts webhook_timeout_ms + 10 s = 11 s from just before the
# hung POST; allow for the time between the claim and that POST.
[ $((sent - hung)) -ge 9000 ] || fail "B sent $D2 $((sent - hung)) ms after A's attempt, inside A's claim"
assert_eq 2 "$(grep -c " $D2 " "$TEST_TMP/hooks.log")" "POSTs of $D2 (A's hung one, B's)"
assert_eq delivered "$(q "SELECT status FROM webhook_deliveries WHERE id = '$D2'")" "status of $D2"
pass "after A's kill -9 mid-delivery, B sent it once A's claim ran out ($((sent - hung)) ms)"

kill -TERM "$PID_B"
rc=0; wait "$PID_B" || rc=$?
assert_eq 0 "$rc" "exit status of B after SIGTERM: $(tail -3 "$TEST_TMP/server.log")"
pass "B stopped cleanly"
