#!/usr/bin/env bash
# dashboard_large_log.sh - the log viewer pages through a large attachment
# without holding it: against a real logshared with the support key, a
# log file of over 32 MiB (random text, so it does not compress) is
# uploaded, and reading its first page raises the server's peak memory
# (VmHWM) by far less than the file's size; a page deep in the file comes
# back with the right record numbers; no temporary copy is left.
. "$LOGSHARE_TEST_LIB/testlib.sh"

data="$TEST_TMP/data"
jget() { node -e 'let d=JSON.parse(process.argv[1]);for(const k of process.argv[2].split("."))d=d?.[k];console.log(d===undefined?"":typeof d==="object"?JSON.stringify(d):d)' "$1" "$2"; }
"$LOGSHARE_BIN" keygen --out "$TEST_TMP/support" >/dev/null
# 24 MiB of random bytes as 200-character lines: about 32 MiB of text,
# which zstd cannot shrink much, in one file.
head -c $((24 << 20)) /dev/urandom | base64 -w 200 |
  "$LOGSHARE_BIN" log --dir "$TEST_TMP/logs" --stream media --public-key-file "$TEST_TMP/support.pub" \
    --max-file-bytes $((256 << 20)) --max-total-bytes $((512 << 20)) ||
  fail "logshare log could not write the big file"
file=$(ls -S "$TEST_TMP/logs"/*.lslog | head -1)
size=$(stat -c %s "$file")
[ "$size" -ge $((24 << 20)) ] || fail "the log file is only $size bytes"
lines=$(head -c $((24 << 20)) /dev/zero | base64 -w 200 | wc -l) # same line count

start_server "$data" --support-secret-key-file "$TEST_TMP/support.key"
user_token=$("$LOGSHARED_BIN" token --data-dir "$data" --user customer-9)
support_token=$("$LOGSHARED_BIN" token --data-dir "$data" --user lead --role support)
created=$(curl -s -H "Authorization: Bearer $user_token" -F 'description=big media log' \
  -F "file=@$file" "$SERVER_URL/api/v1/tickets")
tid=$(printf '%s' "$created" | sed -n 's/.*"id":"\(tk_[0-9a-f]*\)".*/\1/p')
aid=$(printf '%s' "$created" | grep -o '"id":"at_[0-9a-f]*"' | cut -d'"' -f4)
[ -n "$tid" ] && [ -n "$aid" ] || fail "ticket with the big file: $created"

hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status"; }
before=$(hwm_kb)
code=$(curl -s -o "$TEST_TMP/log.json" -w '%{http_code}' -H "Authorization: Bearer $support_token" \
  "$SERVER_URL/api/v1/tickets/$tid/attachments/$aid/log?limit=50")
assert_eq 200 "$code" "first page of the big log"
assert_eq 50 "$(jget "$(cat "$TEST_TMP/log.json")" records.length)" "50 records on the page"
assert_eq 50 "$(jget "$(cat "$TEST_TMP/log.json")" next_offset)" "the next page starts at 50"
after=$(hwm_kb)
grown=$(( (after - before) / 1024 ))
[ "$grown" -lt $(( size / 4 / 1048576 )) ] ||
  fail "reading one page raised the server's peak memory by $grown MiB for a $((size >> 20)) MiB file"
pass "first page of a $((size >> 20)) MiB log: peak memory grew $grown MiB"

deep=$((lines - 10))
code=$(curl -s -o "$TEST_TMP/log.json" -w '%{http_code}' -H "Authorization: Bearer $support_token" \
  "$SERVER_URL/api/v1/tickets/$tid/attachments/$aid/log?offset=$deep&limit=50")
assert_eq 200 "$code" "a page near the end"
body=$(cat "$TEST_TMP/log.json")
assert_eq 10 "$(jget "$body" records.length)" "the last 10 records"
assert_eq "$deep" "$(jget "$body" records.0.index)" "numbered from the offset"
assert_eq null "$(jget "$body" next_offset)" "no page after the last"
assert_eq 0 "$(find "$data" -name '.dashboard-log-*' | wc -l)" "no temporary copy in the data dir"
pass "a page deep in the file; nothing left behind"

code=$(curl -s -o "$TEST_TMP/log.json" -w '%{http_code}' -H "Authorization: Bearer $support_token" \
  "$SERVER_URL/api/v1/tickets/$tid/attachments/$aid/log?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z")
assert_eq 400 "$code" "since later than until"
assert_contains "$(cat "$TEST_TMP/log.json")" "since is later than until" "the 400 says why"
pass "a reversed time range is a 400, not an empty page"
stop_server TERM
assert_eq 0 "$SERVER_EXIT" "logshared exit status after SIGTERM"
