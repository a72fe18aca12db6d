#!/usr/bin/env bash
# The sweep runs while the server does, not only at startup
# ([blob] sweep_interval_s): a crash's leftovers planted while logshared
# serves (an upload's temporary file in blobs/.incoming, untouched for
# two hours, and a committed blob no ticket references) disappear within
# the interval, without a restart, with one log line saying what and how
# much; a fresh temporary file, the blobs of real tickets and the
# temporary files of an upload that is still in flight (paused, and
# backdated by two hours) stay, and that upload then completes intact.
# Passes that remove nothing log nothing. orphan_grace_s = 0 keeps
# orphans but still sweeps stale uploads. SIGTERM ends a server whose
# sweep waits for its next pass at once. The old code swept both only at
# startup (and removed temporary files by age alone).
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
IN=$DATA/blobs/.incoming
LOG=$TEST_TMP/server.log

# wait_gone PATH WHAT: PATH disappears within 10 s (the interval is 1 s).
wait_gone() {
  local i
  for i in $(seq 1 200); do
    [ -e "$1" ] || return 0
    sleep 0.05
  done
  fail "$2 still there 10 s later: $(tail -5 "$LOG")"
}
# plant_tmp NAME BYTES AGE: an upload temporary as a crash leaves it.
plant_tmp() {
  head -c "$2" /dev/zero >"$IN/$1"
  [ -z "$3" ] || touch -d "$3" "$IN/$1"
}
# plant_blob KEY AGE: a committed blob no ticket references.
plant_blob() {
  mkdir -p "$(dirname "$DATA/blobs/$1")"
  printf 'orphan %s' "$1" >"$DATA/blobs/$1"
  touch -d "$2" "$DATA/blobs/$1"
}
sweep_lines() { grep -c 'orphan sweep:' "$LOG" || true; }

# --- a real ticket, then a server with a short grace and interval ----------------
start_server "$DATA" --orphan-grace-s 2 --sweep-interval-s 1
TOK=$(token alice)
head -c 50000 /dev/urandom >"$TEST_TMP/f"
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -F description=kept -F "log=@$TEST_TMP/f"
expect 201 "" "upload"
T=$(jget id); AT=$(jget attachments.0.id)
KEY=$(sqlite3 "$DATA/logshare.db" "SELECT blob_key FROM attachments WHERE id='$AT'")
touch -d '2 hours ago' "$DATA/blobs/$KEY" # referenced, and as old as the orphans

# --- an upload in flight, paused, its temporary files backdated ---------------------
node "$LOGSHARE_SOURCE_DIR/tests/server/sweep_periodic.mjs" "$SERVER_URL" "$TOK" 300000 \
  "$TEST_TMP/go" >"$TEST_TMP/slow.out" 2>&1 &
SLOW=$!
for i in $(seq 1 200); do
  [ "$(find "$IN" -name '.tmp-at_*' | wc -l)" -ge 2 ] && break
  sleep 0.05
done
[ "$(find "$IN" -name '.tmp-at_*' | wc -l)" = 2 ] || fail "the paused upload has not 2 temporary files: $(ls -la "$IN")"
touch -d '2 hours ago' "$IN"/.tmp-at_*

