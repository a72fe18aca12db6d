#!/usr/bin/env bash
# Connections are spread over the HTTP thread pool, and the connection
# limits still hold for connections our accept thread hands to MHD:
#  - a burst of 8 keep-alive connections opened at once (upload_client:
#    curl multi, 8 in parallel, each connection reused for several
#    uploads) is served by both threads of a 2-thread pool, each at
#    least a quarter of the requests (logshared_http_thread_requests_total
#    in /metrics), in each of three bursts. MHD's own accept loop gave
#    most bursts to one thread, for the life of the connections;
#  - max_connections and max_connections_per_address refuse the
#    connection over the limit, and serve again once one is closed;
#  - the log line carries the peer's address;
#  - out of file descriptors (EMFILE), the accept thread backs off
#    instead of spinning, logs once, and serves again once some are free.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data

# --- a burst of keep-alive connections is spread over the pool ---------------------
UC=$LOGSHARE_BUILD_DIR/tests/server/upload_client
start_server "$DATA" --threads 2 --address-rate 0 --user-rate 0
TOK=$(token alice)
# thread_counts: the per-thread request counters, one line each, in thread order
thread_counts() {
  req GET /metrics; expect 200 "" "metrics"
  grep '^logshared_http_thread_requests_total{' <<<"$BODY" | sort | awk '{print $2}'
}
before=$(thread_counts)
for burst in 1 2 3; do
  "$UC" --url "$SERVER_URL/api/v1/tickets" --token "$TOK" --size 65536 --files 1 \
    --parallel 8 --requests 64 >"$TEST_TMP/uc.out" 2>&1 ||
    fail "burst $burst: uploads failed: $(tail -3 "$TEST_TMP/uc.out")"
  after=$(thread_counts)
  # per thread: requests in this burst (the /metrics request itself is
  # counted as well, one at most per thread)
  delta=$(paste <(echo "$after") <(echo "$before"; yes 0 | head -2) | head -2 | awk '{print $1 - $2}')
  before=$after
  total=$(awk '{s+=$1} END {print s}' <<<"$delta")
  min=$(awk 'NR==1 || $1<m {m=$1} END {print m}' <<<"$delta")
  echo "burst $burst: requests per thread: $(tr '\n' ' ' <<<"$delta")(total $total)"
  assert_eq 2 "$(wc -l <<<"$after")" "threads that served requests (pool of 2)"
  [ "$total" -ge 64 ] || fail "burst $burst: only $total requests counted, expected 64"
  [ $((min * 4)) -ge "$total" ] ||
    fail "burst $burst: a thread served $min of $total requests, under a quarter: not spread"
done
assert_contains "$(cat "$TEST_TMP/server.log")" "addr=127.0.0.1 " "the peer address in the request log"
stop_ok
pass "bursts of keep-alive connections are spread over the thread pool"

# --- the connection limits hold for connections we accept ---------------------------
# idle_conns N: opens N connections (fds 10..) that send nothing
idle_conns() {
  local i
  for i in $(seq 0 $(($1 - 1))); do eval "exec $((10 + i))<>/dev/tcp/127.0.0.1/$SERVER_PORT"; done
  sleep 0.3
}
close_conns() {
  local i
  for i in $(seq 0 $(($1 - 1))); do eval "exec $((10 + i))<&-"; done
  sleep 0.3
}
served() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$SERVER_URL/healthz" || true)" = 200 ]; }

start_server "$DATA" --threads 2 --max-connections 4 --address-rate 0
idle_conns 4
! served || fail "a 5th connection was served with max_connections 4"
close_conns 1
served || fail "not served again after a connection closed (max_connections 4)"
close_conns 4
stop_ok
pass "max_connections holds"

start_server "$DATA" --threads 2 --max-connections-per-address 3 --address-rate 0
idle_conns 3
! served || fail "a 4th connection from one address was served with a cap of 3"
close_conns 3
served || fail "not served again once the connections are gone (cap 3)"
stop_ok
pass "max_connections_per_address holds"

# --- out of file descriptors: back off, log once, serve again ----------------------
start_server "$DATA" --threads 2 --max-connections-per-address 100 --address-rate 0
open_fds=$(ls /proc/$SERVER_PID/fd | wc -l)
prlimit --pid "$SERVER_PID" --nofile=$((open_fds + 4)):$((open_fds + 4))
idle_conns 8 # 4 accepted, the other 4 wait in the backlog
acc=$(grep -l '^ls-accept$' /proc/$SERVER_PID/task/*/comm | head -1)
[ -n "$acc" ] || fail "no ls-accept thread"
acc_stat=${acc%/comm}/stat
ticks() { awk '{print $14 + $15}' "$acc_stat"; }
t0=$(ticks); sleep 1; t1=$(ticks)
[ $((t1 - t0)) -lt 20 ] || fail "the accept thread used $((t1 - t0)) ticks in 1 s out of descriptors: spinning"
n=$(grep -c 'cannot accept connections, retrying' "$TEST_TMP/server.log" || true)
assert_eq 1 "$n" "'cannot accept connections' log lines during one episode"
assert_contains "$(grep 'cannot accept' "$TEST_TMP/server.log")" "Too many open files" "the error logged"
close_conns 8
served || fail "not served again once descriptors were free"
stop_ok
pass "out of descriptors: the accept thread backs off, logs once and recovers"
