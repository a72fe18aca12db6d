#!/usr/bin/env bash
# Limits inside a body and around it (docs/api.md "Limits"):
#  - max_fields counts text fields alone (not fields + files);
#  - max_file_bytes: a declared body is drained then answered 413, a
#    chunked one likewise, and nothing is left behind;
#  - logshared_rate_limited_total counts the 429s;
#  - SIGTERM with an upload stalled mid-body: the server exits 0 within
#    shutdown_timeout_s and the temporary blob is gone.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data

# --- max_fields ---------------------------------------------------------------
start_server "$DATA" --max-fields 8 --max-files 32 --address-rate 0
A=(-H "Authorization: Bearer $(token alice)")
calls=(); for i in $(seq 1 7); do calls+=(-F "call_id=c-$i"); done
req POST /api/v1/tickets "${A[@]}" -F description=d "${calls[@]}"
expect 201 "" "8 fields with max_fields 8"
req POST /api/v1/tickets "${A[@]}" -F description=d "${calls[@]}" -F call_id=c-8
expect 413 too_large "9 fields with max_fields 8"
assert_contains "$BODY" "max_fields" "the error names the limit"
# 20 fields is within max_fields + max_files, the old (wrong) cap
for i in $(seq 8 19); do calls+=(-F "call_id=c-$i"); done
req POST /api/v1/tickets "${A[@]}" -F description=d "${calls[@]}"
expect 413 too_large "20 fields with max_fields 8"
# files do not count as fields
printf x >"$TEST_TMP/f"; files=(); for i in $(seq 1 10); do files+=(-F "f$i=@$TEST_TMP/f"); done
req POST /api/v1/tickets "${A[@]}" -F description=d "${calls[@]:0:14}" "${files[@]}"
expect 201 "" "8 fields and 10 files"
assert_eq 10 "$(jget attachments.length)" "ten files stored"
assert_eq 2 "$(ticket_count)" "only the tickets within the limit stored"
req GET /healthz; expect 200 "" "healthy after refusals"
stop_ok
pass "max_fields"

# --- max_file_bytes -------------------------------------------------------------
# A file over the limit is found inside the body: the rest of the body is
# read and dropped, then 413 (docs/api.md "Limits"), with a declared
# Content-Length or chunked alike; nothing is stored. A Content-Length
# over max_body_bytes is refused from the headers, before any body.
start_server "$DATA" --max-file-bytes 64K --max-body-bytes 1M --address-rate 0
A=(-H "Authorization: Bearer $(token alice)")
head -c 65536 /dev/urandom >"$TEST_TMP/at-limit"; head -c 300000 /dev/urandom >"$TEST_TMP/over"
tickets0=$(ticket_count); blobs0=$(blob_files)
req POST /api/v1/tickets "${A[@]}" -F description=ok -F "f=@$TEST_TMP/at-limit"
expect 201 "" "a file of exactly max_file_bytes"
tickets0=$(ticket_count); blobs0=$(blob_files)
up=$(curl -sS -o "$TEST_TMP/body" -w '%{http_code} %{size_upload}' "${A[@]}" -F description=big \
     -F "f=@$TEST_TMP/over" "$SERVER_URL/api/v1/tickets")
BODY=$(cat "$TEST_TMP/body"); STATUS=${up% *}
expect 413 too_large "declared body with a file over max_file_bytes"
assert_contains "$BODY" "65536" "the error names the limit"
[ "${up#* }" -gt 300000 ] || fail "the body was not read to its end before the 413 (uploaded ${up#* })"
up=$(curl -sS -o "$TEST_TMP/body" -w '%{http_code} %{size_upload}' "${A[@]}" -H 'Transfer-Encoding: chunked' \
     -F description=big -F "f=@$TEST_TMP/over" "$SERVER_URL/api/v1/tickets")
BODY=$(cat "$TEST_TMP/body"); STATUS=${up% *}
expect 413 too_large "chunked body with a file over max_file_bytes"
[ "${up#* }" -gt 300000 ] || fail "the chunked body was not drained before the 413 (uploaded ${up#* })"
assert_eq "$tickets0" "$(ticket_count)" "no ticket from the refused uploads"
assert_eq "$blobs0" "$(blob_files)" "no blob from the refused uploads"
[ -z "$(find "$DATA/blobs" -name '.tmp-*' | head -1)" ] || fail "a refused upload left a temporary blob"
# Content-Length over max_body_bytes: 413 from the headers alone
exec 3<>/dev/tcp/127.0.0.1/$SERVER_PORT
printf 'POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 2000000\r\n\r\n' "$(token alice)" >&3
IFS= read -r -t 5 line <&3 || line=""
exec 3<&-
[[ "$line" == "HTTP/1.1 413"* ]] || fail "Content-Length over max_body_bytes not refused before the body: '$line'"
req GET /healthz; expect 200 "" "healthy after the refusals"
stop_ok
pass "max_file_bytes"

# --- logshared_rate_limited_total ------------------------------------------------
start_server "$DATA" --user-rate 1 --user-burst 2 --address-rate 0
metric() { req GET /metrics; sed -n 's/^logshared_rate_limited_total \([0-9]*\)$/\1/p' <<<"$BODY"; }
before=$(metric); [ -n "$before" ] || fail "no logshared_rate_limited_total in /metrics"
T=(-H "Authorization: Bearer $(token carol)")
n429=0
for i in 1 2 3 4; do
  req GET /api/v1/tickets/tk_0123456789abcdef0123456789abcdef "${T[@]}"
  [ "$STATUS" = 429 ] && n429=$((n429 + 1))
done
[ "$n429" -ge 1 ] || fail "no 429 with user_burst 2"
assert_eq $((before + n429)) "$(metric)" "logshared_rate_limited_total counts each 429"
stop_ok
pass "rate-limited counter"

# --- bounded shutdown with a stalled upload ----------------------------------------
# The upload sends its headers and part of a file, then nothing: SIGTERM
# must not wait for it longer than shutdown_timeout_s, the server exits 0
# and the half-written blob is removed.
start_server "$DATA" --shutdown-timeout-s 2 --connection-timeout-s 60 --min-body-rate 0 --address-rate 0
exec 4<>/dev/tcp/127.0.0.1/$SERVER_PORT
printf 'POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=StallB\r\nContent-Length: 1000000\r\n\r\n' "$(token alice)" >&4
printf -- '--StallB\r\nContent-Disposition: form-data; name="f"; filename="stall.bin"\r\n\r\n' >&4
head -c 20000 /dev/urandom >&4
for i in $(seq 1 100); do [ -n "$(find "$DATA/blobs" -name '.tmp-*' | head -1)" ] && break; sleep 0.05; done
[ -n "$(find "$DATA/blobs" -name '.tmp-*' | head -1)" ] || fail "the stalled upload never opened its temporary blob"
start=$(date +%s%N)
stop_server TERM
ms=$(( ($(date +%s%N) - start) / 1000000 ))
exec 4<&-
assert_eq 0 "$SERVER_EXIT" "exit status after SIGTERM with a stalled upload"
[ "$ms" -lt 4500 ] || fail "shutdown took ${ms} ms with shutdown_timeout_s 2"
[ "$ms" -ge 1500 ] || fail "shutdown did not wait for the request in flight (${ms} ms)"
[ -z "$(find "$DATA/blobs" -name '.tmp-*' | head -1)" ] || fail "the stalled upload's temporary blob is left behind"
grep -q 'route=tickets_create .*status=0 .*outcome=shutdown' "$TEST_TMP/server.log" || fail "the stalled request is not logged as ended by the shutdown"
pass "bounded shutdown with a stalled upload"
