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
