#!/usr/bin/env bash
# The per-address connection cap (max_connections_per_address) for IPv6
# clients counts their /64, as the rate limits do: libmicrohttpd's cap is
# per exact address, so one subscriber taking a fresh address of its /64
# for each connection could hold every connection the server has
# (max_connections) and lock everyone else out.
# Real IPv6 clients need addresses of their own: the test runs in a
# network namespace of its own (unshare -n), where it puts two /64s on
# the loopback interface. Skipped where namespaces are not allowed.
if [ -z "${LOGSHARE_IN_NETNS:-}" ]; then
  if unshare -n true 2>/dev/null && command -v ip >/dev/null; then
    LOGSHARE_IN_NETNS=1 exec unshare -n "$0" "$@"
  fi
  echo "skip - no network namespaces here (unshare -n) to give clients IPv6 addresses"
  exit 0
fi
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
ip link set lo up
for a in 2001:db8:5:5::1 2001:db8:5:5::11 2001:db8:5:5::12 2001:db8:5:5::13 2001:db8:5:5::14 \
         2001:db8:5:5::15 2001:db8:5:5::16 2001:db8:6:6::1; do
  ip -6 addr add "$a/64" dev lo nodad
done
DATA=$TEST_TMP/data
start_server "$DATA" --listen '[2001:db8:5:5::1]:0' --max-connections-per-address 3 \
  --header-timeout-s 20 --address-rate 0

# open_from ADDR...: one idle connection from each address; after a moment
# prints how many the server kept open (a closed one reads EOF).
open_from() {
  node - "$SERVER_PORT" "$@" <<'JS'
const net = require("net");
const [port, ...from] = process.argv.slice(2);
let open = from.length;
for (const a of from) {
  const s = net.connect({host: "2001:db8:5:5::1", port: +port, localAddress: a});
  s.on("end", () => { open--; s.destroy(); });
  s.on("error", () => { open--; });
}
setTimeout(() => { console.log(open); process.exit(0); }, 1500);
JS
}
healthz_from() { curl -s -o /dev/null -w '%{http_code}' --interface "$1" --max-time 5 "http://[2001:db8:5:5::1]:$SERVER_PORT/healthz" || true; }

assert_eq 200 "$(healthz_from 2001:db8:5:5::11)" "an IPv6 client is served"
assert_eq 3 "$(open_from 2001:db8:5:5::11 2001:db8:5:5::12 2001:db8:5:5::13 2001:db8:5:5::14 2001:db8:5:5::15 2001:db8:5:5::16)" \
  "six connections from six addresses of one /64, with a cap of 3 per address: three kept"
assert_eq 200 "$(healthz_from 2001:db8:6:6::1)" "another /64 is served meanwhile"
metrics=$(curl -s --interface 2001:db8:6:6::1 "http://[2001:db8:5:5::1]:$SERVER_PORT/metrics")
assert_contains "$metrics" 'logshared_connections_cut_total{reason="connections_per_address"} 3' "the refused connections are counted"
sleep 0.5
assert_eq 200 "$(healthz_from 2001:db8:5:5::14)" "the /64 is served again once its connections are gone"
assert_eq 3 "$(open_from 2001:db8:5:5::11 2001:db8:5:5::11 2001:db8:5:5::11 2001:db8:5:5::11)" \
  "one address: the cap as before"
stop_ok
pass "max_connections_per_address counts an IPv6 client's /64"
