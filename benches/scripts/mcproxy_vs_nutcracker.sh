#!/usr/bin/env bash
# Side by side: nutcracker (twemproxy) and lvs-mcproxy in front of the same two memcached, the
# same pool, the same load from the mcload example (bins/examples/mcload/: one thread, mio,
# pipelined, 90:10 get:set over 10,000 keys, 100-byte values, every reply parsed and checked;
# a fixed rate is paced without coordinated omission).
#
#   benches/scripts/mcproxy_vs_nutcracker.sh [sat|rate|workers|quota|quota2|all] [seconds] [conns] [depth]
#
#   sat      closed loop, both proxies saturated: throughput and CPU time per request. The
#            proxy runs on CPU 0, memcached and mcload on the other CPUs.
#   rate     the same fixed offered rate for both (RATE=<requests/s>, by default 60 % of
#            nutcracker's saturation throughput, measured first): CPU time per request, user
#            and system separately and their sum, from /proc/<pid>/stat. Pinned as in sat.
#            "late" counts requests that found their connection's window full (the proxy
#            fell behind the offered rate).
#   workers  closed loop, lvs-mcproxy -w 2 against nutcracker, nothing pinned.
#   quota    saturation at the same CPU budget: each proxy in a cgroup allowed QUOTA of one CPU
#            (default 0.2, enforced every PERIOD_US, default 10000), closed loop, nothing pinned.
#            The budget makes the proxy the bottleneck even on a 2-CPU machine, where the
#            generator and the two memcached otherwise fill the CPUs first: throughput at the
#            budget is the proxy's capacity per CPU. The cgroups' throttling counts are printed
#            to show both proxies were held at the budget.
#   quota2   the same with lvs-mcproxy -w 2, each worker thread in a cgroup of its own with the
#            budget nutcracker's one thread has (one "core" each, as on a machine with more).
#   all      sat, rate and workers, one after the other.
#
# FLOOR=1 adds a third target, bins/examples/mc_floor: only a proxy's client-side work (read
# the requests, write the replies, every get a miss, no backend side), the CPU per request no
# proxy can go below here. It is measured like the proxies (same CPU, same load).
#
# Environment: ROUNDS (default 3) alternating rounds per mode, each proxy measured once per
# round, the order swapped every round; the medians over the rounds are compared (single runs
# vary by +-20 % on a shared 2-core machine). RATE for the rate mode. LVS_MCPROXY and MCLOAD
# override the binaries (built with cargo --release when missing).
#
# Needs: memcached, nutcracker, python3 (Debian: memcached nutcracker python3), taskset for the
# pinning (util-linux); the quota modes need root and the cgroup v1 cpu controller. Prints one line per measurement, then the medians and the ratios.
set -euo pipefail

MODE=${1:-sat}
SECONDS_RUN=${2:-10}
CONNS=${3:-32}
DEPTH=${4:-16}
ROUNDS=${ROUNDS:-3}
HERE=$(cd "$(dirname "$0")" && pwd)

case "$MODE" in
    sat | rate | workers | quota | quota2) ;;
    all)
        for m in sat rate workers; do "$0" "$m" "$SECONDS_RUN" "$CONNS" "$DEPTH"; echo; done
        exit 0
        ;;
    *) echo "usage: $0 [sat|rate|workers|quota|quota2|all] [seconds] [conns] [depth]" >&2; exit 2 ;;
esac
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a positive integer" >&2; exit 2; }

# shellcheck source=benches/scripts/lib.sh
. "$HERE/lib.sh"
mcproxy_setup "mcproxy-bench-$MODE"
MCLOAD=${MCLOAD:-$TARGET/release/examples/mcload}
[ -x "$MCLOAD" ] || (cd "$BENCH_ROOT" && cargo build --release -p lvs-bins --example mcload)
MCFLOOR=${MCFLOOR:-$TARGET/release/examples/mc_floor}
if [ "${FLOOR:-0}" = 1 ] && [ ! -x "$MCFLOOR" ]; then
    (cd "$BENCH_ROOT" && cargo build --release -p lvs-bins --example mc_floor)
fi

wait_port() {
    for _ in $(seq 100); do
        python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "port $1 never opened" >&2; exit 1
}

NCPU=$(nproc)
PROXY_CPU=""; LOAD_CPU=""
if [ "$MODE" != workers ] && [ "${MODE#quota}" = "$MODE" ] && command -v taskset >/dev/null && [ "$NCPU" -ge 2 ]; then
    PROXY_CPU="taskset -c 0"; LOAD_CPU="taskset -c 1-$((NCPU - 1))"
fi
WORKERS=1
[ "$MODE" = workers ] && WORKERS=2
[ "$MODE" = quota2 ] && WORKERS=2
QUOTA=${QUOTA:-0.2}
PERIOD_US=${PERIOD_US:-10000}
[[ $PERIOD_US =~ ^[1-9][0-9]{3,5}$ ]] || { echo "PERIOD_US must be 1000..999999" >&2; exit 2; }

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

