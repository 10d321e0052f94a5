#!/bin/bash
# Starts one broker of the kafka StatefulSet.
#  - broker id (node id in KRaft) = pod ordinal;
#  - server.properties = files/server.properties.tmpl (a copy of
#    config/kafka/server.properties.tmpl) rendered with files/kafka.env (a copy
#    of config/kafka/ha.env or single.env) and this pod's values, followed by
#    files/kubernetes.properties (listener layout; in KRaft also the roles);
#  - data (log.dirs) lives on the PersistentVolume mounted at /var/lib/kafka/data;
#  - KAFKA_MODE=kraft: the zookeeper.* lines are dropped, the controller quorum
#    is generated from KAFKA_REPLICAS and the storage is formatted once
#    (--ignore-formatted makes it a no-op on a formatted volume).
set -euo pipefail
src=${KAFKA_CONFIG_SOURCE:-/opt/ces/kafka}
cfg=${KAFKA_CONFIG_FILE:-/var/lib/kafka/config/server.properties}
data=${KAFKA_DATA_DIR:-/var/lib/kafka/data}
ordinal=${POD_NAME##*-}
base=${POD_NAME%-*}
domain="${KAFKA_HEADLESS_SERVICE}.${POD_NAMESPACE}.svc.${CLUSTER_DOMAIN}"

set -a
# shellcheck disable=SC1091  # kafka.env is mounted into the pod
. "$src/kafka.env"
set +a
: "${KAFKA_REPLICAS:?kafka.env must set KAFKA_REPLICAS}"
if [ "$ordinal" -ge "$KAFKA_REPLICAS" ]; then
  echo "pod ordinal $ordinal is outside KAFKA_REPLICAS=$KAFKA_REPLICAS: update kafka.env together with the replica count" >&2
  exit 1
fi

export KAFKA_BROKER_ID=$ordinal
export KAFKA_LISTEN_HOST=0.0.0.0
export KAFKA_PORT=9092
export KAFKA_ADVERTISED_HOST="${POD_NAME}.${domain}"
export KAFKA_LOG_DIRS=$data/logs
export KAFKA_ZOOKEEPER_CONNECT="${KAFKA_ZOOKEEPER_SERVICE}.${POD_NAMESPACE}.svc.${CLUSTER_DOMAIN}:2181${KAFKA_ZOOKEEPER_CHROOT}"
export KAFKA_EXTERNAL_HOST="${KAFKA_EXTERNAL_HOST:-${HOST_IP}}"
export KAFKA_EXTERNAL_PORT=$((KAFKA_EXTERNAL_PORT_BASE + ordinal))
voters=""
for ((i = 0; i < KAFKA_REPLICAS; i++)); do
  voters+="${voters:+,}${i}@${base}-${i}.${domain}:9094"
done
export KAFKA_CONTROLLER_QUORUM_VOTERS=$voters

mkdir -p "$(dirname "$cfg")" "$KAFKA_LOG_DIRS"
{
  bash "$src/render.sh" "$src/server.properties.tmpl"
  echo
  echo "# ---- kubernetes.properties ----"
  bash "$src/render.sh" "$src/kubernetes.properties"
} > "$cfg.tmp"
if [ "${KAFKA_MODE:-zookeeper}" = "kraft" ]; then
  grep -v '^zookeeper\.' "$cfg.tmp" > "$cfg"
else
  mv "$cfg.tmp" "$cfg"
fi
rm -f "$cfg.tmp"
echo "kafka: broker $ordinal of $KAFKA_REPLICAS, mode ${KAFKA_MODE:-zookeeper}, advertised $KAFKA_ADVERTISED_HOST"

# CES_RENDER_ONLY=1: stop here (tests/k8s renders the configuration offline)
[ -z "${CES_RENDER_ONLY:-}" ] || exit 0

if [ "${KAFKA_MODE:-zookeeper}" = "kraft" ]; then
  : "${KAFKA_CLUSTER_ID:?KAFKA_CLUSTER_ID must be set in KRaft mode}"
  /opt/kafka/bin/kafka-storage.sh format --config "$cfg" --cluster-id "$KAFKA_CLUSTER_ID" --ignore-formatted
fi
exec /opt/kafka/bin/kafka-server-start.sh "$cfg"
