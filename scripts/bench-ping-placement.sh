#!/usr/bin/env bash
# docs/performance.md, "Issue 18": ping round trips with both processes on
# one core (taskset -c 0) and on two (0 and 1), for the real path (plain and
# TLS) and the raw floor (tokio and blocking sockets, plain TCP and the
# default TLS). The VM's cross-core
# wakeup dominates unpinned runs, so placement is fixed here.
set -euo pipefail
B=${B:-target/release/broker}
COUNT=${COUNT:-3000}
run() { # server-cpu client-cpu flags...
  local sc=$1 pc=$2; shift 2
  rm -f /tmp/bench-ping-ready
  taskset -c "$sc" "$B" bench serve "$@" --listen 127.0.0.1:0 --ready-file /tmp/bench-ping-ready 2>/dev/null & local s=$!
  for _ in $(seq 200); do [ -s /tmp/bench-ping-ready ] && break; sleep 0.02; done
  local port; port=$(head -1 /tmp/bench-ping-ready)
  taskset -c "$pc" "$B" bench ping "$@" --peer "127.0.0.1:$port" --count "$COUNT" 2>/dev/null \
    | grep -o '"p50_us":[0-9.]*,"p99_us":[0-9.]*'
  kill "$s" 2>/dev/null; wait "$s" 2>/dev/null || true
}
for place in "0 0" "0 1"; do
  # shellcheck disable=SC2086
  echo "cpus=$place plain: $(run $place --disable-ssl) tls: $(run $place) raw-tokio: $(run $place --raw --disable-ssl) raw-blocking: $(run $place --raw --blocking --disable-ssl) raw-tls-tokio: $(run $place --raw) raw-tls-blocking: $(run $place --raw --blocking)"
done
