#!/usr/bin/env bash
# report_e2e.sh - `logshare report` against a real logshared: every
# record written through the library comes back, decrypted, from the
# ticket's attachments as fetched by a support agent; a report made
# while the server is down (exit 75) is delivered exactly once by
# `outbox --send`, and another exactly once at the library's next open;
# a ticket whose 201 was lost (the item resent with the same
# Idempotency-Key) is still one ticket.
source "$LOGSHARE_TEST_LIB/testlib.sh"
HELPER="$LOGSHARE_BUILD_DIR/tests/report/share_helper"
L="$LOGSHARE_BIN"
N=3000
[ "${LOGSHARE_SANITIZED:-}" = 1 ] && N=800

"$HELPER" keygen "$TEST_TMP/support" || fail "keygen"
STORE="$TEST_TMP/store"
"$HELPER" write "$STORE" "$TEST_TMP/support.pub" "$N" "$TEST_TMP/expected" || fail "writing records"

start_server "$TEST_TMP/srv"
TOKEN=$("$LOGSHARED_BIN" token --data-dir "$TEST_TMP/srv" --user alice)
SUPPORT=$("$LOGSHARED_BIN" token --data-dir "$TEST_TMP/srv" --user agent --role support)

# support's view: GET with the support token
sget() { curl -sS -f -H "Authorization: Bearer $SUPPORT" "$SERVER_URL$1"; }
tickets_for_call() { sget "/api/v1/tickets?call_id=$1&limit=100" >"$TEST_TMP/list.json" && "$HELPER" count "$TEST_TMP/list.json"; }

# --- 1. report, fetch back, decrypt: every record, in order, per stream
assert_exit 0 "report" -- "$L" report --dir "$STORE" --server "$SERVER_URL" --token "$TOKEN" \
  --description "no audio after hold" --call-id call-e2e-1 --call-id call-e2e-2 --app-version 1.2.3 --platform linux --json
cp "$TEST_TMP/out" "$TEST_TMP/created.json"
[ -s "$TEST_TMP/err" ] && fail "report printed to stderr without a terminal: $(cat "$TEST_TMP/err")"
TID=$("$HELPER" json "$TEST_TMP/created.json" id) || fail "no ticket id in: $(cat "$TEST_TMP/created.json")"
sget "/api/v1/tickets/$TID" >"$TEST_TMP/ticket.json" || fail "support cannot read ticket $TID"
assert_eq "no audio after hold" "$("$HELPER" json "$TEST_TMP/ticket.json" description)" "description"
assert_eq "report" "$("$HELPER" json "$TEST_TMP/ticket.json" source)" "source"
assert_eq 1 "$(tickets_for_call call-e2e-2)" "ticket found by its second call id"
mkdir -p "$TEST_TMP/dl"
"$HELPER" attachments "$TEST_TMP/ticket.json" >"$TEST_TMP/att"
while read -r aid name sha size; do
  sget "/api/v1/tickets/$TID/attachments/$aid" >"$TEST_TMP/dl/$name" || fail "download $name"
  assert_eq "$sha" "$(sha256sum "$TEST_TMP/dl/$name" | cut -d' ' -f1)" "sha256 of downloaded $name"
  assert_eq "$size" "$(stat -c %s "$TEST_TMP/dl/$name")" "size of $name"
done <"$TEST_TMP/att"
[ -f "$TEST_TMP/dl/manifest.json" ] || fail "no manifest.json attachment"
(cd "$TEST_TMP/dl" && "$HELPER" manifest-sums manifest.json | sha256sum -c --quiet) || fail "manifest hashes"
for stream in calling media; do
  files=$(ls "$TEST_TMP/dl"/$stream.*.lslog | sort)
  "$HELPER" decrypt "$TEST_TMP/support.key" $files >"$TEST_TMP/got.$stream" 2>"$TEST_TMP/dec.err" ||
    fail "decrypt $stream: $(cat "$TEST_TMP/dec.err")"
  grep -P "^$stream\t" "$TEST_TMP/expected" >"$TEST_TMP/want.$stream"
  cmp -s "$TEST_TMP/want.$stream" "$TEST_TMP/got.$stream" ||
    fail "$stream records differ: $(diff "$TEST_TMP/want.$stream" "$TEST_TMP/got.$stream" | head -5)"
done
assert_eq "$N" "$(cat "$TEST_TMP"/got.* | wc -l)" "records fetched back"
pass "every record written came back from the ticket, decrypted"

# --- 2. server down: exit 75, kept; `outbox --send` delivers it once
stop_server
PORT=$SERVER_PORT
assert_exit 75 "report while the server is down" -- "$L" report --dir "$STORE" --server "http://127.0.0.1:$PORT" \
  --token "$TOKEN" --description "offline report" --call-id call-offline-1 --attempts 2
assert_contains "$(cat "$TEST_TMP/err")" "kept in the outbox" "exit-75 message"
assert_exit 0 "outbox list" -- "$L" outbox --dir "$STORE" --json
assert_contains "$(cat "$TEST_TMP/out")" "offline report" "queued item listed"
start_server "$TEST_TMP/srv" # a new port: the outbox does not care where it was meant to go
assert_exit 0 "outbox --send" -- "$L" outbox --dir "$STORE" --send --server "$SERVER_URL" --token "$TOKEN"
assert_contains "$(cat "$TEST_TMP/out")" "-> ticket tk_" "outbox --send names the ticket"
assert_contains "$(cat "$TEST_TMP/err")" "logshare: outbox: sent 1, 0 still waiting" "outbox --send's summary"
assert_exit 0 "outbox --send again" -- "$L" outbox --dir "$STORE" --send --server "$SERVER_URL" --token "$TOKEN"
assert_eq 1 "$(tickets_for_call call-offline-1)" "offline report delivered exactly once"
assert_exit 0 "outbox list" -- "$L" outbox --dir "$STORE"
assert_contains "$(cat "$TEST_TMP/out")" "the outbox is empty" "outbox empty after send"
pass "a report made offline is delivered once by outbox --send"

