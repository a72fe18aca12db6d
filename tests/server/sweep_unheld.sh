#!/usr/bin/env bash
# An upload temporary that no process holds is a dead upload's: the
# store removes it when it opens (a restart after a crash), whatever its
# age, and the periodic passes once it is a minute old, instead of
# leaving it for the hour meant for file systems without working flock.
# Kept: an old one whose shared lock a live process holds (here a python3
# process, as a second server sharing the directory would), and in the
# periodic passes a fresh one. The old code kept every unheld temporary
# younger than an hour.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
IN=$DATA/blobs/.incoming
HOLDERS=()
cleanup_holders() {
  local p
  for p in "${HOLDERS[@]+"${HOLDERS[@]}"}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  _cleanup
}
trap cleanup_holders EXIT

# plant NAME AGE: a crash's leftover upload temporary, AGE old.
plant() {
  head -c 4096 /dev/zero >"$IN/$1"
  [ -z "$2" ] || touch -d "$2" "$IN/$1"
}
# hold NAME: a live process holds NAME's shared lock, as a writer does.
hold() {
  # one process, so killing it releases the lock (flock(1) would leave
  # its child holding it)
  python3 -c 'import fcntl,sys,time; f=open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_SH); time.sleep(60)' \
    "$IN/$1" </dev/null >/dev/null 2>&1 &
  HOLDERS+=($!)
  local i
  for i in $(seq 1 100); do
    grep -q "$(stat -c %i "$IN/$1")" /proc/locks && return 0
    sleep 0.05
  done
  fail "the holder never took the lock on $1"
}
wait_gone() {
  local i
  for i in $(seq 1 200); do [ -e "$IN/$1" ] || return 0; sleep 0.05; done
  fail "$2 still there 10 s later: $(ls -la "$IN"; tail -5 "$TEST_TMP/server.log")"
}
DEAD=.tmp-at_016f6b8b4c00aaaaaaaaaaaaaaaaaaaaaaaa-0123456789abcdef
FRESH=.tmp-at_016f6b8b4c00bbbbbbbbbbbbbbbbbbbbbbbb-0123456789abcdef
HELD=.tmp-at_016f6b8b4c00cccccccccccccccccccccccc-0123456789abcdef
LATE=.tmp-at_016f6b8b4c00dddddddddddddddddddddddd-0123456789abcdef

# --- at startup ---------------------------------------------------------------
start_server "$DATA"
stop_server
plant "$DEAD" '5 minutes ago'
plant "$FRESH" '' # a crash just now
plant "$HELD" '3 hours ago'
hold "$HELD"
start_server "$DATA" --sweep-interval-s 1
req GET /healthz; expect 200 "" "serving"
[ ! -e "$IN/$DEAD" ] || fail "an unheld temporary 5 minutes old survived the startup sweep"
[ ! -e "$IN/$FRESH" ] || fail "an unheld temporary a crash just left survived the startup sweep"
[ -e "$IN/$HELD" ] || fail "a temporary a live process holds was removed"
pass "startup: unheld temporaries are removed whatever their age, a held one stays"
plant "$FRESH" '' # while serving: a writer may be just opening it

# --- in a periodic pass ---------------------------------------------------------
plant "$LATE" '2 minutes ago'
wait_gone "$LATE" "an unheld temporary 2 minutes old (periodic pass)"
sleep 1.5 # another pass or two
[ -e "$IN/$FRESH" ] || fail "a fresh temporary was removed by a periodic pass"
[ -e "$IN/$HELD" ] || fail "a held temporary was removed by a periodic pass"
pass "periodic: an unheld temporary goes within the interval, the held one stays"

# --- the lock's holder dies: its temporary goes at the next pass ------------------
kill "${HOLDERS[0]}"; wait "${HOLDERS[0]}" 2>/dev/null || true
wait_gone "$HELD" "a temporary whose holder died"
# and uploads still work alongside the sweep
TOK=$(token alice)
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -F description=x -F "f=@$0;filename=a.sh"
expect 201 "" "an upload while the sweep runs every second"
pass "a temporary is removed once its holder is gone"
stop_ok
