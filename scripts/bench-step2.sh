#!/usr/bin/env bash
# docs/performance.md, "Issue 18": every payload, plain and TLS, the build
# before this step (BASE) and this one (NEW) in alternating rounds, plus
# ping and the raw floor. Prints one line per run.
set -euo pipefail
BASE=${BASE:?path to the baseline broker binary}
NEW=${NEW:-target/release/broker}
ROUNDS=${ROUNDS:-3}
. "$(dirname "$0")/bench-lib.sh"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
  for tls in plain tls; do
    if [ $tls = plain ]; then flags=(--disable-ssl); else flags=(); fi
    for spec in tiny:2000000 conn:1000000 table:50000; do
      payload=${spec%%:*}; events=${spec##*:}
      echo "round=$round $tls $payload base=$(our_rate "$BASE" "$payload" --events "$events" -- "${flags[@]}") new=$(our_rate "$NEW" "$payload" --events "$events" -- "${flags[@]}")"
    done
    echo "round=$round $tls ping base: $(our_ping "$BASE" "${flags[@]}") new: $(our_ping "$NEW" "${flags[@]}")"
  done
  # The floor over each transport: plain TCP, and the default TLS.
  for tls in plain tls; do
    if [ $tls = plain ]; then flags=(--disable-ssl); else flags=(); fi
    echo "round=$round floor $tls tiny=$(our_rate "$NEW" tiny --events 5000000 -- --raw "${flags[@]}") conn=$(our_rate "$NEW" conn --events 3000000 -- --raw "${flags[@]}") table=$(our_rate "$NEW" table --events 200000 -- --raw "${flags[@]}") ping: $(our_ping "$NEW" --raw --blocking "${flags[@]}")"
  done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
