#!/usr/bin/env bash
# bench-upload.sh BUILD_DIR - "Server ingest" in docs/benchmarks.md.
#
# Measures, in the same run on this machine, logshared and nginx (Debian
# nginx-light) storing request bodies to files:
#  - uploads of one 1 MiB or 16 MiB file per request at concurrency 1, 8
#    and 32: MB/s, requests/s, the server's peak RSS, the CPU time the
#    server and the client (on the same cores) spent per request, and how
#    many MB the disk wrote during the run;
#  - small tickets without files at concurrency 32: tickets/s.
# logshared stores each file durably (fsync, rename, directory fsync) and
# commits the ticket to SQLite before answering 201; it is measured with
# durable=1 (every commit fsynced, the default) and durable=0 (SQLite
# synchronous=NORMAL in WAL: survives a process crash, not power loss).
# nginx writes each body to a file (client_body_in_file_only, kept) and
# answers 201 through a body-less internal proxy hop; it never fsyncs.
# Both are driven by the same libcurl client (upload_client), which
# generates the bodies on the fly.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
UC=$build/tests/server/upload_client; [ -x "$UC" ] || UC=$build/bench/upload_client
LOGSHARED=$build/src/server/logshared
[ -x "$UC" ] && [ -x "$LOGSHARED" ] || { echo "bench-upload: build first (missing $UC or $LOGSHARED)" >&2; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "bench-upload: nginx not installed (scripts/bootstrap --bench)" >&2; exit 1; }
work=$(mktemp -d /tmp/logshare-bench-upload-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { local p; while :; do p=$((20000 + RANDOM % 40000)); ss -ltn | grep -q ":$p " || { echo "$p"; return; }; done; }
hwm_mb() { local t=0 kb; for p in "$@"; do kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0); t=$((t + kb)); done; echo $((t / 1024)); }

# --- nginx --------------------------------------------------------------
NPORT=$(free_port); mkdir -p "$work/nginx/body" "$work/nginx/logs"
cat >"$work/nginx/nginx.conf" <<CONF
user root;
daemon off;
worker_processes $(nproc);
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  client_max_body_size 0;
  client_body_buffer_size 128k;
  server {
    listen 127.0.0.1:$NPORT;
    location = /api/v1/tickets {
      client_body_in_file_only on;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_pass http://127.0.0.1:$NPORT/stored;
    }
    location = /stored { return 201 '{"stored":true}'; }
  }
}
CONF
"$NGINX" -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!); NGINX_MASTER=$!
for i in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$NPORT/stored" && break; sleep 0.1; done
nginx_pids() { echo "$NGINX_MASTER $(pgrep -P "$NGINX_MASTER" | tr '\n' ' ')"; }

# --- logshared ------------------------------------------------------------
start_logshared() { # durable
  rm -rf "$work/ls"; mkdir -p "$work/ls"
  "$LOGSHARED" --listen 127.0.0.1:0 --data-dir "$work/ls/data" --port-file "$work/ls/port" \
     --durable "$1" --address-rate 0 --user-rate 0 --max-connections-per-address 512 \
     >"$work/ls/log" 2>&1 &
  LS_PID=$!; pids+=("$LS_PID")
  for i in $(seq 100); do [ -s "$work/ls/port" ] && break; sleep 0.05; done
  LPORT=$(cat "$work/ls/port")
  TOKEN=$("$LOGSHARED" token --data-dir "$work/ls/data" --user bench)
}
stop_logshared() { kill "$LS_PID"; wait "$LS_PID" || true; }

# CPU seconds (user + system) the given processes have used so far.
HZ=$(getconf CLK_TCK)
cpu_s() { local t=0 v p; for p in "$@"; do v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0); t=$((t + v)); done; awk -v t="$t" -v hz="$HZ" 'BEGIN {printf "%.2f", t / hz}'; }
# Bytes written to the block device that holds $work so far (-1 when it
# has none, e.g. tmpfs): what reached the disk during a run, as opposed to
# what only reached the page cache.
DISK=$(basename "$(df --output=source "$work" | tail -1)")
disk_bytes() { awk -v d="$DISK" '$3 == d {print $10 * 512; found = 1} END {if (!found) print -1}' /proc/diskstats; }
# One client run against a server; its summary line gets the server's CPU
# seconds during the run (srv_cpu_s=) next to the client's own (cpu_s=),
# and the MB the disk wrote meanwhile (disk_mb=).
run() { # "server pids" url size files parallel requests extra...
  local pids=$1 url=$2 size=$3 files=$4 par=$5 n=$6; shift 6
  local c0 d0 out; c0=$(cpu_s $pids); d0=$(disk_bytes)
  out=$("$UC" --url "$url" --size "$size" --files "$files" --parallel "$par" --requests "$n" --summary "$@")
  echo "$out srv_cpu_s=$(awk -v a="$c0" -v b="$(cpu_s $pids)" 'BEGIN {printf "%.2f", b - a}')" \
    "disk_mb=$(awk -v a="$d0" -v b="$(disk_bytes)" 'BEGIN {if (a < 0) print "?"; else printf "%.0f", (b - a) / 1e6}')"
}
# milliseconds of CPU per request: per_req SECONDS REQUESTS
per_req() { awk -v s="$1" -v n="$2" 'BEGIN {printf "%.2f", s * 1000 / n}'; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }
# The machine is shared: every measurement is taken REPS times, the two
# servers alternating, and the median (by the given field) is reported.
REPS=${REPS:-3}
median() { # field outputs... -> the output with the median value of field
  local f=$1; shift
  printf '%s\n' "$@" | awk -v f="$f=" '{for(i=1;i<=NF;i++) if (index($i,f)==1) print substr($i,length(f)+1), $0}' |
    sort -n | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}' | cut -d' ' -f2-
}

