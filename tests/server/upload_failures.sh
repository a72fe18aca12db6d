#!/usr/bin/env bash
# Every way an upload can fail, at every stage, leaves nothing behind
# and tells the truth (docs/api.md "Errors", "Limits"): token refused;
# Content-Length over the limit (from the headers); a file, the files or
# the fields over their limits (mid-body); a chunked body crossing
# max_body_bytes (cut); wrong Content-Type; a bad field found after a
# file part or at the end; the blob store's disk full on the first file
# or between files; SQLite locked past its busy timeout; a client that
# stalls mid-file until the idle timeout. After each: the documented
# status and JSON error, no ticket or attachment row, no blob, no
# temporary file in blobs/.incoming; after many repetitions no leaked
# descriptor; /metrics and the request log lines count every request
# under its status; the server keeps serving. Also: an Idempotency-Key
# retry while the first is still uploading, downloads dropped mid-body,
# and a day directory of the store deleted under the running server
# (which made every later upload of that day fail with 503 "blob store:
# not found" until a restart; now the directory is made again).
# The disk-full cases need a small file system: a tmpfs mount (root
# only; skipped where mounting is not allowed).
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
MNT=$TEST_TMP/small
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=16m tmpfs "$MNT" 2>/dev/null; then
  echo "SKIP: cannot mount a tmpfs here (not root, or not allowed)"
  exit 77
fi
LOCKER=
cleanup_mount() {
  [ -z "$LOCKER" ] || { kill "$LOCKER" 2>/dev/null || true; wait "$LOCKER" 2>/dev/null || true; }
  stop_server 2>/dev/null || true
  umount "$MNT" 2>/dev/null || true
  _cleanup
}
trap cleanup_mount EXIT
DATA=$MNT/data
PY=$LOGSHARE_SOURCE_DIR/tests/server/upload_failures.py
LOG=$TEST_TMP/server.log

start_server "$DATA" --max-files 3 --max-fields 5 --max-file-bytes 200000 --max-body-bytes 2000000 \
  --user-rate 0 --address-rate 0 --orphan-grace-s 0 --connection-timeout-s 3
TOK=$(token alice)
A=(-H "Authorization: Bearer $TOK")
URL=/api/v1/tickets
F=$TEST_TMP/files; mkdir -p "$F"
head -c 50000 /dev/urandom >"$F/50k"
head -c 150000 /dev/urandom >"$F/150k"
head -c 300000 /dev/urandom >"$F/300k"
head -c 2500000 /dev/urandom >"$F/2500k"

declare -A SENT # status -> requests sent to tickets_create
sent() { SENT[$1]=$(( ${SENT[$1]:-0} + 1 )); }
fds() { ls "/proc/$SERVER_PID/fd" | wc -l; }
incoming() { find "$DATA/blobs/.incoming" -mindepth 1 | wc -l; }
attachment_count() { sqlite3 "$DATA/logshare.db" 'SELECT count(*) FROM attachments'; }
# clean WHAT TICKETS: nothing was left behind by a failed request.
clean() {
  local i
  for i in $(seq 1 100); do [ "$(incoming)" = 0 ] && break; sleep 0.02; done
  assert_eq 0 "$(incoming)" "$1: temporary files in blobs/.incoming"
  assert_eq "$2" "$(ticket_count)" "$1: tickets"
  assert_eq "$(attachment_count)" "$(blob_files)" "$1: blobs on disk (and empty directories) vs attachment rows"
}
# fds_back WHAT: the descriptor count returns to the baseline (give or
# take the store's cached day directories: a run may cross midnight).
fds_back() {
  local i
  for i in $(seq 1 100); do [ "$(fds)" -le $((BASE_FDS + 2)) ] && return 0; sleep 0.05; done
  fail "$1: $(fds) descriptors open, $BASE_FDS before: $(ls -l "/proc/$SERVER_PID/fd" | tail -n +2)"
}
up() { req POST $URL "$@"; sent "$STATUS"; }

