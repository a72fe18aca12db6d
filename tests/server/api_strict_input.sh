#!/usr/bin/env bash
# Input the API used to take without a word, now refused with 400
# invalid_argument naming what is wrong (docs/api.md "Conventions"):
#  - query strings: an unknown parameter (?callid= listed every ticket
#    unfiltered), one given twice (?limit=1&limit=2), a NUL byte
#    (?q=Call%00zzz searched "Call"), on every endpoint that takes
#    parameters, signed download links included (their own expires and
#    sig still work);
#  - PATCH: an unknown key is named as such whatever its value; JSON
#    that does not parse is described in plain words, not in jansson's
#    ("JSON_ALLOW_NUL");
#  - POST .../link with a body that is not JSON: 415 (it was 400).
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
start_server "$DATA" --address-rate 0 --user-rate 0
U=$(token alice); S=$(token sam support)
AU=(-H "Authorization: Bearer $U"); AS=(-H "Authorization: Bearer $S")
printf 'log line\n' >"$TEST_TMP/a.log"
req POST /api/v1/tickets "${AU[@]}" -F description='Call dropped' -F call_id=c-1 -F "f=@$TEST_TMP/a.log"
expect 201 "" "ticket"; TID=$(jget id); AID=$(jget attachments.0.id)
req POST /api/v1/tickets "${AU[@]}" -F description='Other' -F call_id=c-2
expect 201 "" "second ticket"

# --- GET /api/v1/tickets --------------------------------------------------------------
bad_query() { # PATH NEEDLE WHAT [curl args]
  local path=$1 needle=$2 what=$3; shift 3
  req GET "$path" "$@"; expect 400 invalid_argument "$what"
  assert_contains "$BODY" "$needle" "$what: message"
}
bad_query '/api/v1/tickets?callid=c-1' "unknown query parameter 'callid' (call_id, user_id, status, q, limit, cursor)" \
  "a misspelt filter" "${AS[@]}"
bad_query '/api/v1/tickets?limit=1&limit=2' "query parameter 'limit' is given twice" "limit twice" "${AS[@]}"
bad_query '/api/v1/tickets?status=open&status=closed' "query parameter 'status' is given twice" "status twice" "${AS[@]}"
bad_query '/api/v1/tickets?q=Call%00zzz' "NUL byte" "NUL in a value" "${AS[@]}"
bad_query '/api/v1/tickets?q%00x=Call' "NUL byte" "NUL in a name" "${AS[@]}"
bad_query '/api/v1/tickets?%FF%01=1' "unknown query parameter '??'" "a name that is not text, quoted safely" "${AS[@]}"
bad_query '/api/v1/tickets?=c-1' "unknown query parameter ''" "a value without a name" "${AS[@]}"
req GET '/api/v1/tickets?&call_id=c-1&&status=open&limit=5&q=call&' "${AS[@]}"; expect 200 "" "known parameters (empty pieces skipped)"
assert_eq "[\"$TID\"]" "$(node -e 'console.log(JSON.stringify(JSON.parse(process.argv[1]).tickets.map(t=>t.id)))' "$BODY")" \
  "the filter still filters"
pass "GET /api/v1/tickets: unknown, repeated and NUL parameters refused"

# --- the other endpoints with a query ---------------------------------------------------
bad_query '/api/v1/log-requests?limit=1&limit=2' "query parameter 'limit' is given twice" "log requests: limit twice" "${AS[@]}"
bad_query '/api/v1/log-requests?user=alice' "unknown query parameter 'user'" "log requests: misspelt user_id" "${AS[@]}"
req GET '/api/v1/log-requests?user_id=alice&order=desc' "${AS[@]}"; expect 200 "" "log requests: known parameters"
bad_query '/api/v1/surveys/stats?buckets=hour' "unknown query parameter 'buckets' (since, until, bucket)" "survey stats" "${AS[@]}"
bad_query "/api/v1/surveys?ticket_id=$TID&ticket_id=tk_0123456789abcdef0123456789abcdef" \
  "query parameter 'ticket_id' is given twice" "surveys: ticket_id twice" "${AS[@]}"
bad_query "/api/v1/tickets/$TID/attachments/$AID/log?offset=0&offset=5" "query parameter 'offset' is given twice" \
  "log viewer: offset twice" "${AS[@]}"
bad_query "/api/v1/tickets/$TID/attachments/$AID/log?lvl=info" "unknown query parameter 'lvl'" "log viewer: misspelt level" "${AS[@]}"
code=$(curl -s -o "$TEST_TMP/sse" -w '%{http_code}' --max-time 2 "${AU[@]}" "$SERVER_URL/api/v1/log-requests/stream?last_id=3" || true)
assert_eq 400 "$code" "event stream: misspelt last_event_id"
pass "log requests, surveys, log viewer and the event stream read their query strictly"

