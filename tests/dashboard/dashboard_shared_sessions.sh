#!/usr/bin/env bash
# dashboard_shared_sessions.sh - dashboard sessions shared by every
# server on one data dir (<data_dir>/sessions.db), over real HTTP (curl)
# against two real logshared processes behind no load balancer:
# - a login on A works on B: GET /dashboard/session, the API with the
#   cookie, and a change with the CSRF token A handed out (refused
#   without it); the old code kept sessions in each process (401 on B);
# - a logout through B ends the session on A at once;
# - a password change or a role change through `logshared user` ends it
#   on both;
# - login attempt limits count the attempts made through every server
#   (the old code allowed 5 guesses a minute per name on EACH server),
#   and a device cookie made by A lets its browser past a stranger's
#   lock-out on B (each server had its own random key);
# - a restart keeps the session (the old code logged every agent out)
#   and the login limits;
# - an expired session is refused by both servers;
# - sessions.db is mode 0600 and holds no cookie value;
# - while another process holds sessions.db's write lock, a logout
#   answers 503 and the session lives on (it is not reported ended), a
#   login answers 503 rather than skipping the attempt limits.
. "$LOGSHARE_TEST_LIB/testlib.sh"

data="$TEST_TMP/data"
printf 'a long enough password\n' | "$LOGSHARED_BIN" user add agent --role support --data-dir "$data" >/dev/null
printf 'another long password\n' | "$LOGSHARED_BIN" user add boss --role admin --data-dir "$data" >/dev/null
user_token=$("$LOGSHARED_BIN" token --data-dir "$data" --user customer-7)

# start_pair [args...]: servers A and B on the data dir (A_URL, B_URL).
start_pair() {
  start_server "$data" "$@"; A_PID=$SERVER_PID; A_URL=$SERVER_URL
  start_server "$data" "$@"; B_PID=$SERVER_PID; B_URL=$SERVER_URL
}
stop_pid() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
# login URL JAR USER PASSWORD -> status; the CSRF token in $TEST_TMP/csrf
login() {
  local code
  code=$(curl -s -o "$TEST_TMP/login.json" -w '%{http_code}' -c "$2" -H 'Content-Type: application/json' \
    --data "{\"username\":\"$3\",\"password\":\"$4\"}" "$1/dashboard/login")
  sed -n 's/.*"csrf_token":"\([0-9a-f]*\)".*/\1/p' "$TEST_TMP/login.json" >"$TEST_TMP/csrf"
  echo "$code"
}
# get URL JAR PATH -> status (body in $TEST_TMP/body)
get() { curl -s -o "$TEST_TMP/body" -w '%{http_code}' -b "$2" "$1$3"; }
patch() { # patch URL JAR TICKET [curl args] -> status
  local u=$1 j=$2 t=$3; shift 3
  curl -s -o "$TEST_TMP/body" -w '%{http_code}' -b "$j" -X PATCH -H 'Content-Type: application/json' "$@" \
    --data '{"status":"closed"}' "$u/api/v1/tickets/$t"
}
logout() { # logout URL JAR CSRF -> status
  curl -s -o "$TEST_TMP/body" -w '%{http_code}' -b "$2" -X POST -H 'Content-Type: application/json' \
    -H "X-CSRF-Token: $3" --data '{}' "$1/dashboard/logout"
}

start_pair
tid=$(curl -s -H "Authorization: Bearer $user_token" -F 'description=shared session' \
  "$A_URL/api/v1/tickets" | sed -n 's/.*"id":"\(tk_[0-9a-f]*\)".*/\1/p')
[ -n "$tid" ] || fail "ticket created"

