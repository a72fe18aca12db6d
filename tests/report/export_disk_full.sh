#!/usr/bin/env bash
# export_disk_full.sh - `logshare export` to a destination that cannot
# take the archive: a full disk says "no space left" (it said
# "input/output error"), a read-only one "permission denied"; either way
# exit 1 and nothing is left behind, neither the archive nor its
# temporary. And a report queued on a full disk: exit 1, a message that
# does not claim the (empty) outbox is full, nothing half-queued. Needs a
# small file system of its own: a tmpfs mounted here
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

# a report whose copy does not fit on the disk: refused before anything
# is queued, and not blamed on an outbox that holds nothing
mkdir -p "$MNT/store"
cp "$STORE"/*.lslog "$MNT/store/"
assert_exit 1 "report onto a full disk" -- "$L" report --dir "$MNT/store" --server "http://127.0.0.1:1" \
  --token t --description "disk full" --file "$TEST_TMP/capture.bin" --attempts 1
assert_contains "$(cat "$TEST_TMP/err")" "or on the disk" "the disk is named"
assert_eq "" "$(ls -A "$MNT/store/outbox" | grep -v '^\.lock$' || true)" "nothing half-queued"
pass "a report on a full disk: refused cleanly, with a message that names the disk"