N=$(free_port); S=$(free_port); L=$(free_port)
pool nutcracker "$N" > "$WORK/nutcracker.yml"
pool lvs "$L" > "$WORK/lvs.yml"
$PROXY_CPU nutcracker -c "$WORK/nutcracker.yml" -s "$S" -a 127.0.0.1 -o "$WORK/nutcracker.log" -p "$WORK/nc.pid" & NC=$!; PIDS+=($NC)
$PROXY_CPU "$MCPROXY" -c "$WORK/lvs.yml" -w "$WORKERS" 2>"$WORK/lvs.log" & LV=$!; PIDS+=($LV)
wait_port "$N"; wait_port "$L"

# The quota modes: nutcracker's threads in one budget; lvs-mcproxy's in one (quota) or one per
# worker thread (quota2, the main thread, which only waits, with worker 0).
GROUPS_OF=()
if [ "${MODE#quota}" != "$MODE" ]; then
    cpu_group "lvs-bench-$$-nutcracker" "$QUOTA" "$PERIOD_US"
    cpu_group_add "$CG" $(ls "/proc/$NC/task"); GROUPS_OF+=("nutcracker=$CG")
    cpu_group "lvs-bench-$$-lvs0" "$QUOTA" "$PERIOD_US"; G0=$CG
    if [ "$MODE" = quota2 ]; then
        cpu_group "lvs-bench-$$-lvs1" "$QUOTA" "$PERIOD_US"; G1=$CG
        GROUPS_OF+=("lvs-mcproxy-worker-0=$G0" "lvs-mcproxy-worker-1=$G1")
    else
        G1=$G0; GROUPS_OF+=("lvs-mcproxy=$G0")
    fi
    for t in $(ls "/proc/$LV/task"); do
        if [ "$(cat "/proc/$LV/task/$t/comm")" = mcproxy-1 ]; then cpu_group_add "$G1" "$t"
        else cpu_group_add "$G0" "$t"; fi
    done
fi

declare -A PORT=([nutcracker]=$N [lvs-mcproxy]=$L) PID=([nutcracker]=$NC [lvs-mcproxy]=$LV)
NAMES=(nutcracker lvs-mcproxy)
if [ "${FLOOR:-0}" = 1 ]; then
    F=$(free_port)
    $PROXY_CPU "$MCFLOOR" "127.0.0.1:$F" & PIDS+=($!)
    PORT[floor]=$F; PID[floor]=$!; NAMES+=(floor)
    wait_port "$F"
fi

mcload() { # mcload arguments...
    # shellcheck disable=SC2086
    $LOAD_CPU "$MCLOAD" --conns "$CONNS" --depth "$DEPTH" "$@"
}

field() { sed -E "s/.*(^| )$1=([^ ]+).*/\\2/" <<<"$2"; }

median() { sort -g | awk '{a[NR] = $1} END {print NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# One run against one proxy: prints a line and appends "ops_per_s user_us sys_us total_us
# proxy_cpu_percent" (CPU per request from the proxy's /proc/<pid>/stat) to $WORK/<proxy>.rows.
# "load CPU" is mcload's own CPU time (bash's time), to see whether the generator saturated.
TIMEFORMAT='%U %S'
measure() { # proxy round extra-mcload-args...
    local name=$1 round=$2 out u0 s0 u1 s1 lu lsys
    shift 2
    read -r u0 s0 < <(awk '{print $14, $15}' "/proc/${PID[$name]}/stat")
    out=$( { time mcload --addr "127.0.0.1:${PORT[$name]}" --seconds "$SECONDS_RUN" "$@"; } 2>"$WORK/time")
    read -r u1 s1 < <(awk '{print $14, $15}' "/proc/${PID[$name]}/stat")
    read -r lu lsys < <(tail -n 1 "$WORK/time")
    awk -v n="$name" -v r="$round" -v c="$CLK_TCK" -v u=$((u1 - u0)) -v s=$((s1 - s0)) \
        -v lu="$lu" -v lsys="$lsys" -v ops="$(field ops "$out")" -v secs="$(field seconds "$out")" \
        -v rate="$(field ops_per_s "$out")" -v e="$(field errors "$out")" \
        -v late="$(field late "$out")" -v p50="$(field p50_us "$out")" -v p99="$(field p99_us "$out")" \
        -v rows="$WORK/$name.rows" 'BEGIN {
            us = ops > 0 ? 1e6 / c / ops : 0
            cpu = (u + s) / c / secs * 100
            printf "round %d  %-12s %9.0f ops/s  CPU/request %6.2f us (user %5.2f, sys %5.2f)  proxy CPU %3.0f%%  load CPU %3.0f%%  p50 %.0f us  p99 %.0f us  late %d  errors %d%s\n",
                r, n, rate, (u + s) * us, u * us, s * us, cpu, (lu + lsys) / secs * 100, p50, p99,
                late, e, (e > 0 ? "  <-- ERRORS" : "") (late > ops / 100 ? "  <-- LATE" : "")
            printf "%s %s %s %s %s\n", rate, u * us, s * us, (u + s) * us, cpu >> rows
        }'
}

