#!/usr/bin/env bash
# Client addresses for the per-address rate limit and the log (found by
# the auth audit):
#  - one address, one text: a server listening on [::] sees IPv4 peers as
#    ::ffff:a.b.c.d; trusted_proxies 127.0.0.1 must still match such a
#    peer (before, X-Forwarded-For was ignored and every client behind
#    the proxy shared the proxy's bucket), and the log says 127.0.0.1.
#    Addresses in X-Forwarded-For and trusted_proxies are compared by
#    value, not spelling (::FFFF:10.1.1.1 is 10.1.1.1);
#  - an IPv6 client is limited by its /64: every address of one
#    subscriber's /64 shares a bucket (before, each of its 2^64 addresses
#    had a fresh one), while the log keeps the full address; the dashboard
#    login attempt limit counts IPv6 clients the same way;
#  - trusted_proxies: a bad entry or more than 16 is a bad setting (exit
#    2); a 17th proxy used to be dropped silently, a list over 1 KiB cut.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
log_since() { tail -n +$((MARK + 1)) "$TEST_TMP/server.log"; }
# burst_of XFF...: one /healthz per X-Forwarded-For value; prints the statuses
burst_of() {
  local out=() x
  for x in "$@"; do req GET /healthz -H "X-Forwarded-For: $x"; out+=("$STATUS"); done
  echo "${out[*]}"
}
# n429 STATUSES: how many of them are 429. Buckets refill (1/s here), so a
# shared bucket is shown by burst + 3 quick requests meeting a 429 at all
# (a slow machine may let one through, never three seconds' worth).
n429() { tr ' ' '\n' <<<"$1" | grep -c '^429$' || true; }

# --- a dual-stack listener ------------------------------------------------------
if [ -e /proc/net/if_inet6 ]; then
  MARK=$(wc -l <"$TEST_TMP/server.log" 2>/dev/null || echo 0)
  start_server "$DATA" --listen '[::]:0' --trusted-proxies 127.0.0.1 --address-rate 1 --address-burst 2
  assert_eq "200 200 200 200" "$(burst_of 10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.4)" \
    "clients behind a trusted proxy reaching [::] over IPv4 have buckets of their own"
  log_since | grep -q 'addr=10.0.0.4 ' || fail "the forwarded client is not in the log: $(log_since | tail -1)"
  req GET /healthz; expect 200 "" "the proxy's own request"
  log_since | grep -q 'addr=::ffff:' && fail "an IPv4 peer logged as IPv4-mapped IPv6"
  log_since | grep -q 'route=healthz .*addr=127.0.0.1 ' || fail "the IPv4 peer is not logged as 127.0.0.1"
  stop_ok
  pass "dual-stack listener: IPv4 peers are IPv4"
else
  echo "skip - no IPv6 on this machine: dual-stack listener not tested"
fi

# --- trusted_proxies and X-Forwarded-For by value -------------------------------
MARK=$(wc -l <"$TEST_TMP/server.log")
start_server "$DATA" --trusted-proxies '::ffff:127.0.0.1,10.0.0.9' --address-rate 1 --address-burst 2
assert_eq "200 200 200" "$(burst_of 10.2.0.1 10.2.0.2 10.2.0.3)" \
  "a proxy configured as ::ffff:127.0.0.1 is the peer 127.0.0.1"
req GET /healthz -H 'X-Forwarded-For: 10.5.5.5, ::FFFF:10.0.0.9'; expect 200 "" "a trusted hop spelled otherwise"
log_since | grep -q 'addr=10.5.5.5 ' || fail "a trusted hop written as ::FFFF:10.0.0.9 was not skipped"
got=$(burst_of 10.1.1.1 ::ffff:10.1.1.1 ::FFFF:10.1.1.1 0:0:0:0:0:ffff:10.1.1.1 ::ffff:a01:101)
[ "$(n429 "$got")" -ge 1 ] || fail "one IPv4 client in five spellings had five buckets: $got"
log_since | grep -q 'addr=::' && fail "an IPv4-mapped client logged as IPv6: $(log_since | grep 'addr=::' | head -1)"

