#!/usr/bin/env bash
# JWT with a public key over real HTTP: a server started with
# --auth-algorithm RS256 (then ES256), a public key file, and iss/aud
# configured accepts a token signed with the matching private key and
# refuses a wrong iss, a wrong aud, a missing aud, another key, and
# tokens in another algorithm (HS256 signed with the public key as the
# secret: algorithm confusion; ES256 on the RS256 server; alg=none).
# Keys are made with openssl here; tokens are signed with Node's crypto.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
K=$TEST_TMP/keys; mkdir -p "$K"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$K/rs.key" 2>/dev/null
openssl pkey -in "$K/rs.key" -pubout -out "$K/rs.pub"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$K/rs-other.key" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K/es.key" 2>/dev/null
openssl pkey -in "$K/es.key" -pubout -out "$K/es.pub"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K/es-other.key" 2>/dev/null

# jwt ALG KEY_FILE PAYLOAD_JSON: header {"alg":ALG,"typ":"JWT"}; RS256 and
# ES256 (raw r||s, RFC 7518 3.4) with a private key, HS256 with the
# file's bytes as the secret, none unsigned.
jwt() {
  node -e '
    const [alg, keyFile, payload] = process.argv.slice(1);
    const c = require("crypto"), fs = require("fs");
    const b = (x) => Buffer.from(x).toString("base64url");
    const input = b(JSON.stringify({alg, typ: "JWT"})) + "." + b(payload);
    let sig = "";
    if (alg === "RS256") sig = c.sign("sha256", Buffer.from(input), fs.readFileSync(keyFile)).toString("base64url");
    else if (alg === "ES256") sig = c.sign("sha256", Buffer.from(input),
        {key: fs.readFileSync(keyFile), dsaEncoding: "ieee-p1363"}).toString("base64url");
    else if (alg === "HS256") sig = c.createHmac("sha256", fs.readFileSync(keyFile)).update(input).digest("base64url");
    process.stdout.write(input + "." + sig);' "$@"
}
now=$(date +%s)
claims() { # claims [ISS] [AUD]: sub alice, valid for an hour
  printf '{"sub":"alice","role":"support","iat":%d,"exp":%d%s%s}' "$now" $((now + 3600)) \
    "${1:+,\"iss\":\"$1\"}" "${2:+,\"aud\":$2}"
}
try() { req GET /api/v1/tickets/tk_0123456789abcdef0123456789abcdef -H "Authorization: Bearer $1"; }

for alg in RS256 ES256; do
  k=$(tr 'A-Z' 'a-z' <<<"${alg:0:2}")
  other=$([ "$alg" = RS256 ] && echo ES256 || echo RS256)
  ok=$(tr 'A-Z' 'a-z' <<<"${other:0:2}")
  start_server "$DATA" --auth-algorithm "$alg" --auth-public-key-file "$K/$k.pub" \
    --auth-issuer https://id.example.com --auth-audience logshare --address-rate 0 --user-rate 0
  try "$(jwt "$alg" "$K/$k.key" "$(claims https://id.example.com '"logshare"')")"
  expect 404 not_found "$alg: a good token gets past auth"
  try "$(jwt "$alg" "$K/$k.key" "$(claims https://id.example.com '["other","logshare"]')")"
  expect 404 not_found "$alg: aud as a list holding ours"
  req POST /api/v1/tickets -H "Authorization: Bearer $(jwt "$alg" "$K/$k.key" "$(claims https://id.example.com '"logshare"')")" -F description="via $alg"
  expect 201 "" "$alg: a ticket created with the token"
  assert_eq alice "$(jget user_id)" "$alg: sub is the user"
  try "$(jwt "$alg" "$K/$k.key" "$(claims https://evil.example.com '"logshare"')")"
  expect 401 unauthorized "$alg: wrong issuer"; assert_contains "$BODY" issuer "$alg: says why"
  try "$(jwt "$alg" "$K/$k.key" "$(claims '' '"logshare"')")"
  expect 401 unauthorized "$alg: no issuer"
  try "$(jwt "$alg" "$K/$k.key" "$(claims https://id.example.com '"other-app"')")"
  expect 401 unauthorized "$alg: wrong audience"; assert_contains "$BODY" audience "$alg: says why"
  try "$(jwt "$alg" "$K/$k.key" "$(claims https://id.example.com)")"
  expect 401 unauthorized "$alg: no audience"
  try "$(jwt "$alg" "$K/$k-other.key" "$(claims https://id.example.com '"logshare"')")"
  expect 401 unauthorized "$alg: signed with another key"
  try "$(jwt HS256 "$K/$k.pub" "$(claims https://id.example.com '"logshare"')")"
  expect 401 unauthorized "$alg: HS256 with the public key as secret (algorithm confusion)"
  try "$(jwt "$other" "$K/$ok.key" "$(claims https://id.example.com '"logshare"')")"
  expect 401 unauthorized "$alg: a valid $other token"
  try "$(jwt none /dev/null "$(claims https://id.example.com '"logshare"')")"
  expect 401 unauthorized "$alg: alg=none"
  stop_ok
  pass "$alg with iss and aud"
done
