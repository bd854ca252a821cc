#!/usr/bin/env bash
# docs/performance.md, "ZeroMQ": alternating rounds of `broker bench proxy`
# against `broker zmq-proxy` and libzmq's zmq_proxy (pyzmq, as .ci/python-venv
# installs it). Run from the repository root after a release build.
#
#   ROUNDS=5            rounds (default 5)
#   BASELINE=/path      another `broker` binary (an older build) whose proxy
#                       also runs in every round, for before/after figures
#
# Each line: "round R <proxy> k=K {bench proxy's JSON}"; then the median
# events/s per proxy and K. The load average is printed before and after.
set -u
B=target/release/broker; PY=$(bash .ci/python-venv)
ROUNDS=${ROUNDS:-5}
OUT=$(mktemp)
trap 'rm -f "$OUT" /tmp/pr /tmp/proxy.out /tmp/pyproxy.out' EXIT

# A broker-rs proxy from binary $2, labelled $1: both subscriber counts.
rust_round() {
  rm -f /tmp/pr
  $2 zmq-proxy --xsub tcp://127.0.0.1:0 --xpub tcp://127.0.0.1:0 --ready-file /tmp/pr > /tmp/proxy.out & PP=$!
  while [ ! -s /tmp/pr ] || [ $(wc -l < /tmp/pr) -lt 2 ]; do sleep 0.05; done
  X=$(sed -n 1p /tmp/pr); P=$(sed -n 2p /tmp/pr)
  for k in 1 2; do echo "round $round $1 k=$k $($B bench proxy --zeromq-connect $X,$P --events 1000000 --subscribers $k)" | tee -a "$OUT"; done
  kill -INT $PP; wait $PP; echo "round $round $1 stats $(tail -1 /tmp/proxy.out)"
}

echo "load before: $(cat /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
  rust_round broker-rs "$B"
  if [ -n "${BASELINE:-}" ]; then rust_round baseline "$BASELINE"; fi
  $PY broker-core/tests/zeromq_interop.py proxy --seconds 120 > /tmp/pyproxy.out & YP=$!
  until grep -q "}" /tmp/pyproxy.out 2>/dev/null; do sleep 0.05; done
  X=$(python3 -c "import json;print(json.load(open('/tmp/pyproxy.out'))['xsub'])"); P=$(python3 -c "import json;print(json.load(open('/tmp/pyproxy.out'))['xpub'])")
  for k in 1 2; do echo "round $round libzmq k=$k $($B bench proxy --zeromq-connect $X,$P --events 1000000 --subscribers $k)" | tee -a "$OUT"; done
  kill $YP; wait $YP 2>/dev/null
done
echo "load after: $(cat /proc/loadavg)"
python3 - "$OUT" <<'EOF'
import json, statistics, sys
rates = {}
for line in open(sys.argv[1]):
    _, _, proxy, k, rest = line.split(" ", 4)
    r = json.loads(rest)
    if r["received"] != r["events"]:
        print("incomplete:", line.strip())
    rates.setdefault((proxy, k), []).append(r["events_per_sec"])
for (proxy, k), v in sorted(rates.items(), key=lambda i: (i[0][1], i[0][0])):
    print(f"median {proxy} {k}: {statistics.median(v):,.0f} events/s  rounds: {', '.join(f'{x:,.0f}' for x in v)}")
EOF
