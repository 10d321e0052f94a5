# Shared set-up of the end-to-end bench scripts (sourced, not run). After `bench_init NAME PORT_BASE`:
#   $root, $bin (CES_BENCH_BINARY, else build-release/casper-event-store, else build/casper-event-store),
#   $recordings, $work (a temporary directory) and the stack's variables (KAFKA_BOOTSTRAP, POSTGRES_URI,
#   MONGO_URI): the running stack (scripts/stack env), else one started on PORT_BASE (CES_PORT_BASE when
#   set) in .state/NAME and stopped on exit. Processes appended to `pids` get SIGTERM on exit; databases
#   made by bench_new_db (PostgreSQL) and bench_new_mongo_db (the audit store) are dropped, and the Kafka
#   topics of a prefix made by bench_new_prefix deleted.
# Scripts print their figures as `result KEY VALUE` lines too (bench_result), which bench/e2e.sh reads.
# shellcheck shell=bash disable=SC2034,SC2153  # variables for the sourcing scripts; MONGO_URI from scripts/stack env

bench_init() {
  cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
  root=$(pwd)
  bin=${CES_BENCH_BINARY:-build-release/casper-event-store}
  [ -x "$bin" ] || bin=build/casper-event-store
  recordings=$("$root/scripts/recordings-dir")
  work=$(mktemp -d)
  bench_stack_state=""
  pids=()
  bench_dbs=()
  bench_mongo_dbs=()
  bench_prefixes=()
  trap bench_cleanup EXIT
  if ! scripts/stack status >/dev/null 2>&1; then
    export CES_STATE=$root/.state/$1 CES_PORT_BASE=${CES_PORT_BASE:-$2}
    scripts/stack up >/dev/null
    bench_stack_state=$CES_STATE
  fi
  eval "$(scripts/stack env --export)"
}

bench_cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for d in "${bench_dbs[@]}"; do psql -q "$POSTGRES_URI" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1; done
  for p in "${bench_prefixes[@]}"; do
    "$root/scripts/stack" kafka-topics --delete --topic "$p.*" >/dev/null 2>&1 || echo "could not delete the topics $p*" >&2
  done
  if [ ${#bench_mongo_dbs[@]} -gt 0 ]; then
    "$bench_mongo_drop" "$MONGO_URI" "${bench_mongo_dbs[@]}" || echo "could not drop ${bench_mongo_dbs[*]}" >&2
  fi
  if [ -n "$bench_stack_state" ]; then CES_STATE=$bench_stack_state "$root/scripts/stack" down >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

metric() {  # metric PORT REGEX -> sum of the matching samples
  curl -s "http://127.0.0.1:$1/metrics" | awk -v re="$2" '$0 ~ re {s += $NF} END {printf "%.0f\n", s}'
}

wait_ready() { for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && return 0; sleep 0.2; done; return 1; }

uri_with_db() {  # uri_with_db URI NAME -> URI with its database (path) replaced by NAME, query kept
  local u="${1%%\?*}"
  u="${u%/*}/$2"
  if [[ "$1" == *\?* ]]; then u="$u?${1#*\?}"; fi
  echo "$u"
}

bench_new_db() {  # bench_new_db NAME: a fresh, migrated PostgreSQL database (dropped on exit); its URI in $db_uri
  psql -q "$POSTGRES_URI" -c "CREATE DATABASE $1"
  bench_dbs+=("$1")
  db_uri=$(uri_with_db "$POSTGRES_URI" "$1")
  "$bin" migrate --postgres "$db_uri" >/dev/null 2>&1
}

bench_tool() {  # bench_tool NAME -> path of the bench/ executable NAME of $bin's build directory (built if missing)
  local dir
  dir=$(dirname "$bin")
  [ -x "$dir/bench/$1" ] || cmake --build "$dir" --target "$1" >/dev/null || return 1
  echo "$dir/bench/$1"
}

bench_new_mongo_db() {  # bench_new_mongo_db NAME: an audit store database dropped on exit; its URI in $mongo_uri
  bench_mongo_drop=$(bench_tool mongo_drop_database)
  bench_mongo_dbs+=("$1")
  mongo_uri=$(uri_with_db "$MONGO_URI" "$1")
}

bench_new_prefix() {  # bench_new_prefix NAME: a fresh topic prefix in $prefix (NAME-<ns>-), its topics deleted on exit
  prefix="$1-$(date +%s%N)-"
  bench_prefixes+=("$prefix")
}

bench_new_stores() {  # bench_new_stores NAME: bench_new_prefix NAME, and a PostgreSQL and an audit database NAME_<ns>
  bench_new_prefix "$1"
  local db
  db="${1//-/_}_$(date +%s%N)"
  bench_new_db "$db"
  bench_new_mongo_db "$db"
}

declare -A port pid  # per service (store, audit, api, produce, emit): listen port, process id

# On $prefix (bench_new_prefix), $db_uri (bench_new_db) and $mongo_uri (bench_new_mongo_db):
bench_start_consumers() {  # store-consume and audit-consume on $prefix, own groups; port[store|audit], pid[...]
  port[store]=$(free_port)
  port[audit]=$(free_port)
  "$bin" store-consume --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "$prefix" --postgres "$db_uri" --group "${prefix}store" \
    --listen "127.0.0.1:${port[store]}" --log-level warn >"$work/store.log" 2>&1 &
  pid[store]=$!
  "$bin" audit-consume --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "$prefix" --mongo "$mongo_uri" \
    --group "${prefix}audit" --listen "127.0.0.1:${port[audit]}" --log-level warn >"$work/audit.log" 2>&1 &
  pid[audit]=$!
  pids+=("${pid[store]}" "${pid[audit]}")
}

bench_first_records() {  # after produce (port[produce]) started: time from its first record to the first row / audit event
  local now f_produce="" f_row="" f_audit="" deadline=$(($(date +%s) + 60))
  while [ -z "$f_row" ] || [ -z "$f_audit" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "no first row/event within 60 s" >&2; return 1; }
    now=$(date +%s.%N)
    [ -z "$f_produce" ] && [ "$(metric "${port[produce]}" '^ces_produce_events_total')" -ge 1 ] && f_produce=$now
    [ -n "$f_produce" ] && [ -z "$f_row" ] && [ "$(metric "${port[store]}" '^ces_store_consume_rows_total')" -ge 1 ] &&
      f_row=$(date +%s.%N)
    [ -n "$f_produce" ] && [ -z "$f_audit" ] &&
      [ "$(metric "${port[audit]}" '^ces_audit_consume_events_total\{result="stored"\}')" -ge 1 ] && f_audit=$(date +%s.%N)
    sleep 0.05
  done
  awk -v p="$f_produce" -v r="$f_row" -v u="$f_audit" 'BEGIN {
    printf "after produce'"'"'s first record: first PostgreSQL row %.2f s, first audit event %.2f s\n", r - p, u - p
    printf "result first_row_s %.2f\nresult first_audit_s %.2f\n", r - p, u - p}'
}

bench_result() { echo "result $1 $2"; }  # bench_result KEY VALUE: a figure for bench/e2e.sh

proc_kb() {  # proc_kb PID FIELD (VmRSS, VmHWM) -> kB, 0 when the process is gone
  awk -v f="$2:" '$1 == f {print $2; found = 1} END {if (!found) print 0}' "/proc/$1/status" 2>/dev/null || echo 0
}
