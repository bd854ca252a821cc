#!/usr/bin/env bash
# docs/performance.md, "Issue 18": every payload, plain and TLS, the build
# before this step (BASE) and this one (NEW) in alternating rounds, plus
# ping and the raw floor. Prints one line per run.
set -euo pipefail
BASE=${BASE:?path to the baseline broker binary}
NEW=${NEW:-target/release/broker}
ROUNDS=${ROUNDS:-3}
run_send() { # binary payload events flags...
  local b=$1 payload=$2 events=$3; shift 3
  rm -f /tmp/step2-ready
  $b bench serve "$@" --listen 127.0.0.1:0 --ready-file /tmp/step2-ready 2>/dev/null & local s=$!
  for _ in $(seq 200); do [ -s /tmp/step2-ready ] && break; sleep 0.02; done
  local port; port=$(head -1 /tmp/step2-ready)
  $b bench send "$@" --peer "127.0.0.1:$port" --events "$events" --payload "$payload" 2>/dev/null \
    | grep -o '"events_per_sec":[0-9.]*' | cut -d: -f2
  kill "$s" 2>/dev/null; wait "$s" 2>/dev/null || true
}
run_ping() { # binary flags...
  local b=$1; shift
  rm -f /tmp/step2-ready
  $b bench serve "$@" --listen 127.0.0.1:0 --ready-file /tmp/step2-ready 2>/dev/null & local s=$!
  for _ in $(seq 200); do [ -s /tmp/step2-ready ] && break; sleep 0.02; done
  local port; port=$(head -1 /tmp/step2-ready)
  $b bench ping "$@" --peer "127.0.0.1:$port" --count 3000 2>/dev/null | grep -o '"p50_us":[0-9.]*,"p99_us":[0-9.]*'
  kill "$s" 2>/dev/null; wait "$s" 2>/dev/null || true
}
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
  for tls in plain tls; do
    if [ $tls = plain ]; then flags=(--disable-ssl); else flags=(); fi
    for spec in tiny:2000000 conn:1000000 table:50000; do
      payload=${spec%%:*}; events=${spec##*:}
      echo "round=$round $tls $payload base=$(run_send "$BASE" "$payload" "$events" "${flags[@]}") new=$(run_send "$NEW" "$payload" "$events" "${flags[@]}")"
    done
    echo "round=$round $tls ping base=$(run_ping "$BASE" "${flags[@]}") new=$(run_ping "$NEW" "${flags[@]}")"
  done
  # The floor over each transport: plain TCP, and the default TLS.
  for tls in plain tls; do
    if [ $tls = plain ]; then flags=(--disable-ssl); else flags=(); fi
    echo "round=$round floor $tls tiny=$(run_send "$NEW" tiny 5000000 --raw "${flags[@]}") conn=$(run_send "$NEW" conn 3000000 --raw "${flags[@]}") table=$(run_send "$NEW" table 200000 --raw "${flags[@]}") ping=$(run_ping "$NEW" --raw --blocking "${flags[@]}")"
  done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
