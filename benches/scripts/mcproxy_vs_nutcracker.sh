#!/usr/bin/env bash
# Side by side: nutcracker (twemproxy) and lvs-mcproxy in front of the same two memcached, the
# same pool, the same fixed load (benches/scripts/mcload.py: closed loop, pipelined, 90:10
# get:set, 100-byte values). Prints throughput and CPU time per request of each proxy (from
# /proc/<pid>/stat) and the ratios. memtier_benchmark is not packaged in Debian, hence mcload.py.
#
#   benches/scripts/mcproxy_vs_nutcracker.sh [seconds] [connections] [depth] [workers]
#
# Needs: memcached, nutcracker, python3 (Debian: memcached nutcracker python3). Pins the proxy
# to CPU 0 and memcached plus the load generator to the other CPUs when taskset exists.
set -euo pipefail

SECONDS_RUN=${1:-10}
CONNS=${2:-32}
DEPTH=${3:-16}
WORKERS=${4:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=benches/scripts/lib.sh
. "$HERE/lib.sh"
mcproxy_setup mcproxy-bench

wait_port() {
    for _ in $(seq 100); do
        python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "port $1 never opened" >&2; exit 1
}
NCPU=$(nproc)
PROXY_CPU=""; LOAD_CPU=""
if command -v taskset >/dev/null && [ "$NCPU" -ge 2 ]; then
    PROXY_CPU="taskset -c 0"; LOAD_CPU="taskset -c 1-$((NCPU - 1))"
fi

M1=$(free_port); M2=$(free_port)
# shellcheck disable=SC2086 # LOAD_CPU is a command prefix, split on purpose
start_memcached "$M1" 256 $LOAD_CPU
# shellcheck disable=SC2086
start_memcached "$M2" 256 $LOAD_CPU
wait_port "$M1"; wait_port "$M2"

pool() { # name listen-port
    cat <<YML
$1:
  listen: 127.0.0.1:$2
  hash: fnv1a_64
  distribution: ketama
  timeout: 1000
  auto_eject_hosts: false
  server_retry_timeout: 2000
  server_failure_limit: 2
  servers:
   - 127.0.0.1:$M1:1
   - 127.0.0.1:$M2:1
YML
}

CLK=$CLK_TCK

run_one() { # label port pid
    local label=$1 port=$2 pid=$3 before after out ops rate secs
    $LOAD_CPU python3 "$HERE/mcload.py" --port "$port" --conns 4 --depth 8 --seconds 1 --preload >/dev/null
    before=$(cpu_ticks "$pid")
    out=$($LOAD_CPU python3 "$HERE/mcload.py" --port "$port" --conns "$CONNS" --depth "$DEPTH" --seconds "$SECONDS_RUN")
    after=$(cpu_ticks "$pid")
    ops=$(sed -E 's/.*ops=([0-9]+).*/\1/' <<<"$out")
    rate=$(sed -E 's/.*ops_per_s=([0-9]+).*/\1/' <<<"$out")
    secs=$(awk -v t=$((after - before)) -v c="$CLK" 'BEGIN{print t / c}')
    printf '%-12s %12s ops/s  %8.2f us CPU/request  (%s)\n' "$label" "$rate" \
        "$(awk -v s="$secs" -v o="$ops" 'BEGIN{print s * 1e6 / o}')" "$out"
    eval "RATE_$label=$rate; CPU_$label=$(awk -v s="$secs" -v o="$ops" 'BEGIN{print s * 1e6 / o}')"
}

N=$(free_port); S=$(free_port); L=$(free_port)
pool nutcracker "$N" > "$WORK/nutcracker.yml"
pool lvs "$L" > "$WORK/lvs.yml"
$PROXY_CPU nutcracker -c "$WORK/nutcracker.yml" -s "$S" -a 127.0.0.1 -o "$WORK/nutcracker.log" -p "$WORK/nc.pid" & NC=$!; PIDS+=($NC)
$PROXY_CPU "$MCPROXY" -c "$WORK/lvs.yml" -w "$WORKERS" 2>"$WORK/lvs.log" & LV=$!; PIDS+=($LV)
wait_port "$N"; wait_port "$L"

echo "load: ${SECONDS_RUN}s, $CONNS connections x depth $DEPTH, 90:10 get:set, 100 B values, 2x memcached -t 1; lvs-mcproxy -w $WORKERS"
run_one nutcracker "$N" "$NC"
run_one lvs_mcproxy "$L" "$LV"
awk -v a="$RATE_lvs_mcproxy" -v b="$RATE_nutcracker" -v c="$CPU_lvs_mcproxy" -v d="$CPU_nutcracker" \
    'BEGIN{printf "ratio lvs-mcproxy / nutcracker: throughput %.2fx, CPU per request %.2fx\n", a / b, c / d}'