# --- 3. server down, then the app's next open sends it (background sender)
stop_server
assert_exit 75 "second offline report" -- "$L" report --dir "$STORE" --server "http://127.0.0.1:$SERVER_PORT" \
  --token "$TOKEN" --description "sent at next open" --call-id call-open-1 --attempts 1
start_server "$TEST_TMP/srv"
"$HELPER" open-send "$STORE" "$TEST_TMP/support.pub" "$SERVER_URL" "$TOKEN" 20 || fail "not sent at the next open"
assert_eq 1 "$(tickets_for_call call-open-1)" "sent at next open exactly once"
pass "a report made offline is delivered once at the library's next open"

# --- 4. a 201 whose removal never happened (crash right after it): resent, still one ticket
assert_exit 75 "queue with no server" -- "$L" report --dir "$STORE" --server "http://127.0.0.1:1" \
  --token "$TOKEN" --description "lost answer" --call-id call-lost-1 --attempts 1
item=$(ls "$STORE/outbox" | grep -v '^\.' | head -1)
cp -a "$STORE/outbox/$item" "$TEST_TMP/item-copy"
assert_exit 0 "send" -- "$L" outbox --dir "$STORE" --send --server "$SERVER_URL" --token "$TOKEN" --json
first=$("$HELPER" json "$TEST_TMP/out" id)
cp -a "$TEST_TMP/item-copy" "$STORE/outbox/$item" # as if the process died before removing it
assert_exit 0 "resend" -- "$L" outbox --dir "$STORE" --send --server "$SERVER_URL" --token "$TOKEN" --json
assert_eq "$first" "$("$HELPER" json "$TEST_TMP/out" id)" "the resend returns the first ticket"
assert_eq 1 "$(tickets_for_call call-lost-1)" "one ticket despite the resend"
pass "a resent report (same Idempotency-Key) is one ticket"

# --- 5. a report refused for its token (401) is kept, pending for another
# token, and said so
assert_exit 1 "report with a bad token" -- "$L" report --dir "$STORE" --server "$SERVER_URL" \
  --token "not-a-jwt" --description "bad token" --call-id call-refused-1
assert_contains "$(cat "$TEST_TMP/err")" "HTTP 401" "refusal names the status"
assert_contains "$(cat "$TEST_TMP/err")" "to be sent with a valid token" "the user is told what happens to it"
assert_exit 0 "outbox list" -- "$L" outbox --dir "$STORE" --json
assert_contains "$(cat "$TEST_TMP/out")" '"status": "pending"' "refused item kept, pending"
assert_contains "$(cat "$TEST_TMP/out")" '"http_status": 401' "refused item shows the 401"
assert_exit 0 "send with a good token" -- "$L" outbox --dir "$STORE" --send --server "$SERVER_URL" --token "$TOKEN"
assert_eq 1 "$(tickets_for_call call-refused-1)" "the refused report, resent with a good token"
pass "a report refused for its token is kept and sent with a good one"

# --- 6. a later report also delivers the one that waited
stop_server
assert_exit 75 "report A offline" -- "$L" report --dir "$STORE" --server "http://127.0.0.1:$SERVER_PORT" \
  --token "$TOKEN" --description "A" --call-id call-later-a --attempts 1
start_server "$TEST_TMP/srv"
assert_exit 0 "report B online" -- "$L" report --dir "$STORE" --server "$SERVER_URL" --token "$TOKEN" \
  --description "B" --call-id call-later-b
assert_contains "$(cat "$TEST_TMP/err")" "also sent earlier report" "report B says it sent A too"
assert_eq 1 "$(tickets_for_call call-later-a)" "A delivered once by the later report"
assert_eq 1 "$(tickets_for_call call-later-b)" "B delivered once"
pass "a later report delivers the one that waited"

# --- 7. two `outbox --send` at once (cron and the user, or two apps): each
# report is delivered once, and neither says "kept for later" (exit 75) of
# a report the other one delivered
head -c 1000000 /dev/urandom >"$TEST_TMP/att.bin"
for i in 1 2 3 4; do
  assert_exit 75 "queue $i offline" -- "$L" report --dir "$STORE" --server "http://127.0.0.1:1" \
    --token "$TOKEN" --description "twice $i" --call-id "call-twice-$i" --file "$TEST_TMP/att.bin" --attempts 1
done
sleep 1 # their retry time has come
pids=()
for j in 1 2; do
  (rc=0; "$L" outbox --dir "$STORE" --send --server "$SERVER_URL" --token "$TOKEN" --max-rate 4000000 \
    >"$TEST_TMP/twice$j.out" 2>"$TEST_TMP/twice$j.err" || rc=$?; echo $rc >"$TEST_TMP/twice$j.rc") &
  pids+=($!)
done
wait "${pids[@]}"
for j in 1 2; do
  assert_eq 0 "$(cat "$TEST_TMP/twice$j.rc")" "sender $j exit (stderr: $(cat "$TEST_TMP/twice$j.err"))"
done
for i in 1 2 3 4; do assert_eq 1 "$(tickets_for_call "call-twice-$i")" "report $i delivered once"; done
assert_exit 0 "outbox list" -- "$L" outbox --dir "$STORE"
assert_contains "$(cat "$TEST_TMP/out")" "the outbox is empty" "nothing left"
pass "two senders at once: each report once, and both say so"
