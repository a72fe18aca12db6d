#!/usr/bin/env bash
# A refusal decided from the headers of a request that carries a body
# (401 bad token, 429 user limit, 404 unknown ticket) must reach a client
# that sends its body without waiting (no Expect: 100-continue, as most
# HTTP clients but curl do). It was queued at once and the connection
# closed with the body unread: the kernel's reset then often threw the
# answer away, so the client saw EPIPE / ECONNRESET instead of 401 or a
# 429 with its Retry-After, and retried blindly. Now the body is read and
# dropped (bounded by the body limit and min_body_rate) and the answer
# follows it; with Expect: 100-continue it still comes at once, before
# any body, and a Content-Length over the limit is still 413 at once.
# The drain is bounded: 64 MiB declared, 30 s.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
start_server "$DATA" --address-rate 0 --user-rate 1 --user-burst 1 --max-body-bytes 8M
TOK=$(token alice)

# paced_post PATH TOKEN [drain]: a 2 MiB multipart body written in 64 KiB
# pieces 2 ms apart, without Expect; prints what the client saw: the
# status line, or "error CODE". With "drain", first GETs on the same
# connection until one is answered 200: with user_burst 1 the bucket is
# then empty, and the POST right after it is over the limit for sure.
paced_post() {
  node - "$SERVER_PORT" "$1" "$2" "${3:-}" <<'JS'
const net = require("net");
const [port, path, tok, drain] = process.argv.slice(2);
const b = "PacedB0undary";
const body = Buffer.concat([
  Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="description"\r\n\r\nx\r\n` +
              `--${b}\r\nContent-Disposition: form-data; name="f"; filename="a.log"\r\n\r\n`),
  Buffer.alloc(2 << 20, 0x61), Buffer.from(`\r\n--${b}--\r\n`)]);
const s = net.connect(+port, "127.0.0.1");
let got = Buffer.alloc(0), done = false, posting = !drain;
const finish = (what) => { if (!done) { done = true; console.log(what); process.exit(0); } };
const line = () => got.toString("latin1").split("\r\n")[0];
const get = () => s.write(`GET /api/v1/log-requests HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tok}\r\n\r\n`);
function post() {
  posting = true;
  s.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tok}\r\n` +
          `Content-Type: multipart/form-data; boundary=${b}\r\nContent-Length: ${body.length}\r\n\r\n`);
  let off = 0;
  (function next() {
    if (off >= body.length || done) return;
    s.write(body.subarray(off, off + 65536)); off += 65536;
    setTimeout(next, 2);
  })();
}
s.on("data", d => {
  got = Buffer.concat([got, d]);
  const end = got.indexOf("\r\n\r\n");
  if (end < 0) return;
  if (posting) return finish(line());
  const m = /content-length: *(\d+)/i.exec(got.subarray(0, end).toString("latin1"));
  const total = end + 4 + (m ? +m[1] : 0);
  if (got.length < total) return;
  const ok = line().includes(" 200 ");
  got = got.subarray(total);
  if (ok) post(); else setTimeout(get, 100);
});
s.on("error", e => finish(got.length ? line() : "error " + e.code));
s.on("close", () => finish(line() || "closed without an answer"));
if (drain) get(); else post();
setTimeout(() => finish("timeout: " + (line() || "no answer")), 20000);
JS
}

for i in 1 2 3 4 5; do
  got=$(paced_post /api/v1/tickets "$TOK" drain)
  assert_contains "$got" "429" "try $i: a rate-limited upload without Expect sees its 429"
done
for i in 1 2 3; do
  got=$(paced_post /api/v1/tickets garbage)
  assert_contains "$got" "401" "try $i: an upload with a bad token sees its 401"
done
sleep 1.1
got=$(paced_post /api/v1/tickets/tk_0123456789abcdef0123456789abcdef/attachments "$(token bob)")
assert_contains "$got" "404" "attachments to an unknown ticket: the 404 arrives"
assert_eq 0 "$(ticket_count)" "nothing stored"
[ -z "$(find "$DATA/blobs" -name '.tmp-*' | head -1)" ] || fail "a refused upload left a temporary blob"
pass "refusals from the headers reach clients that send the body at once"

