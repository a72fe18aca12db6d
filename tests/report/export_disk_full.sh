#!/usr/bin/env bash
# export_disk_full.sh - `logshare export` to a destination that cannot
# take the archive: a full disk says "no space left" (it said
# "input/output error"), a read-only one "permission denied"; either way
# exit 1 and nothing is left behind, neither the archive nor its
# temporary. Needs a small file system of its own: a tmpfs mounted here
# (root only; skipped where mounting is not allowed).
source "$LOGSHARE_TEST_LIB/testlib.sh"
HELPER="$LOGSHARE_BUILD_DIR/tests/report/share_helper"
L="$LOGSHARE_BIN"
MNT="$TEST_TMP/small"
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=256k tmpfs "$MNT" 2>/dev/null; then
  echo "SKIP: cannot mount a tmpfs here (not root, or not allowed)"
  exit 77
fi
cleanup_mount() {
  umount "$MNT" 2>/dev/null || true
  _cleanup
}
trap cleanup_mount EXIT

"$HELPER" keygen "$TEST_TMP/support" || fail "keygen"
STORE="$TEST_TMP/store"
"$HELPER" write "$STORE" "$TEST_TMP/support.pub" 200 "$TEST_TMP/expected" || fail "writing records"
# an app file that cannot fit: log files alone might
head -c 600000 /dev/urandom >"$TEST_TMP/capture.bin"

assert_exit 1 "export to a full disk" -- "$L" export --dir "$STORE" --out "$MNT/logs.zip" \
  --file "$TEST_TMP/capture.bin"
assert_contains "$(cat "$TEST_TMP/err")" "no space left" "the error names the full disk"
assert_eq "" "$(ls -A "$MNT")" "nothing left on the full disk"
pass "a full disk: a clear error and no partial archive"

mount -o remount,ro "$MNT" || fail "remount read-only"
assert_exit 1 "export to a read-only directory" -- "$L" export --dir "$STORE" --out "$MNT/logs.zip"
assert_contains "$(cat "$TEST_TMP/err")" "permission denied" "the error names the permission"
assert_eq "" "$(ls -A "$MNT")" "nothing left on the read-only disk"
mount -o remount,rw "$MNT" || fail "remount read-write"
assert_exit 0 "export once there is room" -- "$L" export --dir "$STORE" --out "$MNT/logs.zip"
unzip -tq "$MNT/logs.zip" >/dev/null || fail "unzip -t"
pass "an unwritable destination: a clear error; with room the export works"
