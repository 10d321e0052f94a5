#!/bin/bash
# kafka-setup: keeps Kafka's topics, SCRAM users and ACLs as configured, every
# KAFKA_SETUP_INTERVAL seconds (a reconciler, not a Job: a changed ConfigMap
# rolls this Deployment instead of breaking `kubectl apply` on an immutable Job
# template). Ready (/tmp/setup-ok) after a complete pass; alive while it loops.
# Connects as kafka-admin (certificate) to the brokers' TLS replication listener.
set -uo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
export KAFKA_ADMIN_CONFIG=/tmp/admin.properties
umask 077
cat > "$KAFKA_ADMIN_CONFIG" <<PROPS
security.protocol=SSL
ssl.keystore.type=PKCS12
ssl.keystore.location=/etc/kafka-admin/keystore.p12
ssl.keystore.password=${KAFKA_TLS_PASSWORD:?}
ssl.key.password=${KAFKA_TLS_PASSWORD}
ssl.truststore.type=PKCS12
ssl.truststore.location=/etc/kafka-admin/truststore.p12
ssl.truststore.password=${KAFKA_TLS_PASSWORD}
ssl.endpoint.identification.algorithm=https
request.timeout.ms=30000
PROPS
while true; do
  date -u +%FT%TZ > /tmp/setup-heartbeat
  if bash "$here/create-topics.sh" && bash "$here/users-acls.sh"; then
    date -u +%FT%TZ > /tmp/setup-ok
    echo "kafka-setup: topics, users and ACLs in place"
  else
    rm -f /tmp/setup-ok
    echo "kafka-setup: pass failed; retrying in 30 s" >&2
    sleep 30
    continue
  fi
  sleep "${KAFKA_SETUP_INTERVAL:-600}"
done
