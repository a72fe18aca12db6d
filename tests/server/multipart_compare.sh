#!/usr/bin/env bash
# Our multipart parser and Node's undici agree on a generated corpus of
# valid and invalid bodies (see multipart_compare.mjs).
source "$LOGSHARE_TEST_LIB/testlib.sh"
count=200
[ "${LOGSHARE_SANITIZED:-0}" = 1 ] && count=60   # ASan: same cases, fewer of them
node "$LOGSHARE_SOURCE_DIR/tests/server/multipart_compare.mjs" \
  "$LOGSHARE_BUILD_DIR/tests/server/multipart_dump" "$TEST_TMP" "$count"
