# srvlib.sh - helpers for the server tests, sourced after testlib.sh:
# tokens (real ones from `logshared token`, and hand-made bad ones),
# curl wrappers that record status and body, and checks on the data dir.

# token USER [ROLE] [TTL]: a real token from the server's own secret.
token() {
  "$LOGSHARED_BIN" token --data-dir "$DATA" --user "$1" --role "${2:-user}" --ttl "${3:-3600}"
}

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# hs256_token SECRET_FILE HEADER_JSON PAYLOAD_JSON: signs by hand, so
# tests can make tokens the CLI never would (expired, alg=none, ...).
hs256_token() {
  local key h p sig
  key=$(tr -d '\n\r ' <"$1")
  h=$(printf '%s' "$2" | b64url)
  p=$(printf '%s' "$3" | b64url)
  sig=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -hmac "$key" -binary | b64url)
  printf '%s.%s.%s' "$h" "$p" "$sig"
}

# req METHOD PATH [curl args...]: sets STATUS and BODY (and HDRS file).
req() {
  local m=$1 path=$2; shift 2
  STATUS=$(curl -sS -o "$TEST_TMP/body" -D "$TEST_TMP/hdrs" -w '%{http_code}' -X "$m" "$@" \
           "$SERVER_URL$path") || STATUS=000
  BODY=$(cat "$TEST_TMP/body" 2>/dev/null || true)
}
# expect STATUS [ERROR_CODE] WHAT: checks the last req.
expect() {
  local want=$1 code=$2 what=$3
  [ "$STATUS" = "$want" ] || fail "$what: status $STATUS, expected $want; body: ${BODY:0:300}"
  if [ -n "$code" ]; then
    assert_contains "$BODY" "\"code\":\"$code\"" "$what: error code"
    assert_contains "$BODY" '"message":' "$what: error message"
  fi
}
jget() { node -e 'let d=JSON.parse(require("fs").readFileSync(0));for(const k of process.argv[1].split("."))d=d?.[k];console.log(typeof d==="object"?JSON.stringify(d):d)' "$1" <<<"$BODY"; }

# blob_empty_dirs: directories under blobs/ with nothing in them, except
# the store's staging directory .incoming (empty whenever no upload is in
# flight). A failed or aborted upload must not leave one behind.
blob_empty_dirs() {
  find "$DATA/blobs" -mindepth 1 -type d -empty ! -path "$DATA/blobs/.incoming" 2>/dev/null | wc -l
}
# blob_files: committed blobs on disk (temporary .tmp-* files excluded)
# plus empty directories, so "nothing left behind" checks cover both.
blob_files() {
  echo $(( $(find "$DATA/blobs" -type f ! -name '.tmp-*' 2>/dev/null | wc -l) + $(blob_empty_dirs) ))
}
ticket_count() { sqlite3 "$DATA/logshare.db" 'SELECT count(*) FROM tickets'; }

# stop_ok: SIGTERM the server and require exit 0 (under ASan a leak or a
# sanitizer report makes it non-zero).
stop_ok() { stop_server TERM; assert_eq 0 "$SERVER_EXIT" "logshared exit status after SIGTERM"; }

# start_postgres: a throwaway PostgreSQL (Debian's) in $TEST_TMP/pg on a
# free port, with a database "logshare"; as root it runs as the postgres
# user. Sets PG (its socket directory), PG_PORT, PG_BIN and PG_AS (the
# command prefix for its tools). Skips the test (exit 0, as the other
# PostgreSQL tests do) when PostgreSQL or its user is missing. Stop it
# with stop_postgres (in the test's EXIT trap, before _cleanup).
start_postgres() {
  PG_BIN=
  local d
  for d in /usr/lib/postgresql/17/bin /usr/lib/postgresql/16/bin /usr/lib/postgresql/15/bin; do
    [ -x "$d/initdb" ] && { PG_BIN=$d; break; }; done
  [ -n "$PG_BIN" ] || { echo "skip - PostgreSQL not installed"; exit 0; }
  PG_AS=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || { echo "skip - root without a postgres user"; exit 0; }
    PG_AS=(runuser -u postgres --)
    chmod 0755 "$TEST_TMP"
  fi
  PG=$TEST_TMP/pg; mkdir -p "$PG"; [ "${#PG_AS[@]}" -gt 0 ] && chown postgres "$PG"
  PG_PORT=$((20000 + RANDOM % 30000)); while ss -ltn | grep -q ":$PG_PORT "; do PG_PORT=$((PG_PORT + 1)); done
  "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG/data" -A trust -U postgres >/dev/null
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG/data" -o "-p $PG_PORT -k $PG -c listen_addresses=''" \
    -l "$PG/log" -w start >/dev/null
  "${PG_AS[@]}" "$PG_BIN/createdb" -h "$PG" -p "$PG_PORT" -U postgres logshare
}
stop_postgres() {
  [ -n "${PG_BIN:-}" ] || return 0
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG/data" -m immediate stop >/dev/null 2>&1 || true
}
