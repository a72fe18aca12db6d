#!/usr/bin/env bash
# HTTP/1.1 framing and request-target conformance of logshared (RFC 9110,
# RFC 9112; docs/api.md "Errors" and "Limits"), over raw sockets
# (http_conformance.py) and curl:
#  - a field name with whitespace before the colon, a folded
#    Content-Length / Transfer-Encoding line, a control character (a
#    bare CR) in a value, Transfer-Encoding in HTTP/1.0: 400 and the
#    connection closed. libmicrohttpd framed no body there, and the body
#    a proxy in front would have framed was answered as a second request;
#  - Host: an HTTP/1.1 request without one, with two, or with an invalid
#    one is 400 (JSON), the connection kept; two Content-Type lines 400;
#  - an absolute-form target (GET http://host/path) is served as /path;
#  - more than 64 query parameters is 400 at once, and a query in a
#    target over half of connection_memory_bytes 414 (libmicrohttpd ran
#    out of connection memory and answered nothing for header_timeout_s);
#  - what held already and must keep holding: pipelined uploads (chunked
#    with an extension and a trailer) and GETs on one connection, a
#    refused or malformed upload's body drained before the next request,
#    Expect: 100-continue (refused: no 100, closed; accepted: 100);
#  - Expect: 100-continue without a body (a GET, Content-Length: 0) gets
#    no 100 and its answer (libmicrohttpd sent a 100, then dropped the
#    answer and closed when the next request was pipelined behind);
#  - Cache-Control: no-store on every answer that does not set its own
#    (attachment downloads, signed links included, and /metrics had none);
#  - HEAD answers with the GET's status and headers on the GET routes;
#  - Range edges: white space around the range, a 63-character spec (64
#    gets the whole file), positions past 2^64 (end of file, or 416).
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
start_server "$DATA" --address-rate 0 --user-rate 0
timeout 60 python3 "$LOGSHARE_SOURCE_DIR/tests/server/http_conformance.py" "$SERVER_PORT" \
  "$(token alice)" "$(token sam support)" || fail "HTTP conformance (see the FAIL lines above)"
grep -q 'status=400 .*error="invalid header field name' "$TEST_TMP/server.log" ||
  fail "no request log line for a refused field name"

# --- Cache-Control: nothing private may be kept by a cache in front --------
U=(-H "Authorization: Bearer $(token alice)")
printf 'a private log line\n' >"$TEST_TMP/p.log"
req POST /api/v1/tickets "${U[@]}" -F description=cache -F "f=@$TEST_TMP/p.log"; expect 201 "" "a ticket"
TID=$(jget id); AID=$(jget attachments.0.id)
req POST "/api/v1/tickets/$TID/attachments/$AID/link" "${U[@]}"; expect 201 "" "a signed link"
LINK=$(jget url); LINK=${LINK#*/api/v1/}
# no_store STATUS WHAT PATH [curl args]: exactly one Cache-Control, and it is no-store
no_store() {
  local want=$1 what=$2 path=$3; shift 3
  req GET "$path" "$@"; expect "$want" "" "$what"
  local cc; cc=$(grep -i '^cache-control:' "$TEST_TMP/hdrs" | tr -d '\r' || true)
  assert_eq "Cache-Control: no-store" "$cc" "$what ($STATUS): Cache-Control"
}
no_store 200 "an attachment" "/api/v1/tickets/$TID/attachments/$AID" "${U[@]}"
no_store 200 "a signed-link download" "/api/v1/$LINK"
no_store 206 "a ranged download" "/api/v1/tickets/$TID/attachments/$AID" "${U[@]}" -H 'Range: bytes=0-3'
no_store 200 "a ticket" "/api/v1/tickets/$TID" "${U[@]}"
no_store 200 "/metrics" /metrics
no_store 302 "the dashboard's redirect" /
req GET /dashboard/; assert_eq "Cache-Control: no-cache" \
  "$(grep -i '^cache-control:' "$TEST_TMP/hdrs" | tr -d '\r')" "the dashboard page keeps its own"

# --- Range: what a client may send around the one range (RFC 9110 14.1.1) ----
# p.log is "a private log line\n" (19 bytes)
# ranged WANT_STATUS WANT_BODY RANGE [WANT_CONTENT_RANGE]
ranged() {
  req GET "/api/v1/tickets/$TID/attachments/$AID" "${U[@]}" -H "Range: $3"; expect "$1" "" "Range '$3'"
  [ -z "$2" ] || assert_eq "$2" "$BODY" "Range '$3': body"
  [ -z "${4:-}" ] || assert_eq "Content-Range: $4" \
    "$(grep -i '^content-range:' "$TEST_TMP/hdrs" | tr -d '\r')" "Range '$3': Content-Range"
}
Z60=$(printf '0%.0s' $(seq 1 60))
ranged 206 "a pr" "bytes=0-3 "
ranged 206 "a pr" "bytes= 0-3 , "
ranged 206 "a pr" "bytes=${Z60}0-3"                   # 63 characters: still one range
ranged 200 "" "bytes=0${Z60}0-3"                      # 64: not a range, the whole file
ranged 206 "" "bytes=5-99999999999999999999999" "bytes 5-18/19" # a last-pos past 2^64: the end
ranged 206 "" "bytes=-99999999999999999999999" "bytes 0-18/19"  # a suffix past 2^64: the file
ranged 416 "" "bytes=18446744073709551616-" "bytes */19"         # a first-pos past 2^64: past the end
assert_contains "$BODY" '"code":"range_not_satisfiable"' "a first-pos past 2^64: error code"

# --- HEAD: the GET's status and headers, no body --------------------------------
S=(-H "Authorization: Bearer $(token sam support)")
# same_head WHAT PATH [curl args]
same_head() {
  local what=$1 path=$2; shift 2
  curl -sS -o /dev/null -D "$TEST_TMP/get" "$@" "$SERVER_URL$path"
  curl -sS -I -o "$TEST_TMP/head-body" -D "$TEST_TMP/head" "$@" "$SERVER_URL$path"
  local g h
  g=$(grep -iv '^date:\|^x-request-id:' "$TEST_TMP/get" | tr -d '\r' | sort)
  h=$(grep -iv '^date:\|^x-request-id:' "$TEST_TMP/head" | tr -d '\r' | sort)
  [ "$g" = "$h" ] || fail "HEAD $what: headers differ from GET: $(diff <(echo "$g") <(echo "$h") | head -5)"
}
same_head "a ticket" "/api/v1/tickets/$TID" "${U[@]}"
same_head "the ticket list" "/api/v1/tickets?limit=2" "${S[@]}"
same_head "an attachment" "/api/v1/tickets/$TID/attachments/$AID" "${U[@]}"
same_head "a ranged attachment" "/api/v1/tickets/$TID/attachments/$AID" "${U[@]}" -H 'Range: bytes=2-5'
same_head "a signed link" "/api/v1/$LINK"
same_head "a 404" "/api/v1/tickets/tk_nope" "${U[@]}"
same_head "the dashboard" /dashboard/
same_head "/healthz" /healthz
req GET /healthz; expect 200 "" "healthy afterwards"
stop_ok
pass "HTTP/1.1 framing, Host, absolute-form, query limits, Cache-Control, Range edges"
