#!/usr/bin/env bash
# docs/performance.md, "Metrics": tiny-event throughput of a build without
# the metrics (OFF=path to its broker binary) against this one, in
# alternating rounds, plain TCP: ON without scrapes, and SCRAPED, whose
# server serves /metrics and is scraped every SCRAPE seconds (default 1).
set -euo pipefail
OFF=${OFF:?path to the broker binary built before the metrics}
ON=${ON:-target/release/broker}
ROUNDS=${ROUNDS:-5}
SCRAPE=${SCRAPE:-1}
EVENTS=${EVENTS:-2000000}
run() { # binary, extra serve flags...
  local b=$1; shift
  rm -f /tmp/bench-metrics-ready
  $b bench serve --disable-ssl --listen 127.0.0.1:0 --ready-file /tmp/bench-metrics-ready "$@" 2>/dev/null & local s=$!
  for _ in $(seq 200); do [ -s /tmp/bench-metrics-ready ] && break; sleep 0.02; done
  local port; port=$(head -1 /tmp/bench-metrics-ready)
  local scraper=
  if [ "$#" -gt 0 ]; then
    local mport; mport=$(sed -n 2p /tmp/bench-metrics-ready)
    ( while sleep "$SCRAPE"; do curl -s -o /dev/null "http://127.0.0.1:$mport/metrics" || true; done ) & scraper=$!
  fi
  $b bench send --disable-ssl --peer "127.0.0.1:$port" --events "$EVENTS" --payload tiny 2>/dev/null \
    | grep -o '"events_per_sec":[0-9.]*' | cut -d: -f2
  [ -n "$scraper" ] && kill "$scraper" 2>/dev/null
  kill "$s" 2>/dev/null; wait "$s" 2>/dev/null || true
}
for round in $(seq 1 "$ROUNDS"); do
  off=$(run "$OFF")
  on=$(run "$ON")
  scraped=$(run "$ON" --metrics 127.0.0.1:0)
  echo "round=$round off=$off on=$on scraped=$scraped"
done
