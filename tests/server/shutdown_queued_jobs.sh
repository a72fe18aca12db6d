#!/usr/bin/env bash
# SIGTERM with uploads queued for the worker pool (one worker here) while
# their commits cannot proceed (another process holds the SQLite write
# lock: each commit waits out the 5 s busy timeout, then fails 503). Once
# shutdown_timeout_s is over, the job running finishes but the queued
# ones are not started: the exit comes after one busy wait, not after all
# of them in turn (six uploads held it ~30 s with shutdown_timeout_s 1).
# Nothing they wrote is left behind.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
start_server "$DATA" --worker-threads 1 --shutdown-timeout-s 1 --address-rate 0 --user-rate 0
TOK=$(token alice)
head -c 50000 /dev/urandom >"$TEST_TMP/f"
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -F description=before -F "f=@$TEST_TMP/f"
expect 201 "" "upload before the lock"
blobs=$(blob_files)

python3 -c 'import sqlite3, sys, time
d = sqlite3.connect(sys.argv[1], isolation_level=None)
d.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
time.sleep(120)' "$DATA/logshare.db" "$TEST_TMP/locked" &
LOCKER=$!
trap 'kill $LOCKER 2>/dev/null || true; _cleanup' EXIT
for i in $(seq 1 100); do [ -e "$TEST_TMP/locked" ] && break; sleep 0.05; done
[ -e "$TEST_TMP/locked" ] || fail "could not take the database's write lock"
pids=()
for i in 1 2 3 4 5 6; do
  curl -sS -m 60 -o /dev/null -H "Authorization: Bearer $TOK" -F "description=queued $i" \
    -F "f=@$TEST_TMP/f" "$SERVER_URL/api/v1/tickets" 2>/dev/null &
  pids+=($!)
done
sleep 1 # every body is in: one commit waits for the lock, five are queued
t0=$(date +%s%N)
stop_ok
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "SIGTERM to exit with six commits queued behind a locked database: $ms ms"
[ "$ms" -lt 9000 ] || fail "exit took $ms ms: the queued commits ran one after another"
kill $LOCKER; wait $LOCKER 2>/dev/null || true
for p in "${pids[@]}"; do wait "$p" || true; done

assert_eq 1 "$(ticket_count)" "tickets: only the one made before the lock"
assert_eq "$blobs" "$(blob_files)" "blobs: none left by the dropped uploads"
[ -z "$(find "$DATA/blobs" -name '.tmp-*' | head -1)" ] || fail "a temporary file was left"
start_server "$DATA"
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -F description=after -F "f=@$TEST_TMP/f"
expect 201 "" "upload after the restart"
stop_ok
pass "SIGTERM with commits queued: exit after the running one, nothing left behind"
