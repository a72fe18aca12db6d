#!/usr/bin/env bash
# Uploads under stress, with a real server and libcurl (upload_client):
#  - a 1 GiB file, generated while it is sent (never on disk on the client
#    side), stored with the right SHA-256 while the server's peak RSS
#    (VmHWM) stays under 64 MiB;
#  - 100 concurrent uploads, every one stored with the right SHA-256;
#  - clients that disconnect mid-upload leave no blob and no ticket;
#  - SIGKILL during uploads, then a restart: no half ticket, no orphan
#    blob once the startup sweep ran, and the server works;
#  - SIGTERM with an upload in flight: it completes (201), exit 0.
# Under ASan (LOGSHARE_SANITIZED=1) the big file is 256 MiB and the RSS
# bound is not checked (ASan's shadow memory and quarantine are not the
# server's); the behaviour tested is the same.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
UC=$LOGSHARE_BUILD_DIR/tests/server/upload_client
SAN=${LOGSHARE_SANITIZED:-0}
ARGS=(--address-rate 0 --user-rate 0 --max-connections-per-address 256)
start_server "$DATA" "${ARGS[@]}"
TOK=$(token alice)
URL=$SERVER_URL/api/v1/tickets

# --- 1 GiB, bounded memory ------------------------------------------------------
big=$((1024 * 1024 * 1024)); [ "$SAN" = 1 ] && big=$((256 * 1024 * 1024))
"$UC" --url "$URL" --token "$TOK" --size "$big" >"$TEST_TMP/big.out" || fail "big upload failed"
hwm_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status")
echo "server VmHWM after a $((big >> 20)) MiB upload: $((hwm_kb / 1024)) MiB"
if [ "$SAN" != 1 ]; then
  [ "$hwm_kb" -lt $((64 * 1024)) ] || fail "server peak RSS $((hwm_kb / 1024)) MiB >= 64 MiB"
fi
t=$(cat "$TEST_TMP/big.out")
req GET "/api/v1/tickets/$t" -H "Authorization: Bearer $TOK"; expect 200 "" "big ticket readable"
assert_eq "$big" "$(jget attachments.0.size)" "big file size"
pass "big upload ($((big >> 20)) MiB) with bounded memory"

# --- 100 concurrent uploads --------------------------------------------------------
before=$(ticket_count)
"$UC" --url "$URL" --token "$TOK" --size 200000 --files 2 --requests 100 --parallel 100 >"$TEST_TMP/ids" \
  || fail "a concurrent upload failed or came back with a wrong SHA-256"
assert_eq 100 "$(sort -u "$TEST_TMP/ids" | wc -l)" "100 distinct tickets"
assert_eq $((before + 100)) "$(ticket_count)" "100 tickets stored"
# the stored bytes themselves hash to what the database says
bad=$(sqlite3 "$DATA/logshare.db" "SELECT blob_key||' '||sha256 FROM attachments" | while read -r key sha; do
  [ -f "$DATA/blobs/$key" ] || { echo "missing $key"; continue; }
  [ "$(sha256sum "$DATA/blobs/$key" | cut -c1-64)" = "$sha" ] || echo "bad $key"; done | head -3)
[ -z "$bad" ] || fail "stored blobs do not match their SHA-256: $bad"
pass "100 concurrent uploads"

# --- one Idempotency-Key, five retries racing each other: one ticket ------------------
# (the client sends different bytes per request, so only ids are compared)
tickets=$(ticket_count); blobs=$(blob_files)
"$UC" --url "$URL" --token "$TOK" --size 300000 --requests 5 --parallel 5 --idempotency-key race-1 --no-verify >"$TEST_TMP/race" \
  || fail "racing idempotent uploads failed"
assert_eq 1 "$(sort -u "$TEST_TMP/race" | wc -l)" "every racing retry answered the same ticket"
assert_eq $((tickets + 1)) "$(ticket_count)" "one ticket from five racing retries"
assert_eq $((blobs + 1)) "$(blob_files)" "the losers' blobs removed"
pass "racing idempotent retries"

# --- disconnect mid-upload -----------------------------------------------------------
tickets=$(ticket_count); blobs=$(blob_files)
"$UC" --url "$URL" --token "$TOK" --size 5000000 --files 3 --requests 8 --parallel 8 --abort-after 7000000 \
  || fail "the client could not abort its uploads"
sleep 0.5
assert_eq "$tickets" "$(ticket_count)" "no ticket from aborted uploads"
assert_eq "$blobs" "$(blob_files)" "no blob from aborted uploads"
assert_eq 0 "$(blob_empty_dirs)" "aborted uploads left no empty directory under blobs/"
[ -z "$(find "$DATA/blobs" -name '.tmp-*' | head -1)" ] || fail "aborted uploads left temporary files"
grep -q 'outcome=client_abort\|outcome=error' "$TEST_TMP/server.log" || fail "aborts not logged"
req GET /healthz; expect 200 "" "healthy after aborts"
pass "client disconnects leave nothing"

