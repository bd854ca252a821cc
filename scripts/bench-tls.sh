#!/usr/bin/env bash
# docs/performance.md, "Broker's anonymous TLS": same-run comparison of plain TCP, Broker's anonymous TLS (OpenSSL) and rustls
# ephemeral certificates: tiny-event throughput and ping latency.
set -euo pipefail
B=${B:-target/release/broker}
RUNS=${RUNS:-3}
for run in $(seq 1 $RUNS); do
  for mode in plain anonymous certificates; do
    case $mode in
      plain) flags=(--disable-ssl);;
      anonymous) flags=(--unauthenticated-tls anonymous);;
      certificates) flags=(--unauthenticated-tls certificates);;
    esac
    rm -f /tmp/bench-tls-port
    $B bench serve "${flags[@]}" --listen 127.0.0.1:0 --ready-file /tmp/bench-tls-port 2>/dev/null & S=$!
    for i in $(seq 100); do [ -s /tmp/bench-tls-port ] && break; sleep 0.05; done
    P=$(head -1 /tmp/bench-tls-port)
    T=$($B bench send "${flags[@]}" --peer 127.0.0.1:$P --events 2000000 --payload tiny 2>/dev/null | tail -1)
    L=$($B bench ping "${flags[@]}" --peer 127.0.0.1:$P --count 5000 2>/dev/null | tail -1)
    echo "run=$run mode=$mode send=$T ping=$L"
    kill $S 2>/dev/null; wait $S 2>/dev/null || true
  done
done
