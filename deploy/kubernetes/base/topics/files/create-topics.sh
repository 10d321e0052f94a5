#!/bin/bash
# Creates the pipeline's topics and brings their settings to the wanted values.
# Idempotent: an existing topic keeps its data; its configuration is altered to
# the values below, partitions are only ever added (never removed), and a topic
# whose replication factor is lower than wanted fails the Job (changing it
# needs a partition reassignment, see docs/kubernetes.md).
# Settings: the ces-topics ConfigMap (shared with the producer) and ces-config.
# Run by setup.sh (the kafka-setup reconciler) with its administrator
# connection: KAFKA_ADMIN_BOOTSTRAP, KAFKA_ADMIN_CONFIG (TLS, principal kafka-admin).
set -euo pipefail
bin=/opt/kafka/bin
prefix=${CES_TOPIC_PREFIX:-}
partitions=${CES_PARTITIONS:?}
rf=${CES_REPLICATION_FACTOR:?}
isr=${CES_MIN_INSYNC_REPLICAS:?}
max_bytes=${TOPIC_MAX_MESSAGE_BYTES:?}
bootstrap=${KAFKA_ADMIN_BOOTSTRAP:?}
admin=(--bootstrap-server "$bootstrap" --command-config "${KAFKA_ADMIN_CONFIG:?}")

echo "waiting for $rf broker(s) at $bootstrap"
for attempt in $(seq 1 90); do
  brokers=$("$bin/kafka-broker-api-versions.sh" "${admin[@]}" 2>/dev/null | grep -c '(id: ' || true)
  [ "$brokers" -ge "$rf" ] && break
  [ "$attempt" -eq 90 ] && { echo "only $brokers broker(s) answer; giving up" >&2; exit 1; }
  sleep 10
done
echo "$brokers broker(s) answer"

# name partitions config...
ensure() {
  local topic="$prefix$1" parts=$2; shift 2
  local configs
  configs="min.insync.replicas=$isr,max.message.bytes=$max_bytes${*:+,}$(IFS=,; echo "$*")"
  local create=(--create --if-not-exists --topic "$topic" --partitions "$parts" --replication-factor "$rf")
  local c
  IFS=, read -ra pairs <<< "$configs"
  for c in "${pairs[@]}"; do create+=(--config "$c"); done
  "$bin/kafka-topics.sh" "${admin[@]}" "${create[@]}"
  "$bin/kafka-configs.sh" "${admin[@]}" --alter --entity-type topics --entity-name "$topic" --add-config "$configs"

  local desc have_parts have_rf
  desc=$("$bin/kafka-topics.sh" "${admin[@]}" --describe --topic "$topic" | head -n 1)
  have_parts=$(sed -n 's/.*PartitionCount: *\([0-9]*\).*/\1/p' <<< "$desc")
  have_rf=$(sed -n 's/.*ReplicationFactor: *\([0-9]*\).*/\1/p' <<< "$desc")
  if [ "$have_parts" -lt "$parts" ]; then
    "$bin/kafka-topics.sh" "${admin[@]}" --alter --topic "$topic" --partitions "$parts"
    have_parts=$parts
  fi
  if [ "$have_rf" -lt "$rf" ]; then
    echo "topic $topic has replication factor $have_rf < $rf: reassign its partitions (docs/kubernetes.md)" >&2
    return 1
  fi
  echo "topic $topic: $have_parts partition(s), replication factor $have_rf, $configs"
}

raw=("retention.ms=${RAW_RETENTION_MS:?}" "retention.bytes=${RAW_RETENTION_BYTES:?}" "cleanup.policy=delete")
aux=("retention.ms=${AUX_RETENTION_MS:?}" "cleanup.policy=delete")
ensure main "$partitions" "${raw[@]}"
ensure deploys "$partitions" "${raw[@]}"
ensure sigs "$partitions" "${raw[@]}"
# the one chain sequence (casper-event-store chain): one partition, kept forever (its offsets are the chain ids)
ensure chain 1 "cleanup.policy=delete" "retention.ms=-1" "retention.bytes=-1"
ensure producer-positions 1 "cleanup.policy=compact" "retention.ms=-1" "min.cleanable.dirty.ratio=0.1"
ensure dead-letter 1 "${aux[@]}"
ensure ingest-gaps 1 "${aux[@]}"
# casper-event-store backfill: one checkpoint per height range (compacted)
ensure backfill-checkpoints 1 "cleanup.policy=compact" "retention.ms=-1" "min.cleanable.dirty.ratio=0.1"
echo "all topics in place"