# --- IPv6: one bucket per /64 ------------------------------------------------------
got=$(burst_of 2001:db8:1:2::1 2001:db8:1:2::2 2001:DB8:1:2:ffff:0:0:3 2001:db8:1:2:abcd::4 2001:db8:1:2::5)
[ "$(n429 "$got")" -ge 1 ] || fail "five addresses of one /64 had buckets of their own: $got"
[ "${got##* }" != 429 ] || grep -qi "^Retry-After: [1-9]" "$TEST_TMP/hdrs" || fail "the /64 429 without Retry-After"
assert_eq "200 200" "$(burst_of 2001:db8:1:3::1 2001:db8:1:3::1)" "another /64 has its own bucket"
log_since | grep -q 'addr=2001:db8:1:2:ffff::3 ' || fail "the log lost the full IPv6 address (or did not shorten it)"
stop_ok
pass "addresses compared by value; IPv6 limited per /64"

# --- dashboard login attempts: an IPv6 client per /64 too ---------------------------
# 20 attempts per address, then 20 a minute (docs/dashboard.md): a guesser
# spraying user names from fresh addresses of its /64 was never limited.
start_server "$DATA" --trusted-proxies 127.0.0.1 --address-rate 0
codes=()
for i in $(seq 1 25); do
  req POST /dashboard/login -H 'Content-Type: application/json' -H "X-Forwarded-For: 2001:db8:7:7::$i" \
      --data "{\"username\":\"name$i\",\"password\":\"guess\"}"
  codes+=("$STATUS")
done
assert_eq 401 "$(printf '%s\n' "${codes[@]:0:20}" | sort -u | tr '\n' ' ' | xargs)" "the first 20 attempts are answered"
# the bucket refills one attempt every 3 s: a slow machine may let one more in
[ "$(n429 "${codes[*]:20}")" -ge 3 ] || fail "attempts 21 to 25 from one /64 were not limited: ${codes[*]:20}"
grep -qi '^Retry-After: [1-9]' "$TEST_TMP/hdrs" || fail "the login 429 without Retry-After"
req POST /dashboard/login -H 'Content-Type: application/json' -H 'X-Forwarded-For: 2001:db8:7:8::1' \
    --data '{"username":"name99","password":"guess"}'
expect 401 unauthorized "another /64 may still try"
stop_ok
pass "dashboard login attempts limited per /64"

# --- trusted_proxies: checked like every setting, never cut ----------------------------
# A 17th proxy was dropped silently (and a list over 1 KiB cut), leaving
# the clients behind it sharing one bucket; a bad entry exited 1.
assert_exit 2 "a CIDR range in trusted_proxies" -- "$LOGSHARED_BIN" --data-dir "$DATA" --trusted-proxies 10.0.0.0/8
assert_contains "$(cat "$TEST_TMP/err")" "trusted-proxies" "names the setting"
P17=$(for i in $(seq 1 16); do printf '10.0.0.%d,' "$i"; done)127.0.0.1
assert_exit 2 "17 trusted proxies" -- "$LOGSHARED_BIN" --data-dir "$DATA" --trusted-proxies "$P17"
assert_contains "$(cat "$TEST_TMP/err")" "at most 16" "says the limit"
P16=$(for i in $(seq 1 15); do printf '10.0.0.%d,' "$i"; done)$(printf '%*s' 1100 '')127.0.0.1
start_server "$DATA" --trusted-proxies "$P16" --address-rate 1 --address-burst 1
assert_eq "200 200" "$(burst_of 10.3.0.1 10.3.0.2)" "the 16th proxy, after 1 KiB of spaces, is trusted"
stop_ok
pass "trusted_proxies checked at start, kept whole"
