#!/usr/bin/env bash
# PostgreSQL that stops answering (SIGSTOP: its sockets stay open, no
# error ever comes): logshared waits for it at most the conninfo's
# connect_timeout (2 s here), then answers 503 and gives the connection
# up. It used to wait forever: /readyz and uploads hung, and SIGTERM
# never ended the process (its workers sat in libpq until PostgreSQL
# came back). A request that fails so stores nothing half-done, and
# once PostgreSQL answers again the server works as before.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
PG_PIDS=
thaw() { [ -n "$PG_PIDS" ] && kill -CONT $PG_PIDS 2>/dev/null; PG_PIDS=; }
trap 'thaw; stop_postgres; _cleanup' EXIT
start_postgres
URL="host=$PG port=$PG_PORT dbname=logshare user=postgres connect_timeout=2"
freeze() {
  local pm; pm=$(head -1 "$PG/data/postmaster.pid")
  PG_PIDS="$pm $(pgrep -P "$pm" | tr '\n' ' ')"
  kill -STOP $PG_PIDS
}

DATA=$TEST_TMP/data
start_server "$DATA" --database-url "$URL" --shutdown-timeout-s 1
TOK=$(token alice)
head -c 100000 /dev/urandom >"$TEST_TMP/f"
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -F description=before -F "f=@$TEST_TMP/f"
expect 201 "" "upload while PostgreSQL answers"
blobs=$(blob_files)

freeze
t0=$(date +%s%N)
req GET /readyz -m 15
expect 503 unavailable "/readyz with PostgreSQL stopped"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "/readyz answered 503 after $ms ms"
[ "$ms" -lt 6000 ] || fail "/readyz took $ms ms with connect_timeout=2"

# an upload waiting for the database when SIGTERM comes
received() { curl -s "$SERVER_URL/metrics" | sed -n 's/^logshared_http_received_bytes_total //p'; }
r0=$(received)
curl -sS -m 20 -o "$TEST_TMP/up.body" -w '%{http_code}' -H "Authorization: Bearer $TOK" \
  -F description=during -F "f=@$TEST_TMP/f" "$SERVER_URL/api/v1/tickets" >"$TEST_TMP/up.status" 2>&1 &
cpid=$!
# SIGTERM only once the server has the whole body (on a busy machine
# curl may not even have connected after a fixed half second, and a
# connection SIGTERM meets before it is accepted is refused)
for i in $(seq 1 100); do [ "$(( $(received) - r0 ))" -ge 100000 ] && break; sleep 0.05; done
sleep 0.2
t0=$(date +%s%N)
kill -TERM "$SERVER_PID"
for i in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
kill -0 "$SERVER_PID" 2>/dev/null && { thaw; fail "logshared still running $ms ms after SIGTERM"; }
SERVER_EXIT=0; wait "$SERVER_PID" || SERVER_EXIT=$?
echo "exit $SERVER_EXIT $ms ms after SIGTERM"
assert_eq 0 "$SERVER_EXIT" "exit status after SIGTERM"
[ "$ms" -lt 6000 ] || fail "SIGTERM took $ms ms with connect_timeout=2"
wait "$cpid" || true
assert_eq 503 "$(cat "$TEST_TMP/up.status")" "the upload waiting for PostgreSQL"
assert_contains "$(cat "$TEST_TMP/up.body")" '"code":"unavailable"' "its error"
thaw

# nothing half-done, and all is well again
assert_eq "$blobs" "$(blob_files)" "blobs after the failed upload"
start_server "$DATA" --database-url "$URL"
req GET /readyz; expect 200 "" "/readyz once PostgreSQL answers again"
req GET '/api/v1/tickets?limit=10' -H "Authorization: Bearer $(token sam support)"
expect 200 "" "list"
assert_eq 1 "$(jget tickets.length)" "tickets: only the one made before the stop"
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -F description=after -F "f=@$TEST_TMP/f"
expect 201 "" "upload once PostgreSQL answers again"
stop_ok
pass "a stopped PostgreSQL: 503 within connect_timeout, SIGTERM exits, nothing half-done"
