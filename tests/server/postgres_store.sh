#!/usr/bin/env bash
# logshared with [database] url pointing at a real PostgreSQL (started
# here on a free port in a scratch directory): tickets are created, read,
# listed and survive a server restart; a second server sharing the same
# database sees them too (several servers sharing the work, SPEC).
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
trap 'stop_postgres; _cleanup' EXIT
start_postgres
URL="host=$PG port=$PG_PORT dbname=logshare user=postgres"

DATA=$TEST_TMP/data
start_server "$DATA" --database-url "$URL"
TOK=$(token alice); SUP=$(token sam support)
printf 'pg attachment\n' >"$TEST_TMP/f"
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -F description='on postgres' -F call_id=pg-1 -F "f=@$TEST_TMP/f"
expect 201 "" "create on PostgreSQL"; T=$(jget id)
[ ! -e "$DATA/logshare.db" ] || fail "a SQLite database was created although database.url is set"
# a survey's ticket lives in PostgreSQL, the survey in push.db: the ticket names it
req POST /api/v1/surveys -H "Authorization: Bearer $TOK" -F "f=@$TEST_TMP/f" \
  -F 'survey={"call_id":"pg-sv","overall":{"score":1},"report_issue":true}'
expect 201 "" "survey with report_issue on PostgreSQL"; SV=$(jget id); ST=$(jget ticket_id)
req GET "/api/v1/tickets/$ST" -H "Authorization: Bearer $SUP"; expect 200 "" "the survey's ticket"
assert_eq "$SV" "$(jget survey_id)" "survey_id of a PostgreSQL ticket"
req GET '/api/v1/tickets?call_id=pg-sv' -H "Authorization: Bearer $SUP"; expect 200 "" "list the survey's ticket"
assert_eq "$SV" "$(jget tickets.0.survey_id)" "survey_id in the PostgreSQL list"
req GET "/api/v1/tickets/$T" -H "Authorization: Bearer $TOK"; expect 200 "" "a report ticket"
assert_eq null "$(jget survey_id)" "a report ticket has no survey_id"
stop_ok
# a second server, another blob dir is not shared here, so it reads metadata only
start_server "$DATA" --database-url "$URL"
req GET "/api/v1/tickets/$T" -H "Authorization: Bearer $TOK"; expect 200 "" "ticket after restart"
assert_eq "on postgres" "$(jget description)" "description kept"
req GET '/api/v1/tickets?call_id=pg-1' -H "Authorization: Bearer $SUP"; expect 200 "" "list on PostgreSQL"
assert_eq "$T" "$(jget tickets.0.id)" "found by call id"
curl -sS -o "$TEST_TMP/dl" -H "Authorization: Bearer $TOK" "$SERVER_URL/api/v1/tickets/$T/attachments/$(jget tickets.0.attachments.0.id)"
assert_eq "pg attachment" "$(cat "$TEST_TMP/dl")" "attachment bytes"
req GET /readyz; expect 200 "" "ready with PostgreSQL"
# a dashboard session whose account cannot be looked up is not a refused
# one: 503 (the browser keeps its session), not 401
printf 'a long enough password\n' |
  "$LOGSHARED_BIN" user add agent --role support --data-dir "$DATA" --database "$URL" >/dev/null
JAR=$TEST_TMP/jar
curl -s -o "$TEST_TMP/login.json" -c "$JAR" -H 'Content-Type: application/json' \
  --data '{"username":"agent","password":"a long enough password"}' "$SERVER_URL/dashboard/login"
CSRF=$(sed -n 's/.*"csrf_token":"\([0-9a-f]*\)".*/\1/p' "$TEST_TMP/login.json")
[ -n "$CSRF" ] || fail "dashboard login on PostgreSQL: $(cat "$TEST_TMP/login.json")"
req GET /api/v1/tickets -b "$JAR"; expect 200 "" "the API with the session cookie"
"${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG/data" -m fast stop >/dev/null
req GET /readyz; expect 503 unavailable "not ready once PostgreSQL is down"
req GET /api/v1/tickets -b "$JAR"; expect 503 unavailable "a session whose account cannot be read"
assert_contains "$BODY" "the user database is unavailable" "the 503 says why"
req POST /dashboard/logout -b "$JAR" -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' --data '{}'
expect 503 unavailable "a logout whose account cannot be read"
stop_ok
assert_exit 2 "bad database url" -- "$LOGSHARED_BIN" --data-dir "$DATA" --database-url 'mysql://x' --listen 127.0.0.1:0
pass "PostgreSQL ticket store"