# With Expect: 100-continue the answer comes at once and no body is read.
exec 3<>/dev/tcp/127.0.0.1/$SERVER_PORT
printf 'POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer garbage\r\nExpect: 100-continue\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000\r\n\r\n' >&3
IFS= read -r -t 5 line <&3 || line=""
exec 3<&-
[[ "$line" == "HTTP/1.1 401"* ]] || fail "with Expect: 100-continue the 401 is not answered at once: '$line'"
# A Content-Length over max_body_bytes is still refused at once.
exec 3<>/dev/tcp/127.0.0.1/$SERVER_PORT
printf 'POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 9000000\r\n\r\n' "$TOK" >&3
IFS= read -r -t 5 line <&3 || line=""
exec 3<&-
[[ "$line" == "HTTP/1.1 413"* ]] || fail "a Content-Length over the limit is not refused at once: '$line'"
req GET /healthz; expect 200 "" "healthy after the refusals"
stop_ok
pass "Expect: 100-continue and 413 still answered from the headers"

# The drain is bounded: a declared body over 64 MiB (here within
# max_body_bytes) is refused at once, never read for nothing; one of
# 1 MiB is waited for, then answered on a connection that stays open.
start_server "$DATA" --address-rate 0 --user-rate 0
exec 3<>/dev/tcp/127.0.0.1/$SERVER_PORT
printf 'POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer garbage\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000000\r\n\r\n' >&3
IFS= read -r -t 5 line <&3 || line=""
exec 3<&-
[[ "$line" == "HTTP/1.1 401"* ]] || fail "a 100 MB body with a bad token is not refused at once: '$line'"
exec 3<>/dev/tcp/127.0.0.1/$SERVER_PORT
printf 'POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer garbage\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 1048576\r\n\r\n' >&3
IFS= read -r -t 1 line <&3 || line=""
[ -z "$line" ] || fail "a 1 MiB body with a bad token was answered before it was sent: '$line'"
head -c 1048576 /dev/zero >&3
IFS= read -r -t 5 line <&3 || line=""
[[ "$line" == "HTTP/1.1 401"* ]] || fail "no 401 after the 1 MiB body: '$line'"
cl=0
while IFS= read -r -t 5 h <&3 && [ "$h" != $'\r' ]; do
  case "$h" in [Cc]ontent-[Ll]ength:*) cl=$(tr -dc 0-9 <<<"$h") ;; esac
done
head -c "$cl" <&3 >/dev/null # the JSON error body
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
rest=$(timeout 5 cat <&3 || true)
exec 3<&-
assert_contains "$rest" "HTTP/1.1 200" "the connection stays open after a drained refusal"
stop_ok
pass "the drain is bounded, and keeps the connection"

# ... and bounded in time: a refused client that trickles its body (here
# 200 bytes/s, well above min_body_rate 1) is cut after 30 s, without an
# answer, instead of holding the connection for the hour its 1 MiB takes.
start_server "$DATA" --address-rate 0 --user-rate 0 --min-body-rate 1 --connection-timeout-s 60
start=$(date +%s)
( exec 3<>/dev/tcp/127.0.0.1/$SERVER_PORT
  printf 'POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer garbage\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 1048576\r\n\r\n' >&3
  for i in $(seq 1 60); do head -c 200 /dev/zero >&3 2>/dev/null || { echo CUT; exit 0; }; sleep 1; done
  echo NOT_CUT ) >"$TEST_TMP/trickle" 2>&1 || true
took=$(( $(date +%s) - start ))
assert_eq CUT "$(cat "$TEST_TMP/trickle")" "a trickling refused body is cut"
[ "$took" -ge 29 ] && [ "$took" -le 40 ] || fail "the trickle was cut after ${took} s, expected about 30"
sleep 0.3
grep -q "refused request's body still coming after 30 s" "$TEST_TMP/server.log" || fail "the cut is not logged"
req GET /metrics; assert_contains "$BODY" 'logshared_connections_cut_total{reason="refused_body"} 1' "the cut is counted"
stop_ok
pass "a refused body is drained for 30 s at most"
