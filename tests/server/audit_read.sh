#!/usr/bin/env bash
# The read side of the ticket server (issue 4), from an audit: list
# filters (UTF-8, Unicode case, strict limit), paging with equal sort
# keys while tickets arrive, PATCH input, Range and If-Range on
# downloads, and the request log line (bytes really sent, escaping).
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
start_server "$DATA"
ALICE=$(token alice); SUP=$(token sam support)
A=(-H "Authorization: Bearer $ALICE"); S=(-H "Authorization: Bearer $SUP")
J=(-H 'Content-Type: application/json')

# --- list: filters ------------------------------------------------------
req POST /api/v1/tickets "${A[@]}" -F 'description=Résumé DROPPED' -F 'call_id=Ωmega-1' \
    -F 'customer_name=ÉLISE Núñez'
expect 201 "" "create a ticket with non-ASCII text"; T=$(jget id)
# bytes that are not UTF-8: PostgreSQL refuses them, so both stores do
for p in q user_id call_id; do
  req GET "/api/v1/tickets?$p=ab%FF" "${S[@]}"; expect 400 invalid_argument "$p not UTF-8"
  assert_contains "$BODY" "'$p' is not valid UTF-8" "$p not UTF-8: the message names it"
done
# case-insensitive for every letter, as PostgreSQL's ILIKE is
for q in 'r%C3%89sum%C3%A9' '%C3%A9lise' '%CF%89MEGA' 'n%C3%9A%C3%B1ez' 'dropped'; do
  req GET "/api/v1/tickets?q=$q" "${S[@]}"; expect 200 "" "q=$q"
  assert_eq "$T" "$(jget tickets.0.id)" "q=$q finds the ticket whatever the letters' case"
done
req GET '/api/v1/tickets?q=%C3%A9lisa' "${S[@]}"; assert_eq 0 "$(jget tickets.length)" "q still a substring"
# a parameter without '=' was dropped: "?call_id" listed every ticket
for p in status call_id user_id q limit cursor; do
  req GET "/api/v1/tickets?$p" "${S[@]}"; expect 400 invalid_argument "?$p without a value"
  assert_contains "$BODY" "'$p' has no value" "?$p: the message names it"
done
req GET '/api/v1/log-requests?status' "${S[@]}"; expect 400 invalid_argument "log requests ?status without a value"
req GET '/api/v1/tickets?&limit=1&' "${S[@]}"; expect 200 "" "empty pieces are still skipped"
for l in '%2B5' '%205' '5%20' '-0' '0x5'; do
  req GET "/api/v1/tickets?limit=$l" "${S[@]}"; expect 400 invalid_argument "limit=$l"
done
pass "list filters"

# --- list: paging with equal sort keys while tickets arrive -------------------
# concurrent creates are committed together and share created_at
pids=()
for i in $(seq 1 12); do
  curl -sS -o /dev/null "${A[@]}" -F "description=page $i" -F call_id=paging "$SERVER_URL/api/v1/tickets" &
  pids+=($!)
done
wait "${pids[@]}" # not a bare wait: the server is a child too
# and the same created_at for all of them, whatever the batching did:
# only the id breaks the tie, and the cursor must carry it
sqlite3 "$DATA/logshare.db" "UPDATE tickets SET created_at = (SELECT max(created_at) FROM tickets)
  WHERE id IN (SELECT ticket_id FROM ticket_call_ids WHERE call_id = 'paging')"
req GET '/api/v1/tickets?call_id=paging&limit=500' "${S[@]}"; expect 200 "" "the whole list"
want=$(jget tickets | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).map(t=>t.id).join(" "))')
assert_eq 12 "$(wc -w <<<"$want")" "twelve tickets to page through"
seen=; C=
while :; do
  req GET "/api/v1/tickets?call_id=paging&limit=5${C:+&cursor=$C}" "${S[@]}"; expect 200 "" "a page"
  seen="$seen $(jget tickets | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).map(t=>t.id).join(" "))')"
  C=$(jget next_cursor); [ "$C" = null ] && break
  req POST /api/v1/tickets "${A[@]}" -F 'description=arrives while paging' -F call_id=paging
  expect 201 "" "a ticket arriving between pages"
done
assert_eq "$want" "$(echo $seen)" "every ticket once, in order, none skipped or repeated"
pass "paging"

