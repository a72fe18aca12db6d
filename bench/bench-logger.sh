#!/usr/bin/env bash
# bench-logger.sh BUILD_DIR - the log store benchmark (issue 3): the same
# 2,000,000 call-log records through logshare (encrypted + compressed),
# spdlog async and sync, and fprintf, in one run, one after the other on
# an otherwise idle process. Prints a Markdown table for
# docs/benchmarks.md ("Log store") and the targets' verdicts.
#
# Env: BENCH_LOGGER_RECORDS (default 2000000), REPS (rounds, default 5:
# each figure is the median over the rounds), BENCH_TMP (default: a new
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
# REPS rounds, the programs taking turns within each (so a slow spell of
# the machine lands on all of them, not on one); each figure reported is
# the median over the rounds, as in bench-upload.sh.
reps=${REPS:-5}
results=()
run() { results+=("$("$@")"); }
for ((rep = 1; rep <= reps; rep++)); do
  rm -rf "$tmp"/*.log "$tmp"/ls-*
  run "$bin/bench_logger" fprintf "$tmp/fprintf.log" "$n"
  if [ -x "$bin/bench_logger_spdlog" ]; then
    run "$bin/bench_logger_spdlog" sync "$tmp/spdlog-sync.log" "$n"
    run "$bin/bench_logger_spdlog" async "$tmp/spdlog-async.log" "$n"
  elif [ "$rep" = 1 ]; then
    echo "(spdlog not built: install libspdlog-dev, re-run cmake)" >&2
  fi
  # Ring big enough for the whole run (what the targets are measured on),
  # then the default 1 MiB ring, where a producer faster than the writer
  # loses records (counted).
  run "$bin/bench_logger" logshare "$tmp/ls-big" "$n" $((256 << 20)) "$tmp/support.pub"
  run "$bin/bench_logger" logshare "$tmp/ls-default" "$n" $((1 << 20)) "$tmp/support.pub"
  run "$bin/bench_logger" timer - "$n"
done
# One line per program: the median of each column over the rounds, then
# the p50 of every round in order.
summary=$(printf '%s\n' "${results[@]}" | awk '
  { if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }
    k = ++runs[$1]; for (c = 2; c <= 8; c++) v[$1, c, k] = $c
    p50s[$1] = p50s[$1] (k > 1 ? "/" : "") $2 }
  function median(name, c,    m, i, j, t, a) {
    m = runs[name]; for (i = 1; i <= m; i++) a[i] = v[name, c, i] + 0
    for (i = 2; i <= m; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
  END { for (i = 1; i <= n; i++) { name = order[i]; line = name
          for (c = 2; c <= 8; c++) line = line " " sprintf("%.0f", median(name, c))
          print line " " p50s[name] } }')
echo "records: $n, one producer thread; cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo
echo "| logger | p50 ns | p99 ns | p99.9 ns | max ns | records/s (to disk) | bytes on disk | dropped | p50 of each round |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
while read -r r; do
  set -- $r
  echo "| $1 | $2 | $3 | $4 | $5 | $6 | $7 | $8 | $9 |"
done <<<"$summary"
echo
echo "(medians over $reps rounds)"
plain=$(awk '$1=="fprintf"{print $7}' <<<"$summary")
async=$(awk '$1=="spdlog-async"{print $6}' <<<"$summary")
big=$(awk '$1 ~ /^logshare-ring-256/{print}' <<<"$summary")
timer=$(awk '$1=="timer-alone"{print $2}' <<<"$summary")
set -- $big
echo
echo "targets (logshare, 256 MiB ring, medians over $reps rounds; every latency includes the timer, whose p50 alone is ${timer:-?} ns):"
awk -v p50="$2" -v p999="$4" -v tput="$6" -v bytes="$7" -v plain="$plain" -v async="${async:-0}" 'BEGIN {
  printf "  p50 %s ns < 50 ns: %s\n", p50, (p50 < 50 ? "met" : "NOT met");
  printf "  p99.9 %s ns < 1000 ns: %s\n", p999, (p999 < 1000 ? "met" : "NOT met");
  if (async > 0) printf "  throughput %.0f/s = %.1fx spdlog async (target >= 2x): %s\n", tput, tput / async, (tput >= 2 * async ? "met" : "NOT met");
  printf "  bytes %d = 1/%.1f of plaintext %d (target <= 1/5): %s\n", bytes, plain / bytes, plain, (bytes * 5 <= plain ? "met" : "NOT met");
}'
