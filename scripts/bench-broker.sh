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
port=9800
median() { sort -n | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]; else print "-"}'; }
throughput() { # payload flags...
  local payload=$1; shift
  port=$((port + 1))
  local out; out=$(mktemp)
  "$BROKER_BIN/broker-throughput" "$@" --verbose --server "127.0.0.1:$port" >"$out" 2>&1 & local s=$!
  sleep 1.5
  timeout $((SECONDS_PER_RUN + 10)) "$NEW" bench send "$@" --peer "127.0.0.1:$port" \
    --events 100000000 --seconds "$SECONDS_PER_RUN" --payload "$payload" >/dev/null 2>&1 || true
  sleep 1.2
  kill "$s" 2>/dev/null; wait "$s" 2>/dev/null || true
  # Full seconds of traffic only: the non-zero rate lines without the first
  # and the last (partial seconds).
  grep -o 'rate: [0-9]*' "$out" | awk '$2 > 0 {print $2}' | sed '1d;$d' | median
  rm -f "$out"
}
ping() { # flags...
  port=$((port + 1))
  "$BROKER_BIN/broker-node" "$@" -m pong --topics='["/bench-broker-ping"]' -p "$port" >/dev/null 2>&1 & local s=$!
  sleep 1
  local out; out=$(mktemp)
  timeout 60 "$BROKER_BIN/broker-node" "$@" -m ping --topics='["/bench-broker-ping"]' \
    --peers="[\"tcp://127.0.0.1:$port\"]" -n 3000 >"$out" 2>/dev/null || true
  kill "$s" 2>/dev/null; wait "$s" 2>/dev/null || true
  # The first 100 round trips warm up.
  local p50 p99
  p50=$(sed '1,100d' "$out" | sort -n | awk '{v[NR]=$1} END {printf "%.1f", v[int(NR*0.5)]/1000}')
  p99=$(sed '1,100d' "$out" | sort -n | awk '{v[NR]=$1} END {printf "%.1f", v[int(NR*0.99)]/1000}')
  rm -f "$out"
  echo "p50_us=$p50 p99_us=$p99"
}
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
  for tls in plain tls; do
    if [ $tls = plain ]; then flags=(--disable-ssl); else flags=(); fi
    for payload in tiny conn table; do
      echo "round=$round $tls $payload broker=$(throughput "$payload" "${flags[@]}")"
    done
    echo "round=$round $tls ping broker $(ping "${flags[@]}")"
  done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
