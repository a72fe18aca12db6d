#!/usr/bin/env bash
# HTTPS straight from logshared (found by the auth audit):
#  - a certificate chain in tls_cert (leaf, then its CA) is served whole
#    and verifies against the CA alone;
#  - a TLS certificate or key that is missing, does not match, or is
#    encrypted is a bad setting: exit 2 naming tls_cert / tls_key (it
#    exited 1 with "check the TLS certificate and key", unlike every
#    other bad setting);
#  - plain HTTP on the TLS port gets no answer and the server stays up.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
K=$TEST_TMP/tls; mkdir -p "$K"; cd "$K"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=logshare-test-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >ext
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out leaf.pem -days 1 -extfile ext 2>/dev/null
cat leaf.pem ca.pem >chain.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out other.key 2>/dev/null
openssl pkey -in leaf.key -aes256 -passout pass:secret -out encrypted.key
cd - >/dev/null

# --- a chain ------------------------------------------------------------------------
start_server "$DATA" --tls-cert "$K/chain.pem" --tls-key "$K/leaf.key"
code=$(curl -sS --cacert "$K/ca.pem" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$SERVER_PORT/healthz")
assert_eq 200 "$code" "HTTPS with a chain verifies against the CA"
n=$(openssl s_client -connect "127.0.0.1:$SERVER_PORT" -showcerts </dev/null 2>/dev/null | grep -c 'BEGIN CERTIFICATE' || true)
assert_eq 2 "$n" "both certificates of the chain are sent"
out=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SERVER_PORT; printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' >&3; cat <&3" || true)
case "$out" in *HTTP/1.1*) fail "plain HTTP on the TLS port was answered: ${out:0:80}" ;; esac
code=$(curl -sS --cacert "$K/ca.pem" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$SERVER_PORT/healthz")
assert_eq 200 "$code" "still serving HTTPS after plain HTTP on its port"
stop_ok
pass "a certificate chain; plain HTTP on the TLS port"

# --- bad TLS settings: exit 2, naming them -------------------------------------------
bad_tls() { # WHAT CERT KEY NEEDLE
  assert_exit 2 "$1" -- "$LOGSHARED_BIN" --listen 127.0.0.1:0 --data-dir "$DATA" --tls-cert "$2" --tls-key "$3"
  assert_contains "$(cat "$TEST_TMP/err")" "$4" "$1: the message names the setting"
}
bad_tls "a key that does not match" "$K/chain.pem" "$K/other.key" "server.tls_key"
bad_tls "an encrypted key" "$K/chain.pem" "$K/encrypted.key" "unencrypted"
bad_tls "a missing certificate" "$K/nope.pem" "$K/leaf.key" "server.tls_cert $K/nope.pem"
bad_tls "a missing key" "$K/chain.pem" "$K/nope.key" "server.tls_key $K/nope.key"
bad_tls "certificate and key swapped" "$K/leaf.key" "$K/leaf.pem" "server.tls_cert"
pass "bad TLS certificate or key: exit 2"
