#!/usr/bin/env bash
# readyz_disk_full.sh - /readyz answers 503 once the blob store's disk is
# nearly full (uploads would fail: the database needs room too), and 200
# again when space returns. Needs a small file system of its own: a
# tmpfs, mounted here (root only; skipped where mounting is not allowed).
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
MNT="$TEST_TMP/small"
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=8m tmpfs "$MNT" 2>/dev/null; then
  echo "SKIP: cannot mount a tmpfs here (not root, or not allowed)"
  exit 77
fi
# the servers stop and the mount goes before testlib removes TEST_TMP
cleanup_mount() { stop_server 2>/dev/null || true; umount "$MNT" 2>/dev/null || true; _cleanup; }
trap cleanup_mount EXIT
start_server "$MNT/data"
req GET /readyz; expect 200 "" "ready with room"
# fill the file system but a few KiB
avail=$(df -B1 --output=avail "$MNT" | tail -1)
head -c $((avail - 12 * 1024)) /dev/zero >"$MNT/filler"
req GET /readyz; expect 503 unavailable "not ready with 12 KiB left"
assert_contains "$BODY" "blob store not ready" "names the blob store"
rm -f "$MNT/filler"
req GET /readyz; expect 200 "" "ready again when space returns"
pass "readyz follows free space"