# --- leftovers of a crash, planted while the server runs ----------------------------
ORPHAN=a/20200102/at_016f6b8b4c00aaaaaaaaaaaaaaaaaaaaaaaa
plant_tmp .tmp-at_016f6b8b4c00bbbbbbbbbbbbbbbbbbbbbbbb-0123456789abcdef 1048576 '2 hours ago'
plant_tmp .tmp-at_016f6b8b4c00cccccccccccccccccccccccc-0123456789abcdef 100 ''
plant_blob "$ORPHAN" '2 hours ago'
LINES=$(sweep_lines)
wait_gone "$IN/.tmp-at_016f6b8b4c00bbbbbbbbbbbbbbbbbbbbbbbb-0123456789abcdef" "a stale upload temporary"
wait_gone "$DATA/blobs/$ORPHAN" "an orphaned blob"
kill -0 "$SERVER_PID" || fail "the server is gone"
sleep 1.5 # a pass or two more, which remove nothing
[ -f "$IN/.tmp-at_016f6b8b4c00cccccccccccccccccccccccc-0123456789abcdef" ] || fail "a fresh temporary file was removed"
[ "$(find "$IN" -name '.tmp-at_*' ! -name '*cccccccc*' | wc -l)" = 2 ] || fail "the paused upload's temporary files were removed"
[ -f "$DATA/blobs/$KEY" ] || fail "a referenced blob was removed"
# One line for the pass that removed both (or two, when they fell into
# two passes); none for the passes that removed nothing.
grep 'orphan sweep:' "$LOG" | tail -n +$((LINES + 1)) >"$TEST_TMP/lines"
n=$(wc -l <"$TEST_TMP/lines")
[ "$n" -ge 1 ] && [ "$n" -le 2 ] || fail "expected 1 or 2 sweep lines, got $n: $(cat "$TEST_TMP/lines")"
grep -q 'removed 1 orphaned blobs (' "$TEST_TMP/lines" || fail "no line for the orphan: $(cat "$TEST_TMP/lines")"
grep -q 'and 1 stale upload files (1048576 bytes)' "$TEST_TMP/lines" || fail "no line for the upload temporary: $(cat "$TEST_TMP/lines")"
pass "while serving: stale upload and orphan removed, logged; fresh, in-flight and referenced kept"

# --- the paused upload completes, byte for byte --------------------------------------
touch "$TEST_TMP/go"
wait "$SLOW" || fail "the paused upload's client failed: $(cat "$TEST_TMP/slow.out")"
STATUS=$(sed -n 1p "$TEST_TMP/slow.out"); BODY=$(tail -n +4 "$TEST_TMP/slow.out")
SHA1=$(sed -n 2p "$TEST_TMP/slow.out"); SHA2=$(sed -n 3p "$TEST_TMP/slow.out")
expect 201 "" "the paused upload"
assert_eq "$SHA1" "$(jget attachments.0.sha256)" "first file's sha256"
assert_eq "$SHA2" "$(jget attachments.1.sha256)" "second file's sha256"
T2=$(jget id); A2=$(jget attachments.0.id)
sleep 3 # older than the grace period now: still referenced, so kept
curl -sS -f -o "$TEST_TMP/dl" -H "Authorization: Bearer $TOK" \
  "$SERVER_URL/api/v1/tickets/$T2/attachments/$A2" || fail "download of the paused upload's file"
assert_eq "$SHA1" "$(sha256sum "$TEST_TMP/dl" | cut -c1-64)" "downloaded bytes"
req GET "/api/v1/tickets/$T" -H "Authorization: Bearer $TOK"; expect 200 "" "the first ticket"
stop_ok
pass "an upload paused with its temporary files two hours old completes intact"

# --- orphan_grace_s = 0: stale uploads still go, orphans stay ----------------------
start_server "$DATA" --orphan-grace-s 0 --sweep-interval-s 1
req GET /readyz; expect 200 "" "ready"
plant_tmp .tmp-at_016f6b8b4c00dddddddddddddddddddddddd-0123456789abcdef 4096 '3 hours ago'
plant_blob "$ORPHAN" '2 hours ago'
wait_gone "$IN/.tmp-at_016f6b8b4c00dddddddddddddddddddddddd-0123456789abcdef" "a stale upload temporary (orphan_grace_s = 0)"
sleep 1.5
[ -f "$DATA/blobs/$ORPHAN" ] || fail "an orphan was removed although orphan_grace_s = 0"
grep -q 'removed 1 stale upload files (4096 bytes; orphaned blobs are kept' "$LOG" || fail "no log line: $(tail -3 "$LOG")"
stop_ok
pass "orphan_grace_s = 0: stale uploads swept while serving, orphans kept"

# --- SIGTERM while the sweep waits for its next pass -------------------------------
L0=$(sweep_lines)
start_server "$DATA" --orphan-grace-s 3600 --sweep-interval-s 86400
for i in $(seq 1 100); do
  [ "$(sweep_lines)" -gt "$L0" ] && break # the first pass is over
  sleep 0.05
done
sleep 0.2
t0=$(date +%s%N)
stop_ok
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "SIGTERM to exit with the sweep waiting a day: $ms ms"
[ "$ms" -lt 3000 ] || fail "SIGTERM took $ms ms with the sweep waiting for its next pass"
pass "SIGTERM while the sweep waits: exit 0, promptly"
