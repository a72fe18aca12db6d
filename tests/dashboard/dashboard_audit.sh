#!/usr/bin/env bash
# dashboard_audit.sh - defects found by the dashboard audit, each checked
# over real HTTP (curl) against a real logshared:
# - a log line that is not UTF-8 (apps may log any bytes) is shown with
#   U+FFFD instead of failing the whole log viewer page with a 500;
# - a session ends as soon as its account is removed from the database,
#   made a "user", or removed and added again (a password reset); it used
#   to live on with the login's role for up to a day;
# - anyone could keep an agent out for good with five wrong passwords a
#   minute (the name's bucket came first, even for the right password);
#   a browser that has logged in as that agent before now has its own;
# - the pages' auto-refresh (every 3-4 s) kept every open dashboard
#   logged in until the absolute expiry: refreshes marked
#   X-Dashboard-Refresh: 1 no longer count as activity;
# - JSON answers made outside the dashboard's own handlers (the router's
#   404/405/400, the API's 401 to a refused cookie, API data) had no
#   nosniff and no CSP.
. "$LOGSHARE_TEST_LIB/testlib.sh"

data="$TEST_TMP/data"
printf 'a long enough password\n' | "$LOGSHARED_BIN" user add agent --role support --data-dir "$data" >/dev/null
"$LOGSHARE_BIN" keygen --out "$TEST_TMP/support" >/dev/null
start_server "$data" --support-secret-key-file "$TEST_TMP/support.key"
user_token=$("$LOGSHARED_BIN" token --data-dir "$data" --user customer-7)
jar="$TEST_TMP/jar"
code=$(curl -s -o "$TEST_TMP/login.json" -w '%{http_code}' -c "$jar" -H 'Content-Type: application/json' \
  --data '{"username":"agent","password":"a long enough password"}' "$SERVER_URL/dashboard/login")
assert_eq 200 "$code" "agent login"

# create_ticket FILE -> "TICKET_ID ATTACHMENT_ID"
create_ticket() {
  local created
  created=$(curl -s -H "Authorization: Bearer $user_token" -F 'description=audit' -F "file=@$1" \
    "$SERVER_URL/api/v1/tickets")
  printf '%s %s\n' "$(printf '%s' "$created" | sed -n 's/.*"id":"\(tk_[0-9a-f]*\)".*/\1/p')" \
    "$(printf '%s' "$created" | grep -o '"id":"at_[0-9a-f]*"' | head -1 | cut -d'"' -f4)"
}

# --- log lines that are not UTF-8 ---------------------------------------
printf 'before\nlatin-1 caf\xe9 and a stray \xff\xfe byte\nafter\n' |
  "$LOGSHARE_BIN" log --dir "$TEST_TMP/logs" --stream calling --public-key-file "$TEST_TMP/support.pub"
read -r tid aid < <(create_ticket "$(ls "$TEST_TMP/logs"/*.lslog | head -1)")
[ -n "$tid" ] && [ -n "$aid" ] || fail "ticket with a log file"
code=$(curl -s -o "$TEST_TMP/log.json" -w '%{http_code}' -b "$jar" \
  "$SERVER_URL/api/v1/tickets/$tid/attachments/$aid/log")
assert_eq 200 "$code" "a log with a non-UTF-8 line is shown: $(cat "$TEST_TMP/log.json")"
python3 - "$TEST_TMP/log.json" <<'PY' || fail "the records as the app wrote them, bad bytes as U+FFFD"
import json, sys
doc = json.load(open(sys.argv[1]))
msgs = [r["message"] for r in doc["records"]]
want = ["before", "latin-1 caf\ufffd and a stray \ufffd\ufffd byte", "after"]
assert msgs == want, msgs
PY
pass "log lines that are not UTF-8 are shown with U+FFFD, the page still answers"

# --- sessions follow their account --------------------------------------
db="$data/logshare.db"
# agent_login NAME PASSWORD JAR -> status
agent_login() {
  curl -s -o "$TEST_TMP/login.json" -w '%{http_code}' -c "$3" -H 'Content-Type: application/json' \
    --data "{\"username\":\"$1\",\"password\":\"$2\"}" "$SERVER_URL/dashboard/login"
}
# with_cookie JAR PATH -> status
with_cookie() { curl -s -o "$TEST_TMP/out.json" -w '%{http_code}' -b "$1" "$SERVER_URL$2"; }
for who in gone demoted reset boss; do
  role=support; [ "$who" = boss ] && role=admin
  printf 'first password 1\n' | "$LOGSHARED_BIN" user add "$who" --role "$role" --data-dir "$data" >/dev/null
  assert_eq 200 "$(agent_login "$who" 'first password 1' "$TEST_TMP/jar.$who")" "$who logs in"
  assert_eq 200 "$(with_cookie "$TEST_TMP/jar.$who" /api/v1/tickets)" "$who's session works"
