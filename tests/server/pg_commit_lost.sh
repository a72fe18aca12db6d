#!/usr/bin/env bash
# logshared on PostgreSQL through a proxy (pg_cut_proxy.py) that cuts the
# database connection at COMMIT. Once COMMIT is sent the upload's blobs
# must stay: when the answer is lost the outcome is unknown (503 saying
# the ticket may exist; a retry with the same Idempotency-Key gets it,
# its files downloadable); when the answer came and only the connection
# broke afterwards, the ticket was created (201).
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
trap 'kill ${PROXY:-} 2>/dev/null || true; stop_postgres; _cleanup' EXIT
start_postgres
python3 "$LOGSHARE_SOURCE_DIR/tests/server/pg_cut_proxy.py" "$TEST_TMP/proxy.port" \
  "$PG/.s.PGSQL.$PG_PORT" "$TEST_TMP/arm" 2>"$TEST_TMP/proxy.log" &
PROXY=$!
for i in $(seq 1 100); do [ -s "$TEST_TMP/proxy.port" ] && break; sleep 0.05; done
[ -s "$TEST_TMP/proxy.port" ] || fail "the proxy did not start: $(cat "$TEST_TMP/proxy.log")"
URL="host=127.0.0.1 port=$(cat "$TEST_TMP/proxy.port") dbname=logshare user=postgres sslmode=disable gssencmode=disable"
sql() { psql -h "$PG" -p "$PG_PORT" -U postgres -d logshare -Atc "$1"; }
# arm MODE: the next COMMIT through the proxy is cut (pg_cut_proxy.py)
arm() { echo "$1" >"$TEST_TMP/arm"; }
fired() { [ ! -e "$TEST_TMP/arm" ] || fail "$1: the proxy saw no COMMIT"; }

DATA=$TEST_TMP/data
start_server "$DATA" --database-url "$URL"
TOK=$(token alice); SUP=$(token sam support)
head -c 200000 /dev/urandom >"$TEST_TMP/f1"; head -c 3000 /dev/urandom >"$TEST_TMP/f2"
# download_ok TICKET_ID WHAT: every attachment of the ticket in BODY is
# there and has the bytes of f1 or f2 (by size)
download_ok() {
  local n i aid size
  n=$(jget attachments.length)
  [ "$n" -gt 0 ] || fail "$2: no attachments"
  for i in $(seq 0 $((n - 1))); do
    aid=$(jget "attachments.$i.id"); size=$(jget "attachments.$i.size")
    local st
    st=$(curl -sS -o "$TEST_TMP/dl" -w '%{http_code}' -H "Authorization: Bearer $SUP" \
         "$SERVER_URL/api/v1/tickets/$1/attachments/$aid")
    assert_eq 200 "$st" "$2: download of attachment $i"
    local want=$TEST_TMP/f1; [ "$size" = 3000 ] && want=$TEST_TMP/f2
    cmp -s "$want" "$TEST_TMP/dl" || fail "$2: attachment $i has other bytes"
  done
}

# 1. The COMMIT's answer is lost: 503, the blobs stay, the retry gets the ticket.
arm drop
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -H 'Idempotency-Key: k-drop' \
  -F description=drop -F "a=@$TEST_TMP/f1" -F "b=@$TEST_TMP/f2"
fired "create, answer lost"
expect 503 unavailable "create whose COMMIT answer was lost"
assert_eq 1 "$(sql 'SELECT count(*) FROM tickets')" "the ticket was committed"
assert_eq 2 "$(blob_files)" "both blobs kept after an unknown outcome"
assert_contains "$BODY" "may have been created" "503 says the outcome is unknown"
assert_contains "$BODY" "the commit's outcome is unknown" "503 names what is unknown, not a cause SQLite cannot have"
assert_contains "$BODY" "same Idempotency-Key" "503 says how to retry"
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -H 'Idempotency-Key: k-drop' \
  -F description=drop -F "a=@$TEST_TMP/f1" -F "b=@$TEST_TMP/f2"
expect 201 "" "retry with the same key"
T1=$(jget id)
assert_eq "$(sql 'SELECT id FROM tickets')" "$T1" "the retry answers with the committed ticket"
download_ok "$T1" "after a lost COMMIT answer"
assert_eq 2 "$(blob_files)" "the retry's own blobs were removed, the first ones kept"

