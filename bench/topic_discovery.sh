#!/usr/bin/env bash
# Topics created after the consumers started are consumed within 2 s (issue 14, target 4), at a live rate.
#
#   bench/topic_discovery.sh [RATE]
#
# store-consume (fresh PostgreSQL database) and audit-consume (fresh audit database) start first, on a
# fresh topic prefix whose topics do not exist yet (each consumer creates the event topics before it
# subscribes); then emit publishes the 2.x synthetic mix at RATE events/s (default 200: about two mainnet
# blocks of signatures per second) and produce ingests it. Reports the time from produce's first record
# acknowledged by Kafka to store-consume's first row and audit-consume's first stored event (counters
# polled every 50 ms). bench/rss_bench.sh times the same at full ingest, where the first audit batch is
# a full one.
#
# Uses the running stack (scripts/stack env) or starts one on ports 37000+ in .state/bench-discovery.
# Binary: CES_BENCH_BINARY (default build-release/casper-event-store, else build/casper-event-store).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
rate=${1:-200}
bench_init bench-discovery 37000

bench_new_stores bench-discovery
"$bin" generate --out "$work/stream" --events 20000 --protocol 2 --recordings "$recordings" --seed 7 >/dev/null

declare -A port pid
bench_start_consumers
for s in store audit; do wait_ready "${port[$s]}" || { echo "$s not ready:" >&2; tail "$work/$s.log" >&2; exit 1; }; done
port[emit]=$(free_port)
port[produce]=$(free_port)
"$bin" emit --listen "127.0.0.1:${port[emit]}" --stream "$work/stream" --loop --synthetic --rate "$rate" \
  >"$work/emit.log" 2>&1 &
pids+=("$!")
"$bin" produce --node "http://127.0.0.1:${port[emit]}" --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "$prefix" \
  --listen "127.0.0.1:${port[produce]}" --log-level warn >"$work/produce.log" 2>&1 &
pid[produce]=$!
pids+=("${pid[produce]}")
wait_ready "${port[produce]}"
echo "consumers first, then $rate events/s:"
bench_first_records
