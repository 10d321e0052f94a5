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
# (default cluster.local), --mongo-database DB (default casper).
#
# Secrets (name: keys):
#   postgres-secret:      superUserPassword replicationUserPassword storePassword apiPassword
#   mongo-events-keyfile: keyfile (replica-set member authentication)
#   mongo-events-users:   rootUsername rootPassword auditUsername auditPassword
#                         apiUsername apiPassword backupUsername backupPassword
#   mongo-events-uris:    audit api (connection strings with w=majority)
set -euo pipefail

namespace=kafka members=3 domain=cluster.local database=casper mode=""
while [ $# -gt 0 ]; do
  case "$1" in
    --apply) mode=apply ;;
    --print) mode=print ;;
    --namespace) namespace=$2; shift ;;
    --mongo-members) members=$2; shift ;;
    --cluster-domain) domain=$2; shift ;;
    --mongo-database) database=$2; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "secrets.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$mode" ] || { echo "secrets.sh: give --apply or --print (see --help)" >&2; exit 2; }
[[ "$members" =~ ^[1-9][0-9]*$ ]] || { echo "secrets.sh: --mongo-members must be a positive number" >&2; exit 2; }

password() { head -c 48 /dev/urandom | base64 -w0 | tr -d '/+=' | cut -c1-32; }
keyfile() { head -c 756 /dev/urandom | base64 -w0; }

secret_yaml() { # name key=value...
  local name=$1; shift
  printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\n  labels:\n    app.kubernetes.io/part-of: casper-event-store\ntype: Opaque\nstringData:\n' "$name" "$namespace"
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

emit postgres-secret \
  "superUserPassword=$(password)" "replicationUserPassword=$(password)" \
  "storePassword=$(password)" "apiPassword=$(password)"
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
options="replicaSet=rs0&authSource=admin&w=majority&retryWrites=true&readConcernLevel=majority"
emit mongo-events-uris \
  "audit=mongodb://${audit_user}:${audit_pw}@${hosts}/${database}?${options}" \
  "api=mongodb://${api_user}:${api_pw}@${hosts}/${database}?${options}&readPreference=primaryPreferred"
