#!/usr/bin/env bash
# SIGKILL of logshared at random moments of 8 to 16 uploads in flight
# (several seeds), then a restart on the same data dir: nothing half-done,
# every ticket's blobs whole, and Idempotency-Key retries of the
# interrupted requests make exactly one ticket per key. The checks are
# listed in crash_retry.py. (Single kills with aborts and the sweep:
# uploads.sh; planted orphans: orphan_blobs.sh.)
source "$LOGSHARE_TEST_LIB/testlib.sh"
python3 "$LOGSHARE_SOURCE_DIR/tests/server/crash_retry.py" "$LOGSHARED_BIN" "$TEST_TMP" 3 5 8 \
  || fail "a promise broke after SIGKILL"
pass "SIGKILL mid-upload, three seeds: whole tickets, one ticket per key on retry"
