#!/usr/bin/env bash
# report_many_files.sh - a report with more files than the server takes
# in one request (logshared --max-files 4) is delivered in batches: the
# ticket is made with the first, the rest added to it, every file exactly
# once with its bytes intact, even when the send is interrupted between
# batches and resumed by another run, and when several files hold the
# same bytes; and a report of 3000 files, whose ticket JSON grows past
# 1 MiB.
source "$LOGSHARE_TEST_LIB/testlib.sh"
HELPER="$LOGSHARE_BUILD_DIR/tests/report/share_helper"
L="$LOGSHARE_BIN"

"$HELPER" keygen "$TEST_TMP/support" || fail "keygen"
STORE="$TEST_TMP/store"
# every open starts a new file per stream: 5 runs make 10 log files
for i in 1 2 3 4 5; do
  "$HELPER" write "$STORE" "$TEST_TMP/support.pub" 100 "$TEST_TMP/expected" || fail "writing records"
done
nlogs=$(ls "$STORE"/*.lslog | wc -l)
[ "$nlogs" -ge 10 ] || fail "expected at least 10 log files, got $nlogs"

start_server "$TEST_TMP/srv" --max-files 4
TOKEN=$("$LOGSHARED_BIN" token --data-dir "$TEST_TMP/srv" --user alice)
SUPPORT=$("$LOGSHARED_BIN" token --data-dir "$TEST_TMP/srv" --user agent --role support)

check_ticket() { # CALL_ID WHAT [EXTRA_FILES]
  curl -sS -f -H "Authorization: Bearer $SUPPORT" "$SERVER_URL/api/v1/tickets?call_id=$1" >"$TEST_TMP/list.json"
  assert_eq 1 "$("$HELPER" count "$TEST_TMP/list.json")" "$2: one ticket"
  curl -sS -f -H "Authorization: Bearer $SUPPORT" "$SERVER_URL/api/v1/tickets/$TID" >"$TEST_TMP/ticket.json"
  "$HELPER" attachments "$TEST_TMP/ticket.json" >"$TEST_TMP/att"
  assert_eq "$((nlogs + 1 + ${3:-0}))" "$(wc -l <"$TEST_TMP/att")" "$2: every file and the manifest, once each"
  for f in "$STORE"/*.lslog; do
    sha=$(sha256sum "$f" | cut -d' ' -f1)
    grep -q " $sha " "$TEST_TMP/att" || fail "$2: $(basename "$f") missing or changed"
  done
}

# 1. one run sends all batches
assert_exit 0 "report in batches" -- "$L" report --dir "$STORE" --server "$SERVER_URL" --token "$TOKEN" \
  --description "many files" --call-id call-many-1 --max-files 4 --json
cp "$TEST_TMP/out" "$TEST_TMP/created.json"
TID=$("$HELPER" json "$TEST_TMP/created.json" id)
check_ticket call-many-1 "one run"
pass "a report with more files than one request holds arrives whole, each file once"

# 2. the first batch made the ticket, then the server went away: the
#    next run adds only what is missing
assert_exit 75 "queue" -- "$L" report --dir "$STORE" --server "http://127.0.0.1:1" --token "$TOKEN" \
  --description "many files, interrupted" --call-id call-many-2 --attempts 1
item=$(ls "$STORE/outbox" | grep -v '^\.' | head -1)
cp -a "$STORE/outbox/$item" "$TEST_TMP/item-copy"
assert_exit 0 "send" -- "$L" outbox --dir "$STORE" --send --server "$SERVER_URL" --token "$TOKEN" --max-files 4 --json
cp "$TEST_TMP/out" "$TEST_TMP/created.json"
TID=$("$HELPER" json "$TEST_TMP/created.json" id)
# replay: the item as it was after the first batch (ticket id known), as
# if the process had died there; the resend must add nothing twice
cp -a "$TEST_TMP/item-copy" "$STORE/outbox/$item"
sed -i "s/\"status\":\"pending\"/\"status\":\"pending\",\"ticket_id\":\"$TID\"/" "$STORE/outbox/$item/state.json"
assert_exit 0 "resume" -- "$L" outbox --dir "$STORE" --send --server "$SERVER_URL" --token "$TOKEN" --max-files 4 --json
assert_eq "$TID" "$("$HELPER" json "$TEST_TMP/out" id)" "resumed send names the same ticket"
check_ticket call-many-2 "resumed"
pass "an interrupted batched report resumes without sending a file twice"

# 3. files with the same bytes (five copies: more than one batch holds)
#    are each attached: the manifest lists every one of them
for i in 1 2 3 4 5; do echo "same bytes" >"$TEST_TMP/copy$i.txt"; done
files=(); for i in 1 2 3 4 5; do files+=(--file "$TEST_TMP/copy$i.txt"); done
assert_exit 0 "report with identical files" -- "$L" report --dir "$STORE" --server "$SERVER_URL" --token "$TOKEN" \
  --description "identical files" --call-id call-many-3 --max-files 4 "${files[@]}" --json
TID=$("$HELPER" json "$TEST_TMP/out" id)
check_ticket call-many-3 "identical files" 5
sha=$(sha256sum "$TEST_TMP/copy1.txt" | cut -d' ' -f1)
assert_eq 5 "$(grep -c " $sha " "$TEST_TMP/att")" "attachments holding the shared bytes"
for i in 1 2 3 4 5; do grep -q " copy$i.txt " "$TEST_TMP/att" || fail "copy$i.txt not attached"; done
pass "files with identical bytes are each attached, across batches"

# --- thousands of files: the ticket read back between batches grows past
# 1 MiB of JSON (about 400 bytes an attachment); such a report failed at
# about 2600 files ("response larger than 1 MiB"), its ticket half made
stop_server
start_server "$TEST_TMP/srv2" # logshared's default [limits] max_files, like the client's
TOKEN=$("$LOGSHARED_BIN" token --data-dir "$TEST_TMP/srv2" --user alice)
SUPPORT=$("$LOGSHARED_BIN" token --data-dir "$TEST_TMP/srv2" --user agent --role support)
mkdir -p "$TEST_TMP/tiny"
args=()
for i in $(seq 1 3000); do
  echo "tiny $i" >"$TEST_TMP/tiny/t$i.txt"
  args+=(--file "$TEST_TMP/tiny/t$i.txt")
done
assert_exit 0 "report of 3000 files" -- "$L" report --dir "$TEST_TMP/tinystore" --no-logs --server "$SERVER_URL" \
  --token "$TOKEN" --description "thousands" --call-id call-many-4 "${args[@]}"
TID=$(cat "$TEST_TMP/out")
curl -sS -f -H "Authorization: Bearer $SUPPORT" "$SERVER_URL/api/v1/tickets/$TID" >"$TEST_TMP/ticket.json" ||
  fail "fetching the ticket"
"$HELPER" attachments "$TEST_TMP/ticket.json" >"$TEST_TMP/att"
[ "$(wc -c <"$TEST_TMP/ticket.json")" -gt 1048576 ] || fail "the ticket JSON did not grow past 1 MiB"
assert_eq 3001 "$(wc -l <"$TEST_TMP/att")" "every file and the manifest"
assert_eq 3001 "$(cut -d' ' -f2 "$TEST_TMP/att" | sort -u | wc -l)" "each attached once"
pass "a report of 3000 files is delivered whole"
