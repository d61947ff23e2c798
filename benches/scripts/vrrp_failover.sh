#!/usr/bin/env bash
# VRRPv3 failover of lvs-vrrpd measured on the wire, in network namespaces.
#
#   sudo benches/scripts/vrrp_failover.sh [N]        # N kill -9 failovers per interval (30)
#
# Two routers on a bridge: r1 (priority 150) and r2 (priority 100, the backup), one VIP,
# VRRPv3 over IPv4. For each advert interval (10 ms, 100 ms) the script repeats N times:
# start r1, wait until it has preempted r2, wait a random fraction of an interval, kill -9 r1.
# Then N/3 times the same with SIGTERM instead (r1 resigns with priority 0). dumpcap on r2's
# interface records every advert and gratuitous ARP; the figures come from that capture:
#
#   crash      r1's last advert before the kill  ->  r2's first advert after it
#              (formula: Master_Down_Interval = 3 x interval + Skew_Time)
#   handover   r1's priority-0 advert            ->  r2's first advert after it
#              (formula: Skew_Time = (256 - 100) / 256 x interval)
#   first GARP r2's first advert as master       ->  r2's first gratuitous ARP for the VIP
#
# RT=1 runs both daemons and the capture under SCHED_FIFO 50 (chrt), as keepalived's
# vrrp_rt_priority would; by default they run at normal priority.
#
# Needs root, iproute2, dumpcap and tshark (Debian `tshark`), python3. Builds
# lvs-vrrpd --release unless $LVS_VRRPD points at a binary. Everything it creates (namespaces,
# processes, the temp dir) is removed on exit, also on failure or Ctrl-C.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

N=${1:-30}
TERMS=$(( N / 3 > 0 ? N / 3 : 1 ))
bench_require ip dumpcap tshark python3
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 2; }
BIN=${LVS_VRRPD:-${CARGO_TARGET_DIR:-$BENCH_ROOT/target}/release/lvs-vrrpd}
bench_build "$BIN" lvs-vrrpd

RUN=()
if [ "${RT:-0}" = 1 ]; then bench_require chrt; RUN=(chrt -f 50); fi

bench_workdir vrrp_failover
TAG="vf$$"
NS=()
cleanup_ns() {
    for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -KILL "$p" 2>/dev/null || true; done
    for n in "${NS[@]}"; do ip netns del "$n" 2>/dev/null || true; done
    bench_cleanup
}
trap cleanup_ns EXIT INT TERM

NET=10.79.0
VIP=$NET.100
ip netns add "${TAG}sw"; NS+=("${TAG}sw")
ip -n "${TAG}sw" link add br0 type bridge mcast_snooping 0
ip -n "${TAG}sw" link set br0 up
for i in 1 2; do
    ns="${TAG}r$i"
    ip netns add "$ns"; NS+=("$ns")
    ip -n "${TAG}sw" link add "p$i" type veth peer name eth0 netns "$ns"
    ip -n "${TAG}sw" link set "p$i" master br0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$NET.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
done

conf() { # NAME PRIORITY INTERVAL
    cat > "$WORK/$1.toml" <<EOF
[global]
interface_poll = 1.0
vip_reconcile = 0
[[instance]]
name = "VI_1"
interface = "eth0"
vrid = 51
priority = $2
version = 3
advert_int = $3
virtual_addresses = ["$VIP/24"]
garp_master_delay = 0
garp_master_repeat = 1
EOF
}

holds() { ip -n "${TAG}$1" -o -4 addr show dev eth0 | grep -q " $VIP/"; }

wait_until() { # SECONDS CMD...
    local end=$(( $(date +%s) + $1 )); shift
    until "$@"; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.005
    done
}

r1_master() { holds r1 && ! holds r2; }

# Reap PID and drop it from PIDS, so the exit trap never signals a reused pid.
reap() {
    wait "$1" 2>/dev/null || true
    local keep=() p
    for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}
r2_holds() { holds r2; }

start() { # ROUTER INTERVAL
    local prio=150; [ "$1" = r2 ] && prio=100
    conf "$1-$2" "$prio" "$2"
    ip netns exec "${TAG}$1" "${RUN[@]}" "$BIN" -c "$WORK/$1-$2.toml" 2>>"$WORK/$1.log" &
    PIDS+=($!)
    LAST=$!
}

