#!/usr/bin/env bash
# docs/performance.md, "Issue 18": Broker's receive side with its own tools,
# in the same session as bench-step2.sh. `broker bench send` feeds Broker's
# `broker-throughput --server` (which prints "rate: N events/s" each second)
# as fast as Broker's flow control lets it; the median of the full seconds is
# Broker's rate. Ping: Broker's `broker-node -m ping` against `-m pong`
# (round trips in nanoseconds, one per line).
#
# Broker's tools listen on every interface, so run this in a network
# namespace that holds only the loopback:  unshare -n bash scripts/bench-broker.sh
# BROKER_BIN is the directory of a Broker build's broker-throughput and
# broker-node; nothing here builds Broker.
set -euo pipefail
BROKER_BIN=${BROKER_BIN:?directory with broker-throughput and broker-node}
NEW=${NEW:-target/release/broker}
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-8}
ip link set lo up 2>/dev/null || true
. "$(dirname "$0")/bench-lib.sh"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
  for tls in plain tls; do
    if [ $tls = plain ]; then flags=(--disable-ssl); else flags=(); fi
    for payload in tiny conn table; do
      echo "round=$round $tls $payload broker=$(broker_rate "$payload" "${flags[@]}")"
    done
    echo "round=$round $tls ping broker $(broker_ping "${flags[@]}")"
  done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
