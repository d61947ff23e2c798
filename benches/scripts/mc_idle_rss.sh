#!/usr/bin/env bash
# Memory per idle client connection: RSS of lvs-mcproxy and of nutcracker (same pool, two
# memcached behind) before and after N idle client connections, and after each connection made
# one request and went idle again (benches/scripts/mc_measure.py idle).
#
#   benches/scripts/mc_idle_rss.sh [connections]      (10000 by default)
#
# Needs: memcached, nutcracker, python3. Raises the open-file limit of its own shell.
set -euo pipefail

CONNS=${1:-10000}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=benches/scripts/lib.sh
. "$HERE/lib.sh"
mcproxy_setup mc-idle-rss
WANT=$((CONNS + 1024)); HARD=$(ulimit -Hn)
[ "$HARD" != unlimited ] && [ "$WANT" -gt "$HARD" ] && WANT=$HARD
ulimit -n "$WANT"

M1=$(free_port); M2=$(free_port)
start_memcached "$M1" 64
start_memcached "$M2" 64

pool() { # name listen-port
    printf '%s:\n  listen: 127.0.0.1:%s\n  hash: fnv1a_64\n  distribution: ketama\n  timeout: 1000\n  servers:\n   - 127.0.0.1:%s:1\n   - 127.0.0.1:%s:1\n' \
        "$1" "$2" "$M1" "$M2"
}
N=$(free_port); S=$(free_port); L=$(free_port)
pool nutcracker "$N" > "$WORK/nutcracker.yml"
pool lvs "$L" > "$WORK/lvs.yml"
nutcracker -c "$WORK/nutcracker.yml" -s "$S" -a 127.0.0.1 -o "$WORK/nutcracker.log" & NC=$!; PIDS+=($NC)
"$MCPROXY" -c "$WORK/lvs.yml" 2>"$WORK/lvs.log" & LV=$!; PIDS+=($LV)
for p in "$M1" "$M2" "$N" "$L"; do
    for _ in $(seq 200); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1',$p),0.2)" 2>/dev/null && break
        sleep 0.05
    done
done

echo "== lvs-mcproxy, $CONNS idle clients"
python3 "$HERE/mc_measure.py" idle --port "$L" --pid "$LV" --conns "$CONNS"
echo "== nutcracker, $CONNS idle clients"
python3 "$HERE/mc_measure.py" idle --port "$N" --pid "$NC" --conns "$CONNS"
