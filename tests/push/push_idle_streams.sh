#!/usr/bin/env bash
# push_idle_streams.sh - 2,000 idle log-request streams on one logshared
# (1,000 under sanitizers, which double every allocation's cost): flat
# memory and threads, no busy loop, and a request still reaches every
# stream within a second. The connection caps and rate limits are raised
# for the test; the file descriptor limit of this shell (inherited by
# the server) too.
source "$LOGSHARE_TEST_LIB/testlib.sh"

COUNT=2000
[ "${LOGSHARE_SANITIZED:-0}" = 1 ] && COUNT=1000
ulimit -n $((COUNT * 2 + 256)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((COUNT + 100)) ] || fail "cannot raise the fd limit to $((COUNT + 100))"

start_server "$TEST_TMP/data" --max-connections $((COUNT + 100)) \
  --max-connections-per-address $((COUNT + 100)) --max-streams $((COUNT + 10)) \
  --max-streams-per-user $((COUNT + 10)) --user-rate 100000 --user-burst 100000 \
  --address-rate 100000 --address-burst 100000 --stream-heartbeat-ms 700 \
  --connection-memory-bytes 16384
USER_TOKEN=$("$LOGSHARED_BIN" token --data-dir "$TEST_TMP/data" --user loaduser)
SUPPORT=$("$LOGSHARED_BIN" token --data-dir "$TEST_TMP/data" --user agent --role support)
LOAD="$LOGSHARE_BUILD_DIR/tests/push/sse_idle_load"
"$LOAD" "$SERVER_PORT" "$SERVER_PID" "$USER_TOKEN" "$SUPPORT" loaduser "$COUNT" 3000 \
  || fail "idle streams: see above"
pass "$COUNT idle streams held with flat memory and threads"
stop_server TERM
assert_eq 0 "$SERVER_EXIT" "the server stops cleanly with streams open"
pass "clean stop with open streams"
