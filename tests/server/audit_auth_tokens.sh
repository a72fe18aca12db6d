#!/usr/bin/env bash
# Bearer tokens at the edges (found by the auth audit), over real HTTP:
#  - whitespace around the token in the Authorization value (libmicrohttpd
#    keeps the trailing whitespace a field value does not include): the
#    token still verifies;
#  - "exp" as large as a JSON integer gets (INT64_MAX) is a far-future
#    expiry, not an overflow into "token expired";
#  - a "typ" other than JWT is refused with a message naming typ (libjwt
#    refuses it and called it a bad signature);
#  - a signature segment in any form but canonical base64url (another
#    alphabet, padding, junk after it) is refused: libjwt decodes RS256
#    and ES256 signatures leniently and accepted such altered tokens;
#  - two Authorization headers are refused (the first was used);
#  - `logshared token`: an empty --data-dir and an RS256/ES256 server are
#    usage errors (exit 2); a missing --secret-file is named;
#  - per-user rate-limit buckets tell apart user ids that share a long
#    prefix (only their first 63 bytes were compared).
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
start_server "$DATA" --address-rate 0 --user-rate 0
SECRET=$DATA/jwt-secret
now=$(date +%s)
H='{"alg":"HS256","typ":"JWT"}'
TICKET=/api/v1/tickets/tk_0123456789abcdef0123456789abcdef