# --- warm-up: one ticket and one download, then the descriptor baseline -------------
up "${A[@]}" -F description=ok -F "f=@$F/150k"
expect 201 "" "a first upload"
T=$(jget id); AT=$(jget attachments.0.id)
req GET "$URL/$T/attachments/$AT" "${A[@]}"; expect 200 "" "a first download"
sleep 0.3
BASE_FDS=$(fds)
TICKETS=1

# --- refusals from the headers and from the body, repeated -------------------------
refusals() {
  up -F description=x -F "f=@$F/50k"
  expect 401 unauthorized "no token"
  up -H "Authorization: Bearer x.y.z" -F description=x -F "f=@$F/50k"
  expect 401 unauthorized "a malformed token"
  up "${A[@]}" -F description=x -F "f=@$F/2500k"
  expect 413 too_large "Content-Length over max_body_bytes"
  up "${A[@]}" -F description=x -F "f=@$F/50k" -F "g=@$F/300k"
  expect 413 too_large "the second file over max_file_bytes"
  up "${A[@]}" -H 'Transfer-Encoding: chunked' -F description=x -F "g=@$F/300k"
  expect 413 too_large "a chunked file over max_file_bytes"
  up "${A[@]}" -F description=x -F "f=@$F/50k" -F "g=@$F/50k" -F "h=@$F/50k" -F "i=@$F/50k"
  expect 413 too_large "a fourth file (max_files 3)"
  up "${A[@]}" -F description=x -F "f=@$F/50k" -F call_id=1 -F call_id=2 -F call_id=3 -F call_id=4 -F call_id=5
  expect 413 too_large "a sixth field after a file (max_fields 5)"
  up "${A[@]}" -H 'Content-Type: text/plain' --data-binary "@$F/50k"
  expect 415 unsupported "not multipart"
  up "${A[@]}" -F description=x -F "f=@$F/150k" -F "g=@$F/50k" -F bogus=1
  expect 400 invalid_argument "an unknown field after two files"
  up "${A[@]}" -F description=x -F "f=@$F/150k" -F source=elsewhere
  expect 400 invalid_argument "a bad source, found at the end"
  up "${A[@]}" -F "f=@$F/150k"
  expect 400 invalid_argument "no description"
  up "${A[@]}" -H 'Transfer-Encoding: chunked' -F description=x \
    -F "f=@$F/150k" -F "g=@$F/150k" -F "h=@$F/150k" -F "i=@$F/2500k"
  expect 000 "" "a chunked body crossing max_body_bytes is cut"
}
refusals
clean "one round of refusals" $TICKETS
for i in $(seq 1 5); do refusals; done
clean "six rounds of refusals" $TICKETS
fds_back "six rounds of refusals"
req GET /healthz; expect 200 "" "serving after the refusals"
pass "refusals at every stage: the documented answers, nothing left, no descriptor leaked"

# --- the blob store's disk fills up ------------------------------------------------
fill() { # leave about $1 bytes free
  rm -f "$MNT/filler"
  local avail; avail=$(df -B1 --output=avail "$MNT" | tail -1)
  head -c $((avail - $1)) /dev/zero >"$MNT/filler"
}
fill $((100 * 1024))
up "${A[@]}" -F description=x -F "f=@$F/150k"
expect 503 unavailable "the first file does not fit"
assert_contains "$BODY" "blob store: no space left" "names the full disk"
clean "disk full on the first file" $TICKETS
fill $((200 * 1024))
up "${A[@]}" -F description=x -F "f=@$F/150k" -F "g=@$F/150k"
expect 503 unavailable "the second file does not fit"
clean "disk full between files" $TICKETS
rm -f "$MNT/filler"
fds_back "disk full"
up "${A[@]}" -F description=x -F "f=@$F/150k" -F "g=@$F/150k"
expect 201 "" "uploads work once there is room again"
TICKETS=$((TICKETS + 1))
pass "a full disk: 503, nothing left behind, uploads resume"

# --- SQLite locked by another process past the busy timeout (5 s) -------------------
sqlite3 "$DATA/logshare.db" >/dev/null 2>&1 <<'SQL' &
BEGIN IMMEDIATE;
UPDATE tickets SET description = description WHERE 0;
.shell sleep 7
ROLLBACK;
SQL
LOCKER=$!
sleep 0.5
up "${A[@]}" -F description=x -F "f=@$F/150k" -F "g=@$F/50k"
expect 503 unavailable "the database stays locked"
assert_contains "$BODY" "database:" "names the database"
clean "a locked database" $TICKETS
wait "$LOCKER" || true; LOCKER=
fds_back "a locked database"
pass "a locked database: 503, the blobs written for it removed"

