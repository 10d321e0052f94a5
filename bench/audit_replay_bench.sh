#!/usr/bin/env bash
# Replay API over SSE from a large audit store.
#
#   bench/audit_replay_bench.sh [EVENTS]
#
# Store: EVENTS synthetic mixed events (default 1000000; `generate` -> emit -> produce -> audit-consume)
# in a fresh database, dropped at the end (CES_BENCH_KEEP_AUDIT_DB=1 keeps it), or an existing one:
# CES_BENCH_AUDIT_DB=<database> (its first source is used; never dropped).
# Then `api --cache-mb 0` (every read goes to the server) and:
#   throughput        one client (curl) reads /events?max_events=EVENTS from the start; events/s from the
#                     wall time, the count checked from the id lines. Run 3 times; median.
#   time to first     a client (python, raw socket) sends /events?source=S&start_from=N and times the
#   event             arrival of the first `id:` line (request sent -> first event received), for N at
#                     10%, 50% and 90% of the ids; 5 runs each; median and max. The first id must be N.
#
# Uses the running stack (scripts/stack env) or starts one on ports 34000+ in .state/bench-audit.
# Binary: CES_BENCH_BINARY (default build-release/casper-event-store, else build/casper-event-store).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
events=${1:-1000000}
bench_init bench-audit 34000

db=${CES_BENCH_AUDIT_DB:-}
if [ -z "$db" ]; then
  bench_new_prefix bench-replay
  db="bench_replay_$(date +%s)"
  if [ "${CES_BENCH_KEEP_AUDIT_DB:-0}" = 1 ]; then
    mongo_uri=$(uri_with_db "$MONGO_URI" "$db")
    echo "building a store of $events events in database $db (kept: CES_BENCH_AUDIT_DB=$db reuses it)"
  else
    bench_new_mongo_db "$db"
    echo "building a store of $events events in database $db (dropped at the end)"
  fi
  "$bin" generate --out "$work/stream" --events "$events" --protocol 2 --seed 5 --recordings "$recordings" >/dev/null
  emit_port=$(free_port); produce_port=$(free_port); consume_port=$(free_port)
  "$bin" emit --listen "127.0.0.1:$emit_port" --stream "$work/stream" --buffer $((events + 10)) >"$work/emit.log" 2>&1 &
  pids+=($!)
  "$bin" produce --node "http://127.0.0.1:$emit_port" --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "$prefix" \
    --listen "127.0.0.1:$produce_port" --log-level warn >"$work/produce.log" 2>&1 &
  pids+=($!)
  "$bin" audit-consume --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "$prefix" --mongo "$mongo_uri" \
    --group "$prefix"audit --listen "127.0.0.1:$consume_port" --log-level warn >"$work/consume.log" 2>&1 &
  pids+=($!)
  wait_ready "$consume_port"
  started=$(date +%s)
  while [ "$(metric "$consume_port" '^ces_audit_consume_events_total\{result="stored"\}')" -lt "$events" ]; do sleep 5; done
  echo "stored $events events in $(( $(date +%s) - started )) s"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
else
  mongo_uri=$(uri_with_db "$MONGO_URI" "$db")
fi

api_port=$(free_port)
"$bin" api --mongo "$mongo_uri" --listen "127.0.0.1:$api_port" --cache-mb 0 --log-level warn >"$work/api.log" 2>&1 &
pids+=($!)
wait_ready "$api_port"
source_url=$(curl -s "http://127.0.0.1:$api_port/api/v1/sources" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sources"][0]["source"])')
source_enc=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$source_url")

echo "replay throughput, one client, $events events:"
results=()
for run in 1 2 3; do
  start=$(date +%s.%N)
  n=$(curl -s -N "http://127.0.0.1:$api_port/events?max_events=$events" | grep -c '^id:')
  end=$(date +%s.%N)
  rate=$(awk -v n="$n" -v a="$end" -v b="$start" 'BEGIN {printf "%.0f", n / (a - b)}')
  echo "  run $run: $n events in $(awk -v a="$end" -v b="$start" 'BEGIN {printf "%.2f", a - b}') s = $rate events/s"
  [ "$n" -eq "$events" ] || { echo "  expected $events events"; exit 1; }
  results+=("$rate")
done
printf '%s\n' "${results[@]}" | sort -n | awk '{r[NR] = $1} END {printf "replay median: %d events/s\n", r[int((NR + 1) / 2)]}'

echo "time to first event, start_from deep in history (source $source_url):"
for fraction in 0.1 0.5 0.9; do
  id=$(awk -v n="$events" -v f="$fraction" 'BEGIN {printf "%d", n * f}')
  python3 - "$api_port" "/events?source=$source_enc&start_from=$id&max_events=1" "$id" <<'PY'
import socket, sys, time
port, path, want = int(sys.argv[1]), sys.argv[2], sys.argv[3]
times = []
for _ in range(5):
    s = socket.create_connection(("127.0.0.1", port))
    t0 = time.perf_counter()
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n".encode())
    data = b""
    while b"\nid:" not in data or not data[data.index(b"\nid:") + 4:].count(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    times.append((time.perf_counter() - t0) * 1000)
    s.close()
    first = data[data.index(b"\nid:") + 4:].split(b"\n")[0].decode()
    if first != want:
        sys.exit(f"first id {first}, expected {want}")
times.sort()
print(f"  start_from={want}: median {times[len(times)//2]:.1f} ms, max {times[-1]:.1f} ms (5 runs)")
PY
done
