#!/usr/bin/env bash
# A server on a shared data dir whose database.url was forgotten (so it
# runs on a SQLite file of its own) must not sweep the blobs of the
# servers on the PostgreSQL database: the old code saw its own ticket's
# blob referenced, took that for "the right database" and removed every
# blob of the others that was past the grace period. Now the data dir
# records which database its blobs belong to (database-id, written by
# the first server); another database's server does not start and says
# why, while a server on the right database still removes real orphans.
# On a data dir not yet claimed (from before database-id), a new, empty
# database next to the blobs does not claim them.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
trap 'stop_postgres; _cleanup' EXIT
start_postgres
DB="host=$PG port=$PG_PORT dbname=logshare user=postgres"
DATA=$TEST_TMP/data
SWEEP=(--blob-sweep-interval-s 1 --blob-orphan-grace-s 1)
disk_blobs() { find "$DATA/blobs" -type f ! -path '*/.incoming/*' | wc -l; }

start_server "$DATA" --database-url "$DB"
TOK=$(token alice)
printf 'kept\n' >"$TEST_TMP/f"
for i in 1 2 3; do
  req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -F "description=pg $i" -F "f=@$TEST_TMP/f"
  expect 201 "" "ticket $i on PostgreSQL"
done
T=$(jget id); AT=$(jget attachments.0.id); PG_URL=$SERVER_URL
assert_contains "$(cat "$DATA/database-id")" "postgres:" "database-id names the PostgreSQL database"
assert_eq 3 "$(disk_blobs)" "blobs on disk"
find "$DATA/blobs" -type f ! -path '*/.incoming/*' -exec touch -d '2 hours ago' {} +

# the misconfigured node does not start: serving, it would answer 201 for
# uploads whose blobs the PostgreSQL servers' sweeps then remove (no
# ticket of theirs names them), and its own sweep would judge theirs
assert_exit 2 "a server on another database than database-id" -- \
  timeout 30 "$LOGSHARED_BIN" --data-dir "$DATA" --listen 127.0.0.1:0 "${SWEEP[@]}"
assert_contains "$(cat "$TEST_TMP/err")" "belong to another ticket database" "it says why"
assert_contains "$(cat "$TEST_TMP/err")" "not starting" "it says it does not start"
[ ! -e "$DATA/logshare.db" ] || [ "$(sqlite3 "$DATA/logshare.db" 'SELECT count(*) FROM tickets' 2>/dev/null || echo 0)" = 0 ] ||
  fail "the refused server stored tickets"
assert_eq 3 "$(disk_blobs)" "blobs on disk after the refused start"
SERVER_URL=$PG_URL
req GET "/api/v1/tickets/$T/attachments/$AT" -H "Authorization: Bearer $TOK"
expect 200 "" "the PostgreSQL ticket's attachment"
assert_eq kept "$BODY" "its bytes"
stop_ok

# a server on the right database still sweeps: a real orphan goes
mkdir -p "$DATA/blobs/a/20260101"; printf 'orphan' >"$DATA/blobs/a/20260101/at_0000000000000000orphan"
touch -d '2 hours ago' "$DATA/blobs/a/20260101/at_0000000000000000orphan"
start_server "$DATA" --database-url "$DB" "${SWEEP[@]}"
for i in $(seq 100); do [ -e "$DATA/blobs/a/20260101/at_0000000000000000orphan" ] || break; sleep 0.1; done
[ ! -e "$DATA/blobs/a/20260101/at_0000000000000000orphan" ] || fail "the right database's server kept a real orphan"
req GET "/api/v1/tickets/$T/attachments/$AT" -H "Authorization: Bearer $TOK"
expect 200 "" "the PostgreSQL ticket's attachment after its own sweep"
stop_ok
pass "a server on another database removes none of the shared data dir's blobs"

# A data dir from before database-id (or one whose file was removed),
# with the stray node started first: its empty database does not claim
# the blobs, and it removes none of them, also once it has a ticket of
# its own (before, it claimed them and then swept them all).
rm -f "$DATA/database-id" "$DATA/logshare.db"*
find "$DATA/blobs" -type f ! -path '*/.incoming/*' -exec touch -d '2 hours ago' {} +
before=$(disk_blobs)
start_server "$DATA" "${SWEEP[@]}"
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -F description=stray2 -F "f=@$TEST_TMP/f"
expect 201 "" "a ticket of the stray server's own"
sleep 3.5
grep -q 'is empty, but .* holds blobs: they are not claimed' "$TEST_TMP/server.log" ||
  fail "no warning about the unclaimed blobs: $(tail -3 "$TEST_TMP/server.log")"
grep -q "this data dir's blobs are not claimed by this ticket database" "$TEST_TMP/server.log" ||
  fail "no sweep line saying why nothing was removed: $(grep 'orphan sweep' "$TEST_TMP/server.log" | tail -3)"
[ ! -e "$DATA/database-id" ] || fail "an empty database claimed the data dir's blobs"
assert_eq "$((before + 1))" "$(disk_blobs)" "blobs on disk after the stray server's sweeps"
stop_ok
# the right database then claims them
start_server "$DATA" --database-url "$DB"
assert_contains "$(cat "$DATA/database-id")" "postgres:" "database-id written by the PostgreSQL server"
req GET "/api/v1/tickets/$T/attachments/$AT" -H "Authorization: Bearer $TOK"
expect 200 "" "the PostgreSQL ticket's attachment at the end"
stop_ok
pass "an empty database does not claim a data dir's blobs"
