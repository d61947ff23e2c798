#!/usr/bin/env bash
# lvs-named, unbound, dnsmasq and BIND, one after another, as forward-only caching forwarders
# of the same local authoritative BIND, under the same dnsperf loads (the DNS reference's
# §4.2 method: a fixed offered load and the server's CPU time per query):
#
#   hit    cache hits over UDP at a fixed offered rate (-Q, default 50000/s): server CPU
#          us/query (utime+stime from /proc/<pid>/stat before and after), achieved QPS, lost
#          queries, latency avg/stddev as dnsperf prints them, and p50/p99/p99.9 computed from
#          dnsperf -v (dnsperf 2.10 has no histogram option; -v prints each query's latency
#          with 1 us resolution, and the figures cover every completed query of the run);
#   tcp    cache hits over TCP, TCP_CONNS connections (default 20) with TCP_OUTSTANDING
#          queries in flight between them (pipelined), unlimited rate: achieved QPS, CPU us/query;
#   miss   every query a name the server has never seen (wildcard names of the upstream),
#          MISS_OUTSTANDING (default 1000) in flight, unlimited rate: achieved QPS, lost, CPU.
#
# SERVERS may also name "floor": bins/examples/dns_floor.rs, a responder that makes only the
# system calls any UDP server must (blocking recvmmsg, one sendmmsg per batch) and does no DNS
# work, measured in the hit case only: the kernel's share of a cache hit on this machine.
#
#   benches/scripts/dns_side_by_side.sh [seconds] [names]
#
# Defaults: 10 s per measurement, 20000 cached names. Environment: HIT_QPS, TCP_CONNS,
# TCP_OUTSTANDING, MISS_OUTSTANDING, SERVERS (default "lvs-named unbound dnsmasq bind"),
# LVS_NAMED (the binary; built in release mode when missing), LVS_WORKERS (default 1).
# Needs: named, dnsperf, dig, python3 (Debian: bind9 bind9-dnsutils dnsperf python3); unbound
# and dnsmasq are measured when installed (Debian: unbound dnsmasq-base). With taskset and two
# or more CPUs the forwarder under test runs on CPU 1, dnsperf and the upstream on CPU 0.
# Only one forwarder runs at a time; each gets its own loopback port.
set -euo pipefail

SECS=${1:-10}
NAMES=${2:-20000}
HIT_QPS=${HIT_QPS:-50000}
TCP_CONNS=${TCP_CONNS:-20}
TCP_OUTSTANDING=${TCP_OUTSTANDING:-500}
MISS_OUTSTANDING=${MISS_OUTSTANDING:-1000}
SERVERS=${SERVERS:-lvs-named unbound dnsmasq bind}
LVS_WORKERS=${LVS_WORKERS:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=benches/scripts/lib.sh
. "$HERE/lib.sh"
TARGET=${CARGO_TARGET_DIR:-$BENCH_ROOT/target}
LVS_NAMED=${LVS_NAMED:-$TARGET/release/lvs-named}
DNS_FLOOR=$TARGET/release/examples/dns_floor

bench_require named dnsperf dig python3
bench_build "$LVS_NAMED" lvs-named
case " $SERVERS " in
*" floor "*) [ -x "$DNS_FLOOR" ] || (cd "$BENCH_ROOT" && cargo build --release -p lvs-bins --example dns_floor) ;;
esac
bench_workdir dns-side-by-side

SRV_CPU=""; GEN_CPU=""
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    SRV_CPU="taskset -c 1"; GEN_CPU="taskset -c 0"
fi

wait_dns() { # port
    for _ in $(seq 200); do
        dig @127.0.0.1 -p "$1" +tries=1 +time=1 h1.bench.test >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "nothing answers on port $1" >&2; exit 1
}

