#!/usr/bin/env bash
# Slow and greedy clients, TLS, and configuration:
#  - per-address connection cap; a request whose headers do not arrive
#    within header_timeout_s is closed; a body slower than min_body_rate
#    after its grace period is cut and leaves nothing behind;
#  - HTTPS with --tls-cert/--tls-key (GnuTLS inside libmicrohttpd);
#  - settings from the INI file, overridden by LOGSHARE_* environment
#    variables, overridden by flags; bad settings refused with exit 2;
#  - `logshared token` and `logshared user add` are wired in.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data

# --- connection cap, header timeout, slow body ------------------------------------
start_server "$DATA" --max-connections-per-address 3 --header-timeout-s 2 \
  --min-body-rate 200000 --min-body-rate-grace-s 1 --address-rate 0
TOK=$(token alice)
exec 4<>/dev/tcp/127.0.0.1/$SERVER_PORT 5<>/dev/tcp/127.0.0.1/$SERVER_PORT 6<>/dev/tcp/127.0.0.1/$SERVER_PORT
sleep 0.2
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$SERVER_URL/healthz" || true)
[ "$code" != 200 ] || fail "a 4th connection from one address was served with a cap of 3"
# the three idle connections never sent headers: closed after ~2 s
start=$(date +%s%N)
timeout 5 cat <&4 >/dev/null || fail "idle connection not closed by the header timeout"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt 4000 ] || fail "header timeout took ${ms} ms"
exec 4<&- 5<&- 6<&-
sleep 0.3
req GET /healthz; expect 200 "" "served again once the connections are gone"
# slowloris on the headers: one byte at a time, never finishing
( exec 7<>/dev/tcp/127.0.0.1/$SERVER_PORT
  for c in G E T ' ' / h e a l t h z; do printf %s "$c" >&7 2>/dev/null || exit 0; sleep 0.3; done
  printf ' HTTP/1.1\r\nHost: x\r\n' >&7 2>/dev/null || exit 0; sleep 2; printf '\r\n' >&7 2>/dev/null || exit 0
  IFS= read -r -t 2 line <&7 && [ -n "$line" ] && echo "SERVED:$line" ) >"$TEST_TMP/slowloris" 2>&1 || true
! grep -q SERVED "$TEST_TMP/slowloris" || fail "headers dribbled over 5 s were still served: $(cat "$TEST_TMP/slowloris")"
# slow body: 200 KB/s required after 1 s; this client sends 20 KB/s
BND=SlowB0undary
hdr="POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $TOK\r\nContent-Type: multipart/form-data; boundary=$BND\r\nContent-Length: 10000000\r\n\r\n"
( exec 8<>/dev/tcp/127.0.0.1/$SERVER_PORT
  printf "$hdr" >&8
  printf -- '--%s\r\nContent-Disposition: form-data; name="f"; filename="slow.bin"\r\n\r\n' "$BND" >&8
  for i in $(seq 1 40); do head -c 2000 /dev/zero >&8 2>/dev/null || { echo CUT; exit 0; }; sleep 0.1; done
  echo NOT_CUT ) >"$TEST_TMP/slowbody" 2>&1 || true
sleep 0.5
grep -q 'body slower than' "$TEST_TMP/server.log" || fail "slow body not cut (client saw: $(cat "$TEST_TMP/slowbody"))"
[ -z "$(find "$DATA/blobs" -name '.tmp-*' | head -1)" ] || fail "slow body left a temporary blob"
assert_eq 0 "$(ticket_count)" "no ticket from the slow body"
req GET /metrics; assert_contains "$BODY" 'logshared_connections_cut_total{reason="slow_body"}' "cut counted"
stop_ok
pass "connection cap, header timeout, slow body"

# --- a body that stalls: the idle timeout closes it, nothing is left ---------------
start_server "$DATA" --connection-timeout-s 1 --min-body-rate 0 --address-rate 0
start=$(date +%s%N)
( exec 9<>/dev/tcp/127.0.0.1/$SERVER_PORT
  printf "POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $TOK\r\nContent-Type: multipart/form-data; boundary=$BND\r\nContent-Length: 100000\r\n\r\n" >&9
  printf -- '--%s\r\nContent-Disposition: form-data; name="f"; filename="stall.bin"\r\n\r\nabc' "$BND" >&9
  timeout 8 cat <&9 >/dev/null ) || true
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt 6000 ] || fail "stalled body not closed by the idle timeout (${ms} ms)"
sleep 0.3
grep -q 'outcome=timeout' "$TEST_TMP/server.log" || fail "idle timeout not logged"
[ -z "$(find "$DATA/blobs" -name '.tmp-*' | head -1)" ] || fail "stalled upload left a temporary blob"
stop_ok
pass "idle timeout"

# --- no arguments: 127.0.0.1:8080 and ./logshare-data ---------------------------------
if ss -ltn | grep -q '127.0.0.1:8080 \|0.0.0.0:8080 \|\*:8080 \|\[::\]:8080 '; then
  echo "skip - port 8080 is in use on this machine; defaults checked through --help only"