# --- a client that stalls mid-file until the idle timeout (3 s) ------------------------
out=$(python3 "$PY" stall "$SERVER_PORT" "$TOK")
assert_eq closed "$out" "the stalled upload's connection is closed"
sent 000
clean "an upload stalled until the idle timeout" $TICKETS
fds_back "a stalled upload"
req GET /metrics
assert_contains "$BODY" 'logshared_connections_cut_total{reason="idle_timeout"} 1' "the idle-timeout cut is counted"
pass "a stalled upload is closed at the idle timeout and leaves nothing"

# --- Idempotency-Key: the same key while the first is still uploading ------------------
out=$(python3 "$PY" idem "$SERVER_PORT" "$TOK")
read -r st2 id2 d2 st1 id1 d1 <<<"$out"
assert_eq "201 second" "$st2 $d2" "the retry that completes first"
assert_eq "201 $id2 second" "$st1 $id1 $d1" "the first request, committing later, answers the same ticket"
sent 201; sent 201
TICKETS=$((TICKETS + 1))
clean "two uploads with one key" $TICKETS
pass "one key, two uploads in flight: one ticket, the loser's blobs removed"

# --- downloads dropped mid-body --------------------------------------------------------
up "${A[@]}" -F description=big -F "f=@$F/150k" -F "g=@$F/150k"
expect 201 "" "an upload to download"
TICKETS=$((TICKETS + 1))
T=$(jget id); AT=$(jget attachments.0.id)
for i in $(seq 1 10); do
  python3 "$PY" drop "$SERVER_PORT" "$URL/$T/attachments/$AT" "$TOK" >/dev/null
  req GET "$URL/$T/attachments/$AT" "${A[@]}" -H 'Range: bytes=149999-'
  expect 206 "" "the last byte"
  req GET "$URL/$T/attachments/$AT" "${A[@]}" -H 'Range: bytes=150000-'
  expect 416 range_not_satisfiable "a range starting at the end"
done
fds_back "downloads dropped mid-body"
pass "downloads dropped mid-body and ranges at the edges leak nothing"

# --- a day directory deleted under the running server ---------------------------------
# an operator tidies the store: every ticket deleted, and the directories
# they leave, which the server has open, with them
sqlite3 "$DATA/logshare.db" 'PRAGMA foreign_keys=ON; DELETE FROM tickets'
assert_eq 0 "$(attachment_count)" "the attachment rows went with their tickets"
TICKETS=0
rm -rf "$DATA/blobs/a"
up "${A[@]}" -F description=x -F "f=@$F/50k"
expect 201 "" "an upload after its day directory was deleted"
TICKETS=$((TICKETS + 1))
T=$(jget id); AT=$(jget attachments.0.id)
req GET "$URL/$T/attachments/$AT" "${A[@]}"; expect 200 "" "its file downloads"
clean "a deleted day directory" $TICKETS
fds_back "a deleted day directory"
pass "a day directory deleted under the server is made again"

# --- /metrics and the log lines count every request under its status -------------------
req GET /metrics
for st in "${!SENT[@]}"; do
  m=$st; [ "$st" = 000 ] && m=0
  line="logshared_http_requests_total{route=\"tickets_create\",status=\"$m\"} ${SENT[$st]}"
  assert_contains "$BODY" "$line" "/metrics for status $m"
  n=$(grep -c "route=tickets_create path=$URL status=$m " "$LOG" || true)
  assert_eq "${SENT[$st]}" "$n" "log lines with status $m"
done
cuts=$(grep -c "route=tickets_create .*status=0 .*outcome=\(cut\|timeout\)" "$LOG" || true)
assert_eq "${SENT[000]}" "$cuts" "cut and timed-out uploads logged as such"
pass "/metrics and the request log agree with what was sent"
stop_ok
