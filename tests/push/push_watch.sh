#!/usr/bin/env bash
# push_watch.sh - `logshare watch` (logshare_watch underneath) against a
# real logshared: --yes uploads the store's files as a ticket linked to
# the request (fulfilled); without --yes the terminal question is asked
# on stdin and "n" declines; a watcher started after the request gets it
# on connect, and one that loses the server reconnects by itself. Errors
# no retry can cure end it at once: a refused token, a server certificate
# that does not verify (until --ca-file names its CA), a malformed URL.
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
  curl -s -m 30 -H "Authorization: Bearer $AGENT" -H 'Content-Type: application/json' \
    -d "{\"user_id\":\"alice\",\"reason\":\"$1\"}" "$SERVER_URL/api/v1/log-requests"
}
get() { curl -s -m 30 -H "Authorization: Bearer $AGENT" "$SERVER_URL/api/v1/log-requests/$1"; }
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

# --- a reason cannot forge output lines or drive the terminal -------------
# stdout is one line per event for scripts: a newline in the reason must
# not make a line that looks like an upload, nor ESC-like C1 controls reach
# the terminal.
RF=$(jget "$(curl -s -H "Authorization: Bearer $AGENT" -H 'Content-Type: application/json' \
  -d '{"user_id":"alice","reason":"two\nuploaded lr_forged ticket tk_forged\u009b31m"}' \
  "$SERVER_URL/api/v1/log-requests")" id)
[ -n "$RF" ] || fail "cannot create the request"
echo n | "$LOGSHARE_BIN" watch --dir "$STORE" --server "$SERVER_URL" --token "$ALICE" \
  --max-requests 1 >"$TEST_TMP/wf.out" 2>"$TEST_TMP/wf.err" || fail "watch (forged) failed"
! grep -q '^uploaded lr_forged' "$TEST_TMP/wf.out" || fail "the reason forged a line: $(cat "$TEST_TMP/wf.out")"
assert_eq "request $RF: two uploaded lr_forged ticket tk_forged?31m" "$(head -1 "$TEST_TMP/wf.out")" \
  "the reason on one line, the C1 control as '?'"
assert_eq "declined $RF" "$(sed -n 2p "$TEST_TMP/wf.out")" "then the answer"
! grep -q $'\xc2\x9b' "$TEST_TMP/wf.err" || fail "a C1 control reached the terminal prompt"
pass "a reason with line breaks and controls prints as one safe line"

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

# --- a certificate that does not verify ends the watch, no retries -----
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$TEST_TMP/tls.key" -out "$TEST_TMP/tls.crt" 2>/dev/null ||
  fail "openssl could not make a certificate"
start_server "$TEST_TMP/tls-data" --tls-cert "$TEST_TMP/tls.crt" --tls-key "$TEST_TMP/tls.key" \
  --stream-heartbeat-ms 1000
HTTPS="https://127.0.0.1:$SERVER_PORT"
TLS_ALICE=$("$LOGSHARED_BIN" token --data-dir "$TEST_TMP/tls-data" --user alice)
ms() { date +%s%3N; }
# timeout: before the fix the watcher retried forever (exit 124 here)
T0=$(ms)
assert_exit 1 "self-signed server without its CA" -- timeout 10 "$LOGSHARE_BIN" watch --dir "$STORE" \
  --server "$HTTPS" --token "$TLS_ALICE" --yes --reconnect-ms 100
[ $(($(ms) - T0)) -le 2000 ] || fail "a certificate failure took $(($(ms) - T0)) ms: retried?"
assert_contains "$(cat "$TEST_TMP/err")" "TLS certificate could not be verified" "the failure names the certificate"
assert_contains "$(cat "$TEST_TMP/err")" "self-signed" "curl's reason is given"
assert_contains "$(cat "$TEST_TMP/err")" "--ca-file" "the fix is named"
[ "$(wc -l <"$TEST_TMP/err")" = 1 ] || fail "more than one line: $(cat "$TEST_TMP/err")"
"$LOGSHARE_BIN" watch --dir "$STORE" --server "$HTTPS" --token "$TLS_ALICE" --yes \
  --ca-file "$TEST_TMP/tls.crt" >"$TEST_TMP/w7.out" 2>"$TEST_TMP/w7.err" &
W7=$!
wait_for "$TEST_TMP/w7.err" "watching" 10 || { kill "$W7"; fail "no connection with --ca-file: $(cat "$TEST_TMP/w7.err")"; }
kill -TERM "$W7"
wait "$W7" || fail "watch --ca-file exit $? after SIGTERM: $(cat "$TEST_TMP/w7.err")"
# the decline POST tells the certificate apart too (an unknown id: the
# server's 404 proves the TLS handshake passed with the CA)
assert_eq tls_error "$("$HELPER" decline "$HTTPS" "$TLS_ALICE" lr_nosuch)" "decline without the CA"
assert_eq not_found "$("$HELPER" decline "$HTTPS" "$TLS_ALICE" lr_nosuch "$TEST_TMP/tls.crt")" \
  "decline with the CA"
