#!/usr/bin/env bash
# Tokens: wrong, expired, not yet valid, forged (another secret), alg=none
# and algorithm confusion are all refused with 401; a good token works;
# one Idempotency-Key retried 5 times gives one ticket; per-user and
# per-address rate limits answer 429 with Retry-After.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
start_server "$DATA" --user-rate 1 --user-burst 12 --address-rate 0
GOOD=$(token alice)
SECRET=$DATA/jwt-secret
now=$(date +%s)
try() { req GET /api/v1/tickets/tk_0123456789abcdef0123456789abcdef -H "Authorization: Bearer $1"; }

try "$GOOD"; expect 404 not_found "a good token gets past auth"
try "garbage"; expect 401 unauthorized "garbage token"
grep -qi '^WWW-Authenticate: Bearer' "$TEST_TMP/hdrs" || fail "401 without WWW-Authenticate: Bearer"
try "$GOOD"x; expect 401 unauthorized "tampered signature"
H='{"alg":"HS256","typ":"JWT"}'
try "$(hs256_token "$SECRET" "$H" "{\"sub\":\"alice\",\"exp\":$((now - 3600)),\"iat\":$((now - 7200))}")"
expect 401 unauthorized "expired token"
try "$(hs256_token "$SECRET" "$H" "{\"sub\":\"alice\",\"exp\":$((now + 3600)),\"nbf\":$((now + 1800))}")"
expect 401 unauthorized "token not valid yet"
try "$(hs256_token "$SECRET" "$H" "{\"sub\":\"alice\"}")"
expect 401 unauthorized "token without exp"
try "$(hs256_token "$SECRET" "$H" "{\"sub\":\"alice\",\"exp\":$((now + 3600)),\"role\":\"root\"}")"
expect 401 unauthorized "unknown role"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TEST_TMP/other-secret"
try "$(hs256_token "$TEST_TMP/other-secret" "$H" "{\"sub\":\"alice\",\"exp\":$((now + 3600))}")"
expect 401 unauthorized "forged: signed with another secret"
NONE="$(printf '{"alg":"none","typ":"JWT"}' | b64url).$(printf '{"sub":"alice","role":"admin","exp":%d}' $((now + 3600)) | b64url)."
try "$NONE"; expect 401 unauthorized "alg=none"
try "$(hs256_token "$SECRET" '{"alg":"HS512","typ":"JWT"}' "{\"sub\":\"alice\",\"exp\":$((now + 3600))}")"
expect 401 unauthorized "another algorithm than the pinned one"
req GET /api/v1/tickets/x -H "Authorization: Basic YTpi"; expect 401 unauthorized "not a bearer token"
pass "bad tokens refused"

# --- Idempotency-Key: five retries, one ticket ---------------------------------
ids=()
for i in 1 2 3 4 5; do
  req POST /api/v1/tickets -H "Authorization: Bearer $GOOD" -H 'Idempotency-Key: report-42' \
      -F description='same report' -F "f=@$SECRET;filename=a.log"
  expect 201 "" "idempotent try $i"; ids+=("$(jget id)")