# --- a login on A is a login on B ---------------------------------------------
jar="$TEST_TMP/jar"
assert_eq 200 "$(login "$A_URL" "$jar" agent 'a long enough password')" "login on A"
csrf=$(cat "$TEST_TMP/csrf")
[ ${#csrf} = 64 ] || fail "login returns a CSRF token: $(cat "$TEST_TMP/login.json")"
assert_eq 200 "$(get "$B_URL" "$jar" /dashboard/session)" "A's session on B"
assert_contains "$(cat "$TEST_TMP/body")" '"user":"agent"' "B knows who is logged in"
assert_contains "$(cat "$TEST_TMP/body")" "\"csrf_token\":\"$csrf\"" "B gives the same CSRF token"
assert_eq 200 "$(get "$B_URL" "$jar" /api/v1/tickets)" "the API on B with A's cookie"
assert_eq 401 "$(patch "$B_URL" "$jar" "$tid")" "a change on B without the CSRF token"
assert_eq 401 "$(patch "$B_URL" "$jar" "$tid" -H "X-CSRF-Token: ${csrf%?}$([ "${csrf: -1}" = 0 ] && echo 1 || echo 0)")" \
  "a change on B with a wrong CSRF token"
assert_eq 200 "$(patch "$B_URL" "$jar" "$tid" -H "X-CSRF-Token: $csrf")" "a change on B with A's CSRF token"
assert_contains "$(cat "$TEST_TMP/body")" '"status":"closed"' "the change was made"
pass "a session made on A works on B, CSRF token included"

# --- a logout on B ends it on A ---------------------------------------------------
cp "$jar" "$TEST_TMP/stolen"
assert_eq 200 "$(logout "$B_URL" "$jar" "$csrf")" "logout on B"
assert_eq 401 "$(get "$A_URL" "$TEST_TMP/stolen" /dashboard/session)" "the session on A after the logout on B"
assert_eq 401 "$(get "$A_URL" "$TEST_TMP/stolen" /api/v1/tickets)" "the API on A after the logout on B"
assert_eq 401 "$(get "$B_URL" "$TEST_TMP/stolen" /dashboard/session)" "and on B"
pass "a logout on B ends the session on A at once"

# --- the account's changes end it everywhere ------------------------------------
assert_eq 200 "$(login "$A_URL" "$jar" agent 'a long enough password')" "login on A again"
printf 'a new long password\n' | "$LOGSHARED_BIN" user passwd agent --data-dir "$data" >/dev/null
assert_eq 401 "$(get "$B_URL" "$jar" /dashboard/session)" "B after a password change"
assert_eq 401 "$(get "$A_URL" "$jar" /dashboard/session)" "A after a password change"
assert_eq 200 "$(login "$B_URL" "$jar" boss 'another long password')" "admin login on B"
"$LOGSHARED_BIN" user role boss --role user --data-dir "$data" >/dev/null
assert_eq 401 "$(get "$A_URL" "$jar" /dashboard/session)" "A after the admin became a user"
assert_eq 401 "$(get "$B_URL" "$jar" /dashboard/session)" "B after the admin became a user"
pass "a password or role change ends the sessions on every server"

# --- login attempt limits are one for both ----------------------------------------
printf 'carol password 12\n' | "$LOGSHARED_BIN" user add carol --role support --data-dir "$data" >/dev/null
carol="$TEST_TMP/carol.jar"
assert_eq 200 "$(login "$A_URL" "$carol" carol 'carol password 12')" "carol logs in on A (device cookie)"
grep -q logshare_device "$carol" || fail "the login on A set a device cookie"
for i in 1 2 3 4 5; do
  [ $((i % 2)) = 1 ] && u=$B_URL || u=$A_URL
  assert_eq 401 "$(login "$u" "$TEST_TMP/stranger" carol "guess $i")" "a stranger's guess $i"
done
assert_eq 429 "$(login "$A_URL" "$TEST_TMP/stranger" carol 'carol password 12')" "the 6th attempt, on A"
assert_eq 429 "$(login "$B_URL" "$TEST_TMP/stranger" carol 'carol password 12')" "and on B"
code=$(curl -s -o /dev/null -w '%{http_code}' -b "$carol" -c "$carol" -H 'Content-Type: application/json' \
  --data '{"username":"carol","password":"carol password 12"}' "$B_URL/dashboard/login")
assert_eq 200 "$code" "carol's browser (device cookie from A) still logs her in on B"
pass "login attempts count for every server; a device cookie from A is honoured by B"

# --- a restart keeps the session --------------------------------------------------
assert_eq 200 "$(login "$A_URL" "$jar" agent 'a new long password')" "login before the restart"
csrf=$(cat "$TEST_TMP/csrf")
stop_pid "$A_PID"; stop_pid "$B_PID"
start_pair
assert_eq 200 "$(get "$A_URL" "$jar" /dashboard/session)" "the session after both servers restarted (A)"
assert_eq 200 "$(get "$B_URL" "$jar" /dashboard/session)" "the session after both servers restarted (B)"
assert_contains "$(cat "$TEST_TMP/body")" "\"csrf_token\":\"$csrf\"" "with its CSRF token"
assert_eq 429 "$(login "$B_URL" "$TEST_TMP/stranger" carol 'carol password 12')" "the limit after the restart"
pass "a restart keeps sessions and login limits"

# --- the file ---------------------------------------------------------------------
assert_eq 600 "$(stat -c %a "$data/sessions.db")" "sessions.db mode"
token=$(awk '$6 == "logshare_session" { print $7 }' "$jar")
[ ${#token} = 64 ] || fail "cookie value in the jar: $(cat "$jar")"
if grep -qa "$token" "$data"/sessions.db*; then fail "sessions.db holds the cookie value"; fi
if grep -qa "$csrf" "$data"/sessions.db*; then fail "sessions.db holds the CSRF token"; fi
pass "sessions.db is 0600 and holds neither the cookie nor the CSRF token"

# --- a logout that cannot be written is not "logged out" ---------------------------
# Another process holds sessions.db's write lock for longer than the
# servers' 5 s busy timeout: the logout must fail (503), and the session
# must still be there afterwards, not be reported ended.
( echo 'BEGIN IMMEDIATE;'; sleep 13; echo 'ROLLBACK;' ) | sqlite3 "$data/sessions.db" &
holder=$!
sleep 0.5
assert_eq 503 "$(logout "$A_URL" "$jar" "$csrf")" "a logout while the file is locked"
assert_contains "$(cat "$TEST_TMP/body")" '"code":"unavailable"' "the logout says why"
assert_eq 503 "$(login "$B_URL" "$TEST_TMP/other" agent 'a new long password')" "a login while the file is locked"
wait "$holder"
assert_eq 200 "$(get "$B_URL" "$jar" /dashboard/session)" "the session after the failed logout"
assert_eq 200 "$(logout "$A_URL" "$jar" "$csrf")" "the logout once the lock is gone"
assert_eq 401 "$(get "$B_URL" "$jar" /dashboard/session)" "then it is gone on B"
pass "a logout or login that cannot reach sessions.db answers 503; nothing is reported ended that is not"

# --- expiry on both ---------------------------------------------------------------
stop_pid "$A_PID"; stop_pid "$B_PID"
start_pair --session-max-ttl-s 2
assert_eq 200 "$(login "$A_URL" "$jar" agent 'a new long password')" "login with a 2 s lifetime"
assert_eq 200 "$(get "$B_URL" "$jar" /dashboard/session)" "fresh session on B"
sleep 3
assert_eq 401 "$(get "$B_URL" "$jar" /dashboard/session)" "expired session on B"
assert_eq 401 "$(get "$A_URL" "$jar" /dashboard/session)" "expired session on A"
assert_eq 401 "$(get "$A_URL" "$jar" /api/v1/tickets)" "expired session on A's API"
pass "an expired session is refused by both servers"
