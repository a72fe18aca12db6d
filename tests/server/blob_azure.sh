#!/usr/bin/env bash
# [blob] backend = azure against a real Azurite (Microsoft's emulator,
# tests/azurite, installed by scripts/bootstrap): a ticket with two files,
# one larger than a block (4 MiB), goes up and comes back whole and by
# ranges with the same SHA-256; its blobs are in the container and not in
# the data dir; the orphan sweep removes an unreferenced blob there and
# keeps the referenced ones; while Azurite is down /readyz is 503 and an
# upload fails with 503 `unavailable` and leaves no ticket, and both
# recover when it is back; the log viewer reads a log stored there.
# Missing or bad Azure settings stop the server with exit 2 naming the key.
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
AZURITE=$LOGSHARE_SOURCE_DIR/tests/azurite/node_modules/.bin/azurite-blob
TOOL=$LOGSHARE_BUILD_DIR/tests/server/azblob_tool
# In CI, bootstrap installs Azurite: missing, it is a failure, not a pass.
if [ ! -x "$AZURITE" ]; then
  [ -z "${CI:-}" ] || fail "Azurite is not installed (scripts/bootstrap --test installs it)"
  echo "skip - Azurite not installed (run scripts/bootstrap --test)"; exit 0
fi
AZ_PID=
stop_azurite() {
  [ -n "$AZ_PID" ] || return 0
  kill -TERM "$AZ_PID" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do kill -0 "$AZ_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$AZ_PID" 2>/dev/null || true
  wait "$AZ_PID" 2>/dev/null || true
  AZ_PID=
}
trap 'stop_azurite; _cleanup' EXIT

# start_azurite [PORT]: Azurite's blob service on 127.0.0.1 (a free port
# unless given), its data in $TEST_TMP/azurite (kept across restarts).
# Sets AZ_PID, AZ_PORT and AZ_EP once it listens.
start_azurite() {
  local log=$TEST_TMP/azurite.log i
  : >"$log"
  "$AZURITE" --blobHost 127.0.0.1 --blobPort "${1:-0}" --location "$TEST_TMP/azurite" \
    --silent --loose >"$log" 2>&1 &
  AZ_PID=$!
  for i in $(seq 1 600); do
    grep -q 'listens on http://127.0.0.1:' "$log" && break
    kill -0 "$AZ_PID" 2>/dev/null || fail "azurite exited: $(cat "$log")"
    sleep 0.1
  done
  AZ_PORT=$(sed -nE 's/.*listens on http:\/\/127\.0\.0\.1:([0-9]+).*/\1/p' "$log" | head -1)
  [ -n "$AZ_PORT" ] || fail "azurite did not start within 60 s: $(cat "$log")"
  AZ_EP=http://127.0.0.1:$AZ_PORT/devstoreaccount1
}
# wait_status PATH STATUS WHAT: polls until PATH answers STATUS (30 s at most).
wait_status() {
  local i
  for i in $(seq 1 300); do
    req GET "$1"
    [ "$STATUS" = "$2" ] && return 0
    sleep 0.1
  done
  fail "$3: $1 still answers $STATUS, expected $2; body: ${BODY:0:300}"
}
# The container's attachment blobs (its owner marker, database-id, aside).
container_keys() { "$TOOL" "$AZ_EP" logshare list | cut -d' ' -f1 | grep -v '^database-id$' | sort; }

start_azurite
printf 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==\n' \
  >"$TEST_TMP/az.key"
AZ_ARGS=(--backend azure --azure-account devstoreaccount1 --azure-key-file "$TEST_TMP/az.key"
  --azure-container logshare)

# --- bad settings: exit 2, naming the key -------------------------------------------
assert_exit 2 "no account" -- timeout 30 "$LOGSHARED_BIN" --data-dir "$DATA" --listen 127.0.0.1:0 \
  --backend azure --azure-key-file "$TEST_TMP/az.key" --azure-container logshare
