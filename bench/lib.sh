# Shared set-up of the end-to-end bench scripts (sourced, not run). After `bench_init NAME PORT_BASE`:
#   $root, $bin (CES_BENCH_BINARY, else build-release/casper-event-store, else build/casper-event-store),
#   $recordings, $work (a temporary directory) and the stack's variables (KAFKA_BOOTSTRAP, POSTGRES_URI,
#   MONGO_URI): the running stack (scripts/stack env), else one started on PORT_BASE in .state/NAME and
#   stopped on exit. Processes appended to `pids` get SIGTERM on exit; databases made by bench_new_db
#   are dropped.
# shellcheck shell=bash disable=SC2034  # the variables are for the scripts that source this file

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
  trap bench_cleanup EXIT
  if ! scripts/stack status >/dev/null 2>&1; then
    export CES_STATE=$root/.state/$1 CES_PORT_BASE=$2
    scripts/stack up >/dev/null
    bench_stack_state=$CES_STATE
  fi
  eval "$(scripts/stack env)"
}

bench_cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for d in "${bench_dbs[@]}"; do psql -q "$POSTGRES_URI" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1; done
  if [ -n "$bench_stack_state" ]; then CES_STATE=$bench_stack_state "$root/scripts/stack" down >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

metric() {  # metric PORT REGEX -> sum of the matching samples
  curl -s "http://127.0.0.1:$1/metrics" | awk -v re="$2" '$0 ~ re {s += $NF} END {printf "%.0f\n", s}'
}

wait_ready() { for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && return 0; sleep 0.2; done; return 1; }

bench_new_db() {  # bench_new_db NAME: a fresh, migrated PostgreSQL database (dropped on exit); its URI in $db_uri
  psql -q "$POSTGRES_URI" -c "CREATE DATABASE $1"
  bench_dbs+=("$1")
  db_uri="${POSTGRES_URI%%\?*}"
  db_uri="${db_uri%/*}/$1"
  [[ "$POSTGRES_URI" == *\?* ]] && db_uri="$db_uri?${POSTGRES_URI#*\?}"
  "$bin" migrate --postgres "$db_uri" >/dev/null 2>&1
}

proc_kb() {  # proc_kb PID FIELD (VmRSS, VmHWM) -> kB, 0 when the process is gone
  awk -v f="$2:" '$1 == f {print $2; found = 1} END {if (!found) print 0}' "/proc/$1/status" 2>/dev/null || echo 0
}
