#!/usr/bin/env bash
# Live SSE fan-out benchmark (issue 5 §3, docs/api.md "Live events"): the api with --kafka, N SSE
# subscribers on /events (default 10,000, read by THREADS=2 epoll threads of bench/sse_fanout_bench.cpp), one
# event every 100 ms produced to Kafka for 60 s. Reports p50/p99 delivery latency (producer send time
# in the payload -> parsed by the client), events delivered vs expected, the api's RSS, and the CPU
# time per event of the api and of the client (both share the machine with Kafka).
# Target: p99 < 100 ms, every event delivered to every subscriber.
#
# Needs KAFKA_BOOTSTRAP (eval "$(scripts/stack env)" after scripts/stack up). Uses
# `casper-event-store api --kafka` when the binary has the flag (--mongo from MONGO_URI), otherwise the
# bench's own live-only server (`sse_fanout_bench serve`: the same hub and AsyncServer).
#   SUBSCRIBERS=10000 DURATION=60 INTERVAL_MS=100 BUILD=build-release bench/sse_fanout_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-release}
BIN=${BIN:-$BUILD/casper-event-store}
BENCH=${BENCH:-$(find "$BUILD" -name sse_fanout_bench -type f -perm -u+x | head -1)}
SUBSCRIBERS=${SUBSCRIBERS:-10000}
DURATION=${DURATION:-60}
INTERVAL_MS=${INTERVAL_MS:-100}
THREADS=${THREADS:-2}
PORT=${PORT:-18490}
: "${KAFKA_BOOTSTRAP:?run: eval \"\$(scripts/stack env)\"}"
[[ -x "$BENCH" ]] || { echo "build the sse_fanout_bench target in $BUILD first" >&2; exit 1; }

# Every subscriber is a socket on both sides.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if (( $(ulimit -n) < SUBSCRIBERS + 1000 )); then
  echo "ulimit -n is $(ulimit -n): too low for $SUBSCRIBERS subscribers" >&2
  exit 1
fi

PREFIX="fanout$$-"
LOG=/tmp/sse_fanout_bench.$$.log
"$BENCH" topics --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "$PREFIX"  # before the hub reads them
if [[ -x "$BIN" ]] && "$BIN" api --help 2>/dev/null | grep -q -- '--kafka'; then
  : "${MONGO_URI:?the api needs MONGO_URI too}"
  "$BIN" api --kafka "$KAFKA_BOOTSTRAP" --mongo "$MONGO_URI" --topic-prefix "$PREFIX" --events node \
    --listen "127.0.0.1:$PORT" --max-subscribers $((SUBSCRIBERS + 100)) --log-level warn > "$LOG" 2>&1 &
  SERVER="casper-event-store api --kafka"
else
  "$BENCH" serve --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "$PREFIX" --listen "127.0.0.1:$PORT" \
    --max-subscribers $((SUBSCRIBERS + 100)) > "$LOG" 2>&1 &
  SERVER="sse_fanout_bench serve (hub + AsyncServer)"
fi
API=$!
trap 'kill $API 2>/dev/null || true' EXIT
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "the server did not get ready:" >&2; cat "$LOG" >&2; exit 1; }
rss() { awk '/^VmRSS/ {printf "%.1f MiB", $2/1024}' /proc/$API/status; }
# CPU seconds (user + system) of the api so far.
cpu() { awk '{printf "%.2f", ($14 + $15) / '"$(getconf CLK_TCK)"'}' /proc/$API/stat; }
hwm() { awk '/^VmHWM/ {printf "%.1f MiB", $2/1024}' /proc/$API/status; }
echo "server: $SERVER, pid $API, RSS idle $(rss)"
echo "== $SUBSCRIBERS subscribers, one event per ${INTERVAL_MS} ms for ${DURATION} s"
set +e
"$BENCH" run --url "http://127.0.0.1:$PORT" --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "$PREFIX" \
  --subscribers "$SUBSCRIBERS" --interval-ms "$INTERVAL_MS" --duration "$DURATION" --threads "$THREADS" &
RUN=$!
sleep 3  # connected and attached (a few seconds' margin at 10,000 subscribers)
CPU0=$(cpu)
sleep $((DURATION / 2))
echo "server RSS mid-run: $(rss)"
wait $RUN
STATUS=$?
set -e
echo "server RSS after: $(rss) (peak $(hwm)); api CPU during the run: $(awk -v a="$CPU0" -v b="$(cpu)" -v n="$DURATION" -v i="$INTERVAL_MS" 'BEGIN {printf "%.1f ms per event", (b - a) * 1000 / (n * 1000 / i)}')"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^ces_api_sse_(subscribers|events_total|frames_total|dropped|publish_seconds_(sum|count)|delivery_lag_seconds_(sum|count))' || true
exit $STATUS
