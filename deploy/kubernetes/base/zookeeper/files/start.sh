#!/bin/bash
# Starts one ZooKeeper ensemble member in the zookeeper StatefulSet.
#  - myid = pod ordinal + 1, kept in the data directory (a persisted id that
#    disagrees with the ordinal stops the start: it would impersonate a peer);
#  - the server list is generated from ZK_REPLICAS (files/zookeeper.env, the
#    same file the local stack uses), one line per StatefulSet member;
#  - zoo.cfg is rendered from files/zoo.cfg.tmpl (a copy of config/zookeeper/zoo.cfg.tmpl).
set -euo pipefail
conf_src=${ZK_CONFIG_SOURCE:-/opt/ces/zookeeper}
out=${ZK_RENDERED_DIR:-/conf-rendered}
ordinal=${POD_NAME##*-}
base=${POD_NAME%-*}
myid=$((ordinal + 1))
domain="${ZK_PEER_SERVICE}.${POD_NAMESPACE}.svc.${CLUSTER_DOMAIN}"

set -a
# shellcheck disable=SC1091  # zookeeper.env is mounted into the pod
. "$conf_src/zookeeper.env"
set +a
: "${ZK_REPLICAS:?zookeeper.env must set ZK_REPLICAS}"
if [ "$ordinal" -ge "$ZK_REPLICAS" ]; then
  echo "pod ordinal $ordinal is outside ZK_REPLICAS=$ZK_REPLICAS: update zookeeper.env together with the replica count" >&2
  exit 1
fi

mkdir -p "$ZK_DATA_DIR"
if [ -f "$ZK_DATA_DIR/myid" ]; then
  persisted=$(tr -d '[:space:]' < "$ZK_DATA_DIR/myid")
  if [ "$persisted" != "$myid" ]; then
    echo "$ZK_DATA_DIR/myid holds $persisted but this pod is member $myid; refusing to start" >&2
    exit 1
  fi
else
  echo "$myid" > "$ZK_DATA_DIR/myid"
fi

servers=""
if [ "$ZK_REPLICAS" -gt 1 ]; then
  for ((i = 0; i < ZK_REPLICAS; i++)); do
    servers+="server.$((i + 1))=${base}-${i}.${domain}:2888:3888"$'\n'
  done
fi
# The plaintext client port only on the pod's loopback (probes); clients use
# the TLS port of tls.cfg.
export ZK_SERVERS="$servers" ZK_CLIENT_PORT=2181 ZK_CLIENT_ADDRESS=127.0.0.1 ZK_DATA_DIR
{
  bash "$conf_src/render.sh" "$conf_src/zoo.cfg.tmpl"
  cat "$conf_src/tls.cfg"
} > "$out/zoo.cfg"
echo "zookeeper: myid=$myid, ensemble of $ZK_REPLICAS"
grep -E '^(server\.|tickTime|initLimit|syncLimit|4lw)' "$out/zoo.cfg" || true

# CES_RENDER_ONLY=1: stop here (tests/k8s renders the configuration offline)
[ -z "${CES_RENDER_ONLY:-}" ] || exit 0

# ZooKeeper's PEM key store is one file: the private key, then the certificate
# (cert-manager renews the Secret in place; a restart picks the new pair up).
tls=${ZK_TLS_DIR:-/etc/zookeeper/tls}
(umask 077 && cat "$tls/tls.key" "$tls/tls.crt" > "$out/zookeeper.pem")

# The quorum ports bind to this member's own name: wait until the headless
# service publishes it (publishNotReadyAddresses makes it appear before Ready).
if [ "$ZK_REPLICAS" -gt 1 ]; then
  for _ in $(seq 1 60); do
    getent hosts "${POD_NAME}.${domain}" >/dev/null && break
    sleep 2
  done
fi

export ZOOCFGDIR=$out
exec zkServer.sh start-foreground "$out/zoo.cfg"
