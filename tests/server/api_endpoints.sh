#!/usr/bin/env bash
# Every endpoint of issue 4 and its error codes (SPEC "HTTP API v1"):
# create (and the alias), get, list with filters and paging, patch, more
# attachments, download with Range, signed links, health, readiness and
# metrics; 400 401 403 404 405 409/413 415 416 with the JSON error shape.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
start_server "$DATA" --max-json-bytes 4096
ALICE=$(token alice); BOB=$(token bob); SUP=$(token sam support)
A=(-H "Authorization: Bearer $ALICE"); B=(-H "Authorization: Bearer $BOB"); S=(-H "Authorization: Bearer $SUP")

# --- create ---------------------------------------------------------
head -c 100000 /dev/urandom >"$TEST_TMP/f1"; printf 'hello log\n' >"$TEST_TMP/f2"
sha1=$(sha256sum "$TEST_TMP/f1" | cut -c1-64)
req POST /api/v1/tickets "${A[@]}" -F description='Call dropped' -F call_id=c-1 -F call_id=c-2 \
    -F customer_name=Ann -F customer_email=ann@example.com -F app_version=1.2 -F platform=ios \
    -F source=report -F log_request_id=lr_1 -F "calling=@$TEST_TMP/f1;filename=calling.log" \
    -F "media=@$TEST_TMP/f2;filename=media.log;type=text/plain"
expect 201 "" "create ticket"
T1=$(jget id); assert_contains "$T1" tk_ "ticket id"
assert_eq open "$(jget status)" "new ticket status"
assert_eq '["c-1","c-2"]' "$(jget call_ids)" "call ids"
assert_eq Ann "$(jget customer_name)" "customer_name"
assert_eq report "$(jget source)" "source"
assert_eq lr_1 "$(jget log_request_id)" "log_request_id"
assert_eq "$sha1" "$(jget attachments.0.sha256)" "sha256 of the first file"
assert_eq "$SERVER_URL/api/v1/tickets/$(jget id)/attachments/$(jget attachments.0.id)" "$(jget attachments.0.url)" "attachment url absolute"
assert_eq 100000 "$(jget attachments.0.size)" "size of the first file"
assert_eq text/plain "$(jget attachments.1.content_type)" "content type kept"
AT1=$(jget attachments.0.id)
[[ "$(jget created_at)" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$ ]] || fail "created_at not RFC 3339 UTC"
req POST /createCallSupportTicket "${B[@]}" -F description='from the alias' -F call_id=c-9
expect 201 "" "create through /createCallSupportTicket"; T2=$(jget id)
pass "create"

# --- create: errors ---------------------------------------------------
req POST /api/v1/tickets "${A[@]}" -F call_id=x;                 expect 400 invalid_argument "no description"
req POST /api/v1/tickets "${A[@]}" -F description=d -F source=fax; expect 400 invalid_argument "bad source"
req POST /api/v1/tickets "${A[@]}" -F description=d -F colour=red; expect 400 invalid_argument "unknown field"
req POST /api/v1/tickets "${A[@]}" -H 'Content-Type: application/json' -d '{}'; expect 415 unsupported "JSON body"
req POST /api/v1/tickets "${A[@]}" -H 'Content-Type: multipart/form-data' -d 'x'; expect 400 invalid_argument "no boundary"
req POST /api/v1/tickets -F description=d;                       expect 401 unauthorized "no token"
req GET /api/v1/tickets/$T1/nope "${A[@]}";                      expect 404 not_found "unknown route"
req DELETE /api/v1/tickets/$T1 "${A[@]}";                        expect 405 method_not_allowed "wrong method"
grep -qi '^Allow: GET, PATCH, HEAD' "$TEST_TMP/hdrs" || fail "405 without the right Allow header: $(cat "$TEST_TMP/hdrs")"
grep -qi '^Content-Type: application/json' "$TEST_TMP/hdrs" || fail "405 not JSON"
req PUT /api/v1/tickets "${A[@]}";                               expect 405 method_not_allowed "PUT on the collection"
grep -qi '^Allow: POST, GET, HEAD' "$TEST_TMP/hdrs" || fail "405 on the collection: $(grep -i '^Allow' "$TEST_TMP/hdrs")"
req POST /healthz;                                               expect 405 method_not_allowed "POST /healthz"
grep -qi '^Allow: GET, HEAD' "$TEST_TMP/hdrs" || fail "405 on /healthz: $(grep -i '^Allow' "$TEST_TMP/hdrs")"
pass "create errors"