for IV in 0.01 0.1; do
    : > "$WORK/events-$IV"
    ip netns exec "${TAG}r2" "${RUN[@]}" dumpcap -q -B 16 -i eth0 -f "ip proto 112 or arp" \
        -w "$WORK/cap-$IV.pcapng" 2>>"$WORK/dumpcap.log" &
    CAP=$!; PIDS+=($CAP)
    wait_until 10 grep -q "Capturing on" "$WORK/dumpcap.log"
    start r2 "$IV"; R2=$LAST
    for k in $(seq 1 $(( N + TERMS ))); do
        start r1 "$IV"; R1=$LAST
        wait_until 20 r1_master || { echo "r1 did not become master" >&2; exit 1; }
        # Some adverts as master, then a random phase within one interval.
        sleep "$(python3 -c "import random; print(5 * $IV + random.random() * $IV)")"
        if [ "$k" -le "$N" ]; then
            echo "kill $(date +%s.%N)" >> "$WORK/events-$IV"
            kill -KILL "$R1"
        else
            echo "term $(date +%s.%N)" >> "$WORK/events-$IV"
            kill -TERM "$R1"
        fi
        reap "$R1"
        wait_until 20 r2_holds || { echo "r2 did not take over" >&2; exit 1; }
        # A crashed r1 leaves its VIP behind; the restarted r1 removes it at start.
        sleep "$(python3 -c "print(4 * $IV)")"
    done
    kill -TERM "$R2"; reap "$R2"
    sleep 0.2
    kill -TERM "$CAP"; reap "$CAP"
    # A frame the capture lost would turn into a false outlier: say so.
    echo "advert_int $IV: $(grep -h "dropped" "$WORK/dumpcap.log" || echo "dumpcap drop count unknown")"
    : > "$WORK/dumpcap.log"
    tshark -n -r "$WORK/cap-$IV.pcapng" -T fields -E separator=' ' \
        -e frame.time_epoch -e ip.src -e vrrp.prio -e arp.src.proto_ipv4 -e eth.src \
        > "$WORK/frames-$IV"
done

MAC2=$(ip netns exec "${TAG}r2" cat /sys/class/net/eth0/address)
python3 - "$WORK" "$NET" "$VIP" "$MAC2" <<'EOF'
import sys
work, net, vip, mac2 = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].strip().lower()
r1, r2 = net + ".1", net + ".2"

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

def show(what, xs, target):
    if not xs:
        print(f"  {what:<10} no samples")
        return
    ms = [x * 1000 for x in xs]
    print(f"  {what:<10} n={len(ms):<3} p50 {pct(ms, 50):7.2f} ms  p99 {pct(ms, 99):7.2f} ms  "
          f"max {max(ms):7.2f} ms  (target {target})")

for iv in ("0.01", "0.1"):
    i = float(iv)
    adverts, garps = [], []  # (t, src, prio) / t of GARPs from r2 for the VIP
    for line in open(f"{work}/frames-{iv}"):
        f = line.split()
        if len(f) == 4 and f[2].isdigit():
            adverts.append((float(f[0]), f[1], int(f[2])))
        elif len(f) == 3 and f[1] == vip and f[2].lower() == mac2:
            garps.append(float(f[0]))
    events = [(l.split()[0], float(l.split()[1])) for l in open(f"{work}/events-{iv}")]
    crash, hand, garp = [], [], []
    for kind, t in events:
        after = [a for a in adverts if a[1] == r2 and a[0] > t and a[2] > 0]
        if not after:
            continue
        first = after[0][0]
        # The signal lands a little after the logged time: r1's last advert is its last one
        # before r2's first (r1 restarts only after r2 has taken over).
        before = [a for a in adverts if a[1] == r1 and a[2] > 0 and a[0] < first]
        if not before:
            continue
        if kind == "kill":
            crash.append(first - before[-1][0])
        else:
            zero = [a for a in adverts if a[1] == r1 and a[2] == 0 and a[0] >= t]
            if zero:
                hand.append(first - zero[0][0])
        g = [x for x in garps if x >= first - 0.001]
        if g:
            garp.append(g[0] - first)
    skew = (256 - 100) / 256 * i
    mdi = 3 * i + skew
    print(f"VRRPv3 advert_int {i * 1000:.0f} ms (backup priority 100: "
          f"Master_Down_Interval {mdi * 1000:.1f} ms, Skew_Time {skew * 1000:.2f} ms)")
    show("crash", crash, "<= 38 ms" if iv == "0.01" else "<= 363 ms")
    show("handover", hand, f"<= Skew_Time + 2 ms = {skew * 1000 + 2:.2f} ms")
    show("first GARP", garp, "<= 1 ms")
EOF
