#!/usr/bin/env bash
# Scale-out: several logshared processes on one data dir (one blob
# directory) and one PostgreSQL database, started at the same moment.
# - Started together on a fresh data dir, every one of them comes up
#   (the old code lost one in a few starts: SQLite's switch of push.db or
#   logshare.db to WAL answered "busy" to the second process at once,
#   and it exited); they then share one jwt-secret and one link-secret:
#   a `logshared token` token works on both, a link made by one works on
#   the other.
# - One Idempotency-Key sent to both at once, and retried: one ticket.
# - PATCHes (notes) and added attachments through both at once: none
#   lost, every attachment readable through both.
# - Paging through one while the other commits tickets: each ticket that
#   existed before paging began is listed exactly once.
# - With both sweeping every second during all of it, no blob a ticket
#   names is removed, and once both stop no orphan blob and no upload
#   temporary is left. (The grace period, 10 s, must exceed the time
#   from a blob's commit to its ticket's: here up to 16 attachment
#   uploads queue on one ticket's row lock, on 2 busy cores.)
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
trap 'stop_postgres; _cleanup' EXIT

# start_together N DATA ARGS...: N servers at once; URLS/PIDS set, and
# STARTED says how many came up.
start_together() {
  local n=$1 dir=$2 i t; shift 2
  PIDS=(); URLS=(); STARTED=0
  for i in $(seq "$n"); do
    rm -f "$TEST_TMP/p$i"
    "$LOGSHARED_BIN" --listen 127.0.0.1:0 --data-dir "$dir" --port-file "$TEST_TMP/p$i" "$@" \
      >>"$TEST_TMP/server.log" 2>&1 &
    PIDS+=($!); _server_pids+=($!)
  done
  for i in $(seq "$n"); do
    for t in $(seq 200); do
      [ -s "$TEST_TMP/p$i" ] && break
      kill -0 "${PIDS[$((i - 1))]}" 2>/dev/null || break
      sleep 0.05
    done
    [ -s "$TEST_TMP/p$i" ] || continue
    STARTED=$((STARTED + 1)); URLS+=("http://127.0.0.1:$(cat "$TEST_TMP/p$i")")
  done
}
stop_all() {
  local p rc=0
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" || rc=$?; done
  STOP_RC=$rc
}

# 1. Fresh data dirs and databases, four servers at once, many times
# (the old code lost the race about every fifth round: the migrations'
# advisory lock lines the servers up for the push tables).
start_postgres
DB="host=$PG port=$PG_PORT dbname=logshare user=postgres"
for round in $(seq 20); do
  "${PG_AS[@]}" "$PG_BIN/createdb" -h "$PG" -p "$PG_PORT" -U postgres "fresh$round"
  start_together 4 "$TEST_TMP/fresh$round" --database-url "host=$PG port=$PG_PORT dbname=fresh$round user=postgres"
  stop_all
  [ "$STARTED" = 4 ] || fail "round $round: only $STARTED of 4 servers started: $(grep -v 'serving on\|orphan sweep\|finishing\|stopped' "$TEST_TMP/server.log" | tail -3)"
done
rm -rf "$TEST_TMP"/fresh*

# 2. Two servers at once on a fresh PostgreSQL database and data dir.
DATA=$TEST_TMP/data
SWEEP=(--database-url "$DB" --blob-sweep-interval-s 1 --blob-orphan-grace-s 10)
: >"$TEST_TMP/server.log"
start_together 2 "$DATA" "${SWEEP[@]}"
[ "$STARTED" = 2 ] || fail "only $STARTED of 2 servers started on PostgreSQL: $(tail -3 "$TEST_TMP/server.log")"
A=${URLS[0]}; B=${URLS[1]}
PG_PSQL() { "${PG_AS[@]}" "$PG_BIN/psql" -h "$PG" -p "$PG_PORT" -U postgres -d logshare -tAc "$1"; }
assert_eq "1,2,3" "$(PG_PSQL 'SELECT string_agg(version::text, $$,$$ ORDER BY version) FROM schema_version')" "each migration recorded once"
TOK=$(token alice); SUP=$(token sam support)
for U in "$A" "$B"; do
  SERVER_URL=$U req GET /api/v1/tickets -H "Authorization: Bearer $SUP"
  expect 200 "" "a logshared token on $U"