# --- signed links ----------------------------------------------------------------------
req POST "/api/v1/tickets/$TID/attachments/$AID/link" "${AU[@]}"; expect 201 "" "a link"
LINK=$(jget url); LPATH=${LINK#"$SERVER_URL"}
req GET "$LPATH"; expect 200 "" "the signed link works"; assert_eq "log line" "$BODY" "its bytes"
bad_query "$LPATH&sig=$(printf '0%.0s' $(seq 64))" "query parameter 'sig' is given twice" "a second sig"
bad_query "$LPATH&expires=1" "query parameter 'expires' is given twice" "a second expires"
bad_query "$LPATH&utm=x" "unknown query parameter 'utm' (expires, sig)" "an extra parameter on a link"
bad_query "/api/v1/tickets/$TID/attachments/$AID?x=1" "unknown query parameter 'x'" "extra parameter with a token" "${AU[@]}"
pass "signed links: their own parameters work, repeated and unknown ones refused"

# --- PATCH bodies ----------------------------------------------------------------------
patch() { req PATCH "/api/v1/tickets/$TID" "${AS[@]}" -H 'Content-Type: application/json' --data-binary "$1"; }
patch '{"foo":1}'; expect 400 invalid_argument "unknown key with a number"
assert_contains "$BODY" "unknown field 'foo' (status, assignee, note)" "the key is named unknown"
patch '{"status":"closed","foo":[1]}'; expect 400 invalid_argument "unknown key after a known one"
assert_contains "$BODY" "unknown field 'foo'" "named unknown"
patch '{"note":"a\u0000b"}'; expect 400 invalid_argument "NUL in a JSON string"
assert_contains "$BODY" "body is not valid JSON: a NUL character" "plain words for \\u0000"
case "$BODY" in *JSON_ALLOW_NUL*) fail "jansson's flag name in the answer: $BODY" ;; esac
patch '{"note":'; expect 400 invalid_argument "truncated JSON"
assert_contains "$BODY" "body is not valid JSON: premature end of input at line 1, column 8" "where it ends"
patch '{"note":"x","note":"y"}'; expect 400 invalid_argument "a key twice"
assert_contains "$BODY" "a key given twice" "duplicate key in plain words"
patch '[1]'; expect 400 invalid_argument "not an object"; assert_contains "$BODY" "body must be a JSON object" "says so"
req POST /api/v1/log-requests "${AS[@]}" -H 'Content-Type: application/json' --data-binary '{"user_id":"alice",'
expect 400 invalid_argument "log request: truncated JSON"
assert_contains "$BODY" "body is not valid JSON: premature end of input" "log requests use the same words"
patch '{"note":"still works"}'; expect 200 "" "a good PATCH"
pass "PATCH: unknown keys named first, JSON errors in plain words"

# --- POST .../link with a body that is not JSON ---------------------------------------
req POST "/api/v1/tickets/$TID/attachments/$AID/link" "${AU[@]}" -H 'Content-Type: text/plain' -d '{"expires_in":60}'
expect 415 unsupported "link: text/plain body"
req POST "/api/v1/tickets/$TID/attachments/$AID/link" "${AU[@]}" -d '{"expires_in":60}'
expect 415 unsupported "link: form-encoded body (curl -d's default)"
req POST "/api/v1/tickets/$TID/attachments/$AID/link" "${AU[@]}" -H 'Content-Type: application/json' -d '{"expires_in":60}'
expect 201 "" "link: JSON body"
req POST "/api/v1/tickets/$TID/attachments/$AID/link" "${AU[@]}" -H 'Content-Type: text/plain' -H 'Content-Length: 0'
expect 201 "" "link: no body, whatever the Content-Type"
pass "link: a body that is not JSON is 415"
stop_ok

# --- documented behaviour: an Idempotency-Key replay answers the ticket as it is now --
start_server "$DATA" --address-rate 0 --user-rate 0
req POST /api/v1/tickets "${AU[@]}" -H 'Idempotency-Key: replay-1' -F description='First'
expect 201 "" "first upload"; RID=$(jget id)
req PATCH "/api/v1/tickets/$RID" "${AS[@]}" -H 'Content-Type: application/json' --data-binary '{"status":"closed","note":"fixed"}'
expect 200 "" "closed by support"
req POST /api/v1/tickets "${AU[@]}" -H 'Idempotency-Key: replay-1' -F description='Retry' -F "f=@$TEST_TMP/a.log"
expect 201 "" "the replay"
assert_eq "$RID closed fixed First 0" "$(jget id) $(jget status) $(jget notes.0.text) $(jget description) $(jget attachments.length)" \
  "the replay answers the first ticket as it is now (docs/api.md), not the retry's fields"
stop_ok
pass "Idempotency-Key replay: the current ticket"
