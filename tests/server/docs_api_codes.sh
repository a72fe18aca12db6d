#!/usr/bin/env bash
# Error codes are the ones docs/api.md lists ("Errors"): every 403 is
# permission_denied and every 415 is unsupported, on the dashboard's
# endpoints too (the log viewer and the login said "forbidden" and
# "unsupported_media_type", which no client knew); every 429 carries
# Retry-After (the per-user event stream cap had none); HEAD on the
# event stream, which does not take it, is 405 with Allow (it fell
# through to /log-requests/{id} and was a 404 for a request "stream");
# a survey form's unknown field is named as such (after the 'survey'
# field it was called "field 'survey' given twice").
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
start_server "$DATA" --max-streams-per-user 1
U=$(token alice)
printf 'some log\n' >"$TEST_TMP/a.log"
req POST /api/v1/tickets -H "Authorization: Bearer $U" -F description=x -F "f=@$TEST_TMP/a.log"
expect 201 "" "a ticket with a file"
TK=$(jget id); AT=$(jget attachments.0.id)

req GET "/api/v1/tickets/$TK/attachments/$AT/log" -H "Authorization: Bearer $U"
expect 403 permission_denied "the log viewer for a user"
req POST /dashboard/login -H 'Content-Type: text/plain' -d '{"username":"a","password":"b"}'
expect 415 unsupported "a login that is not JSON"
req POST /dashboard/login -H 'Content-Type: application/json' -H 'Origin: http://elsewhere.example' \
  -d '{"username":"a","password":"b"}'
expect 403 permission_denied "a login from another origin"
pass "dashboard refusals carry the documented codes"

STATUS=$(curl -s -m 5 -I -o /dev/null -D "$TEST_TMP/hdrs" -w '%{http_code}' \
  -H "Authorization: Bearer $U" "$SERVER_URL/api/v1/log-requests/stream") || true
assert_eq 405 "$STATUS" "HEAD on the event stream"
assert_contains "$(tr -d '\r' <"$TEST_TMP/hdrs")" "Allow: GET" "HEAD on the event stream: Allow"
grep -qi '^Allow:.*HEAD' "$TEST_TMP/hdrs" && fail "Allow offers HEAD on the stream: $(cat "$TEST_TMP/hdrs")"
req HEAD "/api/v1/log-requests/lr_nope" -I -H "Authorization: Bearer $U"
assert_eq 404 "$STATUS" "HEAD on an unknown log request still reaches its route"
pass "HEAD on the event stream is 405"

curl -sN -m 20 -H "Authorization: Bearer $U" "$SERVER_URL/api/v1/log-requests/stream" \
  >"$TEST_TMP/stream" 2>/dev/null &
CURL=$!
for _ in $(seq 1 100); do grep -q '^retry:' "$TEST_TMP/stream" && break; sleep 0.05; done
grep -q '^retry:' "$TEST_TMP/stream" || fail "the first stream did not open"
req GET /api/v1/log-requests/stream -m 5 -H "Authorization: Bearer $U"
expect 429 rate_limited "a second stream over max_streams_per_user"
grep -qi '^Retry-After: [1-9]' "$TEST_TMP/hdrs" || fail "429 without Retry-After: $(cat "$TEST_TMP/hdrs")"
kill "$CURL" 2>/dev/null || true
wait "$CURL" 2>/dev/null || true
pass "the per-user stream cap's 429 carries Retry-After"

req POST /api/v1/surveys -H "Authorization: Bearer $U" -F 'survey={"call_id":"c","overall":{"score":1}}' -F other=x
expect 400 invalid_argument "a survey form with another text field"
assert_contains "$BODY" "unknown field 'other'" "the unknown field is named"
req POST /api/v1/surveys -H "Authorization: Bearer $U" -F 'survey={"call_id":"c","overall":{"score":1}}' \
  -F 'survey={"call_id":"d","overall":{"score":2}}'
expect 400 invalid_argument "a survey form with 'survey' twice"
assert_contains "$BODY" "'survey' given twice" "survey twice: message"
pass "a survey form's extra field is named"
stop_ok