assert_contains "$(cat "$TEST_TMP/err")" "azure_account" "no account: message"
assert_exit 2 "no key file" -- timeout 30 "$LOGSHARED_BIN" --data-dir "$DATA" --listen 127.0.0.1:0 \
  --backend azure --azure-account devstoreaccount1 --azure-container logshare
assert_contains "$(cat "$TEST_TMP/err")" "azure_key_file" "no key file: message"
printf 'not a key!\n' >"$TEST_TMP/bad.key"
assert_exit 2 "bad key file" -- timeout 30 "$LOGSHARED_BIN" --data-dir "$DATA" --listen 127.0.0.1:0 \
  "${AZ_ARGS[@]}" --azure-key-file "$TEST_TMP/bad.key" --azure-endpoint "$AZ_EP"
assert_contains "$(cat "$TEST_TMP/err")" "azure_key_file" "bad key file: message"
assert_exit 2 "bad container" -- timeout 30 "$LOGSHARED_BIN" --data-dir "$DATA" --listen 127.0.0.1:0 \
  "${AZ_ARGS[@]}" --azure-container Bad_Name --azure-endpoint "$AZ_EP"
assert_contains "$(cat "$TEST_TMP/err")" "azure_container" "bad container: message"
assert_exit 2 "bad backend" -- timeout 30 "$LOGSHARED_BIN" --data-dir "$DATA" --listen 127.0.0.1:0 \
  --backend s4
assert_contains "$(cat "$TEST_TMP/err")" "backend" "bad backend: message"
assert_exit 2 "bad endpoint" -- env LOGSHARE_BLOB_AZURE_ENDPOINT=ftp://x timeout 30 \
  "$LOGSHARED_BIN" --data-dir "$DATA" --listen 127.0.0.1:0 "${AZ_ARGS[@]}"
assert_contains "$(cat "$TEST_TMP/err")" "LOGSHARE_BLOB_AZURE_ENDPOINT" "bad endpoint: message"
pass "missing or bad Azure settings stop the server with exit 2, naming the key"

# --- a ticket with two files, one larger than a block ------------------------------------
start_server "$DATA" "${AZ_ARGS[@]}" --azure-endpoint "$AZ_EP"
req GET /readyz; expect 200 "" "ready"
TOK=$(token alice)
head -c 30000 /dev/urandom >"$TEST_TMP/small"
head -c $((5 * 1024 * 1024 + 123)) /dev/urandom >"$TEST_TMP/big"
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -F description=azure \
  -F "small=@$TEST_TMP/small" -F "big=@$TEST_TMP/big"
expect 201 "" "upload of two files"
T=$(jget id)
ticket_count_before=$(ticket_count)
for i in 0 1; do
  AT=$(jget "attachments.$i.id"); name=$(jget "attachments.$i.filename")
  [ "$name" = small ] || [ "$name" = big ] || name=$(jget "attachments.$i.name")
  curl -sS -f -o "$TEST_TMP/dl" -H "Authorization: Bearer $TOK" \
    "$SERVER_URL/api/v1/tickets/$T/attachments/$AT" || fail "download of attachment $i"
  if cmp -s "$TEST_TMP/dl" "$TEST_TMP/small"; then SMALL_AT=$AT; else
    assert_eq "$(sha256sum <"$TEST_TMP/big" | cut -c1-64)" "$(sha256sum <"$TEST_TMP/dl" | cut -c1-64)" \
      "attachment $i's bytes"
    BIG_AT=$AT
  fi
