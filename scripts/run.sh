#!/usr/bin/env bash
# `make run`: local stack + a node (the fake node replaying the recordings, or NODE=URL for a real
# one) + the whole pipeline (produce, store-consume, audit-consume) + the query API. Runs in the
# foreground; Ctrl-C stops the services, the stack keeps running (scripts/stack down stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=build/casper-event-store
recordings=$("$root/scripts/recordings-dir")
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
  node_rpc=${CES_NODE_RPC:-}
  echo "node: $node"
else
  emit_listen=${CES_EMIT_LISTEN:-127.0.0.1:18101}
  node="http://$emit_listen"
  # The v2 recording, looped with fresh hashes and ids at a live-like pace.
  $bin emit --listen "$emit_listen" --stream "$recordings/v2/events.stream" --loop --synthetic --rpc \
    --rate "${CES_EMIT_RATE:-20}" >"$logs/emit.log" 2>&1 &
  pids+=($!)
  node_rpc="$node/rpc"
  echo "fake node: $node (replaying $recordings/v2/events.stream; log $logs/emit.log)"
fi

$bin produce --node "$node" --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "${CES_TOPIC_PREFIX:-}" \
  --listen "${CES_PRODUCE_LISTEN:-127.0.0.1:18102}" >"$logs/produce.log" 2>&1 &
pids+=($!)

# Gaps produce records (events the node no longer had) rebuilt from the node's JSON-RPC (docs/backfill.md);
# a real node's RPC is its host on port 7777 unless CES_NODE_RPC says otherwise.
$bin backfill --gaps --node "$node" ${node_rpc:+--rpc "$node_rpc"} --kafka "$KAFKA_BOOTSTRAP" \
  --topic-prefix "${CES_TOPIC_PREFIX:-}" --listen "${CES_BACKFILL_LISTEN:-127.0.0.1:18106}" >"$logs/backfill.log" 2>&1 &
pids+=($!)

# Kafka -> PostgreSQL model (docs/schema.md); the schema is migrated at start. 1.x era rewards need
# the node's JSON-RPC: CES_NODE_RPC=http://<node-ip>:7777/rpc.
$bin store-consume --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "${CES_TOPIC_PREFIX:-}" --postgres "$POSTGRES_URI" \
  --migrate --listen "${CES_STORE_LISTEN:-127.0.0.1:18104}" >"$logs/store-consume.log" 2>&1 &
pids+=($!)

# The chain sequence: every distinct event of the node topics once, in <prefix>chain (what /events serves).
$bin chain --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "${CES_TOPIC_PREFIX:-}" \
  --listen "${CES_CHAIN_LISTEN:-127.0.0.1:18106}" >"$logs/chain.log" 2>&1 &
pids+=($!)

# Kafka -> MongoDB audit store (docs/audit.md).
$bin audit-consume --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "${CES_TOPIC_PREFIX:-}" --mongo "$MONGO_URI" \
  --listen "${CES_AUDIT_LISTEN:-127.0.0.1:18103}" >"$logs/audit-consume.log" 2>&1 &
pids+=($!)
# The query API: REST over the model (docs/api-rest.md), sidecar-compatible lookups (docs/api-sidecar.md),
# replay of the audit store and live SSE from Kafka (docs/api.md), OpenAPI + Swagger UI (docs/api-docs.md).
$bin api --postgres "$POSTGRES_URI" --mongo "$MONGO_URI" --kafka "$KAFKA_BOOTSTRAP" \
  --topic-prefix "${CES_TOPIC_PREFIX:-}" --cors-origin "${CES_CORS_ORIGINS:-*}" \
  --listen "${CES_API_LISTEN:-127.0.0.1:18105}" >"$logs/api.log" 2>&1 &
pids+=($!)

cat <<MSG

pipeline running:
  produce     http://${CES_PRODUCE_LISTEN:-127.0.0.1:18102}/metrics   (log $logs/produce.log)
  backfill    http://${CES_BACKFILL_LISTEN:-127.0.0.1:18106}/metrics   (log $logs/backfill.log)
  store-consume http://${CES_STORE_LISTEN:-127.0.0.1:18104}/metrics   (log $logs/store-consume.log)   psql "$POSTGRES_URI" -c 'select height, era_id from blocks order by height desc limit 5'
  chain       http://${CES_CHAIN_LISTEN:-127.0.0.1:18106}/metrics   (log $logs/chain.log)
  audit-consume http://${CES_AUDIT_LISTEN:-127.0.0.1:18103}/metrics   (log $logs/audit-consume.log)
  api         http://${CES_API_LISTEN:-127.0.0.1:18105}/swagger-ui/   (log $logs/api.log)
              curl 'http://${CES_API_LISTEN:-127.0.0.1:18105}/api/v1/blocks?size=3'
              curl -N 'http://${CES_API_LISTEN:-127.0.0.1:18105}/events?max_events=5'
  Kafka       $KAFKA_BOOTSTRAP   e.g. kcat -b $KAFKA_BOOTSTRAP -t ${CES_TOPIC_PREFIX:-}main -C -f '%h %s\n' -c 5
Ctrl-C stops the services.
MSG
wait -n "${pids[@]}" || true
