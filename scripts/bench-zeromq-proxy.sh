#!/usr/bin/env bash
# docs/performance.md, "ZeroMQ": five alternating rounds of `broker bench proxy`
# against `broker zmq-proxy` and libzmq's zmq_proxy (pyzmq, as .ci/python-venv
# installs it). Run from the repository root after a release build.
set -u
B=target/release/broker; PY=$(bash .ci/python-venv)
for round in 1 2 3 4 5; do
  rm -f /tmp/pr
  $B zmq-proxy --xsub tcp://127.0.0.1:0 --xpub tcp://127.0.0.1:0 --ready-file /tmp/pr > /tmp/proxy.out & PP=$!
  while [ ! -s /tmp/pr ] || [ $(wc -l < /tmp/pr) -lt 2 ]; do sleep 0.05; done
  X=$(sed -n 1p /tmp/pr); P=$(sed -n 2p /tmp/pr)
  for k in 1 2; do echo "round $round broker-rs k=$k $($B bench proxy --zeromq-connect $X,$P --events 1000000 --subscribers $k)"; done
  kill -INT $PP; wait $PP; echo "round $round broker-rs stats $(tail -1 /tmp/proxy.out)"
  $PY broker-core/tests/zeromq_interop.py proxy --seconds 120 > /tmp/pyproxy.out & YP=$!
  until grep -q "}" /tmp/pyproxy.out 2>/dev/null; do sleep 0.05; done
  X=$(python3 -c "import json;print(json.load(open('/tmp/pyproxy.out'))['xsub'])"); P=$(python3 -c "import json;print(json.load(open('/tmp/pyproxy.out'))['xpub'])")
  for k in 1 2; do echo "round $round libzmq k=$k $($B bench proxy --zeromq-connect $X,$P --events 1000000 --subscribers $k)"; done
  kill $YP; wait $YP 2>/dev/null
done
