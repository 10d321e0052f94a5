#!/bin/bash
# Daily backup of the replica set as a VolumeSnapshot of one SECONDARY's data
# volume (base/mongo/backup.yaml).
#   backup.sh pick      (mongo image) write the ordinal of a SECONDARY to /work/member
#   backup.sh snapshot  (kubectl image) snapshot data-mongo-events-<ordinal>, keep
#                       the newest MONGO_SNAPSHOT_KEEP snapshots
# Restore: docs/kubernetes.md ("MongoDB backups").
set -euo pipefail
case "${1:-}" in
  pick)
    for ((i = 0; i < MONGO_REPLICAS; i++)); do
      host="mongo-events-${i}.${MONGO_SERVICE}.${POD_NAMESPACE}.svc.${CLUSTER_DOMAIN}:27017"
      uri="mongodb://${host}/?directConnection=true&tls=true&tlsCAFile=/etc/ces/mongo-ca/ca.crt&authSource=admin"
      state=$(mongosh "$uri" --quiet --norc -u "$MONGO_BACKUP_USERNAME" -p "$MONGO_BACKUP_PASSWORD" \
        --eval 'const h = db.hello(); print(h.secondary ? "SECONDARY" : (h.isWritablePrimary ? "PRIMARY" : "OTHER"))' \
        2>/dev/null || echo DOWN)
      if [ "$state" = SECONDARY ] || { [ "$MONGO_REPLICAS" -eq 1 ] && [ "$state" = PRIMARY ]; }; then
        echo "$i" > /work/member
        echo "backup: member $i is $state"
        exit 0
      fi
    done
    echo "backup: no SECONDARY answers; no snapshot taken" >&2
    exit 1
    ;;
  snapshot)
    member=$(cat /work/member)
    name="mongo-events-$(date -u +%Y%m%d-%H%M%S)"
    kubectl create -f - <<YAML
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata:
  name: ${name}
  labels:
    app: mongo-backup
    mongo-events/member: "${member}"
spec:
  volumeSnapshotClassName: ${MONGO_SNAPSHOT_CLASS}
  source:
    persistentVolumeClaimName: data-mongo-events-${member}
YAML
    for _ in $(seq 1 360); do
      ready=$(kubectl get volumesnapshot "$name" -o jsonpath='{.status.readyToUse}' 2>/dev/null || true)
      [ "$ready" = true ] && break
      sleep 10
    done
    [ "$ready" = true ] || { echo "backup: snapshot $name not ready after an hour" >&2; exit 1; }
    echo "backup: snapshot $name of data-mongo-events-${member} ready"
    kubectl get volumesnapshot -l app=mongo-backup --sort-by=.metadata.creationTimestamp -o name \
      | head -n "-${MONGO_SNAPSHOT_KEEP:-7}" | xargs -r kubectl delete
    ;;
  *) echo "usage: backup.sh pick|snapshot" >&2; exit 2 ;;
esac