done
[ -n "${SMALL_AT:-}" ] && [ -n "${BIG_AT:-}" ] || fail "the two attachments did not both come back"
# Ranges across the first block boundary (4 MiB), and the tail.
for r in "4194000-4194999" "0-0" "5242000-"; do
  curl -sS -o "$TEST_TMP/part" -w '%{http_code}' -r "$r" -H "Authorization: Bearer $TOK" \
    "$SERVER_URL/api/v1/tickets/$T/attachments/$BIG_AT" >"$TEST_TMP/code"
  assert_eq 206 "$(cat "$TEST_TMP/code")" "range $r status"
  from=${r%-*}; to=${r#*-}; [ -n "$to" ] || to=$((5 * 1024 * 1024 + 122))
  dd if="$TEST_TMP/big" of="$TEST_TMP/want" iflag=skip_bytes,count_bytes skip="$from" \
    count=$((to - from + 1)) status=none
  cmp -s "$TEST_TMP/want" "$TEST_TMP/part" || fail "range $r: bytes differ"
done
curl -sS -o /dev/null -w '%{http_code}' -r "99999999-" -H "Authorization: Bearer $TOK" \
  "$SERVER_URL/api/v1/tickets/$T/attachments/$BIG_AT" >"$TEST_TMP/code"
assert_eq 416 "$(cat "$TEST_TMP/code")" "range past the end"
# The blobs are in the container, not in the data dir.
SMALL_KEY=$(sqlite3 "$DATA/logshare.db" "SELECT blob_key FROM attachments WHERE id='$SMALL_AT'")
BIG_KEY=$(sqlite3 "$DATA/logshare.db" "SELECT blob_key FROM attachments WHERE id='$BIG_AT'")
assert_eq "$(printf '%s\n' "$SMALL_KEY" "$BIG_KEY" | sort)" "$(container_keys)" "the container's blobs"
[ "$(find "$DATA" -path "$DATA/blobs/*" -type f | wc -l)" = 0 ] || fail "blob files in the data dir"
pass "two files (one of several blocks) stored in Azure and read back whole and by ranges"

# --- the log viewer reads a log from the container (no local file: a temporary copy) --------
"$LOGSHARE_BIN" keygen --out "$TEST_TMP/support" >/dev/null
seq 1 500 | sed 's/^/line /' |
  "$LOGSHARE_BIN" log --dir "$TEST_TMP/logs" --stream app --public-key-file "$TEST_TMP/support.pub" ||
  fail "logshare log"
stop_ok
start_server "$DATA" "${AZ_ARGS[@]}" --azure-endpoint "$AZ_EP" \
  --support-secret-key-file "$TEST_TMP/support.key"
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -F description=log \
  -F "log=@$(ls "$TEST_TMP"/logs/*.lslog | head -1)"
expect 201 "" "upload of a log"
LT=$(jget id); LAT=$(jget attachments.0.id)
req GET "/api/v1/tickets/$LT/attachments/$LAT/log?offset=10&limit=5" \
  -H "Authorization: Bearer $(token lead support)"
expect 200 "" "log viewer on an Azure blob"
assert_eq 5 "$(jget records.length)" "records on the page"
assert_contains "$(jget records.0.message)" "line 11" "the 11th record"
assert_eq 0 "$(find "$DATA" -name '.dashboard-log-*' | wc -l)" "no temporary copy left"
pass "the dashboard's log viewer reads a log stored in Azure"

# A server killed while it copies a log for the viewer leaves no copy:
# the copy's name is unlinked before its first byte. Azurite, stopped,
# holds the server inside the copy.
SUPPORT=$(token lead support)
kill -STOP "$AZ_PID"
curl -sS -m 60 -o /dev/null -H "Authorization: Bearer $SUPPORT" \
  "$SERVER_URL/api/v1/tickets/$LT/attachments/$LAT/log?limit=5" 2>/dev/null &
VIEW=$!
for i in $(seq 1 200); do
  ls -l "/proc/$SERVER_PID/fd" 2>/dev/null | grep -q 'dashboard-log' && break
  sleep 0.05
done
ls -l "/proc/$SERVER_PID/fd" | grep -q 'dashboard-log-.* (deleted)' ||
  { kill -CONT "$AZ_PID"; fail "no unlinked copy open in the server: $(ls -l /proc/$SERVER_PID/fd | grep dashboard)"; }
assert_eq 0 "$(find "$DATA" -name '.dashboard-log-*' | wc -l)" "a named copy while it is being made"
kill -KILL "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
kill -CONT "$AZ_PID"
wait "$VIEW" 2>/dev/null || true
assert_eq 0 "$(find "$DATA" -name '.dashboard-log-*' | wc -l)" "copies left by a kill -9 mid-copy"
start_server "$DATA" "${AZ_ARGS[@]}" --azure-endpoint "$AZ_EP" \
  --support-secret-key-file "$TEST_TMP/support.key"
ticket_count_before=$(ticket_count)
pass "a server killed mid-copy leaves no copy of the log behind"

# --- the orphan sweep reaches the container -----------------------------------------------
ORPHAN=a/20200102/at_016f6b8b4c00aaaaaaaaaaaaaaaaaaaaaaaa
printf 'orphan' | "$TOOL" "$AZ_EP" logshare put "$ORPHAN" || fail "planting an orphan"
stop_ok
# A blob's age in Azure is its Last-Modified, which cannot be set back:
# wait out a grace period of one second instead.
sleep 2
start_server "$DATA" "${AZ_ARGS[@]}" --azure-endpoint "$AZ_EP" --orphan-grace-s 1
for i in $(seq 1 300); do
  grep -q 'orphan sweep: removed' "$TEST_TMP/server.log" && break
  sleep 0.1
done
assert_contains "$(grep 'orphan sweep: removed' "$TEST_TMP/server.log" | tail -1)" \
  "removed 1 orphaned blobs" "sweep line"
assert_eq "$(sqlite3 "$DATA/logshare.db" 'SELECT blob_key FROM attachments' | sort)" \
  "$(container_keys)" "the container after the sweep: exactly the referenced blobs"
pass "the orphan sweep removed the unreferenced blob from the container and kept the others"

# --- Azurite down: not ready, uploads refused cleanly; back: both recover ----------------------
stop_azurite
wait_status /readyz 503 "Azurite down"
assert_contains "$BODY" "blob store" "readyz names the blob store"
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -F description=down \
  -F "small=@$TEST_TMP/small" -F "big=@$TEST_TMP/big"
expect 503 unavailable "upload while Azurite is down"
assert_eq "$ticket_count_before" "$(ticket_count)" "tickets after the refused upload"
start_azurite "$AZ_PORT"
wait_status /readyz 200 "Azurite back"
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -F description=back \
  -F "small=@$TEST_TMP/small"
expect 201 "" "upload after Azurite is back"
assert_eq "$((ticket_count_before + 1))" "$(ticket_count)" "tickets after recovery"
assert_eq "$(sqlite3 "$DATA/logshare.db" 'SELECT blob_key FROM attachments' | sort)" \
  "$(container_keys)" "blobs after recovery: the refused upload left none"
stop_ok
pass "Azurite down: /readyz 503, upload 503 unavailable with no ticket; both recover"

# --- the container is bound to its ticket database ---------------------------------------
# Another deployment (its own data dir and database) given the same
# container would sweep this one's blobs as orphans: it must not start.
"$TOOL" "$AZ_EP" logshare list | grep -q '^database-id ' || fail "no database-id blob in the container"
assert_eq "$(cat "$DATA/database-id")" "$("$TOOL" "$AZ_EP" logshare get database-id)" \
  "the container's database-id names the data dir's database"
OTHER=$TEST_TMP/other
mkdir -p "$OTHER"
# A database with a ticket of its own (an empty one would only stay away).
start_server "$OTHER"
BOB=$("$LOGSHARED_BIN" token --data-dir "$OTHER" --user bob)
req POST /api/v1/tickets -H "Authorization: Bearer $BOB" -F description=elsewhere
expect 201 "" "a ticket in the other deployment"
stop_ok
keys_before=$(container_keys)
assert_exit 2 "another deployment on the same container" -- timeout 30 "$LOGSHARED_BIN" \
  --data-dir "$OTHER" --listen 127.0.0.1:0 "${AZ_ARGS[@]}" --azure-endpoint "$AZ_EP" --orphan-grace-s 1
assert_contains "$(cat "$TEST_TMP/err")" "belongs to another ticket database" "refusal message"
assert_eq "$keys_before" "$(container_keys)" "the container after the refused start"
pass "a container bound to one ticket database refuses a server on another"