# --- a refused upload (a file but no description) leaves nothing either ---------------
tickets=$(ticket_count); blobs=$(blob_files)
head -c 200000 /dev/urandom >"$TEST_TMP/f.bin"
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -F "platform=linux" -F "f=@$TEST_TMP/f.bin"
expect 400 invalid_argument "upload without a description"
assert_eq "$tickets" "$(ticket_count)" "no ticket from the refused upload"
assert_eq "$blobs" "$(blob_files)" "no blob from the refused upload"
assert_eq 0 "$(blob_empty_dirs)" "the refused upload left no empty directory under blobs/"
[ -z "$(find "$DATA/blobs" -name '.tmp-*' | head -1)" ] || fail "the refused upload left a temporary file"
pass "a refused upload leaves nothing"

# --- SIGTERM with an upload in flight: it finishes ------------------------------------
"$UC" --url "$URL" --token "$TOK" --size 60000000 >"$TEST_TMP/late.out" 2>&1 &
cpid=$!
for i in $(seq 1 200); do   # in flight once its temporary blob exists
  [ -n "$(find "$DATA/blobs" -name '.tmp-*' | head -1)" ] && break; sleep 0.02; done
stop_ok
wait "$cpid" || fail "upload in flight during SIGTERM failed: $(cat "$TEST_TMP/late.out")"
assert_eq 0 "$SERVER_EXIT" "exit 0 after SIGTERM"
pass "graceful shutdown lets the upload finish"

# --- SIGKILL during uploads, restart ------------------------------------------------------
start_server "$DATA" "${ARGS[@]}"
tickets=$(ticket_count); blobs=$(blob_files)
"$UC" --url "$SERVER_URL/api/v1/tickets" --token "$TOK" --size 20000000 --files 2 --requests 6 --parallel 6 \
  >/dev/null 2>&1 &
cpid=$!
for i in $(seq 1 100); do
  [ -n "$(find "$DATA/blobs" -name '.tmp-*' | head -1)" ] && break; sleep 0.02; done
stop_server KILL
wait "$cpid" || true
# A kill between an upload's blob commits and its ticket commit leaves
# committed blobs no ticket names; the startup sweep reclaims them once
# they are older than orphan_grace_s. Age them past a 1 s grace first.
sleep 1.2
sweeps=$(grep -c 'orphan sweep: removed' "$TEST_TMP/server.log" || true)
start_server "$DATA" "${ARGS[@]}" --orphan-grace-s 1
req GET /readyz; expect 200 "" "ready after SIGKILL"
for i in $(seq 1 200); do
  [ "$(grep -c 'orphan sweep: removed' "$TEST_TMP/server.log" || true)" -gt "$sweeps" ] && break; sleep 0.05; done
[ "$(grep -c 'orphan sweep: removed' "$TEST_TMP/server.log" || true)" -gt "$sweeps" ] ||
  fail "the orphan sweep did not finish after the restart"
n=$(ticket_count)
[ $((n - tickets)) -ge 0 ] || fail "tickets vanished"
# every ticket stored is whole: each attachment's blob exists with its hash
bad=$(sqlite3 "$DATA/logshare.db" "SELECT blob_key||' '||sha256 FROM attachments" | while read -r key sha; do
  [ -f "$DATA/blobs/$key" ] || { echo "missing $key"; continue; }
  [ "$(sha256sum "$DATA/blobs/$key" | cut -c1-64)" = "$sha" ] || echo "bad $key"; done | head -3)
[ -z "$bad" ] || fail "half ticket after SIGKILL: $bad"
# and every committed blob belongs to a ticket
orphans=$(find "$DATA/blobs" -type f ! -name '.tmp-*' -printf '%P\n' | while read -r key; do
  [ "$(sqlite3 "$DATA/logshare.db" "SELECT count(*) FROM attachments WHERE blob_key='$key'")" = 1 ] || echo "$key"; done | head -3)
[ -z "$orphans" ] || fail "orphan blobs after SIGKILL: $orphans"
req GET "/api/v1/tickets?limit=500" -H "Authorization: Bearer $(token sam support)"; expect 200 "" "list after restart"
"$UC" --url "$SERVER_URL/api/v1/tickets" --token "$TOK" --size 1000 >/dev/null || fail "upload after restart"
stop_ok
pass "SIGKILL mid-upload: no half ticket, no orphan blob after the restart's sweep"
