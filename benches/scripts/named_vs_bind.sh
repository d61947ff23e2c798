#!/usr/bin/env bash
# Side by side: lvs-named, BIND (forward only), unbound and dnsmasq as caching forwarders of
# the same authoritative BIND, under the same fixed dnsperf load. The primary figure is server
# CPU time per query at a fixed offered rate (utime+stime from /proc/<pid>/stat over the run),
# the method of the DNS reference's §4.2; saturated QPS is bounded by one dnsperf core.
#
#   benches/scripts/named_vs_bind.sh [seconds] [rate] [rounds] [names]
#
# Defaults: 10 s rounds at 20000 queries/s offered, 3 interleaved rounds, 20000 names.
# Needs: named, dnsperf (Debian: bind9 dnsperf); unbound and dnsmasq are measured when
# installed (Debian: unbound dnsmasq-base). Pins the forwarder under test to CPU 1 and dnsperf
# plus the authoritative server to CPU 0 when taskset exists and there are two CPUs.
set -euo pipefail

SECS=${1:-10}
RATE=${2:-20000}
ROUNDS=${3:-3}
NAMES=${4:-20000}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=benches/scripts/lib.sh
. "$HERE/lib.sh"
TARGET=${CARGO_TARGET_DIR:-$BENCH_ROOT/target}
LVS_NAMED=${LVS_NAMED:-$TARGET/release/lvs-named}

bench_require named dnsperf python3
bench_build "$LVS_NAMED" lvs-named
bench_workdir named-bench

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

# The authoritative upstream: bench.test with $NAMES A records, TTL one day.
AUTH=$(free_port)
mkdir -p "$WORK/auth"
{
    echo '$TTL 86400'
    echo '@ IN SOA ns.bench.test. h.bench.test. 1 3600 600 86400 60'
    echo '@ IN NS ns.bench.test.'
    echo 'ns IN A 127.0.0.1'
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

declare -A PORT PID
# lvs-named
P=$(free_port); PORT[lvs-named]=$P
cat >"$WORK/lvs.conf" <<EOF
options { forward only; forwarders { 127.0.0.1 port $AUTH; }; listen-on port $P { 127.0.0.1; };
  listen-on-v6 { none; }; max-cache-size 256m; };
EOF
$SRV_CPU "$LVS_NAMED" -c "$WORK/lvs.conf" -n 1 2>"$WORK/lvs.log" & PID[lvs-named]=$!; PIDS+=($!)
# BIND as a forwarder
P=$(free_port); PORT[bind]=$P; mkdir -p "$WORK/bind"
cat >"$WORK/bind/named.conf" <<EOF
options { directory "$WORK/bind"; listen-on port $P { 127.0.0.1; }; listen-on-v6 { none; };
  forward only; forwarders { 127.0.0.1 port $AUTH; }; dnssec-validation no; pid-file none;
  session-keyfile "$WORK/bind/s.key"; allow-recursion { any; }; max-cache-size 256m; };
controls { };
EOF
$SRV_CPU named -g -u root -n 1 -c "$WORK/bind/named.conf" >"$WORK/bind.log" 2>&1 & PID[bind]=$!; PIDS+=($!)
# unbound
if command -v unbound >/dev/null; then
    P=$(free_port); PORT[unbound]=$P
    cat >"$WORK/unbound.conf" <<EOF
server:
  interface: 127.0.0.1@$P
  port: $P
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
forward-zone:
  name: "."
  forward-addr: 127.0.0.1@$AUTH
EOF
    $SRV_CPU unbound -d -c "$WORK/unbound.conf" >"$WORK/unbound.log" 2>&1 & PID[unbound]=$!; PIDS+=($!)
fi
# dnsmasq
if command -v dnsmasq >/dev/null; then
    P=$(free_port); PORT[dnsmasq]=$P
    $SRV_CPU dnsmasq -k --no-resolv --no-hosts --server="127.0.0.1#$AUTH" --cache-size=200000 \
        --listen-address=127.0.0.1 --bind-interfaces --port="$P" --user=root \
        --pid-file="$WORK/dnsmasq.pid" >"$WORK/dnsmasq.log" 2>&1 & PID[dnsmasq]=$!; PIDS+=($!)
fi

SERVERS=(lvs-named bind)
[ -n "${PORT[unbound]:-}" ] && SERVERS+=(unbound)
[ -n "${PORT[dnsmasq]:-}" ] && SERVERS+=(dnsmasq)

for i in $(seq 1 "$NAMES"); do echo "h$i.bench.test A"; done >"$WORK/queries"
for s in "${SERVERS[@]}"; do
    wait_dns "${PORT[$s]}"
    # Warm the cache: two passes over every name.
    $GEN_CPU dnsperf -s 127.0.0.1 -p "${PORT[$s]}" -d "$WORK/queries" -n 2 -c 20 -q 200 >/dev/null
done

declare -A RESULTS
for r in $(seq 1 "$ROUNDS"); do
    for s in "${SERVERS[@]}"; do
        t0=$(cpu_ticks "${PID[$s]}")
        out=$($GEN_CPU dnsperf -s 127.0.0.1 -p "${PORT[$s]}" -d "$WORK/queries" -l "$SECS" \
            -Q "$RATE" -c 20 -q 500 2>&1)
        t1=$(cpu_ticks "${PID[$s]}")
        done_q=$(echo "$out" | awk '/Queries completed:/ {print $3}')
        lost=$(echo "$out" | awk '/Queries lost:/ {print $3}')
        qps=$(echo "$out" | awk '/Queries per second:/ {print $4}')
        lat=$(echo "$out" | awk '/Average Latency/ {print $4}')
        us=$(python3 -c "print(f'{($t1-$t0)*1e6/$CLK_TCK/max(1,$done_q):.1f}')")
        RESULTS[$s]+="$us "
        printf 'round %d %-10s completed %-8s lost %-6s qps %-10s avg-latency %-9s cpu %s us/query\n' \
            "$r" "$s" "$done_q" "$lost" "$qps" "$lat" "$us"
    done
done

echo
echo "median CPU us/query at $RATE q/s offered ($ROUNDS x ${SECS}s, $NAMES cached names):"
base=""
for s in "${SERVERS[@]}"; do
    med=$(echo "${RESULTS[$s]}" | tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    [ "$s" = lvs-named ] && base=$med
    ratio=$(python3 -c "print(f'{$med/$base:.2f}' if $base else '-')")
    printf '  %-10s %8s   (x%s of lvs-named)\n' "$s" "$med" "$ratio"
done
