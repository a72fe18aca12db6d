#!/usr/bin/env bash
# export_tools.sh - `logshare export` archives opened by standard tools:
# unzip and bsdtar unpack them, and every file matches the size and
# SHA-256 its manifest.json gives; log files are stored (they are
# compressed already), the manifest deflated; tar.zst too; a bad request
# writes nothing.
source "$LOGSHARE_TEST_LIB/testlib.sh"
HELPER="$LOGSHARE_BUILD_DIR/tests/report/share_helper"
L="$LOGSHARE_BIN"

"$HELPER" keygen "$TEST_TMP/support" || fail "keygen"
STORE="$TEST_TMP/store"
"$HELPER" write "$STORE" "$TEST_TMP/support.pub" 1500 "$TEST_TMP/expected" || fail "writing records"
echo "app settings" >"$TEST_TMP/settings.txt"

check_unpacked() { # DIR WHAT
  [ -f "$1/manifest.json" ] || fail "$2: no manifest.json"
  (cd "$1" && "$HELPER" manifest-sums manifest.json >sums && sha256sum -c --quiet sums) || fail "$2: hashes"
  assert_eq "$(ls "$STORE"/*.lslog | wc -l)" "$(ls "$1"/*.lslog | wc -l)" "$2: every log file"
  assert_eq "app settings" "$(cat "$1/settings.txt")" "$2: the app's file"
  assert_eq "call-x-1" "$(grep -o 'call-x-1' "$1/manifest.json" | head -1)" "$2: call id in manifest"
  for f in "$1"/*.lslog; do
    "$HELPER" decrypt "$TEST_TMP/support.key" "$f" >/dev/null 2>&1 || fail "$2: $f does not decrypt"
  done
}

assert_exit 0 "export zip" -- "$L" export --dir "$STORE" --out "$TEST_TMP/logs.zip" --call-id call-x-1 \
  --description "for the vendor" --file "$TEST_TMP/settings.txt"
unzip -tq "$TEST_TMP/logs.zip" >/dev/null || fail "unzip -t"
# log files are compressed and encrypted already: stored as they are;
# the manifest (and the app's text file) deflated
unzip -v "$TEST_TMP/logs.zip" >"$TEST_TMP/zipv" || fail "unzip -v"
awk '$NF ~ /\.lslog$/ && $2 != "Stored" {bad = bad " " $NF} END {if (bad) {print bad; exit 1}}' "$TEST_TMP/zipv" ||
  fail "log files deflated again: $(cat "$TEST_TMP/zipv")"
[ "$(grep -c '\.lslog$' "$TEST_TMP/zipv")" -gt 0 ] || fail "no log files in the zip"
grep -E 'Defl:[A-Z] .* manifest\.json$' "$TEST_TMP/zipv" >/dev/null || fail "manifest.json not deflated: $(cat "$TEST_TMP/zipv")"
mkdir "$TEST_TMP/u" && (cd "$TEST_TMP/u" && unzip -q "$TEST_TMP/logs.zip") || fail "unzip"
check_unpacked "$TEST_TMP/u" "unzip"
mkdir "$TEST_TMP/b" && bsdtar -xf "$TEST_TMP/logs.zip" -C "$TEST_TMP/b" || fail "bsdtar zip"
check_unpacked "$TEST_TMP/b" "bsdtar (zip)"
pass "zip export unpacked by unzip and bsdtar, every manifest hash matching"

assert_exit 0 "export tar.zst" -- "$L" export --dir "$STORE" --out "$TEST_TMP/logs.tar.zst" --call-id call-x-1 \
  --file "$TEST_TMP/settings.txt"
mkdir "$TEST_TMP/t" && bsdtar -xf "$TEST_TMP/logs.tar.zst" -C "$TEST_TMP/t" || fail "bsdtar tar.zst"
check_unpacked "$TEST_TMP/t" "bsdtar (tar.zst)"
pass "tar.zst export unpacked by bsdtar, every manifest hash matching"

assert_exit 2 "unknown format" -- "$L" export --dir "$STORE" --out "$TEST_TMP/x.7z" --format 7z
assert_exit 1 "missing store" -- "$L" export --dir "$TEST_TMP/nope" --out "$TEST_TMP/y.zip"
[ ! -e "$TEST_TMP/y.zip" ] || fail "a failed export left a file"
assert_exit 1 "missing --file" -- "$L" export --dir "$STORE" --out "$TEST_TMP/z.zip" --file "$TEST_TMP/absent"
[ -z "$(ls "$TEST_TMP" | grep -E '^z\.zip')" ] || fail "a failed export left a file or temporary"
assert_exit 2 "no --out" -- "$L" export --dir "$STORE"
assert_exit 0 "help" -- "$L" export --help
pass "bad export requests fail clearly and write nothing"