else
  mkdir -p "$TEST_TMP/cwd"
  (cd "$TEST_TMP/cwd" && exec "$LOGSHARED_BIN") >"$TEST_TMP/default.log" 2>&1 &
  dpid=$!
  for i in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:8080/healthz && break; kill -0 "$dpid" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$dpid" 2>/dev/null; then
    code=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/healthz)
    kill -INT "$dpid"; wait "$dpid" || fail "default server did not exit 0 on SIGINT"
    assert_eq 200 "$code" "no-argument server answers on 127.0.0.1:8080"
    [ -f "$TEST_TMP/cwd/logshare-data/logshare.db" ] || fail "no ./logshare-data/logshare.db"
    pass "no-argument defaults"
  else
    echo "skip - something else took port 8080: $(tail -1 "$TEST_TMP/default.log")"
  fi
fi

# --- TLS ------------------------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TEST_TMP/key.pem" -out "$TEST_TMP/cert.pem" \
  -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
start_server "$DATA" --tls-cert "$TEST_TMP/cert.pem" --tls-key "$TEST_TMP/key.pem"
HTTPS=https://127.0.0.1:$SERVER_PORT
code=$(curl -sS --cacert "$TEST_TMP/cert.pem" -o "$TEST_TMP/b" -w '%{http_code}' "$HTTPS/healthz")
assert_eq 200 "$code" "healthz over HTTPS"
code=$(curl -sS --cacert "$TEST_TMP/cert.pem" -o "$TEST_TMP/b" -w '%{http_code}' -H "Authorization: Bearer $TOK" \
       -F description=tls -F "f=@$TEST_TMP/cert.pem" "$HTTPS/api/v1/tickets")
assert_eq 201 "$code" "ticket over HTTPS"
BODY=$(cat "$TEST_TMP/b")
[[ "$(jget attachments.0.url)" == "$HTTPS/api/v1/tickets/"* ]] || fail "attachment url over TLS not https from listen: $(jget attachments.0.url)"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SERVER_PORT/healthz" || true)
[ "$code" != 200 ] || fail "plain HTTP answered on the TLS port"
stop_ok
assert_exit 2 "tls cert without key" -- "$LOGSHARED_BIN" --data-dir "$DATA" --tls-cert "$TEST_TMP/cert.pem"
pass "TLS"

# --- configuration: file < environment < flags -------------------------------------
printf '# test config\n[server]\ndata_dir = %s\n\n[limits]\nmax_json_bytes = 100\n' "$DATA" >"$TEST_TMP/ls.ini"
big=$(printf '{"note":"%s"}' "$(head -c 1000 /dev/zero | tr '\0' n)")
limit_seen() {
  req PATCH /api/v1/tickets/tk_0123456789abcdef0123456789abcdef -H "Authorization: Bearer $(token sam support)" \
      -H 'Content-Type: application/json' --data-binary "$big"
  expect 413 too_large "over max_json_bytes"; sed -n 's/.*limit of \([0-9]*\).*/\1/p' <<<"$BODY"
}
start_server "$DATA" --config "$TEST_TMP/ls.ini"
assert_eq 100 "$(limit_seen)" "limit from the INI file"; stop_ok
start_server "$DATA" --public-url 'https://logs.example.com/support/'
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -F description=pub -F "f=@$TEST_TMP/ls.ini"
expect 201 "" "ticket for public_url"
assert_eq "https://logs.example.com/support/api/v1/tickets/$(jget id)/attachments/$(jget attachments.0.id)" \
  "$(jget attachments.0.url)" "a configured public_url is the links' base (its trailing slash dropped)"
stop_ok
LOGSHARE_LIMITS_MAX_JSON_BYTES=200 start_server "$DATA" --config "$TEST_TMP/ls.ini"
assert_eq 200 "$(limit_seen)" "environment over the file"; stop_ok
LOGSHARE_LIMITS_MAX_JSON_BYTES=200 start_server "$DATA" --config "$TEST_TMP/ls.ini" --max-json-bytes 300
assert_eq 300 "$(limit_seen)" "flag over the environment"; stop_ok
printf '[limits]\nmax_jsn_bytes = 1\n' >"$TEST_TMP/bad.ini"
assert_exit 2 "unknown INI key" -- "$LOGSHARED_BIN" --config "$TEST_TMP/bad.ini"
assert_contains "$(cat "$TEST_TMP/err")" "unknown key" "message names the key"
assert_exit 2 "bad number" -- "$LOGSHARED_BIN" --max-body-bytes lots
assert_exit 2 "unknown flag" -- "$LOGSHARED_BIN" --no-such-flag 1
assert_exit 0 "--help" -- "$LOGSHARED_BIN" --help
assert_contains "$(cat "$TEST_TMP/out")" "127.0.0.1:8080" "default listen address in --help"
assert_contains "$(cat "$TEST_TMP/out")" "./logshare-data" "default data dir in --help"
assert_contains "$(cat "$TEST_TMP/out")" "--max-body-bytes" "limits in --help"
pass "configuration"

# --- subcommands ----------------------------------------------------------------------
assert_exit 0 "logshared token" -- "$LOGSHARED_BIN" token --data-dir "$DATA" --user u1 --role support
[[ "$(cat "$TEST_TMP/out")" =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] || fail "token is not a JWT"
printf 'correct horse battery\n' >"$TEST_TMP/pw"
assert_exit 0 "logshared user add" -- bash -c "'$LOGSHARED_BIN' user add agent --role support --data-dir '$DATA' <'$TEST_TMP/pw'"
pass "token and user subcommands"
