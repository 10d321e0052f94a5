#!/usr/bin/env bash
# Live fan-out latency added by the chain stage (docs/architecture.md "The chain sequence"): one fake
# node (`emit`) at RATE events/s, `produce`, `chain` and `api --kafka`; one client reads the node's
# own stream (/events?source=<node>: produce -> Kafka -> node hub) and one the chain
# (/events: produce -> Kafka -> chain stage, one transaction per batch -> Kafka -> chain hub), both on
# the same api. For each event, the added latency = arrival on the chain stream - arrival on the node
# stream. Reports the median and p99 of it after WARMUP seconds, and the events each client got.
# Target: p99 < 50 ms at 1,000 events/s.
#
# Needs KAFKA_BOOTSTRAP and MONGO_URI (eval "$(scripts/stack env)" after scripts/stack up).
#   RATE=1000 DURATION=30 BUILD=build bench/chain_latency.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-release}
BIN=${BIN:-$BUILD/casper-event-store}
RATE=${RATE:-1000}
DURATION=${DURATION:-30}
PORT=${PORT:-18590}
WARMUP=${WARMUP:-5}  # seconds of events left out of the figures
KAFKA_SETTINGS=${KAFKA_SETTINGS:-}  # librdkafka KEY=VALUE for the api's hubs and the chain stage
: "${KAFKA_BOOTSTRAP:?run: eval \"\$(scripts/stack env)\"}"
: "${MONGO_URI:?run: eval \"\$(scripts/stack env)\"}"
[[ -x "$BIN" ]] || { echo "build $BIN first" >&2; exit 1; }

PREFIX="chainlat$$-"
DIR=$(mktemp -d /tmp/chain_latency.XXXXXX)
EVENTS=$((RATE * DURATION))
"$BIN" generate --out "$DIR/node.stream" --events "$EVENTS" --recordings tests/data/casper --log-level warn
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
"$BIN" api --kafka "$KAFKA_BOOTSTRAP" --mongo "$MONGO_URI" --topic-prefix "$PREFIX" \
  --listen "127.0.0.1:$PORT" --log-level warn ${KAFKA_SETTINGS:+--kafka-setting "$KAFKA_SETTINGS"} >"$DIR/api.log" 2>&1 &
pids+=($!)
CHAIN_PORT=$((PORT + 2))
"$BIN" chain --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "$PREFIX" --listen "127.0.0.1:$CHAIN_PORT" \
  ${KAFKA_SETTINGS:+--kafka-setting "$KAFKA_SETTINGS"} \
  --log-level warn >"$DIR/chain.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done

NODE_PORT=$((PORT + 1))
NODE="http://127.0.0.1:$NODE_PORT"
# The clients connect first; the node starts publishing when produce connects.
python3 - "$PORT" "$NODE" "$EVENTS" "$DIR" "$WARMUP" <<'PY' &
import socket, sys, threading, time, urllib.parse, statistics, json
port, node, events, out, warmup = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
arrivals = {"node": {}, "chain": {}}
def read(name, path):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    buf, data, deadline = b"", None, time.time() + 600
    got = arrivals[name]
    while len(got) < events and time.time() < deadline:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        now = time.monotonic()
        buf += chunk
        while True:
            i = buf.find(b"\n")
            if i < 0:
                break
            line, buf = buf[:i], buf[i + 1:]
            if line.startswith(b"data:"):
                data = line[5:]
            elif line.startswith(b"id:") and data is not None:
                got.setdefault(data, now)
                data = None
threads = [threading.Thread(target=read, args=("node", "/events?source=" + urllib.parse.quote(node, safe=""))),
           threading.Thread(target=read, args=("chain", "/events"))]
for t in threads: t.start()
for t in threads: t.join()
n, c = arrivals["node"], arrivals["chain"]
# Steady state: events the node stream got after the warm-up (the stage and the hubs find the node
# topics, created by produce, within their 2 s metadata refresh).
start = min(n.values()) + warmup if n else 0
added = sorted((c[k] - n[k]) * 1000 for k in c if k in n and n[k] >= start)
res = {"node_events": len(n), "chain_events": len(c), "measured": len(added),
       "missing_from_chain": sum(1 for k in n if k not in c)}
if added:
    res["added_ms_median"] = round(statistics.median(added), 2)
    res["added_ms_p99"] = round(added[min(len(added) - 1, int(len(added) * 0.99))], 2)
    res["added_ms_max"] = round(added[-1], 2)
print(json.dumps(res))
PY
CLIENT=$!
sleep 2
"$BIN" emit --stream "$DIR/node.stream" --listen "127.0.0.1:$NODE_PORT" --rate "$RATE" --log-level warn \
  >"$DIR/emit.log" 2>&1 &
pids+=($!)
"$BIN" produce --node "$NODE" --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "$PREFIX" --listen 127.0.0.1:0 \
  --partitions 1 --log-level warn >"$DIR/produce.log" 2>&1 &
pids+=($!)
echo "== $EVENTS events at $RATE/s through emit -> produce -> chain -> api (prefix $PREFIX, logs $DIR)"
wait "$CLIENT"
echo "chain stage: $(curl -s "http://127.0.0.1:$CHAIN_PORT/metrics" | grep -E '^ces_chain_(batch_seconds_(sum|count)|events_total)' | tr '\n' ' ')"