# --- PATCH ---------------------------------------------------------------------
req PATCH "/api/v1/tickets/$T" "${S[@]}" "${J[@]}" -d '{"assignee":"a\nb"}'
expect 400 invalid_argument "assignee with a newline"
req PATCH "/api/v1/tickets/$T" "${S[@]}" "${J[@]}" -d "{\"assignee\":\"$(printf 'x%.0s' $(seq 256))\"}"
expect 400 invalid_argument "assignee of 256 bytes"
req PATCH "/api/v1/tickets/$T" "${S[@]}" "${J[@]}" -d "{\"assignee\":\"$(printf 'x%.0s' $(seq 255))\"}"
expect 200 "" "assignee of 255 bytes"
req PATCH "/api/v1/tickets/$T" "${S[@]}" "${J[@]}" -d '{"note":" \t\n "}'
expect 400 invalid_argument "a blank note"
req GET "/api/v1/tickets/$T" "${S[@]}"; assert_eq 0 "$(jget notes.length)" "no note stored"
before=$(jget updated_at); sleep 1.1
req PATCH "/api/v1/tickets/$T" "${S[@]}" "${J[@]}" -d '{}'; expect 200 "" "an empty patch"
assert_eq "$before" "$(jget updated_at)" "an empty patch leaves updated_at"
req PATCH /api/v1/tickets/tk_0123456789abcdef0123456789abcdef "${S[@]}" "${J[@]}" -d '{}'
expect 404 not_found "an empty patch of an unknown ticket"
# a retry of a PATCH whose answer was lost appends its note once
K=(-H 'Idempotency-Key: patch-retry-1')
req PATCH "/api/v1/tickets/$T" "${S[@]}" "${J[@]}" "${K[@]}" -d '{"note":"asked for logs"}'
expect 200 "" "a PATCH with an Idempotency-Key"; n=$(jget notes.length)
req PATCH "/api/v1/tickets/$T" "${S[@]}" "${J[@]}" "${K[@]}" -d '{"note":"asked for logs","status":"closed"}'
expect 200 "" "its retry"
assert_eq "$n" "$(jget notes.length)" "the retry appended no note"
assert_eq open "$(jget status)" "the retry applied nothing"
req PATCH "/api/v1/tickets/$T" "${S[@]}" "${J[@]}" -H 'Idempotency-Key: patch-retry-2' -d '{"note":"again"}'
expect 200 "" "another key"; assert_eq $((n + 1)) "$(jget notes.length)" "another key appends"
req PATCH "/api/v1/tickets/$T" "${S[@]}" "${J[@]}" -H 'Idempotency-Key: a b' -d '{"note":"x"}'
expect 400 invalid_argument "an Idempotency-Key with a space"
req PATCH "/api/v1/tickets/$T" "${S[@]}" "${J[@]}" -H "Idempotency-Key: $(printf 'k%.0s' $(seq 256))" -d '{"note":"x"}'
expect 400 invalid_argument "an Idempotency-Key of 256 characters"
req GET "/api/v1/tickets/$T" "${S[@]}"; assert_eq $((n + 1)) "$(jget notes.length)" "refused PATCHes stored nothing"
sqlite3 "$DATA/logshare.db" "DELETE FROM ticket_notes WHERE ticket_id = '$T'" # for the count below
# concurrent notes: in the order they were stored, their times never go
# back, and updated_at is the last one's (a change waiting for the write
# lock was stamped before the one it waited for)
pids=()
for i in $(seq 1 40); do
  curl -sS -o /dev/null -X PATCH "${S[@]}" "${J[@]}" -d "{\"note\":\"n$i\"}" "$SERVER_URL/api/v1/tickets/$T" &
  pids+=($!)
done
wait "${pids[@]}"
assert_eq 40 "$(sqlite3 "$DATA/logshare.db" "SELECT count(*) FROM ticket_notes WHERE ticket_id = '$T'")" "forty notes"
assert_eq 0 "$(sqlite3 "$DATA/logshare.db" "SELECT count(*) FROM (SELECT created_at,
  lag(created_at) OVER (ORDER BY seq) AS prev FROM ticket_notes WHERE ticket_id = '$T') WHERE created_at < prev")" \
  "notes stamped back in time"
assert_eq 1 "$(sqlite3 "$DATA/logshare.db" "SELECT updated_at = (SELECT max(created_at) FROM ticket_notes
  WHERE ticket_id = '$T') FROM tickets WHERE id = '$T'")" "updated_at is the last change's"
pass "patch"

# --- download: Range, If-Range ---------------------------------------------------
printf 'hello world 0123456789\n' >"$TEST_TMP/small"
req POST /api/v1/tickets "${A[@]}" -F description=ranges -F "f=@$TEST_TMP/small;filename=s.log"
expect 201 "" "ticket for ranges"
U=/api/v1/tickets/$(jget id)/attachments/$(jget attachments.0.id); ETAG="\"$(jget attachments.0.sha256)\""
whole=$(od -An -tx1 "$TEST_TMP/small")
range() { req GET "$U" "${S[@]}" -H "Range: $1" "${@:2}"; }
for r in 'bytes=--5' 'bytes=-+5' 'bytes=- 5' 'bytes=+1-3' 'bytes=1-+3' 'bytes=0--1' 'bytes=5-2'; do
  range "$r"; expect 200 "" "malformed '$r' is ignored"
  assert_eq "$whole" "$(od -An -tx1 "$TEST_TMP/body")" "'$r': the whole file"
  ! grep -qi '^Content-Range' "$TEST_TMP/hdrs" || fail "'$r': a Content-Range on a 200"
