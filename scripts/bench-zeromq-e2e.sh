#!/usr/bin/env bash
# docs/performance.md, "ZeroMQ": broker bench send/serve/ping as two ZeroMQ nodes
# through `broker zmq-proxy` and through libzmq's zmq_proxy, three rounds.
set -u
B=target/release/broker; PY=$(bash .ci/python-venv)
run() { # $1 label, $2 X, $3 P
  $B bench serve --disable-ssl --zeromq-connect $2,$3 & SP=$!
  sleep 0.5
  echo "$1 send tiny $(timeout 120 $B bench send --disable-ssl --zeromq-connect $2,$3 --events 500000 --payload tiny)"
  echo "$1 send conn $(timeout 120 $B bench send --disable-ssl --zeromq-connect $2,$3 --events 200000 --payload conn)"
  echo "$1 ping $(timeout 60 $B bench ping --disable-ssl --zeromq-connect $2,$3 --count 2000)"
  kill $SP; wait $SP 2>/dev/null
}
for round in 1 2 3; do
  rm -f /tmp/pr
  $B zmq-proxy --xsub tcp://127.0.0.1:0 --xpub tcp://127.0.0.1:0 --ready-file /tmp/pr > /tmp/proxy.out & PP=$!
  while [ ! -s /tmp/pr ] || [ $(wc -l < /tmp/pr) -lt 2 ]; do sleep 0.05; done
  run "round $round broker-rs-proxy" $(sed -n 1p /tmp/pr) $(sed -n 2p /tmp/pr)
  kill -INT $PP; wait $PP; echo "round $round broker-rs stats $(tail -1 /tmp/proxy.out)"
  $PY broker-core/tests/zeromq_interop.py proxy --seconds 300 > /tmp/pyproxy.out & YP=$!
  until grep -q "}" /tmp/pyproxy.out 2>/dev/null; do sleep 0.05; done
  run "round $round libzmq-proxy" $(python3 -c "import json;print(json.load(open('/tmp/pyproxy.out'))['xsub'])") $(python3 -c "import json;print(json.load(open('/tmp/pyproxy.out'))['xpub'])")
  kill $YP; wait $YP 2>/dev/null
done
