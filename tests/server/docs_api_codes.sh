#!/usr/bin/env bash
# Error codes are the ones docs/api.md lists ("Errors"): every 403 is
# permission_denied and every 415 is unsupported, on the dashboard's
# endpoints too (the log viewer and the login said "forbidden" and
# "unsupported_media_type", which no client knew).
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
start_server "$DATA"
U=$(token alice)
printf 'some log\n' >"$TEST_TMP/a.log"
req POST /api/v1/tickets -H "Authorization: Bearer $U" -F description=x -F "f=@$TEST_TMP/a.log"
expect 201 "" "a ticket with a file"
TK=$(jget id); AT=$(jget attachments.0.id)

req GET "/api/v1/tickets/$TK/attachments/$AT/log" -H "Authorization: Bearer $U"
expect 403 permission_denied "the log viewer for a user"
req POST /dashboard/login -H 'Content-Type: text/plain' -d '{"username":"a","password":"b"}'
expect 415 unsupported "a login that is not JSON"
req POST /dashboard/login -H 'Content-Type: application/json' -H 'Origin: http://elsewhere.example' \
  -d '{"username":"a","password":"b"}'
expect 403 permission_denied "a login from another origin"
pass "dashboard refusals carry the documented codes"
stop_ok
