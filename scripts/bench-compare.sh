#!/usr/bin/env bash
# docs/performance.md: alternating rounds of `broker bench send` (and ping)
# with two builds, BASE and NEW, plain TCP (FLAGS to change), one payload.
set -euo pipefail
BASE=${BASE:?path to the baseline broker binary}
NEW=${NEW:-target/release/broker}
ROUNDS=${ROUNDS:-5}
PAYLOAD=${PAYLOAD:-tiny}
EVENTS=${EVENTS:-2000000}
FLAGS=${FLAGS:---disable-ssl}
PINGS=${PINGS:-0}
one() { # binary
  local b=$1
  rm -f /tmp/bench-compare-ready
  $b bench serve $FLAGS --listen 127.0.0.1:0 --ready-file /tmp/bench-compare-ready 2>/dev/null & local s=$!
  for _ in $(seq 200); do [ -s /tmp/bench-compare-ready ] && break; sleep 0.02; done
  local port; port=$(head -1 /tmp/bench-compare-ready)
  local rate; rate=$($b bench send $FLAGS --peer "127.0.0.1:$port" --events "$EVENTS" --payload "$PAYLOAD" 2>/dev/null \
    | grep -o '"events_per_sec":[0-9.]*' | cut -d: -f2)
  local p50=
  if [ "$PINGS" -gt 0 ]; then
    p50=$($b bench ping $FLAGS --peer "127.0.0.1:$port" --count "$PINGS" 2>/dev/null | grep -o '"p50_us":[0-9.]*' | cut -d: -f2)
  fi
  kill "$s" 2>/dev/null; wait "$s" 2>/dev/null || true
  echo "$rate $p50"
}
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
  echo "round=$round base=$(one "$BASE") new=$(one "$NEW")"
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
