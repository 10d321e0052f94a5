#!/usr/bin/env bash
# Copies the local stack's Kafka and ZooKeeper configuration (config/, the
# single source of truth) into the kustomize tree, which can only read files
# below itself. Run after changing config/kafka or config/zookeeper; the
# policy tests (scripts/k8s-check.sh) fail while the copies differ.
#   deploy/kubernetes/sync-config.sh          copy
#   deploy/kubernetes/sync-config.sh --check  report differences, exit 1 if any
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
k=$root/deploy/kubernetes
pairs=(
  "config/kafka/server.properties.tmpl:$k/base/kafka/files/server.properties.tmpl"
  "config/kafka/ha.env:$k/base/kafka/files/kafka.env"
  "config/kafka/single.env:$k/overlays/single/config/kafka.env"
  "config/zookeeper/zoo.cfg.tmpl:$k/base/zookeeper/files/zoo.cfg.tmpl"
  "config/zookeeper/ha.env:$k/base/zookeeper/files/zookeeper.env"
  "config/zookeeper/single.env:$k/overlays/single/config/zookeeper.env"
)
status=0
for pair in "${pairs[@]}"; do
  src=$root/${pair%%:*} dst=${pair#*:}
  if cmp -s "$src" "$dst"; then
    continue
  fi
  if [ "${1:-}" = "--check" ]; then
    echo "differs: ${dst#"$root"/} (from ${pair%%:*})"
    status=1
  else
    cp "$src" "$dst"
    echo "updated: ${dst#"$root"/}"
  fi
done
exit $status
