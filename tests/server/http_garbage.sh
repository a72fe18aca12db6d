#!/usr/bin/env bash
# Malformed HTTP over raw TCP (http_garbage.mjs): libmicrohttpd 0.9.75 and
# our handlers answer 4xx or close, never 5xx, never hang, and the server
# stays healthy and leak-free (ASan) afterwards.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
start_server "$DATA" --address-rate 0 --user-rate 0 --header-timeout-s 1
rounds=200; [ "${LOGSHARE_SANITIZED:-0}" = 1 ] && rounds=120   # ASan: fewer of the same cases
node "$LOGSHARE_SOURCE_DIR/tests/server/http_garbage.mjs" "$SERVER_PORT" "$(token alice)" "$rounds"
req GET /healthz; expect 200 "" "healthy after the garbage"
[ -z "$(find "$DATA/blobs" -name '.tmp-*' 2>/dev/null | head -1)" ] || fail "temporary blobs left behind"
stop_ok
pass "malformed HTTP"