stop_server
pass "an unverified certificate exits 1 at once naming --ca-file; with --ca-file it connects; decline says tls_error"

# --- a malformed URL is not "network down" either ------------------------
T0=$(ms)
assert_exit 1 "malformed server URL" -- timeout 10 "$LOGSHARE_BIN" watch --dir "$STORE" \
  --server "http://[::1" --token "$ALICE" --yes --reconnect-ms 100
[ $(($(ms) - T0)) -le 2000 ] || fail "a malformed URL took $(($(ms) - T0)) ms: retried?"
assert_contains "$(cat "$TEST_TMP/err")" "cannot use --server http://[::1" "the URL is named"
[ "$(wc -l <"$TEST_TMP/err")" = 1 ] || fail "more than one line: $(cat "$TEST_TMP/err")"
pass "a malformed server URL exits 1 at once"

# --- an idle stream stays open; stop from another thread is prompt --------
# Heartbeats every 6 s (3 bytes each, below 1 byte/s) and a watcher whose
# idle timeout is 8 s: the stream is never silent that long, so it must
# not be dropped (curl's low-speed check cut it every idle timeout).
start_server "$TEST_TMP/data-idle" --stream-heartbeat-ms 6000
IDLE_ALICE=$("$LOGSHARED_BIN" token --data-dir "$TEST_TMP/data-idle" --user alice)
"$HELPER" watch-idle "$STORE" "$SERVER_URL" "$IDLE_ALICE" 8000 20 >"$TEST_TMP/idle.out" ||
  fail "watch-idle failed"
assert_contains "$(cat "$TEST_TMP/idle.out")" "disconnects 0" "an idle stream with heartbeats was dropped"
STOP_MS=$(sed -n 's/^stopped in \([0-9]*\) ms$/\1/p' "$TEST_TMP/idle.out")
[ "${STOP_MS:-99999}" -le 2000 ] || fail "logshare_watcher_stop took ${STOP_MS} ms"
pass "an idle stream with sparse heartbeats stays open; stop from another thread took $STOP_MS ms"

# --- a stopped watcher can be run again -------------------------------------
# (an app back from the background): the stop ended the first run only.
assert_eq "connects 2" "$("$HELPER" watch-again "$STORE" "$SERVER_URL" "$IDLE_ALICE")" \
  "the second run of a stopped watcher did not connect"
pass "a watcher stopped from another thread runs again"

# --- a silent stream is dropped and reopened -------------------------------
# Heartbeats every 500 ms, idle timeout 2 s; SIGSTOP freezes the server
# for 4 s: no heartbeat, the socket stays open.
stop_server
start_server "$TEST_TMP/data-idle" --stream-heartbeat-ms 500
( sleep 1; kill -STOP "$SERVER_PID"; sleep 4; kill -CONT "$SERVER_PID" ) &
FREEZER=$!
"$HELPER" watch-idle "$STORE" "$SERVER_URL" "$IDLE_ALICE" 2000 6 >"$TEST_TMP/silent.out" ||
  fail "watch-idle failed"
wait "$FREEZER"
assert_contains "$(cat "$TEST_TMP/silent.out")" "no byte from the server for 2000 ms" \
  "a silent stream was not dropped"
stop_server
pass "a stream silent past the idle timeout is dropped and reopened"

# --- a 200 that is not an event stream (captive portal) --------------------
# A hotel wifi's login page answers every URL with 200 text/html: that is
# not a stream, so the watcher backs off (1, 2, 4 s...) instead of
# reconnecting every second for ever, and never says it is watching.
node -e '
  const http = require("http");
  const s = http.createServer((q, r) => { r.writeHead(200, {"Content-Type": "text/html"}); r.end("<html>log in</html>\n"); });
  s.listen(0, "127.0.0.1", () => require("fs").writeFileSync(process.argv[1], String(s.address().port)));
' "$TEST_TMP/portal.port" &
PORTAL=$!
for _ in $(seq 1 100); do [ -s "$TEST_TMP/portal.port" ] && break; sleep 0.05; done
"$HELPER" watch-idle "$STORE" "http://127.0.0.1:$(cat "$TEST_TMP/portal.port")" "$ALICE" 8000 6 \
  >"$TEST_TMP/portal.out" || fail "watch-idle failed"
kill "$PORTAL"; wait "$PORTAL" 2>/dev/null || true
assert_contains "$(cat "$TEST_TMP/portal.out")" "not an event stream" "the reason names the problem"
N=$(sed -n 's/^disconnects //p' "$TEST_TMP/portal.out")
# Backoff 1, 2, 4 s, each up to a fifth shorter (jitter): the fourth try
# can land at 5.6 s. Without backoff there were 7.
[ "$N" -le 4 ] || fail "$N reconnects in 6 s to a captive portal: no backoff"
pass "a 200 that is not an event stream backs off ($N tries in 6 s)"