# The authoritative upstream: bench.test with $NAMES A records (TTL one day) and a wildcard
# under miss.bench.test, so every miss-path name has a positive answer.
AUTH=$(free_port)
mkdir -p "$WORK/auth"
{
    echo '$TTL 86400'
    echo '@ IN SOA ns.bench.test. h.bench.test. 1 3600 600 86400 60'
    echo '@ IN NS ns.bench.test.'
    echo 'ns IN A 127.0.0.1'
    echo '*.miss IN A 10.255.0.1'
    for i in $(seq 1 "$NAMES"); do echo "h$i IN A 10.$((i / 65536 % 256)).$((i / 256 % 256)).$((i % 256))"; done
} >"$WORK/auth/bench.test.zone"
cat >"$WORK/auth/named.conf" <<EOF
options { directory "$WORK/auth"; listen-on port $AUTH { 127.0.0.1; }; listen-on-v6 { none; };
  recursion no; pid-file none; session-keyfile "$WORK/auth/s.key"; dnssec-validation no; };
controls { };
zone "bench.test" { type primary; file "bench.test.zone"; };
EOF
$GEN_CPU named -g -u root -n 1 -c "$WORK/auth/named.conf" >"$WORK/auth.log" 2>&1 & PIDS+=($!)
wait_dns "$AUTH"

for i in $(seq 1 "$NAMES"); do echo "h$i.bench.test A"; done >"$WORK/hits"

# start_server NAME PORT: starts one forwarder on CPU 1; sets SPID.
start_server() {
    local name=$1 port=$2
    case $name in
    lvs-named)
        cat >"$WORK/lvs.conf" <<EOF
options { forward only; forwarders { 127.0.0.1 port $AUTH; }; listen-on port $port { 127.0.0.1; };
  listen-on-v6 { none; }; max-cache-size 256m; allow-recursion { any; }; tcp-clients 1000; };
EOF
        $SRV_CPU "$LVS_NAMED" -c "$WORK/lvs.conf" -n "$LVS_WORKERS" 2>"$WORK/lvs.log" & ;;
    bind)
        mkdir -p "$WORK/bind"
        cat >"$WORK/bind/named.conf" <<EOF
options { directory "$WORK/bind"; listen-on port $port { 127.0.0.1; }; listen-on-v6 { none; };
  forward only; forwarders { 127.0.0.1 port $AUTH; }; dnssec-validation no; pid-file none;
  session-keyfile "$WORK/bind/s.key"; allow-recursion { any; }; max-cache-size 256m;
  tcp-clients 1000; recursive-clients 10000; };
controls { };
EOF
        $SRV_CPU named -g -u root -n 1 -c "$WORK/bind/named.conf" >"$WORK/bind.log" 2>&1 & ;;
    unbound)
        # incoming-num-tcp: the default 10 collapses TCP with 20 clients (reference §4.2).
        cat >"$WORK/unbound.conf" <<EOF
server:
  interface: 127.0.0.1@$port
  port: $port
  num-threads: 1
  do-not-query-localhost: no
  module-config: "iterator"
  local-zone: "test." nodefault
  chroot: ""
  username: ""
  pidfile: ""
  use-syslog: no
  access-control: 127.0.0.0/8 allow
  msg-cache-size: 128m
  rrset-cache-size: 256m
  incoming-num-tcp: 200
  num-queries-per-thread: 4096
  outgoing-range: 8192
forward-zone:
  name: "."
  forward-addr: 127.0.0.1@$AUTH
EOF
        $SRV_CPU unbound -d -c "$WORK/unbound.conf" >"$WORK/unbound.log" 2>&1 & ;;
    floor)
        $SRV_CPU "$DNS_FLOOR" "127.0.0.1:$port" & ;;
    dnsmasq)
        $SRV_CPU dnsmasq -k --no-resolv --no-hosts --server="127.0.0.1#$AUTH" \
            --cache-size=200000 --dns-forward-max=1000 --listen-address=127.0.0.1 \
            --bind-interfaces --port="$port" --user=root --pid-file="$WORK/dnsmasq.pid" \
            >"$WORK/dnsmasq.log" 2>&1 & ;;
    esac
    SPID=$!
    PIDS+=("$SPID")
}

