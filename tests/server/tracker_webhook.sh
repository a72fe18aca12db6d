#!/usr/bin/env bash
# The tracker hand-off as a signed generic webhook ([tracker]
# webhook_url, docs/server.md "Tracker hand-off"), against a real
# receiver (tracker_receiver.py, which checks the signature with its own
# HMAC): one signed POST per ticket with the ticket's JSON, the answer's
# URL as the ticket's tracker_url; retries with the same delivery id; a
# receiver that is down; a kill -9 right after the 201; answers that
# must be ignored; SIGTERM while the receiver hangs; tickets from before
# the tracker was configured; bad settings.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
mkdir -p "$TEST_TMP/bodies"
LOG=$TEST_TMP/hook.log
MODE=$TEST_TMP/mode
RECEIVER=
start_receiver() { # [PORT]
  rm -f "$TEST_TMP/hook.port"
  python3 "$LOGSHARE_SOURCE_DIR/tests/server/tracker_receiver.py" "$TEST_TMP/hook.port" "$LOG" \
    "$MODE" "$DATA/tracker-secret" "$TEST_TMP/bodies" "$@" &
  RECEIVER=$!
  for i in $(seq 1 100); do [ -s "$TEST_TMP/hook.port" ] && break; sleep 0.05; done
  [ -s "$TEST_TMP/hook.port" ] || fail "the receiver did not start"
}
stop_receiver() { kill "$RECEIVER" 2>/dev/null || true; wait "$RECEIVER" 2>/dev/null || true; }
trap 'stop_receiver; _cleanup' EXIT
# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 0.1 s.
wait_for() {
  local s=$1 what=$2 i; shift 2
  for i in $(seq 1 $((s * 10))); do "$@" && return 0; sleep 0.1; done
  fail "$what (waited $s s); server log: $(tail -5 "$TEST_TMP/server.log")"
}
FAST=(--tracker-retry-initial-ms 100 --tracker-retry-max-ms 400 --tracker-timeout-ms 5000)
upload() { # DESCRIPTION: posts a ticket as alice, sets TID
  req POST /api/v1/tickets -H "Authorization: Bearer $ALICE" -F "description=$1" \
    -F call_id=call-7 -F customer_name=Ann -F source=report -F "f=@$TEST_TMP/f.log;type=text/plain"
  expect 201 "" "upload '$1'"
  TID=$(jget id)
}
get_ticket() { req GET "/api/v1/tickets/$1" -H "Authorization: Bearer $ALICE"; expect 200 "" "GET $1"; }
status_is() { get_ticket "$1"; [ "$(jget tracker_status)" = "$2" ]; }
ok_lines() { grep -c "^ok .* $1\$" "$LOG" 2>/dev/null || true; }
printf 'log line\n' >"$TEST_TMP/f.log"

# --- bad settings: exit 2 naming the key --------------------------------------
assert_exit 2 "--tracker-max-attempts 0" -- timeout 10 "$LOGSHARED_BIN" --data-dir "$DATA" \
  --listen 127.0.0.1:0 --tracker-max-attempts 0
assert_contains "$(cat "$TEST_TMP/err")" "tracker.max_attempts" "max_attempts 0: message"
assert_exit 2 "retry_max below retry_initial" -- timeout 10 "$LOGSHARED_BIN" --data-dir "$DATA" \
  --listen 127.0.0.1:0 --tracker-retry-initial-ms 500 --tracker-retry-max-ms 100
assert_contains "$(cat "$TEST_TMP/err")" "tracker.retry_max_ms" "retry_max_ms: message"
assert_exit 2 "a javascript: webhook" -- env LOGSHARE_TRACKER_WEBHOOK_URL='javascript:x' \
  timeout 10 "$LOGSHARED_BIN" --data-dir "$DATA" --listen 127.0.0.1:0
assert_contains "$(cat "$TEST_TMP/err")" "LOGSHARE_TRACKER_WEBHOOK_URL='javascript:x'" "webhook_url: message"
printf 'short\n' >"$TEST_TMP/short-secret"
assert_exit 2 "a short secret" -- timeout 10 "$LOGSHARED_BIN" --data-dir "$DATA" \
  --listen 127.0.0.1:0 --tracker-webhook-url http://127.0.0.1:9/x \
  --tracker-webhook-secret-file "$TEST_TMP/short-secret"
