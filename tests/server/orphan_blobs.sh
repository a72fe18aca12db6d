#!/usr/bin/env bash
# Orphaned blobs are reclaimed at startup ([blob] orphan_grace_s): a
# crash between an upload's blob commits and its ticket commit leaves
# committed blobs no attachment names. Made for real here: blob files
# planted in both layouts (a/<day>/<id>, t/<ticket>/<id>) with an old
# modification time, next to a real upload's blob aged the same way.
# After a restart with a small grace period the old orphans are gone,
# the referenced blob and its ticket still download, and an orphan
# younger than the grace period stays. 0 disables the sweep; a database
# that references no blob at all (the wrong database.url) removes nothing.
# The passes while serving ([blob] sweep_interval_s): sweep_periodic.sh.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data

# wait_sweep: the sweep's log line of the server started last (the log
# is shared by every start, so count lines).
SWEEPS=0
wait_sweep() {
  local i
  SWEEPS=$((SWEEPS + 1))
  for i in $(seq 1 200); do
    [ "$(grep -c 'orphan sweep: removed' "$TEST_TMP/server.log" || true)" -ge "$SWEEPS" ] && break
    sleep 0.05
  done
  SWEEP_LINE=$(grep 'orphan sweep: removed' "$TEST_TMP/server.log" | sed -n "${SWEEPS}p")
  [ -n "$SWEEP_LINE" ] || fail "no orphan sweep log line: $(tail -5 "$TEST_TMP/server.log")"
}
# plant KEY AGE: a committed blob no ticket references, modified AGE ago.
plant() {
  mkdir -p "$(dirname "$DATA/blobs/$1")"
  printf 'orphan %s' "$1" >"$DATA/blobs/$1"
  touch -d "$2" "$DATA/blobs/$1"
}

# --- a real upload ---------------------------------------------------------------
start_server "$DATA"
wait_sweep # the default grace (an hour): nothing is old enough yet
assert_contains "$SWEEP_LINE" "removed 0 orphaned blobs" "first start"
TOK=$(token alice)
head -c 50000 /dev/urandom >"$TEST_TMP/f"
sha=$(sha256sum "$TEST_TMP/f" | cut -c1-64)
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -F description=kept -F "log=@$TEST_TMP/f"
expect 201 "" "upload"
T=$(jget id); AT=$(jget attachments.0.id)
KEY=$(sqlite3 "$DATA/logshare.db" "SELECT blob_key FROM attachments WHERE id='$AT'")
[ -f "$DATA/blobs/$KEY" ] || fail "the upload's blob $KEY is not on disk"
stop_ok

# --- orphans, as a crash leaves them -----------------------------------------------
touch -d '2 hours ago' "$DATA/blobs/$KEY" # referenced, and as old as the orphans
ORPHAN_NEW=a/20200102/at_016f6b8b4c00aaaaaaaaaaaaaaaaaaaaaaaa
ORPHAN_OLD_LAYOUT=t/tk_016f6b8b4c00bbbbbbbbbbbbbbbbbbbbbbbb/at_016f6b8b4c00cccccccccccccccccccccccc
ORPHAN_YOUNG=a/20200102/at_016f6b8b4c00dddddddddddddddddddddddd
plant "$ORPHAN_NEW" '2 hours ago'
plant "$ORPHAN_OLD_LAYOUT" '3 days ago'
plant "$ORPHAN_YOUNG" '10 seconds ago'

