#!/usr/bin/env bash
# push_watch.sh - `logshare watch` (logshare_watch underneath) against a
# real logshared: --yes uploads the store's files as a ticket linked to
# the request (fulfilled); without --yes the terminal question is asked
# on stdin and "n" declines; a watcher started after the request gets it
# on connect, and one that loses the server reconnects by itself.
source "$LOGSHARE_TEST_LIB/testlib.sh"

HELPER="$LOGSHARE_BUILD_DIR/tests/push/push_helper"
DATA="$TEST_TMP/data"
STORE="$TEST_TMP/store"
"$HELPER" write "$STORE" 50 || fail "cannot write a store"
start_server "$DATA" --stream-heartbeat-ms 1000
ALICE=$("$LOGSHARED_BIN" token --data-dir "$DATA" --user alice)
AGENT=$("$LOGSHARED_BIN" token --data-dir "$DATA" --user agent --role support)
jget() { node -e 'let d=JSON.parse(process.argv[1]);for(const k of process.argv[2].split("."))d=d?.[k];console.log(d===undefined?"":typeof d==="object"?JSON.stringify(d):d)' "$1" "$2"; }
create() {
  curl -s -H "Authorization: Bearer $AGENT" -H 'Content-Type: application/json' \
    -d "{\"user_id\":\"alice\",\"reason\":\"$1\"}" "$SERVER_URL/api/v1/log-requests"
}
get() { curl -s -H "Authorization: Bearer $AGENT" "$SERVER_URL/api/v1/log-requests/$1"; }
wait_for() {
  local end=$((SECONDS + $3))
  until grep -q -- "$2" "$1" 2>/dev/null; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.05
  done
}

# --- --yes: a request made while the watcher runs is uploaded ----------
"$LOGSHARE_BIN" watch --dir "$STORE" --server "$SERVER_URL" --token "$ALICE" --yes \
  --max-requests 1 >"$TEST_TMP/w1.out" 2>"$TEST_TMP/w1.err" &
W1=$!
wait_for "$TEST_TMP/w1.err" "watching" 10 || fail "the watcher did not connect: $(cat "$TEST_TMP/w1.err")"
R1=$(jget "$(create "please send logs")" id)
wait "$W1" || fail "watch --yes exited $?: $(cat "$TEST_TMP/w1.err")"
assert_contains "$(cat "$TEST_TMP/w1.out")" "request $R1: please send logs" "the request was shown"
TICKET=$(sed -n "s/^uploaded $R1 ticket //p" "$TEST_TMP/w1.out")
[ -n "$TICKET" ] || fail "no upload: $(cat "$TEST_TMP/w1.out")"
DOC=$(get "$R1")
assert_eq fulfilled "$(jget "$DOC" status)" "the request is fulfilled"
assert_eq "$TICKET" "$(jget "$DOC" fulfilled_ticket_id)" "by the uploaded ticket"
T=$(curl -s -H "Authorization: Bearer $AGENT" "$SERVER_URL/api/v1/tickets/$TICKET")
assert_eq push "$(jget "$T" source)" "ticket source"
assert_eq "$R1" "$(jget "$T" log_request_id)" "ticket names the request"
[ "$(jget "$T" attachments.length)" -ge 1 ] || fail "the ticket has no log files"
assert_contains "$(jget "$T" description)" "please send logs" "the reason is in the description"
pass "watch --yes uploaded $R1 as ticket $TICKET with the logs (fulfilled)"

# --- asked on stdin; "n" declines; a pending request comes on connect --
R2=$(jget "$(create "second look")" id)
echo n | "$LOGSHARE_BIN" watch --dir "$STORE" --server "$SERVER_URL" --token "$ALICE" \
  --max-requests 1 >"$TEST_TMP/w2.out" 2>"$TEST_TMP/w2.err" || fail "watch (n) failed: $(cat "$TEST_TMP/w2.err")"
