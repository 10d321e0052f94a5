#!/usr/bin/env bash
# audit-consume sustained throughput into the local store, and a bare bulk-insert baseline.
#
#   bench/audit_consume_bench.sh [EVENTS] [WINDOW_SECONDS]
#
# 1. EVENTS synthetic mixed events (default 300000; `generate`: ~90% FinalitySignature, blocks,
#    transactions, era ends) are put into Kafka first: emit (whole file in its replay buffer) -> produce.
# 2. audit-consume drains them into a fresh database. Its counters (ces_audit_consume_events_total{stored},
#    ces_audit_consume_bytes_total) are sampled every WINDOW seconds (default 10; counters move by whole
#    batches of 5000), with the CPU time of audit-consume and of the MongoDB server process (FerretDB)
#    per window. Reports the median window and the average over the whole drain (from audit-consume
#    ready to the last event stored).
# 3. Baseline: bench/audit_insert_baseline.cpp inserts the same events with libmongoc alone, as `raw`
#    documents (payload only) and as `full` documents (what audit-consume writes to `events`).
# CES_BENCH_PROTOCOL=1: the 1.x mix (`generate --protocol 1`, three streams) instead of the 2.x one.
# The audit databases (the store and the baseline's) are dropped at the end.
#
# Uses the running stack (scripts/stack env) or starts one on ports 34000+ in .state/bench-audit and
# stops it afterwards. Binary: CES_BENCH_BINARY (default build-release/casper-event-store, else
# build/casper-event-store).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
events=${1:-300000}
window_s=${2:-10}
bench_init bench-audit 34000

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

stamp=$(date +%s%N)
bench_new_prefix bench-audit
db="bench_audit_$stamp"
baseline=$(bench_tool audit_insert_baseline)
bench_new_mongo_db "${db}_baseline"
baseline_uri=$mongo_uri
bench_new_mongo_db "$db"
server_pid=$(scripts/stack pid ferretdb)
protocol=${CES_BENCH_PROTOCOL:-2}

echo "generating $events events (protocol $protocol)"
"$bin" generate --out "$work/stream" --events "$events" --protocol "$protocol" --seed 11 --recordings "$recordings" \
  >/dev/null
streams=(--stream "$work/stream")
[ "$protocol" = 1 ] && streams=(--stream "$work/stream/main.stream" --stream "$work/stream/deploys.stream"
                                --stream "$work/stream/sigs.stream")
emit_port=$(free_port)
produce_port=$(free_port)
"$bin" emit --listen "127.0.0.1:$emit_port" "${streams[@]}" --buffer $((events + 10)) >"$work/emit.log" 2>&1 &
pids+=($!)
emit_pid=$!
"$bin" produce --node "http://127.0.0.1:$emit_port" --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "$prefix" \
  --listen "127.0.0.1:$produce_port" --log-level warn >"$work/produce.log" 2>&1 &
pids+=($!)
produce_pid=$!
wait_ready "$produce_port"
while [ "$(metric "$produce_port" '^ces_produce_events_total')" -lt "$events" ]; do sleep 1; done
kill -TERM "$produce_pid" "$emit_pid"
wait "$produce_pid" "$emit_pid" 2>/dev/null || true
echo "kafka backlog: $events events under prefix $prefix"

consume_port=$(free_port)
"$bin" audit-consume --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "$prefix" --mongo "$mongo_uri" \
  --group "$prefix"audit --listen "127.0.0.1:$consume_port" --log-level warn >"$work/consume.log" 2>&1 &
pids+=($!)
consume_pid=$!
wait_ready "$consume_port"
e0=0; b0=0
c0=$(cpu_ticks "$consume_pid"); s0=$(cpu_ticks "$server_pid")
rates=()
window=0
stored() { metric "$consume_port" '^ces_audit_consume_events_total\{result="stored"\}'; }
start=$(date +%s.%N)
end=""
while :; do
  for _ in $(seq $((window_s * 5))); do  # the last window ends with the last event (0.2 s resolution)
    sleep 0.2
    [ "$(stored)" -ge "$events" ] && { end=$(date +%s.%N); break; }
  done
  window=$((window + 1))
  e1=$(stored)
  b1=$(metric "$consume_port" '^ces_audit_consume_bytes_total')
  c1=$(cpu_ticks "$consume_pid"); s1=$(cpu_ticks "$server_pid")
  ev=$(awk -v a="$e1" -v b="$e0" -v s="$window_s" 'BEGIN {printf "%.0f", (a - b) / s}')
  mb=$(awk -v a="$b1" -v b="$b0" -v s="$window_s" 'BEGIN {printf "%.2f", (a - b) / s / 1e6}')
  ccpu=$(awk -v a="$c1" -v b="$c0" -v s="$window_s" 'BEGIN {printf "%.0f", (a - b) / s}')
  scpu=$(awk -v a="$s1" -v b="$s0" -v s="$window_s" 'BEGIN {printf "%.0f", (a - b) / s}')
  [ -n "$end" ] && break  # a partial window: not counted
  echo "window $window: $ev events/s, $mb MB/s; CPU audit-consume $ccpu%, server $scpu%"
  rates+=("$ev $mb $ccpu $scpu")
  e0=$e1; b0=$b1; c0=$c1; s0=$s1
  [ "$window" -ge 2000 ] && { end=$(date +%s.%N); break; }
done
total_s=$(awk -v a="$end" -v b="$start" 'BEGIN {printf "%.1f", a - b}')
printf '%s\n' "${rates[@]}" | sort -n | awk -v total="$events" -v secs="$total_s" '
  {ev[NR] = $1; mb[NR] = $2; c[NR] = $3; s[NR] = $4}
  END {m = int((NR + 1) / 2); printf "audit-consume median window: %d events/s, %s MB/s (CPU: audit-consume %d%%, server %d%%); all %d events in %s s\n", ev[m], mb[m], c[m], s[m], total, secs
       printf "result audit_window %d\n", ev[m]}'
bench_result audit_total "$(awk -v n="$events" -v s="$total_s" 'BEGIN {printf "%.0f", n / s}')"
kill -TERM "$consume_pid" 2>/dev/null || true

echo "baseline (libmongoc insert_many, batches of 5000, same events):"
for mode in raw full; do
  line=$("$baseline" "$baseline_uri" "$work/stream" "$mode")
  echo "$line"
  bench_result "baseline_$mode" "$(sed -E 's/.*: ([0-9]+) documents\/s.*/\1/' <<< "$line")"
done