# 2. The answer came, then the connection broke: the ticket was created.
arm after
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -H 'Idempotency-Key: k-after' \
  -F description=after -F "a=@$TEST_TMP/f1"
fired "create, connection lost after COMMIT"
expect 201 "" "create whose connection broke after COMMIT"
T2=$(jget id)
assert_eq after "$(jget description)" "answered from what was inserted"
req GET "/api/v1/tickets/$T2" -H "Authorization: Bearer $SUP"; expect 200 "" "the ticket"
download_ok "$T2" "after a connection lost behind COMMIT"

# 3. Adding attachments, answer lost: 503, the attachment was added and is there.
arm drop
req POST "/api/v1/tickets/$T2/attachments" -H "Authorization: Bearer $TOK" -F "c=@$TEST_TMP/f2"
fired "add attachments, answer lost"
expect 503 unavailable "add attachments whose COMMIT answer was lost"
assert_contains "$BODY" "may have been added" "503 says the outcome is unknown"
req GET "/api/v1/tickets/$T2" -H "Authorization: Bearer $SUP"; expect 200 "" "the ticket"
assert_eq 2 "$(jget attachments.length)" "the attachment was committed"
download_ok "$T2" "attachments after a lost COMMIT answer"

# 4. Same, with the answer received: 201 and the ticket with both files.
arm after
req POST "/api/v1/tickets/$T2/attachments" -H "Authorization: Bearer $TOK" -F "d=@$TEST_TMP/f1"
fired "add attachments, connection lost after COMMIT"
expect 201 "" "add attachments whose connection broke after COMMIT"
assert_eq 3 "$(jget attachments.length)" "the answer holds every attachment"
download_ok "$T2" "attachments after a connection lost behind COMMIT"

# 5. A survey with report_issue: its ticket's COMMIT answer is lost: 503,
# its file kept, and the retry with the same key finds the ticket.
BEFORE=$(blob_files)
arm drop
req POST /api/v1/surveys -H "Authorization: Bearer $TOK" -H 'Idempotency-Key: s-drop' \
  -F 'survey={"call_id":"c1","overall":{"score":1},"report_issue":true}' -F "f=@$TEST_TMP/f2"
fired "survey, answer lost"
expect 503 unavailable "survey whose ticket's COMMIT answer was lost"
assert_contains "$BODY" "may have been created" "503 says the outcome is unknown"
assert_eq $((BEFORE + 1)) "$(blob_files)" "the survey's file kept after an unknown outcome"

# 6. A ticket answering a log request, its COMMIT answer lost: the retry
# (a replay) marks the request fulfilled, which the lost attempt never did.
req POST /api/v1/log-requests -H "Authorization: Bearer $SUP" -H 'Content-Type: application/json' \
  --data-binary '{"user_id":"alice","reason":"logs please","expires_in":600}'
expect 201 "" "a log request"
LR=$(jget id)
arm drop
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -H 'Idempotency-Key: lr-drop' \
  -F description=answer -F source=push -F "log_request_id=$LR" -F "a=@$TEST_TMP/f2"
fired "ticket for a log request, answer lost"
expect 503 unavailable "ticket for a log request whose COMMIT answer was lost"
req GET "/api/v1/log-requests/$LR" -H "Authorization: Bearer $SUP"
assert_eq pending "$(jget status)" "not fulfilled yet: the attempt never heard of its ticket"
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -H 'Idempotency-Key: lr-drop' \
  -F description=answer -F source=push -F "log_request_id=$LR" -F "a=@$TEST_TMP/f2"
expect 201 "" "the retry"
TL=$(jget id)
req GET "/api/v1/log-requests/$LR" -H "Authorization: Bearer $SUP"
assert_eq fulfilled "$(jget status)" "the replay marked the log request fulfilled"
assert_eq "$TL" "$(jget fulfilled_ticket_id)" "linked to the committed ticket"

# The connections were re-established: a plain request works.
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -F description=later -F "a=@$TEST_TMP/f2"
expect 201 "" "create after the cuts"
stop_ok
pass "PostgreSQL connection lost at COMMIT keeps the upload's blobs"