# The machine may be shared: say how busy it was, so the figures can be
# read for what they are (load average; I/O pressure where available).
machine_load() {
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" \
    "$( [ -r /proc/pressure/io ] && sed -n 's/^some avg10=\([^ ]*\) avg60=\([^ ]*\).*/io pressure (some) avg10=\1 avg60=\2/p' /proc/pressure/io)"
}
echo "start: $(date -u '+%F %T UTC'), $(machine_load)"
printf '%-10s %-9s %5s %5s %9s %9s %8s %10s %10s %8s\n' server size conc reqs MB/s req/s RSS_MB \
  srv_ms/req cli_ms/req disk_MB
for size in $((1 << 20)) $((16 << 20)); do
  for conc in 1 8 32; do
    # about a second per run: shorter runs were dominated by noise from
    # the other users of this machine
    n=$(( size == (1 << 20) ? 480 : 48 )); [ "$conc" = 32 ] && [ "$size" = $((16 << 20)) ] && n=96
    ls_outs=(); ng_outs=(); ls_rss=0; ng_rss=0
    for rep in $(seq "$REPS"); do
      start_logshared 1
      ls_outs+=("$(run "$LS_PID" "http://127.0.0.1:$LPORT/api/v1/tickets" "$size" 1 "$conc" "$n" --token "$TOKEN")")
      r=$(hwm_mb "$LS_PID"); [ "$r" -gt "$ls_rss" ] && ls_rss=$r
      stop_logshared
      rm -rf "$work/nginx/body"/*
      ng_outs+=("$(run "$(nginx_pids)" "http://127.0.0.1:$NPORT/api/v1/tickets" "$size" 1 "$conc" "$n" --no-verify)")
      r=$(hwm_mb $(nginx_pids)); [ "$r" -gt "$ng_rss" ] && ng_rss=$r
      rm -rf "$work/nginx/body"/*
    done
    for o in "${ls_outs[@]}"; do [ "$(field failures "$o")" = 0 ] || echo "  (logshared failures: $o)"; done
    out=$(median MBps "${ls_outs[@]}")
    printf '%-10s %-9s %5s %5s %9s %9s %8s %10s %10s %8s\n' logshared "$((size >> 20))MiB" "$conc" "$n" \
      "$(field MBps "$out")" "$(field rps "$out")" "$ls_rss" \
      "$(per_req "$(field srv_cpu_s "$out")" "$n")" "$(per_req "$(field cpu_s "$out")" "$n")" \
      "$(field disk_mb "$out")"
    out=$(median MBps "${ng_outs[@]}")
    printf '%-10s %-9s %5s %5s %9s %9s %8s %10s %10s %8s\n' nginx "$((size >> 20))MiB" "$conc" "$n" \
      "$(field MBps "$out")" "$(field rps "$out")" "$ng_rss" \
      "$(per_req "$(field srv_cpu_s "$out")" "$n")" "$(per_req "$(field cpu_s "$out")" "$n")" \
      "$(field disk_mb "$out")"
  done
done
echo
printf '%-22s %5s %6s %10s %8s\n' server conc reqs tickets/s RSS_MB
for durable in 1 0; do
  outs=(); rss=0
  for rep in $(seq "$REPS"); do
    start_logshared "$durable"
    outs+=("$(run "$LS_PID" "http://127.0.0.1:$LPORT/api/v1/tickets" 0 0 32 4000 --token "$TOKEN")")
    r=$(hwm_mb "$LS_PID"); [ "$r" -gt "$rss" ] && rss=$r
    committed=$(sqlite3 "$work/ls/data/logshare.db" 'SELECT count(*) FROM tickets' 2>/dev/null || echo '?')
    [ "$committed" = 4000 ] || echo "  (only $committed of 4000 tickets in the database)"
    stop_logshared
  done
  out=$(median rps "${outs[@]}")
  printf '%-22s %5s %6s %10s %8s\n' "logshared durable=$durable" 32 4000 "$(field rps "$out")" "$rss"
done
outs=()
for rep in $(seq "$REPS"); do outs+=("$(run "$(nginx_pids)" "http://127.0.0.1:$NPORT/api/v1/tickets" 0 0 32 4000 --no-verify)"); done
out=$(median rps "${outs[@]}")
printf '%-22s %5s %6s %10s %8s\n' "nginx (body to file)" 32 4000 "$(field rps "$out")" "$(hwm_mb $(nginx_pids))"
echo "(median of $REPS runs each; RSS is the peak over the runs)"
echo "end: $(date -u '+%F %T UTC'), $(machine_load)"
