#!/usr/bin/env bash
# HTTP framing and connection handling of logshared (docs/api.md
# "Conventions", "Errors" and "Limits"), over raw sockets and curl:
#  - a body that stops arriving is cut by min_body_rate after the grace
#    period, not left open until the idle timeout; the cut is logged,
#    counted, and leaves no partial blob;
#  - Transfer-Encoding other than exactly "chunked" is answered at once
#    (501 unsupported / 400) and the connection closed, never a hang;
#  - keep-alive for requests without a body (GET, HEAD, an answer from
#    the headers such as 401 or 405) and for small JSON bodies;
#  - /metrics counts a 429 and a 405 under the route the path names;
#  - a %00 in the request target is 400, not silently dropped.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# metric_value REGEX: the value of the /metrics line matching REGEX (or empty).
metric_value() {
  req GET /metrics
  { grep -E "$1" <<<"$BODY" || true; } | awk '{print $2}' | head -1
}

# --- min_body_rate without incoming data ---------------------------------------
# Two uploads declare 100000 bytes: one sends a part header and a few bytes
# of a file (so a temporary blob exists), the other nothing after the
# headers. Both must be cut soon after the 2 s grace, not after the 30 s
# idle timeout, through the normal abort path.
start_server "$DATA" --min-body-rate-grace-s 2 --connection-timeout-s 30 --address-rate 0
TOK=$(token alice)
blobs0=$(blob_files); tickets0=$(ticket_count)
head_of() {
  printf 'POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n' "$TOK"
  printf 'Content-Type: multipart/form-data; boundary=bnd\r\nContent-Length: 100000\r\n\r\n'
}
t0=$(now_ms)
exec 3<>"/dev/tcp/127.0.0.1/$SERVER_PORT"
exec 4<>"/dev/tcp/127.0.0.1/$SERVER_PORT"
{ head_of; printf -- '--bnd\r\nContent-Disposition: form-data; name="f"; filename="a.log"\r\n\r\nsome log'; } >&3
head_of >&4
rc3=0; timeout 15 cat <&3 >/dev/null || rc3=$?
t3=$(now_ms)
rc4=0; timeout 15 cat <&4 >/dev/null || rc4=$?
t4=$(now_ms)
exec 3<&- 4<&-
[ "$rc3" != 124 ] || fail "a stalled body was not cut within 15 s (grace 2 s, idle timeout 30 s)"
[ "$rc4" != 124 ] || fail "an upload with no body byte at all was not cut within 15 s"
[ $((t3 - t0)) -ge 1900 ] || fail "the stalled body was cut before its grace period ($((t3 - t0)) ms)"
[ $((t4 - t0)) -lt 8000 ] || fail "the stalled bodies were cut only after $((t4 - t0)) ms"
sleep 0.3 # the log line is written as MHD finishes the request
n_cut=$(grep -c 'route=tickets_create .*status=0 .*outcome=cut error="body slower than' "$TEST_TMP/server.log" || true)
assert_eq 2 "$n_cut" "request log lines of the cut uploads (outcome=cut, status=0)"
assert_eq 2 "$(metric_value '^logshared_connections_cut_total\{reason="slow_body"\}')" \
  "logshared_connections_cut_total{reason=slow_body}"
assert_eq 2 "$(metric_value '^logshared_http_requests_total\{route="tickets_create",status="0"\}')" \
  "the cut uploads in logshared_http_requests_total"
assert_eq "$blobs0" "$(blob_files)" "no blob left by the cut uploads"
[ -z "$(find "$DATA/blobs" -name '.tmp-*' | head -1)" ] || fail "a cut upload left a temporary blob"
assert_eq "$tickets0" "$(ticket_count)" "no ticket from the cut uploads"
# a body that keeps coming at a good rate is not cut by the watchdog
printf 'x%.0s' $(seq 1 3000) >"$TEST_TMP/small"
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -F description=fine -F "f=@$TEST_TMP/small"
expect 201 "" "an ordinary upload after the cuts"
stop_ok
pass "min_body_rate cuts a body that stops arriving"

# --- Transfer-Encoding -------------------------------------------------------------
start_server "$DATA" --address-rate 0
TOK=$(token alice)
# te_case STATUS CODE TE [EXTRA_HEADER]: a POST whose headers say TE;
# the answer must come at once and the connection close after it.
te_case() {
  local want=$1 code=$2 te=$3 extra=${4:-} rc=0
  exec 3<>"/dev/tcp/127.0.0.1/$SERVER_PORT"
  printf 'POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=bnd\r\nTransfer-Encoding: %s\r\n%s\r\n' \
    "$TOK" "$te" "$extra" >&3
  timeout 5 cat <&3 >"$TEST_TMP/te-resp" || rc=$?
  exec 3<&-
  [ "$rc" != 124 ] || fail "Transfer-Encoding '$te' $extra: no answer, or the connection stayed open"
  local resp; resp=$(tr -d '\r' <"$TEST_TMP/te-resp")
  assert_contains "$resp" "HTTP/1.1 $want " "Transfer-Encoding '$te' $extra: status"
  assert_contains "$resp" "\"code\":\"$code\"" "Transfer-Encoding '$te' $extra: JSON error code"
  assert_contains "${resp,,}" "connection: close" "Transfer-Encoding '$te' $extra: Connection: close"
}
te_case 501 unsupported "gzip"
te_case 501 unsupported "gzip, chunked"
te_case 501 unsupported "gzip" $'Content-Length: 10\r\n'
te_case 501 unsupported "identity"
te_case 400 invalid_argument "chunked, gzip"
te_case 400 invalid_argument "chunked, chunked"
te_case 400 invalid_argument "chunked;ext=1"
te_case 400 invalid_argument ","
te_case 400 invalid_argument "chunked" $'Transfer-Encoding: chunked\r\n'
# exactly "chunked" (any case) still uploads
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -H 'Transfer-Encoding: Chunked' -F description=ok
expect 201 "" "a chunked upload"
req GET /healthz; expect 200 "" "healthy after the refusals"
stop_ok
pass "Transfer-Encoding other than chunked: 501/400 at once, connection closed"