done
printf 'first attachment\n' >"$TEST_TMP/f"
SERVER_URL=$A req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -F description=shared -F "f=@$TEST_TMP/f"
expect 201 "" "create on A"; T=$(jget id); AT=$(jget attachments.0.id)
SERVER_URL=$A req POST "/api/v1/tickets/$T/attachments/$AT/link" -H "Authorization: Bearer $TOK"
expect 201 "" "link made by A"; LINK=$(jget url); LINK=/api/v1${LINK#*/api/v1}
SERVER_URL=$B req GET "$LINK"; expect 200 "" "A's link on B"
assert_eq "first attachment" "$BODY" "bytes through A's link on B"

# 3. One Idempotency-Key to both at once, three times each.
for i in 1 2 3; do
  for U in "$A" "$B"; do
    curl -sS -o "$TEST_TMP/idem.$i.${U##*:}" -w '%{http_code}\n' -H "Authorization: Bearer $TOK" \
      -H 'Idempotency-Key: same-key-1' -F description=idem -F call_id=idem-1 -F "f=@$TEST_TMP/f" \
      "$U/api/v1/tickets" >>"$TEST_TMP/idem.codes" &
  done
done
wait_jobs() { local j; for j in $(jobs -p); do case " ${PIDS[*]} " in *" $j "*) ;; *) wait "$j" ;; esac; done; }
wait_jobs
assert_eq "6" "$(grep -c '^201$' "$TEST_TMP/idem.codes")" "every idempotent try answered 201"
assert_eq 1 "$(cat "$TEST_TMP"/idem.* | grep -o '"id":"tk_[^"]*"' | sort -u | wc -l)" "one ticket id in every answer"
assert_eq 1 "$(PG_PSQL "SELECT count(*) FROM ticket_call_ids WHERE call_id = 'idem-1'")" "one ticket stored for the key"

# 4. Notes through both at once, and attachments added through both.
for i in $(seq 8); do
  for U in "$A" "$B"; do
    curl -sS -o /dev/null -w '%{http_code}\n' -X PATCH -H "Authorization: Bearer $SUP" \
      -H 'Content-Type: application/json' -d "{\"note\":\"n$i-${U##*:}\",\"status\":\"in_progress\"}" \
      "$U/api/v1/tickets/$T" >>"$TEST_TMP/patch.codes" &
    printf 'added %s %s\n' "$i" "${U##*:}" >"$TEST_TMP/add.$i.${U##*:}"
    curl -sS -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $TOK" \
      -F "f=@$TEST_TMP/add.$i.${U##*:}" "$U/api/v1/tickets/$T/attachments" >>"$TEST_TMP/add.codes" &
  done
done
wait_jobs
assert_eq 16 "$(grep -c '^200$' "$TEST_TMP/patch.codes")" "every PATCH answered 200"
assert_eq 16 "$(grep -c '^201$' "$TEST_TMP/add.codes")" "every attachment POST answered 201"
SERVER_URL=$B req GET "/api/v1/tickets/$T" -H "Authorization: Bearer $SUP"; expect 200 "" "the ticket on B"
assert_eq 16 "$(jget notes | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).length)')" "notes kept"
assert_eq 17 "$(jget attachments | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).length)')" "attachments kept"
for aid in $(jget attachments | node -e 'for(const a of JSON.parse(require("fs").readFileSync(0)))console.log(a.id)'); do
  for U in "$A" "$B"; do
    SERVER_URL=$U req GET "/api/v1/tickets/$T/attachments/$aid" -H "Authorization: Bearer $SUP"
    expect 200 "" "attachment $aid on $U"
  done
done

# 5. Paging through A, five at a time, while B commits 20 more tickets.
for i in $(seq 30); do
  SERVER_URL=$B req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -F "description=page $i" -F call_id=page -F "f=@$TEST_TMP/f"
  expect 201 "" "ticket $i for paging"
done
PG_PSQL "SELECT id FROM tickets" | sort >"$TEST_TMP/before"
( for i in $(seq 20); do
    curl -sS -o /dev/null -H "Authorization: Bearer $TOK" -F "description=during $i" -F "f=@$TEST_TMP/f" "$B/api/v1/tickets"
  done ) &
CUR=; : >"$TEST_TMP/paged"
for page in $(seq 100); do
  SERVER_URL=$A req GET "/api/v1/tickets?limit=5${CUR:+&cursor=$CUR}" -H "Authorization: Bearer $SUP"
  expect 200 "" "page $page"
  jget tickets | node -e 'for(const t of JSON.parse(require("fs").readFileSync(0)))console.log(t.id)' >>"$TEST_TMP/paged"
  CUR=$(jget next_cursor); [ "$CUR" != null ] || break
done
wait_jobs
[ -z "$(sort "$TEST_TMP/paged" | uniq -d)" ] || fail "tickets listed twice: $(sort "$TEST_TMP/paged" | uniq -d | head -3)"
missing=$(sort -u "$TEST_TMP/paged" | comm -13 - "$TEST_TMP/before")
[ -z "$missing" ] || fail "tickets skipped while paging: $missing"

# 6. Both stopped: every blob named by a row is there, nothing else is.
sleep 1.5 # one more sweep pass on each
stop_all
assert_eq 0 "$STOP_RC" "both servers exit 0"
PG_PSQL "SELECT blob_key FROM attachments" | sort >"$TEST_TMP/named"
(cd "$DATA/blobs" && find . -type f ! -path './.incoming/*' | sed 's#^\./##' | sort) >"$TEST_TMP/ondisk"
[ -z "$(comm -23 "$TEST_TMP/named" "$TEST_TMP/ondisk")" ] || fail "blobs removed although named: $(comm -23 "$TEST_TMP/named" "$TEST_TMP/ondisk" | head -3)"
[ -z "$(comm -13 "$TEST_TMP/named" "$TEST_TMP/ondisk")" ] || fail "orphan blobs left: $(comm -13 "$TEST_TMP/named" "$TEST_TMP/ondisk" | head -3)"
assert_eq 0 "$(find "$DATA/blobs/.incoming" -type f | wc -l)" "upload temporaries left"
pass "two servers on one data dir and one PostgreSQL database"
