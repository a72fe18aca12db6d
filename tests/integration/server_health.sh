#!/usr/bin/env bash
# logshared starts, answers /healthz with 200 and JSON, answers unknown
# routes with a JSON 404, and exits 0 on SIGTERM.
source "$LOGSHARE_TEST_LIB/testlib.sh"

assert_exit 0 "logshared --version" -- "$LOGSHARED_BIN" --version
assert_exit 0 "logshared --help" -- "$LOGSHARED_BIN" --help
assert_exit 2 "logshared bad flag" -- "$LOGSHARED_BIN" --bogus

start_server "$TEST_TMP/data"
code=$(curl -s -o "$TEST_TMP/body" -w '%{http_code}' "$SERVER_URL/healthz")
assert_eq 200 "$code" "GET /healthz status"
assert_contains "$(cat "$TEST_TMP/body")" '"ok"' "GET /healthz body"
code=$(curl -s -o "$TEST_TMP/body" -w '%{http_code}' "$SERVER_URL/no/such/route")
assert_eq 404 "$code" "unknown route status"
assert_contains "$(cat "$TEST_TMP/body")" '"code":"not_found"' "unknown route body"
stop_server TERM
assert_eq 0 "$SERVER_EXIT" "exit status after SIGTERM"
pass "server health"
