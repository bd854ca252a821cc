# Shared by bench-broker.sh, bench-paired.sh and bench-step2.sh (sourced, not
# run): one way to start a server, feed it, ping it, and read Broker's tools.
#
# Variables the functions read: NEW (our broker binary, the sender of every
# run), BROKER_BIN (a Broker build's bin directory), SECONDS_PER_RUN (how long
# Broker's server is fed).

# The median of the numbers on stdin, one per line ("-" if none).
median() { sort -n | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]; else print "-"}'; }

# Starts `BIN bench serve FLAGS...` on a free port: sets SERVE_PID, SERVE_PORT.
serve_start() { # binary flags...
  local b=$1; shift
  local ready; ready=$(mktemp)
  rm -f "$ready"
  "$b" bench serve "$@" --listen 127.0.0.1:0 --ready-file "$ready" 2>/dev/null &
  SERVE_PID=$!
  for _ in $(seq 200); do [ -s "$ready" ] && break; sleep 0.02; done
  SERVE_PORT=$(head -1 "$ready")
  rm -f "$ready"
}

serve_stop() {
  kill "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID" 2>/dev/null || true
}

# Our events per second: BIN's server fed by BIN's sender. LIMIT is
# `--events N` or `--seconds S` (with a large event count).
our_rate() { # binary payload limit... -- flags...
  local b=$1 payload=$2; shift 2
  local limit=()
  while [ "$1" != -- ]; do limit+=("$1"); shift; done
  shift
  serve_start "$b" "$@"
  timeout 300 "$b" bench send "$@" --peer "127.0.0.1:$SERVE_PORT" "${limit[@]}" \
    --payload "$payload" 2>/dev/null | grep -o '"events_per_sec":[0-9.]*' | cut -d: -f2
  serve_stop
}

# Our ping's p50 and p99 in µs, as "p50_us=X p99_us=Y".
our_ping() { # binary flags...
  local b=$1; shift
  serve_start "$b" "$@"
  "$b" bench ping "$@" --peer "127.0.0.1:$SERVE_PORT" --count 3000 2>/dev/null \
    | grep -o '"p50_us":[0-9.]*,"p99_us":[0-9.]*' | sed 's/"//g; s/:/=/g; s/,/ /'
  serve_stop
}

# Broker's receive rate: its `broker-throughput --server` (which prints
# "rate: N events/s" each second) fed by our sender for SECONDS_PER_RUN
# seconds, as fast as Broker's flow control lets it; the median of the full
# seconds.
BROKER_PORT=${BROKER_PORT:-9800}
broker_rate() { # payload flags...
  local payload=$1; shift
  BROKER_PORT=$((BROKER_PORT + 1))
  local out; out=$(mktemp)
  "$BROKER_BIN/broker-throughput" "$@" --verbose --server "127.0.0.1:$BROKER_PORT" >"$out" 2>&1 &
  local s=$!
  sleep 1.5
  timeout $((SECONDS_PER_RUN + 10)) "$NEW" bench send "$@" --peer "127.0.0.1:$BROKER_PORT" \
    --events 100000000 --seconds "$SECONDS_PER_RUN" --payload "$payload" >/dev/null 2>&1 || true
  sleep 1.2
  kill "$s" 2>/dev/null; wait "$s" 2>/dev/null || true
  # Full seconds of traffic only: the non-zero rate lines without the first
  # and the last (partial seconds).
  grep -o 'rate: [0-9]*' "$out" | awk '$2 > 0 {print $2}' | sed '1d;$d' | median
  rm -f "$out"
}

# Broker's ping: `broker-node -m ping` against `-m pong` (round trips in
# nanoseconds, one per line), as "p50_us=X p99_us=Y".
broker_ping() { # flags...
  BROKER_PORT=$((BROKER_PORT + 1))
  "$BROKER_BIN/broker-node" "$@" -m pong --topics='["/bench-broker-ping"]' -p "$BROKER_PORT" >/dev/null 2>&1 &
  local s=$!
  sleep 1
  local out; out=$(mktemp)
  timeout 60 "$BROKER_BIN/broker-node" "$@" -m ping --topics='["/bench-broker-ping"]' \
    --peers="[\"tcp://127.0.0.1:$BROKER_PORT\"]" -n 3000 >"$out" 2>/dev/null || true
  kill "$s" 2>/dev/null; wait "$s" 2>/dev/null || true
  # The first 100 round trips warm up.
  sed '1,100d' "$out" | sort -n | awk '{v[NR]=$1} END {
    printf "p50_us=%.1f p99_us=%.1f\n", v[int(NR*0.5)]/1000, v[int(NR*0.99)]/1000}'
  rm -f "$out"
}
