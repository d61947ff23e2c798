#!/usr/bin/env bash
# Latency of one big multi-get (1000 keys of 100 B by default) over two memcached servers,
# through lvs-mcproxy and through nutcracker, against the same keys held by one memcached asked
# directly (benches/scripts/mc_measure.py mget: interleaved runs, median and p90). When socat
# is installed, a fourth target is the floor of any proxy here: socat relaying the bytes to the
# direct memcached, with no parsing and no second server (the extra hop and its wake-ups only).
#
#   benches/scripts/mc_mget_latency.sh [keys] [runs] [value-size]
#
# Needs: memcached, nutcracker, python3; socat (Debian: socat) for the relay floor.
set -euo pipefail

KEYS=${1:-1000}
RUNS=${2:-200}
SIZE=${3:-100}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=benches/scripts/lib.sh
. "$HERE/lib.sh"
mcproxy_setup mc-mget

D=$(free_port); M1=$(free_port); M2=$(free_port)
for p in "$D" "$M1" "$M2"; do
    start_memcached "$p" 128
done
pool() { # name listen-port
    printf '%s:\n  listen: 127.0.0.1:%s\n  hash: fnv1a_64\n  distribution: ketama\n  timeout: 5000\n  servers:\n   - 127.0.0.1:%s:1\n   - 127.0.0.1:%s:1\n' \
        "$1" "$2" "$M1" "$M2"
}
N=$(free_port); S=$(free_port); L=$(free_port)
pool nutcracker "$N" > "$WORK/nutcracker.yml"
pool lvs "$L" > "$WORK/lvs.yml"
nutcracker -c "$WORK/nutcracker.yml" -s "$S" -a 127.0.0.1 -o "$WORK/nutcracker.log" & PIDS+=($!)
"$MCPROXY" -c "$WORK/lvs.yml" 2>"$WORK/lvs.log" & PIDS+=($!)
R=""
RELAY=()
if command -v socat >/dev/null; then
    R=$(free_port)
    socat -b 262144 "TCP-LISTEN:$R,bind=127.0.0.1,reuseaddr,fork,nodelay" "TCP:127.0.0.1:$D,nodelay" & PIDS+=($!)
    RELAY=(--target "relay:$R")
fi
for p in "$D" "$M1" "$M2" "$N" "$L" $R; do
    for _ in $(seq 200); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1',$p),0.2)" 2>/dev/null && break
        sleep 0.05
    done
done
# The pool's keys go in through lvs-mcproxy (both proxies place them alike: mc_placement.sh).
python3 "$HERE/mc_measure.py" mget --keys "$KEYS" --size "$SIZE" --runs "$RUNS" \
    --preload "$D" --preload "$L" \
    --target "direct:$D" --target "lvs-mcproxy:$L" --target "nutcracker:$N" "${RELAY[@]}"
