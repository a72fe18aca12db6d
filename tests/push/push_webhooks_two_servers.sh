#!/usr/bin/env bash
# push_webhooks_two_servers.sh - two logshared processes on one data dir
# drain one webhook queue (push.db): each delivery is sent once, by one
# of them. The receiver takes 1.5 s to answer, so while one server waits
# for its answer the other has time to find the same delivery due (both
# look at least every second). The old code sent it from both: nothing
# claimed a delivery before sending it.
source "$LOGSHARE_TEST_LIB/testlib.sh"
command -v node >/dev/null || { echo "node not installed"; exit 77; }

DATA=$TEST_TMP/data
mkdir -p "$DATA"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TEST_TMP/secret"

# A slow receiver: logs "<delivery id> <event>" per POST, answers 200
# after 1.5 s.
node -e '
const fs = require("fs");
const [log, portFile] = process.argv.slice(1);
const srv = require("http").createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    fs.appendFileSync(log, `${req.headers["x-logshare-delivery"]} ${req.headers["x-logshare-event"]}\n`);
    setTimeout(() => { res.writeHead(200); res.end("ok"); }, 1500);
  });
});
srv.listen(0, "127.0.0.1", () => fs.writeFileSync(portFile, String(srv.address().port)));
' "$TEST_TMP/hooks.log" "$TEST_TMP/rport" &
RECV=$!
_server_pids+=($RECV)
for _ in $(seq 100); do [ -s "$TEST_TMP/rport" ] && break; sleep 0.05; done
[ -s "$TEST_TMP/rport" ] || fail "the receiver did not start"
: >>"$TEST_TMP/hooks.log"

HOOK_ARGS=(--webhook-url "http://127.0.0.1:$(cat "$TEST_TMP/rport")/hook"
  --webhook-secret-file "$TEST_TMP/secret" --webhook-timeout-ms 5000 --expiry-sweep-ms 300)
start_server "$DATA" "${HOOK_ARGS[@]}"
A=$SERVER_URL; PID_A=$SERVER_PID
start_server "$DATA" "${HOOK_ARGS[@]}"
B=$SERVER_URL; PID_B=$SERVER_PID
AGENT=$("$LOGSHARED_BIN" token --data-dir "$DATA" --user agent --role support)
create() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $AGENT" \
    -H 'Content-Type: application/json' -d "{\"user_id\":\"$2\",\"reason\":\"hook\"}" \
    "$1/api/v1/log-requests")
  assert_eq 201 "$code" "create through $1"
}

for i in 1 2 3 4; do
  if [ $((i % 2)) = 1 ]; then create "$A" "u$i"; else create "$B" "u$i"; fi
done
deadline=$((SECONDS + 30))
until [ "$(sqlite3 "$DATA/push.db" "SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'")" = 4 ]; do
  [ $SECONDS -lt $deadline ] || fail "not all 4 delivered within 30 s: $(sqlite3 "$DATA/push.db" 'SELECT id, status, attempts FROM webhook_deliveries')"
  sleep 0.1
done
sleep 2.5 # a second send of any of them would have begun by now
assert_eq 4 "$(cut -d' ' -f1 "$TEST_TMP/hooks.log" | sort -u | wc -l)" "distinct deliveries received"
DUPS=$(cut -d' ' -f1 "$TEST_TMP/hooks.log" | sort | uniq -d | tr '\n' ' ')
assert_eq "" "$DUPS" "deliveries sent more than once"
assert_eq 4 "$(grep -c . "$TEST_TMP/hooks.log")" "POSTs received"
assert_eq 4 "$(sqlite3 "$DATA/push.db" 'SELECT sum(attempts) FROM webhook_deliveries')" "attempts recorded"
pass "4 deliveries through two servers, each sent once"

# Both stop cleanly (under the sanitizers: no leak, no error at exit).
for pid in "$PID_A" "$PID_B"; do
  kill -TERM "$pid"
  rc=0; wait "$pid" || rc=$?
  assert_eq 0 "$rc" "exit status of logshared $pid after SIGTERM: $(tail -3 "$TEST_TMP/server.log")"
done
pass "both servers stopped cleanly"