assert_contains "$(cat "$TEST_TMP/err")" "tracker.webhook_secret_file" "short secret: message"
pass "bad [tracker] settings exit 2 naming the key"

# --- a ticket from before the tracker was configured is never handed off ------
start_server "$DATA"
ALICE=$(token alice)
upload "before the tracker"
OLD=$TID
[ "$(jget tracker_status)" = "undefined" ] || fail "tracker_status without a tracker: $BODY"
stop_ok

# --- one signed delivery with the ticket's JSON; tracker_url appears ----------
echo ok >"$MODE"
start_receiver
HOOK="http://127.0.0.1:$(cat "$TEST_TMP/hook.port")/hook"
start_server "$DATA" --tracker-webhook-url "$HOOK" --public-url http://support.example "${FAST[@]}"
[ -s "$DATA/tracker-secret" ] || fail "no <data_dir>/tracker-secret was made"
upload "call dropped"
assert_eq pending "$(jget tracker_status)" "tracker_status in the 201"
wait_for 10 "the ticket was never delivered" grep -qs " $TID\$" "$LOG"
wait_for 10 "tracker_url never appeared" status_is "$TID" delivered
assert_eq "https://tracker.example/item/$TID" "$(jget tracker_url)" "tracker_url"
line=$(grep " $TID\$" "$LOG")
assert_contains "$line" "ticket.created sig ok" "event and signature"
DID=$(awk '{print $2}' <<<"$line")
[[ $DID =~ ^td_[0-9a-f]{32}$ ]] || fail "delivery id '$DID'"
body=$(grep -l "\"$TID\"" "$TEST_TMP"/bodies/*.json | head -1)
node -e '
const b = JSON.parse(require("fs").readFileSync(process.argv[1])), t = b.ticket, tid = process.argv[2];
const want = (k, v) => { if (JSON.stringify(k) !== JSON.stringify(v)) { console.error("body: " + JSON.stringify(k) + " != " + JSON.stringify(v)); process.exit(1); } };
want(b.event, "ticket.created"); want(b.delivery_id, process.argv[3]); want(t.id, tid);
want(t.user_id, "alice"); want(t.description, "call dropped"); want(t.call_ids, ["call-7"]);
want(t.customer_name, "Ann"); want(t.source, "report"); want(t.log_request_id, null);
want(t.attachments.length, 1); want(t.attachments[0].name, "f.log"); want(t.attachments[0].size, 9);
want(t.attachments[0].content_type, "text/plain"); want(/^[0-9a-f]{64}$/.test(t.attachments[0].sha256), true);
want(t.dashboard_url, "http://support.example/dashboard/#/tickets/" + tid);
want(/^\d{4}-\d\d-\d\dT/.test(t.created_at), true);
' "$body" "$TID" "$DID" || fail "the delivered body: $(head -c 600 "$body")"
get_ticket "$OLD"
[ "$(jget tracker_status)" = "undefined" ] || fail "an old ticket got a hand-off: $BODY"
pass "one signed delivery per ticket with its JSON; tracker_url from the answer; old tickets left alone"

# --- 500 then 200: retried, delivered once, same delivery id ------------------
echo flaky >"$MODE"
upload "flaky receiver"
wait_for 10 "never retried after a 500" status_is "$TID" delivered
assert_eq 1 "$(grep -c "^fail .* $TID\$" "$LOG")" "500 answers"
assert_eq 1 "$(grep -c "^flaky .* $TID\$" "$LOG")" "2xx answers"
assert_eq 1 "$(grep " $TID\$" "$LOG" | awk '{print $2}' | sort -u | wc -l)" "delivery ids across retries"
pass "a 500 is retried with the same delivery id, delivered once"

# --- bad answers: no tracker_url, no crash ------------------------------------
for mode in nonjson jsurl big; do
  echo "$mode" >"$MODE"
  upload "answer $mode"
  wait_for 20 "$mode answer: never recorded" status_is "$TID" delivered
  [ "$(jget tracker_url)" = "undefined" ] || fail "$mode answer became tracker_url: $(jget tracker_url)"
done
grep -q 'delivered, but answer over' "$TEST_TMP/server.log" || fail "the 10 MB answer was not logged"
grep -q "delivered, but answer's url is not" "$TEST_TMP/server.log" || fail "javascript: not logged"
pass "a non-JSON answer, a javascript: URL and a 10 MB answer set no tracker_url"

# --- receiver down: 201 anyway, delivered once it is up -----------------------
PORT=$(cat "$TEST_TMP/hook.port")
stop_receiver
upload "receiver down 1"; D1=$TID
upload "receiver down 2"; D2=$TID
wait_for 10 "no failed attempt was logged" grep -q "tracker hand-off .* of $D1 attempt" "$TEST_TMP/server.log"
echo ok >"$MODE"
start_receiver "$PORT"
wait_for 15 "not delivered after the receiver came up" status_is "$D2" delivered
wait_for 15 "not delivered after the receiver came up" status_is "$D1" delivered
pass "tickets are accepted while the receiver is down and delivered once it is up"

# --- kill -9 right after a 201: delivered after the restart -------------------
stop_receiver
upload "crash right after the 201"
K=$TID
stop_server KILL
grep -q " $K\$" "$LOG" && fail "delivered while the receiver was down?"
start_receiver "$PORT"
start_server "$DATA" --tracker-webhook-url "$HOOK" "${FAST[@]}"
wait_for 15 "not delivered after kill -9 and restart" status_is "$K" delivered
assert_eq 1 "$(ok_lines "$K")" "deliveries after the restart"
pass "a ticket answered 201 just before kill -9 is handed off after the restart"

# --- SIGTERM while the receiver hangs: prompt exit, sent again later ----------
echo silent >"$MODE"
stop_ok
start_server "$DATA" --tracker-webhook-url "$HOOK" --shutdown-timeout-s 1 "${FAST[@]}"
upload "receiver hangs"
H=$TID
wait_for 10 "the POST never reached the receiver" grep -qs "^silent .* $H\$" "$LOG"
t0=$(date +%s%N)
stop_ok
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 3000 ] || fail "exit took $ms ms with shutdown_timeout_s 1 and a hanging tracker"
grep -q "of $H attempt" "$TEST_TMP/server.log" && fail "the given-up POST counted as an attempt"
echo ok >"$MODE"
start_server "$DATA" --tracker-webhook-url "$HOOK" "${FAST[@]}"
wait_for 15 "not delivered after the restart" status_is "$H" delivered
assert_eq 1 "$(grep " $H\$" "$LOG" | awk '{print $2}' | sort -u | wc -l)" "delivery ids across starts"
pass "SIGTERM with a hanging receiver exits in $ms ms; the hand-off is sent again by the next start"

# --- attempts run out: failed, visible in the ticket --------------------------
stop_ok
stop_receiver
start_server "$DATA" --tracker-webhook-url "$HOOK" --tracker-max-attempts 2 "${FAST[@]}"
upload "never reachable"
wait_for 15 "never marked failed" status_is "$TID" failed
wait_for 5 "giving up not logged" grep -q "of $TID attempt 2: .*giving up" "$TEST_TMP/server.log"
pass "a hand-off whose attempts run out is marked failed in the ticket"
req GET /metrics
expect 200 "" "/metrics"
assert_contains "$BODY" 'logshared_tracker_handoffs{status="failed"} 1' "/metrics: the failed hand-off"
assert_contains "$BODY" 'logshared_tracker_handoffs{status="pending"} 0' "/metrics: nothing pending"
echo "$BODY" | grep -Eq '^logshared_tracker_handoffs\{status="delivered"\} [1-9]' ||
  fail "/metrics: no delivered hand-off counted: $(grep tracker <<<"$BODY")"
pass "/metrics counts the hand-offs by status"
grep -q 'sig bad' "$LOG" && fail "a delivery with a bad signature: $(grep 'sig bad' "$LOG")"
stop_ok
pass "tracker_webhook"
