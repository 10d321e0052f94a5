#!/usr/bin/env bash
# `make run`: local stack + a node (the fake node replaying the recordings, or NODE=URL for a real
# one) + the pipeline so far (produce). Runs in the foreground; Ctrl-C stops the services, the stack
# keeps running (scripts/stack down stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=build/casper-event-store
recordings=${CES_RECORDINGS:-$root/../shared/data/casper}
logs=${CES_STATE:-$root/.state}/services
mkdir -p "$logs"

scripts/stack up
eval "$(scripts/stack env)"

pids=()
stop() {
  echo "stopping services…"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait || true
  echo "services stopped; the stack is still up (scripts/stack down to stop it)"
}
trap stop EXIT
trap "exit 130" INT TERM

if [ -n "${NODE:-}" ]; then
  node=$NODE
  echo "node: $node"
else
  emit_listen=${CES_EMIT_LISTEN:-127.0.0.1:18101}
  node="http://$emit_listen"
  # The v2 recording, looped with fresh hashes and ids at a live-like pace.
  $bin emit --listen "$emit_listen" --stream "$recordings/v2/events.stream" --loop --synthetic \
    --rate "${CES_EMIT_RATE:-20}" >"$logs/emit.log" 2>&1 &
  pids+=($!)
  echo "fake node: $node (replaying $recordings/v2/events.stream; log $logs/emit.log)"
fi

$bin produce --node "$node" --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "${CES_TOPIC_PREFIX:-}" \
  --listen "${CES_PRODUCE_LISTEN:-127.0.0.1:18102}" >"$logs/produce.log" 2>&1 &
pids+=($!)

cat <<MSG

pipeline running:
  produce     http://${CES_PRODUCE_LISTEN:-127.0.0.1:18102}/metrics   (log $logs/produce.log)
  Kafka       $KAFKA_BOOTSTRAP   e.g. kcat -b $KAFKA_BOOTSTRAP -t ${CES_TOPIC_PREFIX:-}main -C -f '%h %s\n' -c 5
Ctrl-C stops the services.
MSG
wait -n "${pids[@]}" || true