# raw_headers LINES: GET $TICKET with exactly these header lines (each
# ending in CRLF; no client trims or merges them); sets STATUS and BODY.
raw_headers() {
  local out
  out=$(timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$1
    printf "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n" "$2" "$3" >&3
    cat <&3' _ "$SERVER_PORT" "$TICKET" "$1" || true)
  STATUS=$(head -1 <<<"$out" | cut -d' ' -f2)
  BODY=${out##*$'\r\n\r\n'}
}
# raw_auth AUTH_VALUE: that exact Authorization value
raw_auth() { raw_headers "Authorization: $1"$'\r\n'; }

GOOD=$(token alice)
raw_auth "Bearer $GOOD"; expect 404 not_found "plain token"
raw_auth "Bearer $GOOD "; expect 404 not_found "token with a trailing space"
raw_auth "Bearer $GOOD"$'\t\t'; expect 404 not_found "token with trailing tabs"
raw_auth "Bearer  "$'\t'"$GOOD  "; expect 404 not_found "token with spaces and a tab around it"
raw_auth "Bearer ${GOOD:0:20} ${GOOD:20}"; expect 401 unauthorized "a space inside the token"
raw_auth "Bearer  "; expect 401 unauthorized "only whitespace after Bearer"
pass "whitespace around the token"

# Authorization is a singleton: with two, a proxy in front may have
# checked one while the server read the other (it took the first).
raw_headers "Authorization: Bearer garbage"$'\r\n'"Authorization: Bearer $GOOD"$'\r\n'
expect 401 unauthorized "two Authorization headers, the good one last"
assert_contains "$BODY" "more than one Authorization" "says why"
raw_headers "Authorization: Bearer $GOOD"$'\r\n'"Authorization: Bearer garbage"$'\r\n'
expect 401 unauthorized "two Authorization headers, the good one first"
pass "one Authorization header only"

try() { req GET "$TICKET" -H "Authorization: Bearer $1"; }
try "$(hs256_token "$SECRET" "$H" '{"sub":"alice","exp":9223372036854775807}')"
expect 404 not_found "exp = INT64_MAX is far in the future"
try "$(hs256_token "$SECRET" "$H" '{"sub":"alice","exp":9223372036854775757}')"
expect 404 not_found "exp just under INT64_MAX - skew"
try "$(hs256_token "$SECRET" "$H" '{"sub":"alice","exp":-9223372036854775807}')"
expect 401 unauthorized "exp = -INT64_MAX is long past"
assert_contains "$BODY" "expired" "says expired"
try "$(hs256_token "$SECRET" "$H" "{\"sub\":\"alice\",\"exp\":$((now + 3600)),\"nbf\":9223372036854775807}")"
expect 401 unauthorized "nbf = INT64_MAX is not yet"
pass "exp and nbf at the int64 limits"

for typ in '"at+jwt"' '"JOSE"' '5' '""'; do
  try "$(hs256_token "$SECRET" "{\"alg\":\"HS256\",\"typ\":$typ}" "{\"sub\":\"alice\",\"exp\":$((now + 3600))}")"
  expect 401 unauthorized "typ $typ"
  assert_contains "$BODY" "typ" "the refusal of typ $typ names typ (not a bad signature)"
done
try "$(hs256_token "$SECRET" '{"alg":"HS256","typ":"jwt"}' "{\"sub\":\"alice\",\"exp\":$((now + 3600))}")"
expect 404 not_found "typ jwt (any case)"
try "$(hs256_token "$SECRET" '{"alg":"HS256"}' "{\"sub\":\"alice\",\"exp\":$((now + 3600))}")"
expect 404 not_found "no typ"
pass "typ"
stop_ok

# --- RS256 / ES256: one exact form of the signature --------------------------
K=$TEST_TMP/keys; mkdir -p "$K"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$K/rs.key" 2>/dev/null
openssl pkey -in "$K/rs.key" -pubout -out "$K/rs.pub"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K/es.key" 2>/dev/null
openssl pkey -in "$K/es.key" -pubout -out "$K/es.pub"
# jwt ALG KEY_FILE PAYLOAD_JSON (as in auth_keys.sh)
jwt() {
  node -e '
    const [alg, keyFile, payload] = process.argv.slice(1);
    const c = require("crypto"), fs = require("fs");
    const b = (x) => Buffer.from(x).toString("base64url");
    const input = b(JSON.stringify({alg, typ: "JWT"})) + "." + b(payload);
    const sig = c.sign("sha256", Buffer.from(input), alg === "RS256" ? fs.readFileSync(keyFile)
        : {key: fs.readFileSync(keyFile), dsaEncoding: "ieee-p1363"}).toString("base64url");
    process.stdout.write(input + "." + sig);' "$@"
}
for alg in RS256 ES256; do
  k=$(tr 'A-Z' 'a-z' <<<"${alg:0:2}")
  start_server "$DATA" --auth-algorithm "$alg" --auth-public-key-file "$K/$k.pub" --address-rate 0 --user-rate 0
  # a signature with at least one '-' or '_', so the other alphabet differs
  for i in $(seq 1 20); do
    tok=$(jwt "$alg" "$K/$k.key" "{\"sub\":\"alice\",\"exp\":$((now + 3600)),\"n\":$i}")
    [[ "${tok##*.}" == *[-_]* ]] && break
  done
  try "$tok"; expect 404 not_found "$alg: the token as signed"
  try "$tok!!"; expect 401 unauthorized "$alg: junk after the signature"
  assert_contains "$BODY" "signature" "$alg: says the signature is malformed"
  try "$tok="; expect 401 unauthorized "$alg: padding after the signature"
  try "$(tr -- '-_' '+/' <<<"$tok")"; expect 401 unauthorized "$alg: signature in the +/ alphabet"
  raw_auth "Bearer $tok junk"; expect 401 unauthorized "$alg: a word after the token"
  stop_ok
done
pass "RS256 and ES256 signatures only in their canonical form"

# --- per-user buckets for long user ids ------------------------------------------
# Ids that share a long prefix (a URI, a tenant path) are different users
# with buckets of their own: the table compared only 63 bytes, so one busy
# user got every other user of the tenant a 429.
start_server "$DATA" --address-rate 0 --user-rate 1 --user-burst 2
P=https://id.example.com/tenants/0b6d3c1e-5f0a-4c1b-9d7e-2f3a4b5c6d7e/users
ALICE=$(token "$P/alice"); BOB=$(token "$P/bob")
# until_429 TOKEN: requests until one is 429 (at most 6: the bucket refills
# 1/s, so a slow machine may need a few more than the burst of 2)
until_429() {
  local i
  for i in 1 2 3 4 5 6; do try "$1"; [ "$STATUS" = 429 ] && return 0; done
  fail "no 429 after 6 requests with user_burst 2 (last: $STATUS)"
}
until_429 "$ALICE"
try "$BOB"; expect 404 not_found "bob, whose id shares alice's first 63 bytes, is not limited by her bucket"
LONG=$(printf 'u%.0s' $(seq 254))
until_429 "$(token "${LONG}a")"
try "$(token "${LONG}b")"; expect 404 not_found "another 255-byte id differing in its last byte"
stop_ok
pass "per-user buckets compare the whole user id"

# --- logshared token: usage errors ---------------------------------------------------
assert_exit 2 "an empty --data-dir is a usage error" -- "$LOGSHARED_BIN" token --data-dir '' --user u
assert_contains "$(cat "$TEST_TMP/err")" "--data-dir" "names --data-dir"
assert_exit 1 "a missing --secret-file" -- "$LOGSHARED_BIN" token --data-dir "$DATA" --user u --secret-file "$TEST_TMP/no-such-secret"
assert_contains "$(cat "$TEST_TMP/err")" "$TEST_TMP/no-such-secret" "the message names the secret file, not the data dir"
assert_exit 2 "RS256 in the server's environment" -- env LOGSHARE_AUTH_ALGORITHM=RS256 "$LOGSHARED_BIN" token --data-dir "$DATA" --user u
assert_contains "$(cat "$TEST_TMP/err")" "RS256" "says why"
assert_eq "" "$(cat "$TEST_TMP/out")" "no token printed for an RS256 server"
assert_exit 0 "HS256 in the environment" -- env LOGSHARE_AUTH_ALGORITHM=HS256 "$LOGSHARED_BIN" token --data-dir "$DATA" --user u
pass "logshared token usage errors"
