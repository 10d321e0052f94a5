#!/usr/bin/env bash
# Resident memory of every service at full ingest and idle, with the default flags (issue 14, target 3).
#
#   bench/rss_bench.sh [PROTOCOL] [EVENTS] [IDLE_SECONDS]
#
# PROTOCOL 1: the 1.x mix of `generate --protocol 1 --events EVENTS` (default 100000: ~170 MB, blocks with
# era reports, processed deploys, ~92 % signatures); PROTOCOL 2 (default): the 2.x default mix (default
# 200000 events). store-consume (fresh PostgreSQL database), audit-consume (fresh audit database) and api
# (REST on that database, live hub on the topics) start first, on a fresh topic prefix; then emit serves
# the whole stream at once (replay buffer of every event) and produce ingests it. Once store-consume and
# audit-consume have every event, the services stay idle for IDLE_SECONDS (default 20).
# Reports per service the peak RSS (VmHWM over the whole run) and the idle RSS (VmRSS at the end), and
# the end-to-end rates from produce's start: Kafka acknowledged, PostgreSQL committed, audit store written.
# As the consumers start before the topics exist, it also times topic discovery (issue 14, target 4): from
# produce's first record acknowledged by Kafka to store-consume's first row and audit-consume's first
# stored event (their counters, polled every 50 ms).
#
# CES_BENCH_SMAPS=DIR keeps each service's /proc/PID/smaps and status at the idle sample in DIR.
# Uses the running stack (scripts/stack env) or starts one on ports 35000+ in .state/bench-rss.
# Binary: CES_BENCH_BINARY (default build-release/casper-event-store, else build/casper-event-store).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
protocol=${1:-2}
if [ "$protocol" = 1 ]; then events=${2:-100000}; else events=${2:-200000}; fi
idle_s=${3:-20}
bench_init bench-rss 35000

bench_new_stores bench-rss

"$bin" generate --out "$work/stream" --events "$events" --protocol "$protocol" --recordings "$recordings" --seed 7 \
  >/dev/null
if [ "$protocol" = 1 ]; then
  streams=(--stream "$work/stream/main.stream" --stream "$work/stream/deploys.stream" --stream "$work/stream/sigs.stream")
else
  streams=(--stream "$work/stream")
fi

declare -A port pid
for s in api produce emit; do port[$s]=$(free_port); done
bench_start_consumers
"$bin" api --postgres "$db_uri" --mongo "$mongo_uri" --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "$prefix" \
  --listen "127.0.0.1:${port[api]}" --log-level warn >"$work/api.log" 2>&1 &
pid[api]=$!
pids+=("${pid[api]}")
for s in store audit api; do wait_ready "${port[$s]}" || { echo "$s not ready:" >&2; tail "$work/$s.log" >&2; exit 1; }; done
declare -A start peak idle
sleep 2
for s in store audit api; do start[$s]=$(proc_kb "${pid[$s]}" VmRSS); done

"$bin" emit --listen "127.0.0.1:${port[emit]}" "${streams[@]}" --buffer "$((events + 10))" >"$work/emit.log" 2>&1 &
pid[emit]=$!
pids+=("${pid[emit]}")
t0=$(date +%s.%N)
"$bin" produce --node "http://127.0.0.1:${port[emit]}" --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "$prefix" \
  --listen "127.0.0.1:${port[produce]}" --log-level warn >"$work/produce.log" 2>&1 &
pid[produce]=$!
pids+=("${pid[produce]}")
wait_ready "${port[produce]}"
start[produce]=$(proc_kb "${pid[produce]}" VmRSS)

produced() { metric "${port[produce]}" '^ces_produce_events_total'; }
stored() { metric "${port[store]}" '^ces_store_consume_batch_events_sum'; }
audited() { metric "${port[audit]}" '^ces_audit_consume_events_total\{result="stored"\}'; }
bench_first_records
t_produce=""; t_store=""; t_audit=""
deadline=$(($(date +%s) + 1200))
while [ -z "$t_store" ] || [ -z "$t_audit" ]; do
  sleep 0.5
  [ "$(date +%s)" -lt "$deadline" ] || { echo "timed out: produced $(produced), stored $(stored), audited $(audited)" >&2; exit 1; }
  [ -z "$t_produce" ] && [ "$(produced)" -ge "$events" ] && t_produce=$(date +%s.%N)
  [ -z "$t_store" ] && [ "$(stored)" -ge "$events" ] && t_store=$(date +%s.%N)
  [ -z "$t_audit" ] && [ "$(audited)" -ge "$events" ] && t_audit=$(date +%s.%N)
done
for s in store audit api produce; do peak[$s]=$(proc_kb "${pid[$s]}" VmHWM); done
sleep "$idle_s"
for s in store audit api produce; do idle[$s]=$(proc_kb "${pid[$s]}" VmRSS); done
if [ -n "${CES_BENCH_SMAPS:-}" ]; then  # where the idle memory sits: a copy of each service's smaps and status
  mkdir -p "$CES_BENCH_SMAPS"
  for s in store audit api produce; do
    cp "/proc/${pid[$s]}/smaps" "$CES_BENCH_SMAPS/$s.smaps"
    cp "/proc/${pid[$s]}/status" "$CES_BENCH_SMAPS/$s.status"
  done
fi

echo "protocol $protocol, $events events ($(du -sh "$work/stream" | cut -f1)), binary $bin"
printf '%-14s %10s %10s %10s\n' service "start MB" "peak MB" "idle MB"
for s in produce store audit api; do
  name=$s; [ "$s" = store ] && name=store-consume; [ "$s" = audit ] && name=audit-consume
  awk -v n="$name" -v b="${start[$s]}" -v p="${peak[$s]}" -v i="${idle[$s]}" \
    'BEGIN {printf "%-14s %10.1f %10.1f %10.1f\n", n, b / 1024, p / 1024, i / 1024}'
done
awk -v n="$events" -v a="$t0" -v p="$t_produce" -v s="$t_store" -v u="$t_audit" 'BEGIN {
  printf "events/s from produce start: Kafka %.0f, PostgreSQL %.0f, audit %.0f\n", n / (p - a), n / (s - a), n / (u - a)}'
for s in produce store audit api; do
  bench_result "peak_$s" "$((peak[$s] / 1024))"
  bench_result "idle_$s" "$((idle[$s] / 1024))"
done