done
for id in "${ids[@]}"; do assert_eq "${ids[0]}" "$id" "every retry answers the first ticket"; done
assert_eq 1 "$(ticket_count)" "one ticket stored"
assert_eq 1 "$(blob_files)" "one blob stored (the retries' blobs removed)"
# A retry that sends its body without Expect: 100-continue (here 2 MiB,
# paced) gets its 201 after the body: answered from the headers, the
# connection closed with the body unread and the kernel's reset could
# throw the answer away. The body is dropped, no blob is made.
replay=$(node - "$SERVER_PORT" "$GOOD" <<'JS'
const net = require("net");
const [port, tok] = process.argv.slice(2);
const b = "XbNdRy";
const body = Buffer.concat([
  Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="description"\r\n\r\nsame report\r\n` +
              `--${b}\r\nContent-Disposition: form-data; name="f"; filename="a.log"\r\n\r\n`),
  Buffer.alloc(2 << 20, 0x61), Buffer.from(`\r\n--${b}--\r\n`)]);
const s = net.connect(+port, "127.0.0.1");
let got = "";
s.on("data", d => { got += d; });
s.on("error", e => { console.log("error " + e.code); process.exit(0); });
s.on("close", () => { console.log(got.split("\r\n")[0] || "no answer"); process.exit(0); });
s.write(`POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tok}\r\n` +
        `Idempotency-Key: report-42\r\nContent-Type: multipart/form-data; boundary=${b}\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
let off = 0;
(function next() {
  if (off >= body.length) return;
  s.write(body.subarray(off, off + 65536)); off += 65536;
  setTimeout(next, 2);
})();
setTimeout(() => { console.log("timeout: " + (got.split("\r\n")[0] || "no answer")); process.exit(0); }, 20000);
JS
)
assert_contains "$replay" "201" "a retry without Expect gets its 201 after sending its body"
assert_eq 1 "$(ticket_count)" "still one ticket"
assert_eq 1 "$(blob_files)" "still one blob (the retry's body was dropped)"
# the key is per user: bob's identical key is his own ticket
req POST /api/v1/tickets -H "Authorization: Bearer $(token bob)" -H 'Idempotency-Key: report-42' -F description='bob'
expect 201 "" "same key, other user"; [ "$(jget id)" != "${ids[0]}" ] || fail "key shared across users"
req POST /api/v1/tickets -H "Authorization: Bearer $GOOD" -H "Idempotency-Key: $(printf 'k%.0s' $(seq 300))" -F description=x
expect 400 invalid_argument "overlong Idempotency-Key"
pass "idempotency"

# --- per-user rate limit ----------------------------------------------------------
CAROL=$(token carol); got429=0
for i in $(seq 1 20); do
  req GET /healthz; req GET /api/v1/tickets/tk_0123456789abcdef0123456789abcdef -H "Authorization: Bearer $CAROL"
  if [ "$STATUS" = 429 ]; then got429=1; break; fi
done
[ "$got429" = 1 ] || fail "no 429 after 20 quick requests with user_burst 12"
assert_contains "$BODY" '"code":"rate_limited"' "429 body"
grep -qi '^Retry-After: [1-9]' "$TEST_TMP/hdrs" || fail "429 without Retry-After"
req GET /api/v1/tickets/tk_0123456789abcdef0123456789abcdef -H "Authorization: Bearer $(token dave)"
expect 404 not_found "another user is not limited by carol's bucket"
stop_ok

# --- per-address rate limit, and X-Forwarded-For only from trusted proxies ----------
start_server "$DATA" --address-rate 1 --address-burst 3 --trusted-proxies 127.0.0.2
for i in 1 2 3; do req GET /healthz; expect 200 "" "address burst $i"; done
req GET /healthz; expect 429 rate_limited "address over its burst"
req GET /healthz -H 'X-Forwarded-For: 10.9.9.9'; expect 429 rate_limited "XFF from an untrusted peer is ignored"
stop_ok
start_server "$DATA" --address-rate 1 --address-burst 3 --trusted-proxies 127.0.0.1
for i in 1 2 3 4; do req GET /healthz -H "X-Forwarded-For: 10.0.0.$i"; expect 200 "" "via trusted proxy, client $i"; done
grep -q 'addr=10.0.0.4 ' "$TEST_TMP/server.log" || fail "log line lacks the forwarded client address"
stop_ok
pass "rate limits"

# --- forged X-Forwarded-For through a trusted proxy ---------------------------------
# Here curl plays the trusted proxy (127.0.0.1): each header below is what
# a proxy forwards, the client's own claim on the left, the address the
# proxy saw on the right. A client that varies its claim must still land
# in one bucket: the real address's.
MARK=$(wc -l <"$TEST_TMP/server.log")
log_since() { tail -n +$((MARK + 1)) "$TEST_TMP/server.log"; }
start_server "$DATA" --address-rate 1 --address-burst 3 --trusted-proxies 127.0.0.1
# (a) the client pads its line so that a 1024-byte copy would end with an
# address of its choice; the proxy appends the real one after it.
pad() { local claim=$1 p=''; while [ $(( ${#p} + 9 + ${#claim} )) -le 1023 ]; do p+='1.1.1.1,'; done
        while [ $(( ${#p} + ${#claim} )) -lt 1023 ]; do p+=' '; done; printf '%s%s' "$p" "$claim"; }
for i in 1 2 3 4; do
  xff="$(pad "10.6.6.$i"), 10.0.0.50"
  [ "${#xff}" = 1034 ] || fail "the client's part must be 1023 bytes (${#xff})"
  req GET /healthz -H "X-Forwarded-For: $xff"
  if [ "$i" -le 3 ]; then expect 200 "" "padded XFF $i"; else expect 429 rate_limited "padded XFF cannot escape the real address's bucket"; fi
done
grep -q 'addr=10.0.0.50 ' "$TEST_TMP/server.log" || fail "log line lacks the real address behind a padded header"
grep -q 'addr=10.6.6.' "$TEST_TMP/server.log" && fail "a padded header's forged address was believed"
# (b) the proxy adds its own header line instead of appending: the client's
# line comes first and must not be read alone.
for i in 1 2 3 4; do
  req GET /healthz -H "X-Forwarded-For: 10.7.7.$i" -H 'X-Forwarded-For: 10.0.0.60'
  if [ "$i" -le 3 ]; then expect 200 "" "two XFF lines $i"; else expect 429 rate_limited "a client's own first XFF line cannot escape the limit"; fi
done
grep -q 'addr=10.0.0.60 ' "$TEST_TMP/server.log" || fail "log line lacks the address of the proxy's own XFF line"
grep -q 'addr=10.7.7.' "$TEST_TMP/server.log" && fail "a client's first XFF line was believed"
# a trusted hop in the middle is skipped; garbage or an oversized list
# leaves the peer (never a cut-down list)
req GET /healthz -H 'X-Forwarded-For: 10.8.8.8, 127.0.0.1'; expect 200 "" "trusted hop skipped"
grep -q 'addr=10.8.8.8 ' "$TEST_TMP/server.log" || fail "trusted hop not skipped"
req GET /healthz -H 'X-Forwarded-For: 10.8.8.9, bogus'; expect 200 "" "malformed XFF"
req GET /healthz -H "X-Forwarded-For: $(printf '10.9.0.1, %.0s' $(seq 1000))10.9.0.2"; expect 200 "" "oversized XFF"
grep -q 'addr=10.9.0.' "$TEST_TMP/server.log" && fail "an oversized XFF list was read"
grep -q 'addr=10.8.8.9 ' "$TEST_TMP/server.log" && fail "an address left of garbage was believed"
[ "$(log_since | grep -c 'route=healthz .*addr=127.0.0.1 ')" = 2 ] || fail "malformed/oversized XFF did not fall back to the peer"
stop_ok
pass "X-Forwarded-For cannot be forged through a trusted proxy"
