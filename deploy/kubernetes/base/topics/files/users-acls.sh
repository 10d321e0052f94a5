#!/bin/bash
# SCRAM users and ACLs of the pipeline (run by setup.sh, idempotent).
#  - users: every key of the Secret kafka-users (mounted at KAFKA_USERS_DIR) is a
#    service; its SCRAM-SHA-512 credential (user ces-<key>) is set when the
#    password is new to this reconciler (a changed Secret reaches the mounted
#    files within a minute: password rotation, docs/kubernetes.md);
#  - ACLs: acls.txt, added with kafka-acls.sh --add (adding an existing ACL
#    changes nothing). ACLs no longer listed are not removed automatically:
#    docs/kubernetes.md ("Kafka users and ACLs").
set -euo pipefail
bin=/opt/kafka/bin
prefix=${CES_TOPIC_PREFIX:-}
admin=(--bootstrap-server "${KAFKA_ADMIN_BOOTSTRAP:?}" --command-config "${KAFKA_ADMIN_CONFIG:?}")
users_dir=${KAFKA_USERS_DIR:?}
state=${KAFKA_SETUP_STATE:-/tmp/scram}
mkdir -p "$state"

for file in "$users_dir"/*; do
  name=$(basename "$file")
  case "$name" in ..*) continue ;; esac   # the Secret volume's own entries
  user="ces-$name"
  digest=$(sha256sum < "$file" | cut -c1-64)
  [ "$(cat "$state/$user" 2>/dev/null)" = "$digest" ] && continue
  password=$(cat "$file")
  [[ "$password" =~ ^[A-Za-z0-9]+$ ]] || { echo "kafka-users/$name: use letters and digits only" >&2; exit 1; }
  "$bin/kafka-configs.sh" "${admin[@]}" --alter --entity-type users --entity-name "$user" \
    --add-config "SCRAM-SHA-512=[iterations=8192,password=$password]" >/dev/null
  echo "$digest" > "$state/$user"
  echo "user $user: SCRAM-SHA-512 credential set"
done

while read -r name operations type names; do
  case "$name" in ''|'#'*) continue ;; esac
  [ -f "$users_dir/$name" ] || { echo "acls.txt: no password for $name in Secret kafka-users" >&2; exit 1; }
  args=(--add --allow-principal "User:ces-$name")
  IFS=, read -ra ops <<< "$operations"
  for op in "${ops[@]}"; do args+=(--operation "$op"); done
  for n in $names; do
    case "$type" in
      topic) resource=(--topic "$prefix$n") ;;
      group) resource=(--group "$n") ;;
      group-prefix) resource=(--group "$n" --resource-pattern-type prefixed) ;;
      transactional-id) resource=(--transactional-id "$n") ;;
      *) echo "acls.txt: unknown resource type $type" >&2; exit 1 ;;
    esac
    "$bin/kafka-acls.sh" "${admin[@]}" "${args[@]}" "${resource[@]}" >/dev/null
  done
  echo "acl ces-$name: $operations on $type $names"
done < "${KAFKA_ACLS_FILE:?}"
