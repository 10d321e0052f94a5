#!/usr/bin/env bash
# PostgreSQL point-in-time restore drill with pgBackRest, on this machine (the
# local stack's PostgreSQL binaries, a throw-away cluster, nothing shared):
#   1. a cluster archiving its WAL with pgBackRest (the stanza, cipher and
#      archive settings of deploy/kubernetes/base/postgres/files/pgbackrest.conf,
#      the repository in a local folder instead of the object store);
#   2. a full backup, then rows written in two batches with a recorded time
#      between them, the WAL switched and archived;
#   3. the cluster stopped and its data folder deleted (the disaster);
#   4. pgbackrest restore --type=time to the recorded time, recovery;
#   5. the first batch must be there, row for row, and the second must not.
# Exit 0 only when the restored rows are exactly the first batch. Run by
# `make test` (k8s tier); docs/kubernetes.md ("PostgreSQL point-in-time recovery")
# gives the same steps on the cluster.
#   CES_PORT_BASE   port base of the local stack (the drill's server: base + 480)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck disable=SC1091
. "$root/versions.env"
bin=/usr/lib/postgresql/${POSTGRES_MAJOR}/bin
port=$(( ${CES_PORT_BASE:-20000} + 480 ))
conf=$root/deploy/kubernetes/base/postgres/files/pgbackrest.conf
log() { printf '[pg-drill] %s\n' "$*"; }
fail() { log "FAILED: $*"; exit 1; }

command -v pgbackrest >/dev/null || fail "pgbackrest is not installed (make setup)"
[ -x "$bin/initdb" ] || fail "PostgreSQL $POSTGRES_MAJOR is not installed (make setup)"
as_pg=()
if [ "$(id -u)" -eq 0 ]; then as_pg=(runuser -u postgres --); fi
mkdir -p /var/tmp/casper-event-store
dir=$(mktemp -d /var/tmp/casper-event-store/pg-drill-XXXXXX)
mkdir -p "$dir/log"
chmod 755 "$dir"
[ ${#as_pg[@]} -eq 0 ] || chown -R postgres:postgres "$dir"
pg() { "${as_pg[@]}" "$@"; }
cleanup() {
  pg "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

# pgBackRest settings of the manifests, with a local repository and paths
{
  echo "[global]"
  sed -n '/^\[global\]/,/^\[/p' "$conf" | grep -E '^(repo1-cipher-type|repo1-retention-full|compress-type|start-fast|archive-async)='
  echo "repo1-type=posix"
  echo "repo1-path=$dir/repo"
  echo "repo1-cipher-pass=drill-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"
  echo "spool-path=$dir/spool"
  echo "lock-path=$dir/lock"
  echo "log-path=$dir/log"
  echo "log-level-console=warn"
  echo "log-level-file=info"
  echo
  echo "[events]"
  echo "pg1-path=$dir/data"
  echo "pg1-port=$port"
  echo "pg1-socket-path=$dir"
} > "$dir/pgbackrest.conf"
chmod 644 "$dir/pgbackrest.conf"
export PGBACKREST_CONFIG=$dir/pgbackrest.conf
grep -q '^repo1-cipher-type=aes-256-cbc' "$dir/pgbackrest.conf" || fail "the manifests' repository is not encrypted"
archive_command=$(sed -n "s/^archive_command = '\(.*\)'$/\1/p" "$root/deploy/kubernetes/base/postgres/files/postgres.conf")
[ -n "$archive_command" ] || fail "no archive_command in base/postgres/files/postgres.conf"

start=$SECONDS
log "cluster in $dir on port $port"
pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust >"$dir/initdb.log" 2>&1 || fail "initdb: $(tail -3 "$dir/initdb.log")"
cat >> "$dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$dir'
wal_level = replica
archive_mode = on
archive_command = 'PGBACKREST_CONFIG=$dir/pgbackrest.conf $archive_command'
archive_timeout = 60
CONF
pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w start >/dev/null || fail "start: $(tail -3 "$dir/postgres.log")"
sql() { pg "$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -Atqc "$1"; }

pg pgbackrest --stanza=events stanza-create >/dev/null || fail "stanza-create (see $dir/log)"
pg pgbackrest --stanza=events check >/dev/null || fail "archive check"
pg pgbackrest --stanza=events --type=full backup >/dev/null || fail "full backup"
log "stanza and full backup: $((SECONDS - start)) s"

sql "CREATE TABLE drill (id int PRIMARY KEY, note text NOT NULL)"
sql "INSERT INTO drill SELECT g, 'before ' || g FROM generate_series(1, 1000) g"
expected=$(sql "SELECT count(*) || ':' || md5(string_agg(id || note, ',' ORDER BY id)) FROM drill")
sleep 1
target=$(sql "SELECT now()")
sleep 1
sql "INSERT INTO drill SELECT g, 'after ' || g FROM generate_series(1001, 2000) g"
sql "UPDATE drill SET note = 'changed' WHERE id <= 10"
sql "SELECT pg_switch_wal()" >/dev/null
sql "CHECKPOINT"
# wait until the segment with the later writes is in the repository
pg pgbackrest --stanza=events check >/dev/null || fail "archive check after the writes"
log "rows written, target time $target"

pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
rm -rf "$dir/data"
pg pgbackrest --stanza=events --type=time "--target=$target" --target-action=promote restore >/dev/null \
  || fail "restore (see $dir/log)"
pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres-restored.log" -w -t 120 start >/dev/null \
  || fail "start after restore: $(tail -5 "$dir/postgres-restored.log")"
for _ in $(seq 1 60); do
  [ "$(sql "SELECT pg_is_in_recovery()")" = f ] && break
  sleep 1
done
[ "$(sql "SELECT pg_is_in_recovery()")" = f ] || fail "the restored cluster did not finish recovery"
got=$(sql "SELECT count(*) || ':' || md5(string_agg(id || note, ',' ORDER BY id)) FROM drill")
[ "$got" = "$expected" ] || fail "restored rows $got, expected $expected (the state at $target)"
later=$(sql "SELECT count(*) FROM drill WHERE id > 1000 OR note = 'changed'")
[ "$later" = 0 ] || fail "$later rows written after the target time were restored"
log "restored to $target: 1000 rows as they were, none of the later writes ($((SECONDS - start)) s)"
echo "pg-restore-drill: 1 passed, 0 failed"
