#!/usr/bin/env bash
# SIGTERM: an upload whose body ends while the worker pool is stopping.
# After shutdown_timeout_s the pool's workers leave (workers_stop); an
# upload that finished its body just then was queued for a worker that
# no longer existed, its connection stayed suspended, and
# MHD_stop_daemon aborted the process ("called while we have suspended
# connections": SIGABRT instead of exit 0). The window is microseconds
# wide, so gdb holds the main thread inside it (non-stop mode: the HTTP
# threads keep running). Now the upload is committed on its HTTP thread
# (201) and the server exits 0. Skipped without gdb or ptrace.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
command -v gdb >/dev/null || { echo "skip - no gdb"; exit 0; }
gdb -q -nx -batch -ex run --args /bin/true 2>&1 | grep -q 'exited normally' ||
  { echo "skip - gdb cannot run a program here (ptrace)"; exit 0; }
DATA=$TEST_TMP/data
# the line after the pool's workers were joined, before it counts as gone
LINE=$(grep -n 's->n_workers = 0;' "$LOGSHARE_SOURCE_DIR/src/server/http/server.c" | head -1 | cut -d: -f1)
[ -n "$LINE" ] || fail "workers_stop's 'n_workers = 0' line not found in server.c"
answer=$(python3 "$LOGSHARE_SOURCE_DIR/tests/server/shutdown_defer_race.py" "$LOGSHARED_BIN" "$DATA" \
  "$LINE" "$TEST_TMP/gdb.out") || fail "driver failed: $answer"
grep -q 'hit Breakpoint' "$TEST_TMP/gdb.out" || fail "the breakpoint was not hit"
grep -q 'suspended connections\|SIGABRT' "$TEST_TMP/gdb.out" &&
  fail "logshared aborted at stop: $(grep -m1 'suspended connections\|SIGABRT' "$TEST_TMP/gdb.out")"
grep -q 'exited normally' "$TEST_TMP/gdb.out" ||
  fail "logshared did not exit 0: $(tail -5 "$TEST_TMP/gdb.out")"
assert_contains "$answer" "201" "the late upload's answer"
assert_eq 1 "$(ticket_count)" "the late upload's ticket"
pass "an upload ending while the pool stops: 201, exit 0"