# --- get --------------------------------------------------------------
req GET /api/v1/tickets/$T1 "${A[@]}"; expect 200 "" "owner reads"
assert_eq "$T1" "$(jget id)" "ticket read back"
req GET /api/v1/tickets/$T1 "${B[@]}"; expect 403 permission_denied "another user's ticket"
req GET /api/v1/tickets/$T1 "${S[@]}"; expect 200 "" "support reads"
req GET /api/v1/tickets/tk_0123456789abcdef0123456789abcdef "${S[@]}"; expect 404 not_found "unknown ticket"
req GET '/api/v1/tickets/..%2F..%2Fetc' "${S[@]}"; expect 404 not_found "junk id"
pass "get"

# --- list -------------------------------------------------------------
for i in 1 2 3 4 5; do req POST /api/v1/tickets "${A[@]}" -F description="bulk $i" -F call_id=bulk; expect 201 "" "bulk $i"; done
req GET /api/v1/tickets "${A[@]}"; expect 403 permission_denied "list as a user"
req GET '/api/v1/tickets?call_id=bulk&limit=2' "${S[@]}"; expect 200 "" "list page 1"
assert_eq 2 "$(jget tickets.length)" "page size"; C=$(jget next_cursor)
[ "$C" != null ] || fail "no next_cursor on a full page"
seen=$(jget tickets.0.id)
req GET "/api/v1/tickets?call_id=bulk&limit=2&cursor=$C" "${S[@]}"; expect 200 "" "list page 2"
[ "$(jget tickets.0.id)" != "$seen" ] || fail "page 2 repeats page 1"
n=0; C=
while :; do
  req GET "/api/v1/tickets?call_id=bulk&limit=2${C:+&cursor=$C}" "${S[@]}"; expect 200 "" "paging"
  n=$((n + $(jget tickets.length))); C=$(jget next_cursor); [ "$C" = null ] && break
done
assert_eq 5 "$n" "all pages together"
req GET '/api/v1/tickets?user_id=bob' "${S[@]}"; assert_eq "$T2" "$(jget tickets.0.id)" "filter user_id"
req GET '/api/v1/tickets?q=dropped' "${S[@]}"; assert_eq "$T1" "$(jget tickets.0.id)" "filter q"
req GET '/api/v1/tickets?status=closed' "${S[@]}"; assert_eq 0 "$(jget tickets.length)" "filter status"
req GET '/api/v1/tickets?status=bogus' "${S[@]}"; expect 400 invalid_argument "bad status filter"
req GET '/api/v1/tickets?limit=0' "${S[@]}"; expect 400 invalid_argument "bad limit"
req GET '/api/v1/tickets?cursor=garbage' "${S[@]}"; expect 400 invalid_argument "bad cursor"
pass "list"

# --- patch ------------------------------------------------------------
J=(-H 'Content-Type: application/json')
req PATCH /api/v1/tickets/$T1 "${S[@]}" "${J[@]}" -d '{"status":"in_progress","assignee":"sam","note":"looking"}'
expect 200 "" "patch"
assert_eq in_progress "$(jget status)" "patched status"; assert_eq sam "$(jget assignee)" "assignee"
assert_eq looking "$(jget notes.0.text)" "note"
req PATCH /api/v1/tickets/$T1 "${A[@]}" "${J[@]}" -d '{"status":"closed"}'; expect 403 permission_denied "patch as a user"
req PATCH /api/v1/tickets/$T1 "${S[@]}" "${J[@]}" -d '{"status":"done"}'; expect 400 invalid_argument "bad status"
req PATCH /api/v1/tickets/$T1 "${S[@]}" "${J[@]}" -d '{"status":'; expect 400 invalid_argument "bad JSON"
req PATCH /api/v1/tickets/$T1 "${S[@]}" "${J[@]}" -d '{"owner":"x"}'; expect 400 invalid_argument "unknown key"
req PATCH /api/v1/tickets/$T1 "${S[@]}" -d 'status=closed'; expect 415 unsupported "form body"
req PATCH /api/v1/tickets/$T1 "${S[@]}" -H 'Content-Type: application/jsonx' -d '{"assignee":"x"}'
expect 415 unsupported "a media type that only starts with application/json"
req PATCH /api/v1/tickets/$T1 "${S[@]}" -H 'Content-Type: application/json-seq' -d '{"assignee":"x"}'
expect 415 unsupported "application/json-seq"
req PATCH /api/v1/tickets/$T1 "${S[@]}" -H 'Content-Type: Application/JSON ; charset=utf-8' -d '{"assignee":"sam"}'
expect 200 "" "application/json with a parameter, any case"
req POST /api/v1/log-requests "${S[@]}" -H 'Content-Type: application/jsonx' -d '{}'
expect 415 unsupported "log request with application/jsonx"
req PATCH /api/v1/tickets/tk_0123456789abcdef0123456789abcdef "${S[@]}" "${J[@]}" -d '{"status":"closed"}'; expect 404 not_found "patch unknown"
req PATCH /api/v1/tickets/$T1 "${S[@]}" "${J[@]}" --data-binary "{\"note\":\"$(head -c 6000 /dev/zero | tr '\0' a)\"}"
expect 413 too_large "JSON over max_json_bytes"
pass "patch"