# perf_run LABEL PID ARGS...: one dnsperf run against the server PID; prints a result line and
# appends it to $WORK/results.
perf_run() {
    local label=$1 pid=$2; shift 2
    local t0 t1
    t0=$(cpu_ticks "$pid")
    $GEN_CPU dnsperf "$@" >"$WORK/dnsperf.out" 2>&1 || true
    t1=$(cpu_ticks "$pid")
    python3 - "$label" "$t0" "$t1" "$CLK_TCK" "$WORK/dnsperf.out" <<'PY' | tee -a "$WORK/results"
import sys
label, t0, t1, tck = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
lat, stats = [], {}
for line in open(sys.argv[5]):
    f = line.split()
    if line.startswith("> ") and len(f) >= 5:
        lat.append(float(f[-1]))
    elif "Queries completed:" in line:
        stats["done"] = int(f[2])
    elif "Queries lost:" in line:
        stats["lost"] = int(f[2])
    elif "Queries per second:" in line:
        stats["qps"] = float(f[3])
    elif "Average Latency" in line and "avg" not in stats:
        # The first one is per query; TCP runs add a second, per connection.
        stats["avg"] = float(f[3])
    elif "Latency StdDev" in line and "sd" not in stats:
        stats["sd"] = float(f[3])
done = max(1, stats.get("done", 0))
cpu_us = (t1 - t0) * 1e6 / tck / done
p = ""
if lat:
    lat.sort()
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1e6
    p = f" p50 {pick(0.50):.0f} p99 {pick(0.99):.0f} p99.9 {pick(0.999):.0f} us"
print(f"{label:<22} qps {stats.get('qps', 0):>9.0f} lost {stats.get('lost', 0):>6} "
      f"cpu {cpu_us:6.2f} us/q avg {stats.get('avg', 0) * 1e6:6.0f} sd {stats.get('sd', 0) * 1e6:6.0f} us{p}")
PY
}

for s in $SERVERS; do
    case $s in
    unbound | dnsmasq) command -v "$s" >/dev/null || { echo "skip $s: not installed"; continue; } ;;
    esac
    port=$(free_port)
    start_server "$s" "$port"
    wait_dns "$port"
    # Warm the cache: two passes over every name.
    $GEN_CPU dnsperf -s 127.0.0.1 -p "$port" -d "$WORK/hits" -n 2 -c 20 -q 200 >/dev/null 2>&1
    perf_run "$s hit@$HIT_QPS" "$SPID" -s 127.0.0.1 -p "$port" -d "$WORK/hits" -l "$SECS" \
        -Q "$HIT_QPS" -c 20 -q 500 -v
    if [ "$s" = floor ]; then
        kill "$SPID" 2>/dev/null || true
        wait "$SPID" 2>/dev/null || true
        continue
    fi
    perf_run "$s tcp x$TCP_CONNS" "$SPID" -m tcp -s 127.0.0.1 -p "$port" -d "$WORK/hits" \
        -l "$SECS" -c "$TCP_CONNS" -q "$TCP_OUTSTANDING"
    # Names this server has never seen: enough for the run at 100k/s.
    python3 -c "
import sys
for i in range(int(sys.argv[1])): print(f'q{i}.$s.miss.bench.test A')" $((SECS * 100000)) >"$WORK/miss"
    perf_run "$s miss" "$SPID" -s 127.0.0.1 -p "$port" -d "$WORK/miss" -n 1 -l "$SECS" \
        -c 20 -q "$MISS_OUTSTANDING" -t 2
    kill "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
done

echo
echo "summary (${SECS}s each, $NAMES cached names; hit at $HIT_QPS q/s offered, UDP;"
echo "tcp $TCP_CONNS connections, $TCP_OUTSTANDING in flight; miss $MISS_OUTSTANDING in flight):"
cat "$WORK/results"