# --- keep-alive without a body -----------------------------------------------------
start_server "$DATA" --address-rate 0
A=(-H "Authorization: Bearer $(token alice)")
req POST /api/v1/tickets "${A[@]}" -F description=keepalive; expect 201 "" "a ticket to read"
TID=$(jget id)
S=(-H "Authorization: Bearer $(token sam support)")
# reuse WHAT CURL_ARGS...: two requests over one connection, both answered
reuse() {
  local what=$1; shift
  curl -sv "$@" >/dev/null 2>"$TEST_TMP/reuse" || fail "$what: curl failed: $(tail -3 "$TEST_TMP/reuse")"
  grep -q 'Re-using existing connection' "$TEST_TMP/reuse" ||
    fail "$what: the second request did not reuse the connection: $(grep -i '^< connection\|closing' "$TEST_TMP/reuse" | head -3)"
  ! grep -qi '^< connection: close' "$TEST_TMP/reuse" || fail "$what: a response said Connection: close"
  [ "$(grep -c '^< HTTP/1.1 ' "$TEST_TMP/reuse")" = 2 ] || fail "$what: not two responses"
}
reuse "GET /healthz twice" "$SERVER_URL/healthz" "$SERVER_URL/healthz"
reuse "HEAD /healthz twice" -I "$SERVER_URL/healthz" "$SERVER_URL/healthz"
reuse "GET a ticket twice" "${A[@]}" "$SERVER_URL/api/v1/tickets/$TID" "$SERVER_URL/api/v1/tickets/$TID"
reuse "401 on GET, then GET" "$SERVER_URL/api/v1/tickets/$TID" --next "${A[@]}" "$SERVER_URL/api/v1/tickets/$TID"
reuse "405 on DELETE, then GET" -X DELETE "${A[@]}" "$SERVER_URL/api/v1/tickets/$TID" \
  --next "${A[@]}" "$SERVER_URL/api/v1/tickets/$TID"
reuse "PATCH with a JSON body, then GET" "${S[@]}" -X PATCH -H 'Content-Type: application/json' \
  -d '{"status":"closed"}' "$SERVER_URL/api/v1/tickets/$TID" --next "${S[@]}" "$SERVER_URL/api/v1/tickets/$TID"
req GET "/api/v1/tickets/$TID" "${A[@]}"; expect 200 "" "the ticket after the PATCH"
assert_eq closed "$(jget status)" "the PATCH over a kept-alive connection took effect"
# a refusal from the headers of a request with a body still answers
req POST /api/v1/tickets -F description=x; expect 401 unauthorized "upload without a token"
pass "keep-alive for requests without a body"

# --- /metrics route of a 405 ---------------------------------------------------------
req DELETE "/api/v1/tickets/$TID" "${A[@]}"; expect 405 method_not_allowed "DELETE a ticket"
req GET /metrics; expect 200 "" "GET /metrics"
grep -q '^logshared_http_requests_total{route="tickets_get",status="405"} [1-9]' <<<"$BODY" ||
  fail "the 405 is not counted under route tickets_get: $(grep requests_total <<<"$BODY")"
! grep -q 'route="unmatched",status="405"' <<<"$BODY" || fail "a 405 counted under route unmatched"

# --- %00 in the request target -------------------------------------------------------
req GET "/api/v1/tickets/$TID%00" "${A[@]}"; expect 400 invalid_argument "a ticket id followed by %00"
assert_contains "$BODY" "%00" "the error names the NUL"
req GET "/healthz%00"; expect 400 invalid_argument "/healthz%00"
req GET "/api/v1/tickets?q=a%00b" "${S[@]}"; expect 400 invalid_argument "%00 in a query argument"
req GET "/healthz%2500"; expect 404 not_found "an escaped percent sign is not a NUL"
req GET "/api/v1/tickets/$TID" "${A[@]}"; expect 200 "" "the ticket itself"
stop_ok
pass "405 under its route in /metrics; %00 in the target is 400"

# --- /metrics route of a 429 ---------------------------------------------------------
start_server "$DATA" --address-rate 1 --address-burst 5
n429=0
for i in 1 2 3 4 5 6 7; do
  req GET /healthz
  [ "$STATUS" = 429 ] && n429=$((n429 + 1))
done
[ "$n429" -ge 1 ] || fail "no 429 from the address rate limit"
for i in $(seq 1 20); do # /metrics is rate-limited too: wait for a token
  req GET /metrics; [ "$STATUS" = 200 ] && break; sleep 0.5
done
expect 200 "" "GET /metrics"
got=$({ grep -E '^logshared_http_requests_total\{route="healthz",status="429"\}' <<<"$BODY" || true; } | awk '{print $2}')
assert_eq "$n429" "$got" "429s of /healthz under route healthz"
! grep -q 'route="unmatched",status="429"' <<<"$BODY" || fail "a 429 counted under route unmatched"
stop_ok
pass "429 under its route in /metrics"