# --- more attachments ---------------------------------------------------
req POST /api/v1/tickets/$T1/attachments "${A[@]}" -F "more=@$TEST_TMP/f2;filename=later.log"
expect 201 "" "add attachment"; assert_eq 3 "$(jget attachments.length)" "three attachments now"
req POST /api/v1/tickets/$T1/attachments "${B[@]}" -F "more=@$TEST_TMP/f2"; expect 403 permission_denied "add to another's ticket"
req POST /api/v1/tickets/$T1/attachments "${A[@]}" -F description=x; expect 400 invalid_argument "field, no file"
req POST /api/v1/tickets/tk_0123456789abcdef0123456789abcdef/attachments "${A[@]}" -F "m=@$TEST_TMP/f2"; expect 404 not_found "add to unknown"
pass "add attachments"

# --- download, Range ------------------------------------------------------
U=/api/v1/tickets/$T1/attachments/$AT1
curl -sS -o "$TEST_TMP/dl" "${A[@]}" "$SERVER_URL$U"
assert_eq "$sha1" "$(sha256sum "$TEST_TMP/dl" | cut -c1-64)" "downloaded bytes"
req GET "$U" "${S[@]}"; expect 200 "" "support downloads"
assert_contains "$(cat "$TEST_TMP/hdrs")" 'filename="calling.log"' "Content-Disposition"
assert_contains "$(cat "$TEST_TMP/hdrs")" 'Accept-Ranges: bytes' "Accept-Ranges"
req GET "$U" "${S[@]}" -r 10-19; expect 206 "" "range"
assert_eq "$(head -c 20 "$TEST_TMP/f1" | tail -c 10 | od -An -tx1)" "$(od -An -tx1 "$TEST_TMP/body")" "range bytes"
assert_contains "$(cat "$TEST_TMP/hdrs")" "Content-Range: bytes 10-19/100000" "Content-Range"
req GET "$U" "${S[@]}" -H 'Range: bytes=-5'; expect 206 "" "suffix range"
assert_eq "$(tail -c 5 "$TEST_TMP/f1" | od -An -tx1)" "$(od -An -tx1 "$TEST_TMP/body")" "suffix bytes"
req GET "$U" "${S[@]}" -r 100000-; expect 416 range_not_satisfiable "unsatisfiable range"
assert_contains "$(cat "$TEST_TMP/hdrs")" "Content-Range: bytes */100000" "416 Content-Range"
grep -qi '^Content-Type: application/json' "$TEST_TMP/hdrs" || fail "416 not JSON"
# HEAD: GET's status and headers, no body
head_req() { curl -sS -I -o /dev/null -D "$TEST_TMP/hdrs" -w '%{http_code}' "$@" >"$TEST_TMP/code" || echo 000 >"$TEST_TMP/code"
             STATUS=$(cat "$TEST_TMP/code"); }
head_req "${S[@]}" "$SERVER_URL$U"; assert_eq 200 "$STATUS" "HEAD on an attachment"
grep -qi '^Content-Length: 100000' "$TEST_TMP/hdrs" || fail "HEAD attachment: no Content-Length 100000: $(cat "$TEST_TMP/hdrs")"
grep -qi '^ETag: "'"$sha1"'"' "$TEST_TMP/hdrs" || fail "HEAD attachment: no ETag"
head_req "${S[@]}" -r 10-19 "$SERVER_URL$U"; assert_eq 206 "$STATUS" "HEAD with a range"
head_req "$SERVER_URL$U"; assert_eq 401 "$STATUS" "HEAD without a token"
# over a raw connection: the answer to HEAD ends with its headers, no body
# bytes follow (curl -I would not tell)
raw_head() { exec 3<>/dev/tcp/127.0.0.1/$SERVER_PORT
             printf 'HEAD %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n' "$1" "${2:-}" >&3
             timeout 5 cat <&3 >"$TEST_TMP/raw" || true; exec 3<&-; }
raw_head "$U" "Authorization: Bearer $SUP"$'\r\n'
head -1 "$TEST_TMP/raw" | grep -q '^HTTP/1.1 200' || fail "raw HEAD on an attachment: $(head -1 "$TEST_TMP/raw")"
assert_eq 0 "$(sed '1,/^\r$/d' "$TEST_TMP/raw" | wc -c)" "bytes after the headers of a HEAD answer"
req GET "$U" "${B[@]}"; expect 403 permission_denied "download another's"
req GET "$U"; expect 401 unauthorized "download without token"
req GET /api/v1/tickets/$T1/attachments/at_0123456789abcdef0123456789abcdef "${A[@]}"; expect 404 not_found "unknown attachment"
pass "download"

