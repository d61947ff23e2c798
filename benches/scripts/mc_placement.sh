#!/usr/bin/env bash
# Placement agreement with nutcracker on live memcached: 5 weighted memcached instances, each
# pool case run through nutcracker and through lvs-mcproxy with the same keys, placements read
# back from the servers (benches/scripts/mc_placement.py). Exits 1 on any difference.
#
#   benches/scripts/mc_placement.sh [keys] [case-filter]     (keys: 1000000 by default)
#
# Needs: memcached, nutcracker, python3 (Debian: memcached nutcracker python3). About 15 pool
# cases x 2 proxies x keys stores; 1M keys take several minutes on a 2-core box.
set -euo pipefail

KEYS=${1:-1000000}
ONLY=${2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=benches/scripts/lib.sh
. "$HERE/lib.sh"
mcproxy_setup mc-placement

PORTS=()
for _ in 1 2 3 4 5; do
    p=$(free_port)
    # 256 MiB each: the heaviest backend (weight 3 of 8) holds ~40% of the keys.
    start_memcached "$p" 256
    PORTS+=("$p")
done
ARGS=(--keys "$KEYS" --ports "$(IFS=,; echo "${PORTS[*]}")" --mcproxy "$MCPROXY" --workdir "$WORK")
[ -n "$ONLY" ] && ARGS+=(--only "$ONLY")
python3 "$HERE/mc_placement.py" "${ARGS[@]}"