done
range 'Bytes=0-4'; expect 206 "" "the range unit in another case"
assert_eq hello "$(cat "$TEST_TMP/body")" "Bytes=0-4"
range 'bytes=0-4' -H "If-Range: $ETAG"; expect 206 "" "If-Range with the ETag"
assert_eq hello "$(cat "$TEST_TMP/body")" "If-Range with the ETag: the range"
for v in '"0123"' "W/$ETAG" 'Sun, 29 Nov 2026 13:03:01 GMT'; do
  range 'bytes=0-4' -H "If-Range: $v"; expect 200 "" "If-Range: $v"
  assert_eq "$whole" "$(od -An -tx1 "$TEST_TMP/body")" "If-Range $v: the whole file"
done
range 'bytes=99-' -H 'If-Range: "0123"'; expect 200 "" "If-Range not matching an unsatisfiable range"
# empty list elements and white space around them do not make a list
# (RFC 9110 5.6.1.2); two ranges, or two Range fields, get the whole file
for r in 'bytes=0-4,' 'bytes=, 0-4 ,,' 'bytes=,0-4'; do
  range "$r"; expect 206 "" "'$r' is one range"
  assert_eq hello "$(cat "$TEST_TMP/body")" "'$r': the range"
done
range 'bytes=0-1,3-4'; expect 200 "" "two ranges"
assert_eq "$whole" "$(od -An -tx1 "$TEST_TMP/body")" "two ranges: the whole file"
range 'bytes=0-4' -H 'Range: bytes=6-10'; expect 200 "" "two Range fields"
assert_eq "$whole" "$(od -An -tx1 "$TEST_TMP/body")" "two Range fields: the whole file"
pass "range"

