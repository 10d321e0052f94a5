#!/usr/bin/env bash
# ISR-aware roll of the Kafka StatefulSets (updateStrategy OnDelete): applies a
# changed pod template one pod at a time, highest ordinal first, and before
# each pod (and at the end) waits until no partition is under-replicated or
# under its min ISR and the restarted pod is Ready again.
#   deploy/kubernetes/roll-kafka.sh [--namespace kafka] [--controllers] [--all] [--timeout 1800]
#     --controllers  roll the KRaft controllers (kafka-controller) instead of the brokers
#     --all          restart every pod, also those already on the current revision
#                    (a new certificate, a changed Secret)
# Exit 1 when the cluster does not get healthy within --timeout seconds (nothing
# more is restarted then). docs/kubernetes.md ("Rolling Kafka").
set -euo pipefail
ns=kafka sts=kafka all=0 timeout=1800
while [ $# -gt 0 ]; do
  case "$1" in
    --namespace) ns=$2; shift ;;
    --controllers) sts=kafka-controller ;;
    --all) all=1 ;;
    --timeout) timeout=$2; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "roll-kafka.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
k() { kubectl -n "$ns" "$@"; }
log() { printf '[roll-kafka] %s\n' "$*"; }

# Under-replicated or under-min-ISR partitions, asked through broker 0's own
# admin configuration (TLS, principal kafka-broker); prints them.
unhealthy() {
  local pod=kafka-0 out
  # shellcheck disable=SC2016  # expanded inside the broker's pod
  out=$(k exec "$pod" -c kafka -- bash -c '
    a=(--bootstrap-server "$(hostname -f):9095" --command-config /var/lib/kafka/config/admin.properties)
    /opt/kafka/bin/kafka-topics.sh "${a[@]}" --describe --under-replicated-partitions &&
    /opt/kafka/bin/kafka-topics.sh "${a[@]}" --describe --under-min-isr-partitions' 2>&1) || { echo "admin request failed: $out"; return 0; }
  [ -n "$out" ] && echo "$out"
  return 0
}

wait_healthy() { # what
  local deadline=$((SECONDS + timeout)) out
  while :; do
    out=$(unhealthy)
    if [ -z "$out" ] && [ "$(k get sts "$sts" -o jsonpath='{.status.readyReplicas}')" = "$(k get sts "$sts" -o jsonpath='{.spec.replicas}')" ]; then
      log "healthy: every pod Ready, no under-replicated partition ($1)"
      return 0
    fi
    if [ $SECONDS -ge "$deadline" ]; then
      log "not healthy after ${timeout}s ($1); stopping the roll:"; echo "$out" | head -20
      exit 1
    fi
    sleep 10
  done
}

revision=$(k get sts "$sts" -o jsonpath='{.status.updateRevision}')
replicas=$(k get sts "$sts" -o jsonpath='{.spec.replicas}')
log "$sts: $replicas pods, target revision $revision"
wait_healthy "before the roll"
for ((i = replicas - 1; i >= 0; i--)); do
  pod="$sts-$i"
  current=$(k get pod "$pod" -o jsonpath="{.metadata.labels['controller-revision-hash']}")
  if [ "$all" = 0 ] && [ "$current" = "$revision" ]; then
    log "$pod is on $revision: skipped"
    continue
  fi
  log "restarting $pod ($current -> $revision)"
  k delete pod "$pod" --wait=true
  k wait pod "$pod" --for=condition=Ready --timeout="${timeout}s"
  wait_healthy "after $pod"
done
log "done"