assert_contains "$(cat "$TEST_TMP/w2.err")" "Upload them? [y/N]" "the question was asked"
assert_contains "$(cat "$TEST_TMP/w2.out")" "declined $R2" "n declines"
assert_eq declined "$(jget "$(get "$R2")" status)" "the server recorded the decline"
pass "a pending request is offered on connect; 'n' declines it"

# --- "y" on stdin uploads ----------------------------------------------
R3=$(jget "$(create "third")" id)
echo y | "$LOGSHARE_BIN" watch --dir "$STORE" --server "$SERVER_URL" --token "$ALICE" \
  --max-requests 1 >"$TEST_TMP/w3.out" 2>"$TEST_TMP/w3.err" || fail "watch (y) failed"
assert_contains "$(cat "$TEST_TMP/w3.out")" "uploaded $R3 ticket" "y uploads"
assert_eq fulfilled "$(jget "$(get "$R3")" status)" "fulfilled after y"
pass "'y' uploads"

# --- the watcher reconnects after the server restarts ------------------
"$LOGSHARE_BIN" watch --dir "$STORE" --server "$SERVER_URL" --token "$ALICE" --yes \
  --max-requests 1 --reconnect-ms 100 >"$TEST_TMP/w4.out" 2>"$TEST_TMP/w4.err" &
W4=$!
wait_for "$TEST_TMP/w4.err" "watching" 10 || fail "the watcher did not connect"
OLD_PORT=$SERVER_PORT
stop_server TERM
wait_for "$TEST_TMP/w4.err" "stream closed" 10 || fail "the watcher did not notice the restart"
start_server "$DATA" --listen "127.0.0.1:$OLD_PORT" --stream-heartbeat-ms 1000
R4=$(jget "$(create "after restart")" id)
for _ in $(seq 200); do kill -0 "$W4" 2>/dev/null || break; sleep 0.05; done
kill -0 "$W4" 2>/dev/null && { kill "$W4"; fail "the watcher did not get $R4 after the restart: $(cat "$TEST_TMP/w4.err")"; }
wait "$W4" || fail "watcher exit $?"
assert_contains "$(cat "$TEST_TMP/w4.out")" "uploaded $R4 ticket" "uploaded after reconnect"
pass "the watcher reconnected after a server restart and answered $R4"

# --- log_request_update events (the answer, echoed) do not disturb it ----
"$LOGSHARE_BIN" watch --dir "$STORE" --server "$SERVER_URL" --token "$ALICE" --yes \
  --max-requests 2 >"$TEST_TMP/w5.out" 2>"$TEST_TMP/w5.err" &
W5=$!
wait_for "$TEST_TMP/w5.err" "watching" 10 || fail "the watcher did not connect"
R5=$(jget "$(create "fifth")" id)
wait_for "$TEST_TMP/w5.out" "uploaded $R5" 10 || fail "R5 not uploaded: $(cat "$TEST_TMP/w5.err")"
for _ in $(seq 100); do [ "$(jget "$(get "$R5")" status)" = fulfilled ] && break; sleep 0.05; done
sleep 0.3 # the update for R5 reaches the watcher's stream
R6=$(jget "$(create "sixth")" id)
for _ in $(seq 200); do kill -0 "$W5" 2>/dev/null || break; sleep 0.05; done
kill -0 "$W5" 2>/dev/null && { kill "$W5"; fail "the watcher did not answer $R6"; }
wait "$W5" || fail "watcher exit $?: $(cat "$TEST_TMP/w5.err")"
assert_eq 2 "$(grep -c '^uploaded ' "$TEST_TMP/w5.out")" "two uploads, nothing asked twice"
assert_eq 1 "$(grep -c "request $R5" "$TEST_TMP/w5.out")" "R5 shown once despite its update event"
pass "the watcher ignores the update event for its own answer"

# --- a refused token ends the watch with exit 1 -------------------------
assert_exit 1 "a bad token" -- "$LOGSHARE_BIN" watch --dir "$STORE" --server "$SERVER_URL" \
  --token not-a-token --yes
assert_contains "$(cat "$TEST_TMP/err")" "refused the token" "says why"
pass "a refused token exits 1"
