#!/usr/bin/env bash
# dashboard_login_flood.sh - many logins at once, each from its own
# address and so within its own limit (a botnet, or one IPv6 network
# with many /64s): the password hash (Argon2id, 64 MiB, ~60 ms of a
# core) runs on the worker threads and at most two at a time, so
#  - the HTTP threads keep serving everyone else (/healthz answers at
#    once; it used to wait behind every hash queued on its thread, over
#    a second here with 40 logins on the 2 HTTP threads of a 2-core box);
#  - a login past the two in progress is answered 503 with Retry-After
#    before anything is hashed, and nothing else goes wrong.
. "$LOGSHARE_TEST_LIB/testlib.sh"

data="$TEST_TMP/data"
printf 'a long enough password\n' | "$LOGSHARED_BIN" user add agent --role support --data-dir "$data" >/dev/null
start_server "$data" --threads 2 --trusted-proxies 127.0.0.1 --address-rate 0
n=40

# login I: a wrong password for a name of its own from an address of its
# own; writes the status and the Retry-After header to $TEST_TMP/login.I.
login() {
  curl -s -o /dev/null -D "$TEST_TMP/hdr.$1" -w '%{http_code}\n' -H 'Content-Type: application/json' \
      -H "X-Forwarded-For: 10.77.$(($1 / 200)).$(($1 % 200 + 1))" \
      --data "{\"username\":\"name$1\",\"password\":\"guess $1\"}" \
      "$SERVER_URL/dashboard/login" >"$TEST_TMP/login.$1"
}
pids=()
for i in $(seq 1 $n); do login "$i" & pids+=($!); done
sleep 0.1
# While they are in progress: /healthz, three times.
worst=0
for _ in 1 2 3; do
  t=$(curl -s -o /dev/null -w '%{time_total}' "$SERVER_URL/healthz")
  worst=$(awk -v a="$worst" -v b="$t" 'BEGIN { print (b > a ? b : a) }')
done
wait "${pids[@]}"
awk -v w="$worst" 'BEGIN { exit !(w < 0.5) }' ||
  fail "/healthz took ${worst}s while $n logins were hashed (the HTTP threads hashed them)"
pass "/healthz answered in at most ${worst}s during $n concurrent logins"

n401=0; n503=0
for i in $(seq 1 $n); do
  case "$(cat "$TEST_TMP/login.$i")" in
  401) n401=$((n401 + 1)) ;;
  503) n503=$((n503 + 1))
       grep -qi '^Retry-After: 1' "$TEST_TMP/hdr.$i" || fail "login $i: a 503 without Retry-After" ;;
  *) fail "login $i: status $(cat "$TEST_TMP/login.$i") (expected 401, or 503 when too many)" ;;
  esac
done
[ "$n401" -ge 2 ] || fail "only $n401 logins were checked"
[ "$n503" -ge 1 ] || fail "all $n logins were hashed at once (no 503)"
pass "$n401 logins checked and refused, $n503 answered 503 + Retry-After (too many at once)"

# The limit is on logins in progress, not a count: an agent gets in.
curl -s -o "$TEST_TMP/ok" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data '{"username":"agent","password":"a long enough password"}' \
    "$SERVER_URL/dashboard/login" >"$TEST_TMP/ok.status"
assert_eq 200 "$(cat "$TEST_TMP/ok.status")" "the agent's login after the flood"
stop_server TERM
assert_eq 0 "$SERVER_EXIT" "logshared exit status after SIGTERM"