for name in "${NAMES[@]}"; do # fill the cache, then warm up
    mcload --addr "127.0.0.1:${PORT[$name]}" --seconds 1 --preload >/dev/null
done

RATE_ARGS=()
case "$MODE" in
    sat) echo "sat: closed loop, $CONNS connections x depth $DEPTH, ${SECONDS_RUN}s x $ROUNDS rounds; proxy on CPU 0" ;;
    workers) echo "workers: closed loop, $CONNS connections x depth $DEPTH, ${SECONDS_RUN}s x $ROUNDS rounds; lvs-mcproxy -w 2, nothing pinned" ;;
    quota | quota2)
        echo "$MODE: closed loop, $CONNS connections x depth $DEPTH, ${SECONDS_RUN}s x $ROUNDS rounds; $QUOTA CPU per proxy thread (per ${PERIOD_US} us), lvs-mcproxy -w $WORKERS, nothing pinned" ;;
    rate)
        if [ -z "${RATE:-}" ]; then
            out=$(mcload --addr "127.0.0.1:$N" --seconds "$SECONDS_RUN")
            RATE=$(awk -v r="$(field ops_per_s "$out")" 'BEGIN {printf "%d", r * 0.6}')
            echo "nutcracker saturates at $(field ops_per_s "$out") ops/s; offering 60 %: $RATE/s"
        fi
        echo "rate: $RATE requests/s offered, $CONNS connections (at most $DEPTH in flight each), ${SECONDS_RUN}s x $ROUNDS rounds; proxy on CPU 0"
        RATE_ARGS=(--rate "$RATE")
        ;;
esac

for round in $(seq "$ROUNDS"); do
    order=("${NAMES[@]}")
    if [ $((round % 2)) = 0 ]; then
        order=()
        for ((i = ${#NAMES[@]} - 1; i >= 0; i--)); do order+=("${NAMES[i]}"); done
    fi
    for name in "${order[@]}"; do measure "$name" "$round" "${RATE_ARGS[@]}"; done
done

col() { awk -v k="$2" '{print $k}' "$WORK/$1.rows" | median; }
for name in "${NAMES[@]}"; do
    printf 'median  %-12s %9.0f ops/s  CPU/request %6.2f us (user %5.2f, sys %5.2f)  proxy CPU %3.0f%%\n' \
        "$name" "$(col "$name" 1)" "$(col "$name" 4)" "$(col "$name" 2)" "$(col "$name" 3)" "$(col "$name" 5)"
done
for entry in "${GROUPS_OF[@]}"; do
    awk -v n="${entry%%=*}" '$1 == "nr_periods" {p = $2} $1 == "nr_throttled" {t = $2}
        END {printf "budget  %-22s throttled in %d of %d periods (%.0f%%)\n", n, t, p, p ? t * 100 / p : 0}' \
        "${entry#*=}/cpu.stat"
done
if [ "$MODE" = sat ]; then
    for name in nutcracker lvs-mcproxy; do
        awk -v n="$name" -v p="$(col "$name" 5)" 'BEGIN {
            if (p < 90)
                printf "NOTE: %s used %.0f%% of its CPU, so it was not saturated (the load side or other processes held it back): its ops/s is not its capacity; its CPU per request still compares, and 1 / (CPU per request) is the rate it would reach on a CPU of its own; the quota mode saturates both at the same CPU budget\n", n, p
        }'
    done
fi
awk -v a="$(col lvs-mcproxy 1)" -v b="$(col nutcracker 1)" \
    -v c="$(col lvs-mcproxy 4)" -v d="$(col nutcracker 4)" \
    -v cu="$(col lvs-mcproxy 2)" -v du="$(col nutcracker 2)" \
    -v cs="$(col lvs-mcproxy 3)" -v ds="$(col nutcracker 3)" -v m="$MODE" '
    function ratio(x, y) { return y > 0 ? sprintf("%.2fx", x / y) : "n/a" }
    BEGIN {
        printf "%s: lvs-mcproxy / nutcracker: throughput %s, CPU per request %s (user %s, sys %s)\n",
            m, ratio(a, b), ratio(c, d), ratio(cu, du), ratio(cs, ds)
    }'
if [ "${FLOOR:-0}" = 1 ]; then
    awk -v f="$(col floor 4)" -v d="$(col nutcracker 4)" -v c="$(col lvs-mcproxy 4)" -v m="$MODE" '
        BEGIN { if (d > 0 && f > 0) printf "%s: floor / nutcracker: CPU per request %.2fx; lvs-mcproxy / floor %.2fx\n", m, f / d, c / f }'
fi
