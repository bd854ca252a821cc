#!/usr/bin/env bash
# docs/performance.md, Memory: the sender's peak RSS (VmHWM) while the server
# stops reading (SIGSTOP one second into the run), per payload and build.
# Plain TCP; TLS=1 runs the default TLS instead.
set -euo pipefail
NEW=${NEW:-target/release/broker}
BUILDS=("$NEW")
if [ -n "${BASE:-}" ]; then BUILDS=("$BASE" "$NEW"); fi
SECS=${SECS:-12}
FLAGS=(--disable-ssl)
if [ -n "${TLS:-}" ]; then FLAGS=(); fi
for payload in ${PAYLOADS:-tiny conn table}; do
  for b in "${BUILDS[@]}"; do
    rm -f /tmp/bench-memory-ready
    $b bench serve "${FLAGS[@]}" --listen 127.0.0.1:0 --ready-file /tmp/bench-memory-ready 2>/dev/null & server=$!
    for _ in $(seq 200); do [ -s /tmp/bench-memory-ready ] && break; sleep 0.02; done
    port=$(head -1 /tmp/bench-memory-ready)
    $b bench send "${FLAGS[@]}" --peer "127.0.0.1:$port" --events 1000000000 --payload "$payload" \
      --seconds "$SECS" >/dev/null 2>&1 & sender=$!
    sleep 1; kill -STOP "$server"
    sleep $((SECS - 1))
    hwm=$(awk '/VmHWM/ {print $2, $3}' /proc/$sender/status)
    kill -CONT "$server"; kill "$sender" "$server" 2>/dev/null || true
    wait "$sender" "$server" 2>/dev/null || true
    echo "$payload $b sender_peak_rss=$hwm"
  done
done
