#!/usr/bin/env bash
# push_webhook_stale_claim.sh - two servers on one push.db; server A is
# paused (SIGSTOP: a host suspended, heavy swapping) in the middle of a
# webhook attempt for longer than its claim. B claims the delivery when
# A's claim runs out and sends it. A then wakes, its attempt has timed
# out, and it records that attempt: the old code's record (and the
# release on stopping) cleared the claim whoever held it, so A, finding
# the delivery due again after its backoff, sent it a third time while
# B's attempt was still waiting for its answer. Now a server records
# (or releases) only the claim it made: A's late result is dropped and
# nothing is sent until B's attempt ends.
source "$LOGSHARE_TEST_LIB/testlib.sh"
command -v node >/dev/null || { echo "node not installed"; exit 77; }
command -v sqlite3 >/dev/null || { echo "sqlite3 not installed"; exit 77; }

DATA=$TEST_TMP/data
mkdir -p "$DATA"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TEST_TMP/secret"

# Receiver: logs "<ms> <delivery id> <n>" per POST (n counts from 1);
# never answers the first two POSTs, answers 200 from the third.
node -e '
const fs = require("fs");
const [log, portFile] = process.argv.slice(1);
let n = 0;
require("http").createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    n++;
    fs.appendFileSync(log, `${Date.now()} ${req.headers["x-logshare-delivery"]} ${n}\n`);
    if (n >= 3) { res.writeHead(200); res.end("ok"); }
  });
}).listen(0, "127.0.0.1", function () { fs.writeFileSync(portFile, String(this.address().port)); });
' "$TEST_TMP/hooks.log" "$TEST_TMP/rport" &
_server_pids+=($!)
for _ in $(seq 100); do [ -s "$TEST_TMP/rport" ] && break; sleep 0.05; done
[ -s "$TEST_TMP/rport" ] || fail "the receiver did not start"
: >>"$TEST_TMP/hooks.log"

# An attempt lasts at most 3 s; a claim 13 s. Retries start at 200 ms.
HOOK_ARGS=(--webhook-url "http://127.0.0.1:$(cat "$TEST_TMP/rport")/hook"
  --webhook-secret-file "$TEST_TMP/secret" --webhook-timeout-ms 3000
  --webhook-retry-initial-ms 200 --webhook-retry-max-ms 400)
start_server "$DATA" "${HOOK_ARGS[@]}"
A=$SERVER_URL; PID_A=$SERVER_PID
start_server "$DATA" "${HOOK_ARGS[@]}"
PID_B=$SERVER_PID
AGENT=$("$LOGSHARED_BIN" token --data-dir "$DATA" --user agent --role support)
posts() { grep -c . "$TEST_TMP/hooks.log" || true; }
# at N: the time (ms) of POST number N
at() { awk -v n="$1" '$3 == n { print $1 }' "$TEST_TMP/hooks.log"; }

# B paused while A finds the delivery and sends it (POST 1, unanswered).
kill -STOP "$PID_B"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $AGENT" \
  -H 'Content-Type: application/json' -d '{"user_id":"alice","reason":"stale claim"}' \
  "$A/api/v1/log-requests")
assert_eq 201 "$code" "create through A"
for _ in $(seq 100); do [ "$(posts)" -ge 1 ] && break; sleep 0.05; done
assert_eq 1 "$(posts)" "POSTs once A sent the delivery"
# A stops mid-attempt; B runs and, when A's claim ends, sends POST 2.
kill -STOP "$PID_A"
kill -CONT "$PID_B"
deadline=$((SECONDS + 20))
until [ "$(posts)" -ge 2 ]; do
  [ $SECONDS -lt $deadline ] || fail "B did not send the delivery within 20 s"
  sleep 0.05
done
# A wakes while B's attempt (POST 2) still waits for an answer.
kill -CONT "$PID_A"
deadline=$((SECONDS + 15))
until [ "$(posts)" -ge 3 ]; do
  [ $SECONDS -lt $deadline ] || fail "the delivery was not sent a third time within 15 s"
  sleep 0.05
done
sleep 0.5
gap=$(($(at 3) - $(at 2)))
[ "$gap" -ge 2800 ] ||
  fail "POST 3 came $gap ms after POST 2, while B's attempt (up to 3 s) still held its claim: $(cat "$TEST_TMP/hooks.log")"
assert_eq 1 "$(cut -d' ' -f2 "$TEST_TMP/hooks.log" | sort -u | wc -l)" "deliveries (all POSTs are one)"
deadline=$((SECONDS + 5))
until [ "$(sqlite3 "$DATA/push.db" 'SELECT status FROM webhook_deliveries')" = delivered ]; do
  [ $SECONDS -lt $deadline ] || fail "not recorded delivered: $(sqlite3 "$DATA/push.db" 'SELECT status, attempts, lease_until FROM webhook_deliveries')"
  sleep 0.05
done
sleep 1
assert_eq 3 "$(posts)" "POSTs in all"
pass "a late result of a paused server did not end another server's claim (the next POST came $gap ms after B's)"

for pid in "$PID_A" "$PID_B"; do
  kill -TERM "$pid"
  rc=0; wait "$pid" || rc=$?
  assert_eq 0 "$rc" "exit status of logshared $pid after SIGTERM: $(tail -3 "$TEST_TMP/server.log")"
done
pass "both servers stopped cleanly"
