#!/bin/bash
# Starts one Kafka node: a broker of the kafka StatefulSet, or (KRaft) a
# controller of the kafka-controller StatefulSet (KAFKA_ROLE=controller).
#  - broker id (node id in KRaft) = pod ordinal; controllers: 3000 + ordinal;
#  - server.properties = files/server.properties.tmpl (a copy of
#    config/kafka/server.properties.tmpl) rendered with files/kafka.env (a copy
#    of config/kafka/ha.env or single.env) and this pod's values, then
#    security.properties (TLS, SCRAM, ACLs) and kubernetes.properties (listener
#    layout; in KRaft also the role). A controller renders only
#    security.properties and controller.properties: it stores no topic data;
#  - data (log.dirs) lives on the PersistentVolume mounted at /var/lib/kafka/data;
#  - admin.properties next to server.properties: TLS client settings with this
#    node's certificate (principal kafka-broker) for the admin tools in the pod
#    (docs/kubernetes.md "Health", roll-kafka.sh);
#  - KAFKA_MODE=kraft: the zookeeper.* lines are dropped and the storage is
#    formatted once (see format_kraft below: a dynamic quorum, KIP-853).
set -euo pipefail
src=${KAFKA_CONFIG_SOURCE:-/opt/ces/kafka}
cfg=${KAFKA_CONFIG_FILE:-/var/lib/kafka/config/server.properties}
data=${KAFKA_DATA_DIR:-/var/lib/kafka/data}
role=${KAFKA_ROLE:-broker}
ordinal=${POD_NAME##*-}
headless=${KAFKA_HEADLESS_SERVICE}
[ "$role" = controller ] && headless=${KAFKA_CONTROLLER_HEADLESS_SERVICE:-kafka-controller-headless}
domain="${headless}.${POD_NAMESPACE}.svc.${CLUSTER_DOMAIN}"

set -a
# shellcheck disable=SC1091  # kafka.env is mounted into the pod
. "$src/kafka.env"
set +a
: "${KAFKA_REPLICAS:?kafka.env must set KAFKA_REPLICAS}"
count=$KAFKA_REPLICAS
[ "$role" = controller ] && count=${KAFKA_CONTROLLER_REPLICAS:-3}
if [ "$ordinal" -ge "$count" ]; then
  echo "pod ordinal $ordinal is outside the $role count $count: update kafka.env together with the replica count" >&2
  exit 1
fi

export KAFKA_BROKER_ID=$ordinal
export KAFKA_NODE_ID=$ordinal
[ "$role" = controller ] && KAFKA_NODE_ID=$((3000 + ordinal))
export KAFKA_LISTEN_HOST=0.0.0.0
export KAFKA_PORT=9092
export KAFKA_ADVERTISED_HOST="${POD_NAME}.${domain}"
export KAFKA_LOG_DIRS=$data/logs
export KAFKA_ZOOKEEPER_CONNECT="${KAFKA_ZOOKEEPER_SERVICE}.${POD_NAMESPACE}.svc.${CLUSTER_DOMAIN}:2182${KAFKA_ZOOKEEPER_CHROOT}"
export KAFKA_EXTERNAL_HOST="${KAFKA_EXTERNAL_HOST:-${HOST_IP}}"
export KAFKA_EXTERNAL_PORT=$((KAFKA_EXTERNAL_PORT_BASE + ordinal))
export KAFKA_TLS_PASSWORD=${KAFKA_TLS_PASSWORD:?KAFKA_TLS_PASSWORD (Secret kafka-tls-password) not set}
# KRaft: the controllers every node bootstraps from (dynamic quorum)
controllers=()
for ((i = 0; i < ${KAFKA_CONTROLLER_REPLICAS:-3}; i++)); do
  controllers+=("kafka-controller-${i}.${KAFKA_CONTROLLER_HEADLESS_SERVICE:-kafka-controller-headless}.${POD_NAMESPACE}.svc.${CLUSTER_DOMAIN}:9094")
done
KAFKA_CONTROLLER_BOOTSTRAP=$(IFS=,; echo "${controllers[*]}")
export KAFKA_CONTROLLER_BOOTSTRAP

mkdir -p "$(dirname "$cfg")" "$KAFKA_LOG_DIRS"
{
  if [ "$role" = controller ]; then
    echo "log.dirs=${KAFKA_LOG_DIRS}"
  else
    bash "$src/render.sh" "$src/server.properties.tmpl"
  fi
  echo
  echo "# ---- security.properties ----"
  bash "$src/render.sh" "$src/security.properties"
  echo
  echo "# ---- $([ "$role" = controller ] && echo controller || echo kubernetes).properties ----"
  bash "$src/render.sh" "$src/$([ "$role" = controller ] && echo controller || echo kubernetes).properties"
} > "$cfg.tmp"
if [ "${KAFKA_MODE:-zookeeper}" = "kraft" ]; then
  grep -v '^zookeeper\.' "$cfg.tmp" > "$cfg"
else
  mv "$cfg.tmp" "$cfg"
fi
rm -f "$cfg.tmp"
admin="$(dirname "$cfg")/admin.properties"
{
  echo "security.protocol=SSL"
  grep -E '^ssl\.(keystore|truststore|key|endpoint)' "$cfg"
} > "$admin"
echo "kafka: $role $ordinal (node id $KAFKA_NODE_ID) of $count, mode ${KAFKA_MODE:-zookeeper}, advertised $KAFKA_ADVERTISED_HOST"

# CES_RENDER_ONLY=1: stop here (tests/k8s renders the configuration offline)
[ -z "${CES_RENDER_ONLY:-}" ] || exit 0

# A quorum of controllers answers (a leader is known) through any controller but this one.
quorum_answers() {
  local c
  for c in "${controllers[@]}"; do
    [[ "$c" == "${POD_NAME}."* ]] && continue
    if timeout 30 /opt/kafka/bin/kafka-metadata-quorum.sh --bootstrap-controller "$c" --command-config "$admin" \
        describe --status 2>/dev/null | grep -Eq '^LeaderId: *[0-9]+'; then
      return 0
    fi
  done
  return 1
}

# KRaft formatting, once per volume. Brokers: with the cluster id (an empty
# broker re-replicates from its peers). Controllers (KIP-853, no static voter list):
#  - a quorum answers: this controller lost its volume or is new; it formats
#    without initial voters (a fresh directory id), starts as an observer and
#    joins the quorum with add-controller once it is caught up. It never
#    re-creates a voter with an empty log;
#  - no quorum answers within KAFKA_FORMAT_WAIT_SECONDS and the Secret
#    kafka-kraft still holds controllerDirectoryIds (first install only): it
#    formats with --initial-controllers, the three controllers and their
#    directory ids from that Secret (each controller the same list);
#  - otherwise it refuses to start: docs/kubernetes.md ("KRaft controller lost").
join=0
format_kraft() {
  local id=${KAFKA_CLUSTER_ID:?KAFKA_CLUSTER_ID (Secret kafka-kraft, key clusterId) must be set in KRaft mode}
  local storage=(/opt/kafka/bin/kafka-storage.sh format --config "$cfg" --cluster-id "$id")
  [ -f "$KAFKA_LOG_DIRS/meta.properties" ] && return 0
  if [ "$role" != controller ]; then
    "${storage[@]}" --ignore-formatted
    return
  fi
  local deadline=$((SECONDS + ${KAFKA_FORMAT_WAIT_SECONDS:-180}))
  while [ $SECONDS -lt "$deadline" ]; do
    if quorum_answers; then
      echo "kafka: a controller quorum exists: formatting without initial voters, joining with add-controller"
      "${storage[@]}" --no-initial-controllers
      join=1
      return
    fi
    [ -n "${KAFKA_CONTROLLER_DIRECTORY_IDS:-}" ] || { sleep 5; continue; }
    break
  done
  if [ -z "${KAFKA_CONTROLLER_DIRECTORY_IDS:-}" ]; then
    echo "kafka: empty controller volume, no quorum answers and no initial voters in Secret kafka-kraft:" \
      "refusing to format (docs/kubernetes.md, 'KRaft controller lost')" >&2
    exit 1
  fi
  local ids initial=()
  IFS=, read -ra ids <<< "$KAFKA_CONTROLLER_DIRECTORY_IDS"
  [ "${#ids[@]}" -eq "${#controllers[@]}" ] || { echo "controllerDirectoryIds needs ${#controllers[@]} ids" >&2; exit 1; }
  for ((i = 0; i < ${#controllers[@]}; i++)); do
    initial+=("$((3000 + i))@${controllers[$i]}:${ids[$i]}")
  done
  echo "kafka: first install: formatting with the initial controllers"
  "${storage[@]}" --initial-controllers "$(IFS=,; echo "${initial[*]}")"
}

if [ "${KAFKA_MODE:-zookeeper}" = "kraft" ]; then
  format_kraft
  if [ "$join" = 1 ]; then
    cat "$cfg" "$admin" > "$(dirname "$cfg")/join.properties"   # this node's identity + TLS client settings
    (
      sleep 30
      until /opt/kafka/bin/kafka-metadata-quorum.sh --bootstrap-controller "$KAFKA_CONTROLLER_BOOTSTRAP" \
          --command-config "$(dirname "$cfg")/join.properties" add-controller; do
        sleep 30
      done
      echo "kafka: controller $KAFKA_NODE_ID added to the quorum"
    ) &
  fi
fi
exec /opt/kafka/bin/kafka-server-start.sh "$cfg"
