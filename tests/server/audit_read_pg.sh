#!/usr/bin/env bash
# The ticket list on PostgreSQL (audit of the read side): filters that
# are not UTF-8 get the same 400 naming the parameter as on SQLite (they
# were answered "bad cursor"), and cursor paging over tickets with equal
# created_at, while new tickets arrive, skips and repeats none.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
trap 'stop_postgres; _cleanup' EXIT
start_postgres
psql_do() { "${PG_AS[@]}" "$PG_BIN/psql" -h "$PG" -p "$PG_PORT" -U postgres -d logshare -Atqc "$1"; }

DATA=$TEST_TMP/data
start_server "$DATA" --database-url "host=$PG port=$PG_PORT dbname=logshare user=postgres"
ALICE=$(token alice); SUP=$(token sam support)
A=(-H "Authorization: Bearer $ALICE"); S=(-H "Authorization: Bearer $SUP")

for p in q user_id call_id; do
  req GET "/api/v1/tickets?$p=ab%FF" "${S[@]}"; expect 400 invalid_argument "$p not UTF-8"
  assert_contains "$BODY" "'$p' is not valid UTF-8" "$p not UTF-8: the message names it"
done
req GET '/api/v1/tickets?q=%C3%A9' "${S[@]}"; expect 200 "" "a UTF-8 search"
pass "filters"

for i in $(seq 1 9); do
  req POST /api/v1/tickets "${A[@]}" -F "description=page $i" -F call_id=paging; expect 201 "" "ticket $i"
done
psql_do "UPDATE tickets SET created_at = (SELECT max(created_at) FROM tickets)
  WHERE id IN (SELECT ticket_id FROM ticket_call_ids WHERE call_id = 'paging')"
assert_eq 1 "$(psql_do 'SELECT count(DISTINCT created_at) FROM tickets')" "equal sort keys"
ids() { jget tickets | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).map(t=>t.id).join(" "))'; }
req GET '/api/v1/tickets?call_id=paging&limit=500' "${S[@]}"; want=$(ids)
seen=; C=
while :; do
  req GET "/api/v1/tickets?call_id=paging&limit=2${C:+&cursor=$C}" "${S[@]}"; expect 200 "" "a page"
  seen="$seen $(ids)"
  C=$(jget next_cursor); [ "$C" = null ] && break
  req POST /api/v1/tickets "${A[@]}" -F 'description=arrives while paging' -F call_id=paging
  expect 201 "" "a ticket arriving between pages"
done
assert_eq "$want" "$(echo $seen)" "every ticket once, in order, none skipped or repeated"
pass "paging"
# a retry of a PATCH whose answer was lost appends its note once
T=$(jget tickets.0.id)
for i in 1 2 3; do
  req PATCH "/api/v1/tickets/$T" "${S[@]}" -H 'Content-Type: application/json' -H 'Idempotency-Key: pg-retry-1' \
      -d '{"note":"asked for logs"}'
  expect 200 "" "PATCH with an Idempotency-Key, try $i"
  assert_eq 1 "$(jget notes.length)" "one note after try $i"
done
psql_do "DELETE FROM ticket_notes WHERE ticket_id = '$T'" # for the count below
pass "PATCH retries"
# concurrent notes: in the order they were stored, their times never go
# back, and updated_at is the last one's
pids=()
for i in $(seq 1 40); do
  curl -sS -o /dev/null -X PATCH "${S[@]}" -H 'Content-Type: application/json' -d "{\"note\":\"n$i\"}" \
    "$SERVER_URL/api/v1/tickets/$T" &
  pids+=($!)
done
wait "${pids[@]}"
assert_eq 40 "$(psql_do "SELECT count(*) FROM ticket_notes WHERE ticket_id = '$T'")" "forty notes"
assert_eq 0 "$(psql_do "SELECT count(*) FROM (SELECT created_at,
  lag(created_at) OVER (ORDER BY seq) AS prev FROM ticket_notes WHERE ticket_id = '$T') n WHERE created_at < prev")" \
  "notes stamped back in time"
assert_eq t "$(psql_do "SELECT updated_at = (SELECT max(created_at) FROM ticket_notes
  WHERE ticket_id = '$T') FROM tickets WHERE id = '$T'")" "updated_at is the last change's"
pass "concurrent notes"
stop_ok
pass "audit read on PostgreSQL"
