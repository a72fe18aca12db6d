# testlib.sh - sourced by integration tests (bash). Gives each test a
# scratch directory, assertions that say what failed, and a real
# logshared on 127.0.0.1 with a free port, stopped when the test exits.
#
# Environment (set by CTest): LOGSHARE_BIN, LOGSHARED_BIN.
set -euo pipefail

TEST_NAME=$(basename "$0" .sh)
TEST_TMP=$(mktemp -d "/tmp/logshare-${TEST_NAME}-XXXXXX")
_server_pids=()

_cleanup() {
  local pid
  for pid in "${_server_pids[@]+"${_server_pids[@]}"}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$TEST_TMP"
}
trap _cleanup EXIT

fail() { echo "FAIL ($TEST_NAME): $*" >&2; exit 1; }
pass() { echo "ok - $*"; }

# assert_eq EXPECTED ACTUAL WHAT
assert_eq() { [ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"; }
# assert_contains HAYSTACK NEEDLE WHAT
assert_contains() { case "$1" in *"$2"*) ;; *) fail "$3: '$2' not in '$1'" ;; esac; }
# assert_exit CODE WHAT -- command...
assert_exit() {
  local want=$1 what=$2; shift 3
  local got=0; "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || got=$?
  [ "$got" = "$want" ] || fail "$what: exit $got, expected $want; stderr: $(head -c 500 "$TEST_TMP/err")"
}

# start_server DATA_DIR [extra logshared args...]
# Starts logshared on a free port; sets SERVER_PID, SERVER_PORT, SERVER_URL.
start_server() {
  local data_dir=$1; shift
  local port_file="$TEST_TMP/port.$$.$RANDOM"
  "$LOGSHARED_BIN" --listen 127.0.0.1:0 --data-dir "$data_dir" --port-file "$port_file" "$@" \
      >>"$TEST_TMP/server.log" 2>&1 &
  SERVER_PID=$!
  _server_pids+=("$SERVER_PID")
  local i
  for i in $(seq 1 200); do
    [ -s "$port_file" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || fail "logshared exited at start: $(tail -5 "$TEST_TMP/server.log")"
    sleep 0.05
  done
  [ -s "$port_file" ] || fail "logshared did not start within 10 s"
  SERVER_PORT=$(cat "$port_file")
  SERVER_URL="http://127.0.0.1:$SERVER_PORT"
}

# _running PID: the process exists and has not exited (kill -0 also
# succeeds on an exited child nobody has waited for yet).
_running() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# stop_server [SIGNAL]: stops the last started server and waits for it,
# 90 s at most (its shutdown is bounded well below that). Sets SERVER_EXIT
# to its exit status. A server that does not stop fails the test with
# every thread's stack and the end of its log, instead of hanging until
# ctest's timeout with nothing to show.
stop_server() {
  local sig=${1:-TERM} i
  kill "-$sig" "$SERVER_PID" 2>/dev/null || true
  for i in $(seq 1 900); do _running "$SERVER_PID" || break; sleep 0.1; done
  if _running "$SERVER_PID"; then
    echo "logshared $SERVER_PID still running 90 s after SIG$sig; its threads:" >&2
    command -v gdb >/dev/null &&
      timeout 60 gdb -batch -p "$SERVER_PID" -ex 'thread apply all bt' >&2 2>/dev/null
    tail -20 "$TEST_TMP/server.log" >&2
    kill -KILL "$SERVER_PID" 2>/dev/null
    fail "logshared did not stop within 90 s of SIG$sig"
  fi
  SERVER_EXIT=0; wait "$SERVER_PID" || SERVER_EXIT=$?
}
