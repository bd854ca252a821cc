#!/usr/bin/env bash
# docs/performance.md, "Issue 18, tenth step": Broker and this build side by
# side, each payload's two runs back to back, so that both see the host in
# the same phase (its speed moves by half within minutes). Per round,
# transport and payload: Broker's receive rate (its `broker-throughput
# --server`, fed by `broker bench send`, as in bench-broker.sh), then ours
# (`broker bench serve`, fed the same way, for the same time), and the ratio
# of the two. Then both pings and the floor's (`--raw --blocking`). At the
# end, the median ratio per payload.
#
# Broker's tools listen on every interface, so run this in a network
# namespace that holds only the loopback:  unshare -n bash scripts/bench-paired.sh
# BROKER_BIN is the directory of a Broker build's broker-throughput and
# broker-node; nothing here builds Broker.
set -euo pipefail
BROKER_BIN=${BROKER_BIN:?directory with broker-throughput and broker-node}
NEW=${NEW:-target/release/broker}
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-6}
ip link set lo up 2>/dev/null || true
. "$(dirname "$0")/bench-lib.sh"
log=$(mktemp)
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
  for tls in plain tls; do
    if [ $tls = plain ]; then flags=(--disable-ssl); else flags=(); fi
    for payload in tiny conn table; do
      b=$(broker_rate "$payload" "${flags[@]}")
      o=$(our_rate "$NEW" "$payload" --events 100000000 --seconds "$SECONDS_PER_RUN" -- "${flags[@]}")
      r=$(awk -v o="$o" -v b="$b" 'BEGIN {if (b > 0) printf "%.1f", o / b; else print "-"}')
      echo "round=$round $tls $payload broker=$b ours=$o ratio=$r" | tee -a "$log"
    done
    echo "round=$round $tls ping broker: $(broker_ping "${flags[@]}")"\
      "ours: $(our_ping "$NEW" "${flags[@]}")"\
      "floor: $(our_ping "$NEW" --raw --blocking "${flags[@]}")"
  done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for tls in plain tls; do
  for payload in tiny conn table; do
    echo "median ratio $tls $payload: $(grep " $tls $payload " "$log" | sed 's/.*ratio=//' | median)"
  done
done
rm -f "$log"
