#!/usr/bin/env bash
# Creates the Secrets of the casper-event-store deployment with random
# passwords. Secrets are never stored in git: run this once per cluster,
# before applying an overlay (docs/kubernetes.md, step 2).
#
#   deploy/kubernetes/secrets.sh --apply [--namespace kafka] [--mongo-members 3]
#       creates each missing Secret in the cluster (kubectl, current context)
#       and keeps every existing one: running it again changes nothing, so
#       the databases never see a password they were not initialised with.
#   deploy/kubernetes/secrets.sh --print [...]
#       prints the Secrets as YAML instead (for a secret manager such as
#       sealed-secrets or SOPS); the output contains the passwords.
#
# Options: --namespace NS (default kafka), --mongo-members N (members of the
# MongoDB replica set, 1 for the single overlay, default 3), --cluster-domain D
# (default cluster.local), --mongo-database DB (default casper), --kraft (the
# KRaft overlay's Secret), --cnpg (the prod-cnpg overlay's Secrets).
#
# Secrets (name: keys):
#   postgres-secret:      superUserPassword replicationUserPassword storePassword apiPassword
#   mongo-events-keyfile: keyfile (replica-set member authentication)
#   mongo-events-users:   rootUsername rootPassword auditUsername auditPassword
#                         apiUsername apiPassword backupUsername backupPassword
#   mongo-events-uris:    audit api (connection strings with TLS and w=majority)
#   kafka-users:          produce chain backfill store-consume audit-consume api exporter
#                         (SCRAM passwords; the users are ces-<key>, base/topics/files/acls.txt)
#   kafka-tls-password:   password (the PKCS#12 stores cert-manager writes for Kafka)
#   postgres-backup:      s3Key s3KeySecret cipherPass (pgBackRest repository)
#   kafka-kraft:          clusterId controllerDirectoryIds (KRaft only, --kraft): the
#                         cluster's id and the initial controllers' directory ids,
#                         made once at install (docs/kubernetes.md "KRaft")
#   postgres-events-store, postgres-events-api (CloudNativePG only, --cnpg):
#                         username password (kubernetes.io/basic-auth, what the
#                         operator reads), the passwords of storePassword and
#                         apiPassword in postgres-secret (the services keep reading those)
set -euo pipefail

namespace=kafka members=3 domain=cluster.local database=casper mode="" kraft=0 cnpg=0 controllers=3
while [ $# -gt 0 ]; do
  case "$1" in
    --apply) mode=apply ;;
    --print) mode=print ;;
    --namespace) namespace=$2; shift ;;
    --mongo-members) members=$2; shift ;;
    --cluster-domain) domain=$2; shift ;;
    --mongo-database) database=$2; shift ;;
    --kraft) kraft=1 ;;
    --cnpg) cnpg=1 ;;
    --controllers) controllers=$2; shift ;;
    -h|--help) sed -n '2,35p' "$0"; exit 0 ;;
    *) echo "secrets.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$mode" ] || { echo "secrets.sh: give --apply or --print (see --help)" >&2; exit 2; }
[[ "$members" =~ ^[1-9][0-9]*$ ]] || { echo "secrets.sh: --mongo-members must be a positive number" >&2; exit 2; }

password() { head -c 48 /dev/urandom | base64 -w0 | tr -d '/+=' | cut -c1-32; }
keyfile() { head -c 756 /dev/urandom | base64 -w0; }
# a Kafka Uuid as its tools print it: base64url of 16 random bytes, not starting with '-'
kafka_uuid() {
  local id
  while id=$(head -c 16 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '='); [[ "$id" == -* ]]; do :; done
  echo "$id"
}

secret_yaml() { # name key=value... (type and extra labels: $secret_type, $secret_labels)
  local name=$1; shift
  printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\n  labels:\n    app.kubernetes.io/part-of: casper-event-store\n%stype: %s\nstringData:\n' \
    "$name" "$namespace" "${secret_labels:-}" "${secret_type:-Opaque}"
  local kv
  for kv in "$@"; do
    printf '  %s: "%s"\n' "${kv%%=*}" "${kv#*=}"
  done
}

exists() { [ "$mode" = apply ] && kubectl -n "$namespace" get secret "$1" >/dev/null 2>&1; }
existing_key() { kubectl -n "$namespace" get secret "$1" -o "jsonpath={.data.$2}" | base64 -d; }