done
# what an admin does with logshared user del / role / passwd
"$LOGSHARED_BIN" user del gone --data-dir "$data" >/dev/null || fail "user del"
"$LOGSHARED_BIN" user role demoted --role user --data-dir "$data" >/dev/null || fail "user role"
"$LOGSHARED_BIN" user role boss --role support --data-dir "$data" >/dev/null || fail "user role"
sleep 1.1 # the new password is set in a later second than the login
printf 'second password 2\n' | "$LOGSHARED_BIN" user passwd reset --data-dir "$data" >/dev/null ||
  fail "user passwd"
[ "$(sqlite3 "$db" "SELECT count(*) FROM users WHERE name = 'gone'")" = 0 ] || fail "user del left the row"
for who in gone demoted reset; do
  assert_eq 401 "$(with_cookie "$TEST_TMP/jar.$who" /api/v1/tickets)" "the API refuses $who's old session"
  assert_contains "$(cat "$TEST_TMP/out.json")" "removed or changed" "and says why"
  assert_eq 401 "$(with_cookie "$TEST_TMP/jar.$who" /dashboard/session)" "so does /dashboard/session for $who"
done
assert_eq 401 "$(agent_login reset 'first password 1' "$TEST_TMP/jar.x")" "the old password is gone"
assert_eq 200 "$(agent_login reset 'second password 2' "$TEST_TMP/jar.reset")" "the new one logs in"
assert_eq 200 "$(with_cookie "$TEST_TMP/jar.reset" /api/v1/tickets)" "with a working session"
assert_eq 200 "$(with_cookie "$TEST_TMP/jar.boss" /dashboard/session)" "an admin made support keeps the session"
assert_contains "$(cat "$TEST_TMP/out.json")" '"role":"support"' "with the role the account has now"
assert_eq 200 "$(with_cookie "$jar" /api/v1/tickets)" "other agents are not affected"
# and the same by hand in the database (what there was before the commands)
printf 'first password 1\n' | "$LOGSHARED_BIN" user add byhand --role support --data-dir "$data" >/dev/null
assert_eq 200 "$(agent_login byhand 'first password 1' "$TEST_TMP/jar.byhand")" "byhand logs in"
sqlite3 "$db" "DELETE FROM users WHERE name = 'byhand'"
assert_eq 401 "$(with_cookie "$TEST_TMP/jar.byhand" /api/v1/tickets)" "a row deleted by hand ends the session"
# the commands' errors
out=$("$LOGSHARED_BIN" user del nobody --data-dir "$data" 2>&1) && fail "user del of an unknown login succeeded"
assert_contains "$out" "no login named 'nobody'" "user del names the missing login"
st=0; "$LOGSHARED_BIN" user role reset --role root --data-dir "$data" 2>/dev/null || st=$?
assert_eq 2 "$st" "a bad role is a usage error"
out=$(printf 'second password 2\n' | "$LOGSHARED_BIN" user passwd reset --data-dir "$TEST_TMP/typo" 2>&1) &&
  fail "user passwd on a directory with no database succeeded"
assert_contains "$out" "no database in" "user passwd says there is no database"
[ ! -e "$TEST_TMP/typo" ] || fail "user passwd created a data directory"
before=$(sqlite3 "$db" "SELECT password_hash, created_at FROM users WHERE name = 'reset'")
out=$(printf 'short\n' | "$LOGSHARED_BIN" user passwd reset --data-dir "$data" 2>&1) && fail "a short password was taken"
assert_eq "$before" "$(sqlite3 "$db" "SELECT password_hash, created_at FROM users WHERE name = 'reset'")" \
  "a refused passwd changes nothing"
pass "a session ends when its account is removed, made a user, or re-added; a role change applies at once"
pass "logshared user del, role and passwd manage logins; their errors are clear"

# --- a stranger's guesses cannot lock an agent out ------------------------
printf 'locked out? 12\n' | "$LOGSHARED_BIN" user add carol --role support --data-dir "$data" >/dev/null
printf 'other agent 12\n' | "$LOGSHARED_BIN" user add dave --role support --data-dir "$data" >/dev/null
# try NAME PASSWORD [curl args] -> status (no cookies written)
try() {
  local u=$1 p=$2; shift 2
  curl -s -o "$TEST_TMP/try.json" -D "$TEST_TMP/try.h" -w '%{http_code}' -H 'Content-Type: application/json' "$@" \
    --data "{\"username\":\"$u\",\"password\":\"$p\"}" "$SERVER_URL/dashboard/login"
}
carol="$TEST_TMP/carol.jar"
assert_eq 200 "$(try carol 'locked out? 12' -c "$carol")" "carol logs in from her browser"
grep -q 'logshare_device' "$carol" || fail "the login sets a device cookie"
grep -i '^set-cookie: logshare_device=' "$TEST_TMP/try.h" | grep -q 'HttpOnly; SameSite=Strict' ||
  fail "the device cookie is HttpOnly and SameSite=Strict: $(cat "$TEST_TMP/try.h")"
