#!/usr/bin/env bash
# bootstrap.sh - scripts/bootstrap's contract, with dpkg-query and id
# replaced by shims on PATH (nothing is installed): --help prints the
# comment and nothing of the code; one dpkg-query call covers every
# package; --test asks for the test tools and clang-format but not the
# benchmark peers, --bench for those too; a user who is not root gets
# one message naming what is missing and exit 1.
source "$LOGSHARE_TEST_LIB/testlib.sh"
B="$LOGSHARE_SOURCE_DIR/scripts/bootstrap"

assert_exit 0 "--help" -- "$B" --help
assert_contains "$(cat "$TEST_TMP/out")" "scripts/bootstrap --test" "--help shows the usage"
grep -q 'set -e\|pipefail' "$TEST_TMP/out" && fail "--help prints code: $(cat "$TEST_TMP/out")"
assert_exit 2 "unknown option" -- "$B" --bogus

# shims: dpkg-query logs its arguments and reports the state SHIM_STATE
# for each; id says uid SHIM_UID
mkdir -p "$TEST_TMP/bin"
cat >"$TEST_TMP/bin/dpkg-query" <<'SH'
#!/bin/sh
printf "%s\n" "$*" >>"$SHIM_LOG"
for a; do case "$a" in -*) ;; *) echo "$a $SHIM_STATE" ;; esac; done
SH
cat >"$TEST_TMP/bin/id" <<'SH'
#!/bin/sh
echo "$SHIM_UID"
SH
chmod +x "$TEST_TMP/bin/dpkg-query" "$TEST_TMP/bin/id"
run() { # LOG STATE UID MODE...
  local log=$1 state=$2 uid=$3; shift 3
  env PATH="$TEST_TMP/bin:$PATH" SHIM_LOG="$log" SHIM_STATE="$state" SHIM_UID="$uid" "$B" "$@"
}

run "$TEST_TMP/build.log" installed 0 >/dev/null || fail "bootstrap with everything installed"
assert_eq 1 "$(wc -l <"$TEST_TMP/build.log")" "dpkg-query calls for a build bootstrap"
assert_contains "$(cat "$TEST_TMP/build.log")" "libcmocka-dev" "build packages queried"
run "$TEST_TMP/test.log" installed 0 --test >/dev/null || fail "bootstrap --test with everything installed"
assert_eq 1 "$(wc -l <"$TEST_TMP/test.log")" "dpkg-query calls for --test"
assert_contains "$(cat "$TEST_TMP/test.log")" "clang-format" "--test asks for clang-format"
assert_contains "$(cat "$TEST_TMP/test.log")" "chromium" "--test asks for the browser"
assert_contains "$(cat "$TEST_TMP/test.log")" "firefox-esr" "--test asks for the second browser"
case "$(cat "$TEST_TMP/test.log")" in *nginx*|*spdlog*) fail "--test asks for benchmark peers" ;; esac
run "$TEST_TMP/bench.log" installed 0 --bench >/dev/null || fail "bootstrap --bench with everything installed"
assert_contains "$(cat "$TEST_TMP/bench.log")" "nginx-light" "--bench asks for nginx"
pass "one dpkg-query; --test without the benchmark peers; --help shows only the comment"

code=0; run "$TEST_TMP/user.log" not-installed 1000 >"$TEST_TMP/out" 2>"$TEST_TMP/err" || code=$?
assert_eq 1 "$code" "a user who is not root, packages missing"
assert_contains "$(cat "$TEST_TMP/err")" "missing Debian packages: gcc" "the missing packages named"
assert_contains "$(cat "$TEST_TMP/err")" "sudo apt-get install" "the command to run"
pass "without root, the missing packages are named and nothing is installed"
