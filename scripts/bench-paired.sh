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
port=9900
median() { sort -n | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]; else print "-"}'; }
broker_rate() { # payload flags...
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
our_rate() { # payload flags...
  local payload=$1; shift
  rm -f /tmp/paired-ready
  "$NEW" bench serve "$@" --listen 127.0.0.1:0 --ready-file /tmp/paired-ready 2>/dev/null & local s=$!
  for _ in $(seq 200); do [ -s /tmp/paired-ready ] && break; sleep 0.02; done
  local p; p=$(head -1 /tmp/paired-ready)
  timeout $((SECONDS_PER_RUN + 70)) "$NEW" bench send "$@" --peer "127.0.0.1:$p" \
    --events 100000000 --seconds "$SECONDS_PER_RUN" --payload "$payload" 2>/dev/null \
    | grep -o '"events_per_sec":[0-9]*' | cut -d: -f2
  kill "$s" 2>/dev/null; wait "$s" 2>/dev/null || true
}
broker_ping() { # flags...
  port=$((port + 1))
  "$BROKER_BIN/broker-node" "$@" -m pong --topics='["/bench-broker-ping"]' -p "$port" >/dev/null 2>&1 & local s=$!
  sleep 1
  local out; out=$(mktemp)
  timeout 60 "$BROKER_BIN/broker-node" "$@" -m ping --topics='["/bench-broker-ping"]' \
    --peers="[\"tcp://127.0.0.1:$port\"]" -n 3000 >"$out" 2>/dev/null || true
  kill "$s" 2>/dev/null; wait "$s" 2>/dev/null || true
  # The first 100 round trips warm up.
  sed '1,100d' "$out" | sort -n | awk '{v[NR]=$1} END {printf "%.1f", v[int(NR*0.5)]/1000}'
  rm -f "$out"
}
our_ping() { # flags...
  rm -f /tmp/paired-ready
  "$NEW" bench serve "$@" --listen 127.0.0.1:0 --ready-file /tmp/paired-ready 2>/dev/null & local s=$!
  for _ in $(seq 200); do [ -s /tmp/paired-ready ] && break; sleep 0.02; done
  local p; p=$(head -1 /tmp/paired-ready)
  "$NEW" bench ping "$@" --peer "127.0.0.1:$p" --count 3000 2>/dev/null \
    | grep -o '"p50_us":[0-9.]*' | cut -d: -f2
  kill "$s" 2>/dev/null; wait "$s" 2>/dev/null || true
}
log=$(mktemp)
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
  for tls in plain tls; do
    if [ $tls = plain ]; then flags=(--disable-ssl); else flags=(); fi
    for payload in tiny conn table; do
      b=$(broker_rate "$payload" "${flags[@]}")
      o=$(our_rate "$payload" "${flags[@]}")
      r=$(awk -v o="$o" -v b="$b" 'BEGIN {if (b > 0) printf "%.1f", o / b; else print "-"}')
      echo "round=$round $tls $payload broker=$b ours=$o ratio=$r" | tee -a "$log"
    done
    b=$(broker_ping "${flags[@]}")
    o=$(our_ping "${flags[@]}")
    f=$(our_ping --raw --blocking "${flags[@]}")
    echo "round=$round $tls ping p50_us broker=$b ours=$o floor=$f"
  done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for tls in plain tls; do
  for payload in tiny conn table; do
    echo "median ratio $tls $payload: $(grep " $tls $payload " "$log" | sed 's/.*ratio=//' | median)"
  done
done
rm -f "$log"