# --- /metrics ---------------------------------------------------------------------
created() { req GET /metrics; sed -n 's/^logshared_tickets_created_total //p' <<<"$BODY"; }
n0=$(created)
SV='survey={"call_id":"c-sv","overall":{"score":1},"report_issue":true}'
req POST /api/v1/surveys "${A[@]}" -H 'Idempotency-Key: sv-metrics-1' -F "$SV" -F "f=@$TEST_TMP/small"
expect 201 "" "a survey that creates a ticket"
assert_eq $((n0 + 1)) "$(created)" "a survey's ticket is counted in tickets_created_total"
req POST /api/v1/surveys "${A[@]}" -H 'Idempotency-Key: sv-metrics-1' -F "$SV" -F "f=@$TEST_TMP/small"
expect 201 "" "the survey replayed"
assert_eq $((n0 + 1)) "$(created)" "a replay creates no ticket"
# the exposition: HELP and TYPE before each family's samples, cumulative
# buckets, +Inf equal to _count
req GET /metrics
node -e '
const lines = require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean);
const help = new Set(), type = {}; let prev = -1, inf = null, count = null;
for (const l of lines) {
  let m;
  if ((m = l.match(/^# HELP (\S+) /))) { help.add(m[1]); continue; }
  if ((m = l.match(/^# TYPE (\S+) (counter|gauge|histogram)$/))) { type[m[1]] = m[2]; continue; }
  m = l.match(/^([a-z_]+)(\{[a-z_]+="[^"\\\n]*"(,[a-z_]+="[^"\\\n]*")*\})? (\S+)$/);
  if (!m) throw new Error("not a sample line: " + l);
  const f = type[m[1]] ? m[1] : m[1].replace(/_(bucket|sum|count)$/, "");
  if (!help.has(f) || !type[f]) throw new Error("no HELP/TYPE before " + l);
  const v = Number(m[4]); if (!(v >= 0)) throw new Error("bad value: " + l);
  if (m[1] === "logshared_upload_duration_seconds_bucket") {
    if (v < prev) throw new Error("buckets not cumulative: " + l); prev = v;
    if (l.includes("le=\"+Inf\"")) inf = v;
  }
  if (m[1] === "logshared_upload_duration_seconds_count") count = v;
}
if (inf === null || inf !== count) throw new Error("+Inf " + inf + " != _count " + count);
' <<<"$BODY" || fail "/metrics is not valid Prometheus text"
pass "metrics"

# --- the log line ------------------------------------------------------------------
# log_line ID: the request's log line, once it is written
log_line() {
  local i
  for i in $(seq 1 100); do
    grep -q "msg=request id=$1 " "$TEST_TMP/server.log" && break; sleep 0.05
  done
  grep "msg=request id=$1 " "$TEST_TMP/server.log" || fail "no log line for request $1"
}
head -c $((16 << 20)) /dev/urandom >"$TEST_TMP/big"
req POST /api/v1/tickets "${A[@]}" -F description=big -F "f=@$TEST_TMP/big;filename=big.bin"
expect 201 "" "a 16 MiB attachment"
BU=/api/v1/tickets/$(jget id)/attachments/$(jget attachments.0.id)
curl -sS -o /dev/null -D "$TEST_TMP/h1" -H "X-Request-Id: dl-whole-1" "${S[@]}" "$SERVER_URL$BU"
assert_contains "$(log_line dl-whole-1)" "status=200 bytes_in=0 bytes_out=$((16 << 20)) " "a whole download"
# the client reads 256 KiB and hangs up: far less than 16 MiB went out.
# Its receive buffer is fixed small (set before connecting, which turns
# off autotuning): with curl, the kernel could take in the whole file
# (tcp_rmem allows 32 MiB here) and the server would rightly count it sent.
python3 - "$SERVER_PORT" "$BU" "$SUP" <<'PY' || fail "the aborting download client failed"
import socket, sys
port, path, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.connect(("127.0.0.1", port))
s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: dl-abort-1\r\n"
           "Authorization: Bearer %s\r\n\r\n" % (path, token)).encode())
got = 0
while got < 256 << 10:
    b = s.recv(65536)
    if not b:
        sys.exit("closed after %d bytes" % got)
    got += len(b)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
s.close()
PY
line=$(log_line dl-abort-1)
out=$(sed 's/.* bytes_out=\([0-9]*\) .*/\1/' <<<"$line")
[ "$out" -lt $((16 << 20)) ] || fail "an aborted download logged bytes_out=$out, the whole size: $line"
range_line() { curl -sS -o /dev/null -H "X-Request-Id: $1" -H "Range: $2" "${S[@]}" "$SERVER_URL$BU"; log_line "$1"; }
assert_contains "$(range_line dl-range-1 bytes=10-19)" "status=206 bytes_in=0 bytes_out=10 " "a range download"
# a hostile method and a path ending in a backslash cannot break the line
raw() { exec 3<>/dev/tcp/127.0.0.1/$SERVER_PORT
        printf '%s HTTP/1.1\r\nHost: x\r\nX-Request-Id: %s\r\nConnection: close\r\n\r\n' "$1" "$2" >&3
        timeout 5 cat <&3 >/dev/null || true; exec 3<&-; }
raw 'GE"T /healthz' raw-method-1
assert_contains "$(log_line raw-method-1)" 'method=GE%22T route=healthz' "a quote in the method is escaped"
raw 'GET /x\' raw-backslash-1
line=$(log_line raw-backslash-1)
[[ "$line" =~ error=\"[^\"\\]*\"$ ]] || fail "the error value is not one closed quoted string: $line"
# libmicrohttpd's own warnings quote the decoded path: a client that
# resets its connection under the answer made "%0A" a line break there,
# and wrote log lines of its choosing
python3 - "$SERVER_PORT" "$TEST_TMP/server.log" <<'PY' || fail "no libmicrohttpd warning quoting the path in 20 s"
import socket, struct, sys, time
# racy by nature (the reset must come after the server read the request
# and before it answers): vary the delay, try until it happened
port, log = int(sys.argv[1]), sys.argv[2]
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    for i in range(100):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.sendall(b'GET /x%0Alevel=error%20msg=FORGED%20a="%5C HTTP/1.1\r\nHost: x\r\n\r\n')
        t = time.perf_counter() + (i % 20) * 0.00005
        while time.perf_counter() < t:
            pass
        s.close()  # RST: the answer cannot be sent
    time.sleep(0.1)
    with open(log, errors="replace") as f:
        if "for `/x" in f.read():
            sys.exit(0)
sys.exit(1)
PY
! grep -q '^level=error msg=FORGED' "$TEST_TMP/server.log" || fail "a client wrote a log line: $(grep -m1 '^level=error msg=FORGED' "$TEST_TMP/server.log")"
while IFS= read -r l; do
  [[ "$l" =~ ^level=warn\ msg=mhd\ text=\"[^\"\\]*\"$ ]] || fail "an mhd line that is not one quoted value: $l"
done < <(grep 'msg=mhd' "$TEST_TMP/server.log")
pass "log line"

stop_ok
pass "audit read"
