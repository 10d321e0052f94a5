#!/bin/bash
# Nightly logical backup of the replica set: mongodump --oplog (a consistent
# point-in-time dump) from a secondary, gzip-compressed archive on the backup
# volume; archives older than MONGO_BACKUP_KEEP_DAYS are deleted.
# Restore: docs/kubernetes.md ("Backup and restore").
set -euo pipefail
hosts=""
for ((i = 0; i < MONGO_REPLICAS; i++)); do
  hosts+="${hosts:+,}mongo-events-${i}.${MONGO_SERVICE}.${POD_NAMESPACE}.svc.${CLUSTER_DOMAIN}:27017"
done
umask 077
cat > /tmp/mongodump.yaml <<YAML
uri: "mongodb://${MONGO_BACKUP_USERNAME}@${hosts}/?replicaSet=${MONGO_REPLICA_SET}&authSource=admin&readPreference=secondaryPreferred"
password: "${MONGO_BACKUP_PASSWORD}"
YAML
file="/backup/mongo-events-$(date -u +%Y%m%dT%H%M%SZ).archive.gz"
mongodump --config=/tmp/mongodump.yaml --oplog --gzip --archive="$file.partial"
mv "$file.partial" "$file"
find /backup -name 'mongo-events-*.archive.gz' -mtime "+${MONGO_BACKUP_KEEP_DAYS:-7}" -delete
rm -f /tmp/mongodump.yaml
echo "backup written: $file ($(du -h "$file" | cut -f1))"