# --- signed links -----------------------------------------------------------
req POST "$U/link" "${B[@]}"; expect 403 permission_denied "link for another's"
req POST "$U/link" "${A[@]}" "${J[@]}" -d '{"expires_in":999999999}'; expect 400 invalid_argument "too long a link"
req POST "$U/link" "${A[@]}" "${J[@]}" -d '{"expires_in":60}'; expect 201 "" "mint link"
LINK=$(jget url); assert_contains "$(jget expires_at)" Z "expires_at"
# public_url unset: links are absolute, from listen and the bound port
[[ "$LINK" == "$SERVER_URL/api/v1/tickets/$T1/attachments/$AT1?"* ]] || fail "signed link not absolute: $LINK"
LINK=${LINK#"$SERVER_URL"}
curl -sS -o "$TEST_TMP/dl2" -w '%{http_code}' "$SERVER_URL$LINK" >"$TEST_TMP/code"
assert_eq 200 "$(cat "$TEST_TMP/code")" "download by link, no account"
assert_eq "$sha1" "$(sha256sum "$TEST_TMP/dl2" | cut -c1-64)" "bytes by link"
last=${LINK: -1}; [ "$last" = 0 ] && flip=1 || flip=0
req GET "${LINK%?}$flip"; expect 401 unauthorized "forged link signature"
OTHER=/api/v1/tickets/$T1/attachments/$(jget attachments.1.id 2>/dev/null || true)
req GET "${LINK/expires=/expires=1}"; expect 401 unauthorized "link with changed expiry"
PAST=$(( $(date +%s) - 10 ))
req GET "$U?expires=$PAST&sig=$(printf '0%.0s' $(seq 64))"; expect 401 unauthorized "expired link"
pass "signed links"

# --- health, readiness, metrics ------------------------------------------------
req GET /healthz; expect 200 "" healthz
req GET /readyz; expect 200 "" readyz; assert_contains "$BODY" ready "readyz body"
head_req "$SERVER_URL/healthz"; assert_eq 200 "$STATUS" "HEAD /healthz"
raw_head /healthz; grep -q '^Content-Length: 16' "$TEST_TMP/raw" || fail "HEAD /healthz: GET's Content-Length"
assert_eq 0 "$(sed '1,/^\r$/d' "$TEST_TMP/raw" | wc -c)" "bytes after the headers of HEAD /healthz"
head_req "$SERVER_URL/readyz"; assert_eq 200 "$STATUS" "HEAD /readyz"
grep -qi '^Content-Type: application/json' "$TEST_TMP/hdrs" || fail "HEAD /readyz headers"
grep -q 'method=HEAD route=readyz .*status=200 bytes_in=0 bytes_out=0 ' "$TEST_TMP/server.log" || fail "HEAD not logged with its route"
req GET /metrics; expect 200 "" metrics
assert_contains "$BODY" 'logshared_http_requests_total{route="tickets_create",status="201"}' "requests by route"
assert_contains "$BODY" 'logshared_tickets_created_total 7' "tickets created"
assert_contains "$BODY" 'logshared_upload_duration_seconds_count' "upload histogram"
assert_contains "$BODY" 'logshared_http_received_bytes_total' "bytes received"
assert_contains "$BODY" 'logshared_rate_limited_total' "rate limited"
grep -q "route=tickets_create .*status=201 .*duration_ms=" "$TEST_TMP/server.log" || fail "no structured request log line"
pass "health and metrics"

stop_ok

# readiness follows the back ends: a blob store that cannot be written is
# not ready. Root may write anywhere, so as root the server runs as nobody.
D2=$TEST_TMP/data2; mkdir -p "$D2"
if [ "$(id -u)" = 0 ]; then
  command -v setpriv >/dev/null || fail "setpriv (util-linux) needed to drop root"
  chmod 0777 "$TEST_TMP"; chown 65534:65534 "$D2"
  printf '#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups "%s" "$@"\n' "$LOGSHARED_BIN" >"$TEST_TMP/as-nobody"
  chmod 0755 "$TEST_TMP/as-nobody"; REAL_BIN=$LOGSHARED_BIN; LOGSHARED_BIN=$TEST_TMP/as-nobody
fi
start_server "$D2"
LOGSHARED_BIN=${REAL_BIN:-$LOGSHARED_BIN}
req GET /readyz; expect 200 "" "ready"
chmod 0500 "$D2/blobs"
req GET /readyz; expect 503 unavailable "readyz with the blob store read-only"
assert_contains "$BODY" "blob store" "503 names the back end"
chmod 0700 "$D2/blobs"
req GET /readyz; expect 200 "" "ready again"
stop_ok
pass "api endpoints"
