#!/usr/bin/env bash
# dashboard_audit.sh - defects found by the dashboard audit, each checked
# over real HTTP (curl) against a real logshared:
# - a log line that is not UTF-8 (apps may log any bytes) is shown with
#   U+FFFD instead of failing the whole log viewer page with a 500.
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
