#!/usr/bin/env bash
# dashboard_hostile_log.sh - the log viewer reads uploads someone else
# wrote: against a real logshared with the support key, a 173-byte log
# file whose one frame renders to 600 MB of text ("%*s" pads a one-byte
# argument to 4096 columns; fuzz/corpus/logfile/render-bomb, found by
# fuzz_logfile) is refused as corrupt without the server's peak memory
# (VmHWM) growing by more than the reader's 32 MiB bound allows, and the
# server keeps answering.
. "$LOGSHARE_TEST_LIB/testlib.sh"

data="$TEST_TMP/data"
jget() { node -e 'let d=JSON.parse(process.argv[1]);for(const k of process.argv[2].split("."))d=d?.[k];console.log(d===undefined?"":typeof d==="object"?JSON.stringify(d):d)' "$1" "$2"; }
"$LOGSHARE_BIN" keygen --out "$TEST_TMP/support" >/dev/null
# The corpus file is the harness's mode byte then the file itself.
tail -c +2 "$LOGSHARE_SOURCE_DIR/fuzz/corpus/logfile/render-bomb" >"$TEST_TMP/bomb.lslog"
assert_eq 173 "$(stat -c %s "$TEST_TMP/bomb.lslog")" "the hostile file's size"

start_server "$data" --support-secret-key-file "$TEST_TMP/support.key"
user_token=$("$LOGSHARED_BIN" token --data-dir "$data" --user customer-9)
support_token=$("$LOGSHARED_BIN" token --data-dir "$data" --user lead --role support)
created=$(curl -s -H "Authorization: Bearer $user_token" -F 'description=hostile log' \
  -F "file=@$TEST_TMP/bomb.lslog" "$SERVER_URL/api/v1/tickets")
tid=$(printf '%s' "$created" | sed -n 's/.*"id":"\(tk_[0-9a-f]*\)".*/\1/p')
aid=$(printf '%s' "$created" | grep -o '"id":"at_[0-9a-f]*"' | cut -d'"' -f4)
[ -n "$tid" ] && [ -n "$aid" ] || fail "ticket with the hostile file: $created"

hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status"; }
before=$(hwm_kb)
code=$(curl -s -m 60 -o "$TEST_TMP/log.json" -w '%{http_code}' \
  -H "Authorization: Bearer $support_token" \
  "$SERVER_URL/api/v1/tickets/$tid/attachments/$aid/log?limit=10")
after=$(hwm_kb)
assert_eq 200 "$code" "the log page of the hostile file"
grown=$(((after - before) / 1024))
[ "$grown" -lt 200 ] || fail "one page of a 173-byte file raised the server's peak memory by $grown MiB"
body=$(head -c 4096 "$TEST_TMP/log.json")
assert_eq true "$(jget "$body" corrupt)" "the frame is reported as corrupt, not rendered"
assert_eq 0 "$(jget "$body" records.length)" "no record of the frame is shown"
pass "a frame rendering past 32 MiB is refused; peak memory grew $grown MiB"
code=$(curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/healthz")
assert_eq 200 "$code" "the server still answers"
stop_server TERM
assert_eq 0 "$SERVER_EXIT" "logshared exit status after SIGTERM"