assert_eq 200 "$(try dave 'other agent 12' -c "$TEST_TMP/dave.jar")" "dave logs in from his"
for i in 1 2 3 4 5; do assert_eq 401 "$(try carol "guess $i")" "a stranger's guess $i"; done
assert_eq 429 "$(try carol 'locked out? 12')" "a stranger is held back, even with the right password"
assert_eq 200 "$(try carol 'locked out? 12' -b "$carol" -c "$carol")" "carol's own browser still logs her in"
assert_eq 429 "$(try carol 'locked out? 12' -b "$TEST_TMP/dave.jar")" "dave's device cookie does not count for carol"
expiry=$(awk '$6 == "logshare_device" { print $7 }' "$carol" | cut -d. -f1)
[ -n "$expiry" ] || fail "the device cookie starts with its expiry"
forged="$expiry.$(printf '%064d' 0)"
assert_eq 429 "$(try carol 'locked out? 12' -H "Cookie: logshare_device=$forged")" "nor does a forged one"
# The trusted browser's own bucket is limited just the same.
for i in 1 2 3 4 5; do assert_eq 401 "$(try carol "typo $i" -b "$carol")" "carol's typo $i"; done
assert_eq 429 "$(try carol 'locked out? 12' -b "$carol")" "her browser's attempts are limited too"
pass "a stranger's wrong guesses cannot lock an agent out of her own browser"

# --- auto-refreshes do not keep an idle session alive ----------------------
stop_server
# Login limits outlive a restart (they are in sessions.db); this part is
# not about them, and 127.0.0.1 has spent its address bucket above.
sqlite3 "$data/sessions.db" 'DELETE FROM login_buckets'
start_server "$data" --session-idle-ttl-s 3
idle="$TEST_TMP/idle.jar"
assert_eq 200 "$(agent_login agent 'a long enough password' "$idle")" "login on the short-idle server"
busy="$TEST_TMP/busy.jar"
assert_eq 200 "$(agent_login agent 'a long enough password' "$busy")" "a second session, used by hand"
refresh() { curl -s -o /dev/null -w '%{http_code}' -b "$1" -H 'X-Dashboard-Refresh: 1' "$SERVER_URL/api/v1/tickets"; }
# Expiry is counted in whole seconds: 3 s idle means at least 2 s.
sleep 0.5
assert_eq 200 "$(refresh "$idle")" "a refresh inside the idle time is answered"
for i in 1 2 3 4 5 6 7; do
  sleep 0.5
  refresh "$idle" >/dev/null # refreshes only, every half second
  assert_eq 200 "$(with_cookie "$busy" /api/v1/tickets)" "the session in use stays ($i)"
done
assert_eq 401 "$(refresh "$idle")" "refreshes alone did not keep the session alive"
assert_eq 401 "$(with_cookie "$idle" /dashboard/session)" "it is gone"
assert_eq 200 "$(with_cookie "$busy" /dashboard/session)" "the one in use is not"
pass "the pages' own refreshes do not keep an unattended session alive"

# --- every JSON answer is nosniff and unframeable ---------------------------
hdr() { grep -i "^$1:" "$2" | head -1 | cut -d: -f2- | sed 's/^ //; s/\r$//'; }
for p in /dashboard/a/b/c '/dashboard/x%00' /api/v1/tickets /api/v1/nope; do
  curl -s --path-as-is -o /dev/null -D "$TEST_TMP/h" -b "$idle" "$SERVER_URL$p"
  assert_eq nosniff "$(hdr X-Content-Type-Options "$TEST_TMP/h")" "nosniff on $p ($(head -1 "$TEST_TMP/h"))"
  assert_contains "$(hdr Content-Security-Policy "$TEST_TMP/h")" "frame-ancestors 'none'" "CSP on $p"
done
curl -s -o /dev/null -D "$TEST_TMP/h" -X PUT "$SERVER_URL/dashboard/login"
assert_eq nosniff "$(hdr X-Content-Type-Options "$TEST_TMP/h")" "nosniff on a 405"
curl -s -o /dev/null -D "$TEST_TMP/h" -b "$busy" "$SERVER_URL/api/v1/tickets"
assert_eq 200 "$(head -1 "$TEST_TMP/h" | cut -d' ' -f2)" "ticket data with the cookie"
assert_eq nosniff "$(hdr X-Content-Type-Options "$TEST_TMP/h")" "nosniff on ticket data"
assert_contains "$(hdr Content-Security-Policy "$TEST_TMP/h")" "default-src 'none'" "CSP on ticket data"
pass "router errors, refused cookies and API data carry nosniff and a CSP"
