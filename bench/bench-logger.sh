#!/usr/bin/env bash
# bench-logger.sh BUILD_DIR - the log store benchmark (issue 3): the same
# 2,000,000 call-log records through logshare (encrypted + compressed),
# spdlog async and sync, and fprintf, in one run, one after the other on
# an otherwise idle process. Prints a Markdown table for
# docs/benchmarks.md ("Log store") and the targets' verdicts.
#
# Env: BENCH_LOGGER_RECORDS (default 2000000), BENCH_TMP (default: a new
# directory under /tmp, removed afterwards).
set -euo pipefail
build=${1:-build}
n=${BENCH_LOGGER_RECORDS:-2000000}
bin=$build/bench
cli=$build/src/cli/logshare
tmp=${BENCH_TMP:-$(mktemp -d /tmp/logshare-bench-logger-XXXXXX)}
trap 'rm -rf "$tmp"' EXIT
"$cli" keygen --out "$tmp/support" >/dev/null

# Every program fsyncs its own output, but the build that usually comes
# just before (make bench) leaves dirty pages behind: written back during
# the first runs, they slowed whichever logger ran then. Start clean.
sync
results=()
run() { results+=("$("$@")"); }
run "$bin/bench_logger" fprintf "$tmp/fprintf.log" "$n"
if [ -x "$bin/bench_logger_spdlog" ]; then
  run "$bin/bench_logger_spdlog" sync "$tmp/spdlog-sync.log" "$n"
  run "$bin/bench_logger_spdlog" async "$tmp/spdlog-async.log" "$n"
else
  echo "(spdlog not built: install libspdlog-dev, re-run cmake)" >&2
fi
# Ring big enough for the whole run (what the targets are measured on),
# then the default 1 MiB ring, where a producer faster than the writer
# loses records (counted).
run "$bin/bench_logger" logshare "$tmp/ls-big" "$n" $((256 << 20)) "$tmp/support.pub"
run "$bin/bench_logger" logshare "$tmp/ls-default" "$n" $((1 << 20)) "$tmp/support.pub"
run "$bin/bench_logger" timer - "$n"

echo "records: $n, one producer thread; cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo
echo "| logger | p50 ns | p99 ns | p99.9 ns | max ns | records/s (to disk) | bytes on disk | dropped |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for r in "${results[@]}"; do
  set -- $r
  echo "| $1 | $2 | $3 | $4 | $5 | $6 | $7 | $8 |"
done
plain=$(echo "${results[0]}" | awk '{print $7}')
async=$(printf '%s\n' "${results[@]}" | awk '$1=="spdlog-async"{print $6}')
big=$(printf '%s\n' "${results[@]}" | awk '$1 ~ /^logshare-ring-256/{print}')
timer=$(printf '%s\n' "${results[@]}" | awk '$1=="timer-alone"{print $2}')
set -- $big
echo
echo "targets (logshare, 256 MiB ring; every latency includes the timer, whose p50 alone is ${timer:-?} ns):"
awk -v p50="$2" -v p999="$4" -v tput="$6" -v bytes="$7" -v plain="$plain" -v async="${async:-0}" 'BEGIN {
  printf "  p50 %s ns < 50 ns: %s\n", p50, (p50 < 50 ? "met" : "NOT met");
  printf "  p99.9 %s ns < 1000 ns: %s\n", p999, (p999 < 1000 ? "met" : "NOT met");
  if (async > 0) printf "  throughput %.0f/s = %.1fx spdlog async (target >= 2x): %s\n", tput, tput / async, (tput >= 2 * async ? "met" : "NOT met");
  printf "  bytes %d = 1/%.1f of plaintext %d (target <= 1/5): %s\n", bytes, plain / bytes, plain, (bytes * 5 <= plain ? "met" : "NOT met");
}'
