#!/usr/bin/env bash
# SIGTERM with a log-request stream whose client stopped reading: the
# server stops accepting at once and exits 0 within shutdown_timeout_s.
# Ending the streams first waited up to 2 s for such a stream while the
# listen socket stayed open, so new clients were still served after the
# SIGTERM, and the exit came 2 s past the documented bound. (The
# uploads in flight at SIGTERM: uploads.sh.)
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
start_server "$DATA" --shutdown-timeout-s 2 --address-rate 0 --user-rate 0
python3 "$LOGSHARE_SOURCE_DIR/tests/server/shutdown_stuck_stream.py" "$SERVER_PORT" "$SERVER_PID" \
  "$(token stuck)" "$(token sam support)" >"$TEST_TMP/out" || fail "the stream client failed"
SERVER_EXIT=0; wait "$SERVER_PID" || SERVER_EXIT=$?
cat "$TEST_TMP/out"
queued=$(awk '/^blocked/ {print $2}' "$TEST_TMP/out")
[ "${queued:-0}" -gt 0 ] || fail "the stream was not blocked (nothing queued on the server's side)"
assert_eq 0 "$SERVER_EXIT" "exit status after SIGTERM"
served=$(grep -c '^served' "$TEST_TMP/out" || true)
assert_eq 0 "$served" "new connections answered after SIGTERM"
took=$(awk '/^exited/ {print $2}' "$TEST_TMP/out")
[ -n "$took" ] || fail "logshared did not exit within 20 s of SIGTERM"
# 2 s, plus what closing takes; 2 s more was the old stream wait
awk -v t="$took" 'BEGIN {exit !(t < 3.0)}' || fail "exit took $took s after SIGTERM (shutdown_timeout_s 2)"
pass "SIGTERM with a stuck stream: no new client served, exit 0"
