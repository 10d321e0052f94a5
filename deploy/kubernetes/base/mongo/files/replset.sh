#!/bin/bash
# replset sidecar: runs replset.js every MONGO_RECONCILE_SECONDS seconds.
set -u
while true; do
  mongosh --nodb --quiet --norc /opt/ces/mongo/replset.js
  sleep "${MONGO_RECONCILE_SECONDS:-15}"
done
