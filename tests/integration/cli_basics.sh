#!/usr/bin/env bash
# The CLI's contract: --help and --version succeed, usage errors exit 2
# with one line on stderr.
source "$LOGSHARE_TEST_LIB/testlib.sh"

assert_exit 0 "--version" -- "$LOGSHARE_BIN" --version
assert_contains "$(cat "$TEST_TMP/out")" "logshare " "--version output"
assert_exit 0 "--help" -- "$LOGSHARE_BIN" --help
assert_contains "$(cat "$TEST_TMP/out")" "usage: logshare" "--help output"
assert_exit 2 "no arguments" -- "$LOGSHARE_BIN"
assert_exit 2 "unknown command" -- "$LOGSHARE_BIN" frobnicate
assert_eq 1 "$(wc -l < "$TEST_TMP/err")" "unknown command error is one line"
pass "cli basics"
