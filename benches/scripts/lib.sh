# Shared helpers of the side-by-side benchmark scripts (source it; not run on its own).
#
#   bench_require PROG...          exit 2 naming the first missing program
#   bench_build PATH BIN           cargo build --release BIN (package lvs-bins) unless PATH exists
#   bench_workdir NAME             WORK=<new temp dir>; every pid appended to PIDS is killed and
#                                  WORK removed when the script exits
#   free_port                      print an unused 127.0.0.1 port
#   cpu_ticks PID                  utime + stime of PID in clock ticks (see CLK_TCK)
#   mcproxy_setup NAME             the memcached scripts' start: MCPROXY (built if missing),
#                                  memcached/nutcracker/python3 required, bench_workdir NAME
#   start_memcached PORT MIB [CMD...]  one memcached on 127.0.0.1:PORT (as nobody when root),
#                                  run under CMD (e.g. taskset -c 1) when given
#   cpu_group NAME FRACTION PERIOD_US  CG=<a new cgroup (v1 cpu controller) whose tasks share
#                                  FRACTION of one CPU per PERIOD_US>; removed at exit
#   cpu_group_add CG TID...        moves threads (or whole processes' main threads) into CG

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CLK_TCK=$(getconf CLK_TCK)
PIDS=()
CGROUPS=()

bench_require() {
    for p in "$@"; do
        command -v "$p" >/dev/null || { echo "missing $p" >&2; exit 2; }
    done
}

bench_build() {
    [ -x "$1" ] || (cd "$BENCH_ROOT" && cargo build --release -p lvs-bins --bin "$2")
}

bench_cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for g in "${CGROUPS[@]}"; do rmdir "$g" 2>/dev/null || true; done
    rm -rf "$WORK"
}

bench_workdir() {
    WORK=$(mktemp -d "/tmp/$1.XXXXXX")
    trap bench_cleanup EXIT
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

mcproxy_setup() {
    TARGET=${CARGO_TARGET_DIR:-$BENCH_ROOT/target}
    MCPROXY=${LVS_MCPROXY:-$TARGET/release/lvs-mcproxy}
    bench_require memcached nutcracker python3
    bench_build "$MCPROXY" lvs-mcproxy
    bench_workdir "$1"
}

start_memcached() {
    local user=()
    [ "$(id -u)" = 0 ] && user=(-u nobody)
    "${@:3}" memcached "${user[@]}" -l 127.0.0.1 -U 0 -t 1 -m "$2" -p "$1" & PIDS+=($!)
}

CPU_CGROUP_ROOT=/sys/fs/cgroup/cpu

cpu_group() {
    if [ ! -w "$CPU_CGROUP_ROOT" ] || [ ! -e "$CPU_CGROUP_ROOT/cpu.cfs_quota_us" ]; then
        echo "a CPU budget needs the cgroup v1 cpu controller at $CPU_CGROUP_ROOT and root" >&2
        exit 2
    fi
    awk -v f="$2" 'BEGIN {exit !(f > 0 && f <= 1)}' || { echo "CPU fraction must be in (0, 1]" >&2; exit 2; }
    CG=$CPU_CGROUP_ROOT/$1
    mkdir "$CG"
    CGROUPS+=("$CG")
    echo "$3" >"$CG/cpu.cfs_period_us"
    awk -v f="$2" -v p="$3" 'BEGIN {printf "%d\n", f * p}' >"$CG/cpu.cfs_quota_us"
}

cpu_group_add() {
    local g=$1 t
    shift
    for t in "$@"; do echo "$t" >"$g/tasks"; done
}