start_server "$DATA" --orphan-grace-s 600
req GET /readyz; expect 200 "" "ready while the sweep runs"
wait_sweep
assert_contains "$SWEEP_LINE" "removed 2 orphaned blobs" "sweep count"
assert_contains "$SWEEP_LINE" "1 referenced" "sweep saw the referenced blob"
[ ! -e "$DATA/blobs/$ORPHAN_NEW" ] || fail "old orphan (a/<day>/<id>) not removed"
[ ! -e "$DATA/blobs/$ORPHAN_OLD_LAYOUT" ] || fail "old orphan (t/<ticket>/<id>) not removed"
[ ! -e "$DATA/blobs/${ORPHAN_OLD_LAYOUT%/*}" ] || fail "the old layout's empty ticket directory stayed"
[ -f "$DATA/blobs/$ORPHAN_YOUNG" ] || fail "an orphan younger than the grace period was removed"
[ -f "$DATA/blobs/$KEY" ] || fail "the referenced blob was removed"
req GET "/api/v1/tickets/$T" -H "Authorization: Bearer $TOK"; expect 200 "" "ticket after the sweep"
curl -sS -f -o "$TEST_TMP/dl" -H "Authorization: Bearer $TOK" \
  "$SERVER_URL/api/v1/tickets/$T/attachments/$AT" || fail "download after the sweep"
assert_eq "$sha" "$(sha256sum "$TEST_TMP/dl" | cut -c1-64)" "downloaded bytes after the sweep"
# new uploads still work after it
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -F description=after -F "log=@$TEST_TMP/f"
expect 201 "" "upload after the sweep"
stop_ok
pass "old orphans of both layouts removed; referenced and young blobs kept"

# --- 0 disables it ---------------------------------------------------------------
plant "$ORPHAN_NEW" '2 hours ago'
start_server "$DATA" --orphan-grace-s 0
req GET /readyz; expect 200 "" "ready without a sweep"
sleep 0.5
stop_ok
[ -f "$DATA/blobs/$ORPHAN_NEW" ] || fail "orphan removed although orphan_grace_s = 0"
[ "$(grep -c 'orphan sweep: removed' "$TEST_TMP/server.log")" = "$SWEEPS" ] || fail "a sweep ran with orphan_grace_s = 0"
pass "orphan_grace_s = 0 disables the sweep"

# --- a database that references no blob removes nothing ------------------------------
# Another database than the one database-id names does not even start;
# without database-id (a data dir from before it), an empty database
# next to the blobs serves but removes none of them.
assert_exit 2 "another database than database-id names" -- \
  timeout 30 "$LOGSHARED_BIN" --data-dir "$DATA" --listen 127.0.0.1:0 --orphan-grace-s 600 \
  --database-url "sqlite:$TEST_TMP/other.db"
assert_contains "$(cat "$TEST_TMP/err")" "belong to another ticket database" "the refusal says why"
mv "$DATA/database-id" "$TEST_TMP/database-id.kept"
start_server "$DATA" --orphan-grace-s 600 --database-url "sqlite:$TEST_TMP/other.db"
wait_sweep
assert_contains "$SWEEP_LINE" "removed 0 orphaned blobs" "wrong database: nothing removed"
grep -q 'looks like the wrong database' "$TEST_TMP/server.log" || fail "no warning about the wrong database"
stop_ok
mv "$TEST_TMP/database-id.kept" "$DATA/database-id"
[ -f "$DATA/blobs/$ORPHAN_NEW" ] && [ -f "$DATA/blobs/$KEY" ] || fail "blobs removed against an empty database"
pass "a database that references no blob removes nothing"

# --- SIGTERM right after start, with a sweep of 3000 blobs started -------------------
# (on this machine the sweep often finishes first; that it stops before
# its next blob when asked is checked in test_orphan_sweep)
for i in $(seq 1 3000); do printf x >"$DATA/blobs/a/20200102/at_$(printf '016f6b8b4c00%020d' "$i")"; done
touch -d '2 hours ago' "$DATA"/blobs/a/20200102/*
start_server "$DATA" --orphan-grace-s 600
t0=$(date +%s%N)
stop_ok
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "SIGTERM to exit with a sweep started: $ms ms"
[ "$ms" -lt 5000 ] || fail "SIGTERM took $ms ms with a sweep started"
pass "SIGTERM right after start: exit 0, promptly"