emit() { # name key=value...
  if [ "$mode" = print ]; then
    secret_yaml "$@"
    echo "---"
  elif exists "$1"; then
    echo "secret $1: exists, kept" >&2
  else
    secret_yaml "$@" | kubectl create -f - >/dev/null
    echo "secret $1: created" >&2
  fi
}

if [ "$mode" = apply ]; then
  command -v kubectl >/dev/null || { echo "secrets.sh: kubectl not found" >&2; exit 1; }
  kubectl get namespace "$namespace" >/dev/null 2>&1 || kubectl create namespace "$namespace" >/dev/null
fi

# the roles' passwords: the existing Secret's (CloudNativePG's copies below)
if exists postgres-secret; then
  pg_store_pw=$(existing_key postgres-secret storePassword); pg_api_pw=$(existing_key postgres-secret apiPassword)
  emit postgres-secret
else
  pg_store_pw=$(password) pg_api_pw=$(password)
  emit postgres-secret \
    "superUserPassword=$(password)" "replicationUserPassword=$(password)" \
    "storePassword=$pg_store_pw" "apiPassword=$pg_api_pw"
fi
if [ "$cnpg" = 1 ]; then
  # the operator reads basic-auth Secrets; cnpg.io/reload: it applies a changed password
  secret_type=kubernetes.io/basic-auth secret_labels=$'    cnpg.io/reload: "true"\n'
  emit postgres-events-store "username=ces_store" "password=$pg_store_pw"
  emit postgres-events-api "username=ces_api" "password=$pg_api_pw"
  unset secret_type secret_labels
fi
emit mongo-events-keyfile "keyfile=$(keyfile)"

# users: reuse the existing Secret's passwords for the connection strings
if exists mongo-events-users; then
  audit_user=$(existing_key mongo-events-users auditUsername); audit_pw=$(existing_key mongo-events-users auditPassword)
  api_user=$(existing_key mongo-events-users apiUsername); api_pw=$(existing_key mongo-events-users apiPassword)
  emit mongo-events-users
else
  audit_user=ces_audit audit_pw=$(password) api_user=ces_api api_pw=$(password)
  emit mongo-events-users \
    "rootUsername=root" "rootPassword=$(password)" \
    "auditUsername=$audit_user" "auditPassword=$audit_pw" \
    "apiUsername=$api_user" "apiPassword=$api_pw" \
    "backupUsername=ces_backup" "backupPassword=$(password)"
fi

hosts=""
for ((i = 0; i < members; i++)); do
  hosts+="${hosts:+,}mongo-events-${i}.mongo-events-service.${namespace}.svc.${domain}:27017"
done
options="replicaSet=rs0&authSource=admin&w=majority&retryWrites=true&readConcernLevel=majority&tls=true&tlsCAFile=/etc/ces/mongo-ca/ca.crt"
emit mongo-events-uris \
  "audit=mongodb://${audit_user}:${audit_pw}@${hosts}/${database}?${options}" \
  "api=mongodb://${api_user}:${api_pw}@${hosts}/${database}?${options}&readPreference=primaryPreferred"

emit kafka-users \
  "produce=$(password)" "chain=$(password)" "backfill=$(password)" "store-consume=$(password)" \
  "audit-consume=$(password)" "api=$(password)" "exporter=$(password)"
emit kafka-tls-password "password=$(password)"
# pgBackRest's object store (CES_BACKUP_S3_KEY, CES_BACKUP_S3_KEY_SECRET) and the
# passphrase that encrypts the repository (keep a copy outside the cluster:
# without it the backups cannot be read)
if [ -z "${CES_BACKUP_S3_KEY:-}" ] && [ "$mode" = apply ]; then
  echo "secrets.sh: CES_BACKUP_S3_KEY/CES_BACKUP_S3_KEY_SECRET not set: postgres-backup gets placeholders (WAL archiving fails until they are set)" >&2
fi
emit postgres-backup "s3Key=${CES_BACKUP_S3_KEY:-set-me}" "s3KeySecret=${CES_BACKUP_S3_KEY_SECRET:-set-me}" \
  "cipherPass=$(password)$(password)"
if [ "$kraft" = 1 ]; then
  ids=()
  for ((i = 0; i < controllers; i++)); do ids+=("$(kafka_uuid)"); done
  emit kafka-kraft "clusterId=$(kafka_uuid)" "controllerDirectoryIds=$(IFS=,; echo "${ids[*]}")"
fi
