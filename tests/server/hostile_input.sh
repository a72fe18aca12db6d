#!/usr/bin/env bash
# Hostile input: file names with ../, NUL, 10,000 characters and unicode
# are stored safely; malformed multipart bodies (no boundary, no closing
# boundary, a 1 MiB header line, 100,000 parts) get a 4xx, store
# nothing, and the server stays healthy; duplicate Content-Length and a
# Content-Length over the limit are refused before the body is read.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
start_server "$DATA" --max-body-bytes 20M --address-rate 0 --user-rate 0
TOK=$(token alice)
AUTH="Authorization: Bearer $TOK"
BND=XbOuNdArY42
# raw_post FILE [extra curl args]: posts FILE as a multipart body with boundary BND
raw_post() {
  local f=$1; shift
  req POST /api/v1/tickets -H "$AUTH" -H "Content-Type: multipart/form-data; boundary=$BND" \
      --data-binary "@$f" "$@"
}
part_head() { printf -- '--%s\r\nContent-Disposition: form-data; name="%s"%s\r\n\r\n' "$BND" "$1" "${2:+; filename=\"$2\"}"; }

# --- hostile file names -----------------------------------------------------
long=$(head -c 10000 /dev/zero | tr '\0' 'n')
for name in '../../../etc/passwd' '..\..\windows\system32' "$long.log" 'ünïcödé 日本語 🚀.log' '  ..hidden' 'a%22b\"c.txt'; do
  { part_head description; printf 'names\r\n'; part_head f "$name"; printf 'content\r\n--%s--\r\n' "$BND"; } >"$TEST_TMP/b"
  raw_post "$TEST_TMP/b"; expect 201 "" "file name ${name:0:40}"
  t=$(jget id); a=$(jget attachments.0.id)
  stored=$(jget attachments.0.name)
  case "$name" in a%22b*) want='a"b"c' ;; *) want=${name:0:30} ;; esac
  assert_contains "$stored" "$want" "original name preserved (${name:0:30})"
  curl -sS -D "$TEST_TMP/h" -o "$TEST_TMP/dl" -H "$AUTH" "$SERVER_URL/api/v1/tickets/$t/attachments/$a"
  assert_eq content "$(cat "$TEST_TMP/dl")" "bytes back"
  cd_line=$(grep -i '^Content-Disposition:' "$TEST_TMP/h" | tr -d '\r')
  fn=$(sed -n 's/.*filename="\([^"]*\)".*/\1/p' <<<"$cd_line")
  case "$fn" in */*|*\\*|.*|"") fail "unsafe download name '$fn' from '${name:0:40}'" ;; esac
  [ "${#fn}" -le 200 ] || fail "download name not shortened: ${#fn} bytes"
done
# A form's file input left empty (filename="", no bytes) is no attachment
# and leaves no blob; an empty name with bytes is stored as "unnamed".
{ part_head description; printf 'empty input\r\n--%s\r\nContent-Disposition: form-data; name="f"; filename=""\r\nContent-Type: application/octet-stream\r\n\r\n\r\n--%s\r\nContent-Disposition: form-data; name="g"; filename=""\r\n\r\nbytes\r\n--%s--\r\n' "$BND" "$BND" "$BND"; } >"$TEST_TMP/b"
raw_post "$TEST_TMP/b"; expect 201 "" "an empty file input"
assert_eq 1 "$(jget attachments.length)" "the empty file input is no attachment"
assert_eq unnamed "$(jget attachments.0.name)" "an empty name with bytes is 'unnamed'"
assert_eq 5 "$(jget attachments.0.size)" "its bytes"
[ -z "$(find "$DATA/blobs" -name '.tmp-*' | head -1)" ] || fail "the empty file input left a temporary blob"
# NUL in a file name: refused as malformed, nothing stored
{ part_head description; printf 'nul\r\n--%s\r\nContent-Disposition: form-data; name="f"; filename="a\0b.txt"\r\n\r\nx\r\n--%s--\r\n' "$BND" "$BND"; } >"$TEST_TMP/b"
before=$(ticket_count)
raw_post "$TEST_TMP/b"; expect 400 invalid_argument "NUL in a file name"
{ part_head description; printf 'nul\r\n--%s\r\nContent-Disposition: form-data; name="f"; filename*=UTF-8'"''"'a%%00b\r\n\r\nx\r\n--%s--\r\n' "$BND" "$BND"; } >"$TEST_TMP/b"
raw_post "$TEST_TMP/b"; expect 400 invalid_argument "encoded NUL in filename*"
assert_eq "$before" "$(ticket_count)" "nothing stored for NUL names"
# nothing ever lands outside the blob directory
[ -z "$(find "$DATA" -name passwd -o -name 'system32' | head -1)" ] || fail "a client name reached the file system"
pass "hostile file names"

# --- malformed bodies ------------------------------------------------------------
tickets=$(ticket_count); blobs=$(blob_files)
{ part_head description; printf 'x\r\n'; } >"$TEST_TMP/b"
req POST /api/v1/tickets -H "$AUTH" -H 'Content-Type: multipart/form-data' --data-binary "@$TEST_TMP/b"
expect 400 invalid_argument "no boundary parameter"
raw_post "$TEST_TMP/b"; expect 400 invalid_argument "no closing boundary"
{ part_head description; printf 'x\r\n'; part_head f a.bin; head -c 300000 /dev/urandom; } >"$TEST_TMP/b"
raw_post "$TEST_TMP/b"; expect 400 invalid_argument "file part cut off"
printf 'just some text, no multipart at all' >"$TEST_TMP/b"
raw_post "$TEST_TMP/b"; expect 400 invalid_argument "no boundary in the body"
{ printf -- '--%s\r\nX-Long: ' "$BND"; head -c 1048576 /dev/zero | tr '\0' h; printf '\r\n\r\nv\r\n--%s--\r\n' "$BND"; } >"$TEST_TMP/b"
raw_post "$TEST_TMP/b"; expect 413 too_large "1 MiB part header line"
node -e 'const b=process.argv[1];let s="";for(let i=0;i<100000;i++)s+=`--${b}\r\nContent-Disposition: form-data; name="call_id"\r\n\r\n${i}\r\n`;s+=`--${b}--\r\n`;process.stdout.write(s)' "$BND" >"$TEST_TMP/b"
raw_post "$TEST_TMP/b"; expect 413 too_large "100,000 parts"
assert_contains "$BODY" "max_fields" "the message names the limit (text parts count against max_fields)"
{ part_head description; printf 'x\r\n'; for i in $(seq 1 40); do part_head "f$i" "f$i.bin"; printf 'd\r\n'; done; printf -- '--%s--\r\n' "$BND"; } >"$TEST_TMP/b"
raw_post "$TEST_TMP/b"; expect 413 too_large "more files than max_files"
{ part_head description; head -c 70000 /dev/zero | tr '\0' d; printf '\r\n--%s--\r\n' "$BND"; } >"$TEST_TMP/b"
raw_post "$TEST_TMP/b"; expect 413 too_large "field over max_field_bytes"
{ printf -- '--%s\r\nContent-Disposition: form-data; name="description"\r\n\r\nx\r\n--%s\r\nContent-Disposition form-data\r\n\r\nx\r\n--%s--\r\n' "$BND" "$BND" "$BND"; } >"$TEST_TMP/b"
raw_post "$TEST_TMP/b"; expect 400 invalid_argument "header without colon"
printf -- '--%s\r\nContent-Disposition: form-data; name="description"\r\n\r\n\xff\xfe\r\n--%s--\r\n' "$BND" "$BND" >"$TEST_TMP/b"
raw_post "$TEST_TMP/b"; expect 400 invalid_argument "field not UTF-8"
printf -- '--%s\r\nContent-Disposition: form-data; name="descr\x80\xff"\r\n\r\nx\r\n--%s--\r\n' "$BND" "$BND" >"$TEST_TMP/b"
raw_post "$TEST_TMP/b"; expect 400 invalid_argument "field name not UTF-8 (quoted in the error message)"
assert_eq "$tickets" "$(ticket_count)" "no ticket from malformed bodies"
assert_eq "$blobs" "$(blob_files)" "no blob from malformed bodies"
[ -z "$(find "$DATA/blobs" -name '.tmp-*' | head -1)" ] || fail "temporary blob files left behind"
req GET /healthz; expect 200 "" "healthy after the malformed bodies"
pass "malformed multipart"

# --- Content-Length rules ----------------------------------------------------------
# over the limit: 413 before the body is read (the client never sends it)
exec 3<>/dev/tcp/127.0.0.1/$SERVER_PORT
printf 'POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=%s\r\nContent-Length: 999999999999\r\n\r\n' "$TOK" "$BND" >&3
IFS= read -r -t 5 line <&3 || true
exec 3<&-
assert_contains "$line" "413" "413 answered on the headers alone"
printf 'POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello' >"$TEST_TMP/raw"
out=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SERVER_PORT; cat '$TEST_TMP/raw' >&3; head -1 <&3" || true)
assert_contains "$out" "400" "duplicate Content-Length refused"
# chunked over the limit: the connection is cut (documented), nothing stored
head -c $((21 * 1024 * 1024)) /dev/zero >"$TEST_TMP/big"
{ part_head description; printf 'x\r\n'; part_head f big.bin; cat "$TEST_TMP/big"; printf '\r\n--%s--\r\n' "$BND"; } >"$TEST_TMP/b"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "$AUTH" -H 'Transfer-Encoding: chunked' -H 'Expect:' \
       -H "Content-Type: multipart/form-data; boundary=$BND" --data-binary "@$TEST_TMP/b" \
       "$SERVER_URL/api/v1/tickets" 2>/dev/null || true)
case "$code" in 000|"") ;; *) fail "chunked body over the limit answered $code instead of being cut" ;; esac
assert_eq "$tickets" "$(ticket_count)" "no ticket from the cut upload"
sleep 0.3
[ -z "$(find "$DATA/blobs" -name '.tmp-*' | head -1)" ] || fail "cut upload left a temporary blob"
grep -q 'outcome=cut' "$TEST_TMP/server.log" || fail "cut not logged"
req GET /healthz; expect 200 "" "healthy after the cut"
pass "content length rules"
stop_ok
