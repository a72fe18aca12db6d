#!/usr/bin/env bash
# readyz_disk_full.sh - /readyz answers 503 once the blob store's disk is
# nearly full (uploads would fail: the database needs room too), and 200
# again when space returns; a read-only blob store answers uploads with
# 503, which clients retry (it was 403, which the client library gives
# up on). Needs small file systems of its own: tmpfs mounts made here
# (root only; skipped where mounting is not allowed).
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
MNT="$TEST_TMP/small"
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=8m tmpfs "$MNT" 2>/dev/null; then
  echo "SKIP: cannot mount a tmpfs here (not root, or not allowed)"
  exit 77
fi
# the servers stop and the mount goes before testlib removes TEST_TMP
RO="$TEST_TMP/ro/blobs"
cleanup_mount() {
  stop_server 2>/dev/null || true
  umount "$MNT" 2>/dev/null || true
  umount "$RO" 2>/dev/null || true
  _cleanup
}
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
stop_server

# A blob store that turns read-only while the server runs.
mkdir -p "$RO"
mount -t tmpfs -o size=8m tmpfs "$RO" || fail "second tmpfs"
DATA="$TEST_TMP/ro"
start_server "$DATA"
TOK=$(token alice)
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -F description=before -F "f=@$0;filename=a.log"
expect 201 "" "an upload while the store is writable"
mount -o remount,ro "$RO" || fail "remount read-only"
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -F description=after -F "f=@$0;filename=a.log"
expect 503 unavailable "an upload into a read-only blob store"
assert_contains "$BODY" "blob store" "names the blob store"
req GET /readyz; expect 503 unavailable "not ready with a read-only blob store"
mount -o remount,rw "$RO"
req POST /api/v1/tickets -H "Authorization: Bearer $TOK" -F description=again -F "f=@$0;filename=a.log"
expect 201 "" "uploads work again once it is writable"
pass "a read-only blob store answers 503"
