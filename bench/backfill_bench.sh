#!/usr/bin/env bash
# backfill throughput against a local stack (Kafka and PostgreSQL on this machine).
#
#   bench/backfill_bench.sh [BLOCKS] [SIGNATURES]
#       A synthetic chain of BLOCKS blocks (default 5000) with SIGNATURES finality signatures each
#       (default 100) and era ends every 50 blocks, served by the fake node's JSON-RPC (emit --rpc).
#       1. Kafka: `backfill --all` from an empty prefix; blocks/s = heights / wall time of the run
#          (from its start to "range filled", every record acknowledged).
#       2. PostgreSQL: store-consume drains the backfilled records into a fresh database; blocks/s =
#          heights / time until its stored positions reach the end of the topics.
#       3. Both at once: backfill and store-consume started together, into another prefix and database.
#
# Synthetic chains carry no transactions (their transaction events get new hashes per event, so no
# block could list them: docs/backfill.md). Uses the running stack (scripts/stack env) or starts one on
# ports 33000+ in .state/bench-backfill and stops it afterwards. Binary: CES_BENCH_BINARY (default
# build-release/casper-event-store, else build/casper-event-store).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
blocks=${1:-5000}
signatures=${2:-100}
bench_init bench-backfill 33000

now() { date +%s.%N; }
stored_blocks() { psql -Atq "$1" -c "select count(*) from blocks" 2>/dev/null || echo 0; }
stored_sigs() { psql -Atq "$1" -c "select count(*) from finality_signatures" 2>/dev/null || echo 0; }
wait_stored() {  # wait_stored URI -> until blocks and signatures are all in
  until [ "$(stored_blocks "$1")" -ge "$blocks" ] && [ "$(stored_sigs "$1")" -ge "$((blocks * signatures))" ]; do
    sleep 0.2
  done
}

events=$((blocks * (signatures + 1) + blocks / 50))
"$bin" generate --out "$work/chain.stream" --events "$events" --protocol 2 --recordings "$recordings" \
  --mix "blocks,signatures=$signatures,era_blocks=50" >/dev/null 2>&1
emit_port=$(free_port)
"$bin" emit --rpc --listen "127.0.0.1:$emit_port" --stream "$work/chain.stream" >"$work/emit.log" 2>&1 &
pids+=("$!")
until curl -sf "http://127.0.0.1:$emit_port/status" >/dev/null; do sleep 0.2; done
range=$(curl -s "http://127.0.0.1:$emit_port/status" | python3 -c 'import json,sys; r=json.load(sys.stdin)["available_block_range"]; print(r["low"], r["high"])')
read -r low high <<< "$range"
blocks=$((high - low + 1))
node="http://127.0.0.1:$emit_port"
echo "chain: $blocks blocks ($low..$high), $signatures signatures per block; binary $bin"

# 1. node RPC -> Kafka
bench_new_prefix bench-backfill
start=$(now)
"$bin" backfill --node "$node" --rpc "$node/rpc" --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "$prefix" --all \
  --listen "127.0.0.1:$(free_port)" --log-level warn >"$work/backfill.log" 2>&1
end=$(now)
python3 -c "print(f'kafka: {$blocks} blocks in {$end-$start:.1f} s = {$blocks/($end-$start):.0f} blocks/s')"

# 2. Kafka -> PostgreSQL (the records written in 1)
bench_new_db "bench_backfill_$(date +%s)"
uri=$db_uri
start=$(now)
"$bin" store-consume --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "$prefix" --postgres "$uri" \
  --listen "127.0.0.1:$(free_port)" --log-level warn >"$work/store.log" 2>&1 &
pids+=("$!")
wait_stored "$uri"
end=$(now)
python3 -c "print(f'postgresql: {$blocks} blocks in {$end-$start:.1f} s = {$blocks/($end-$start):.0f} blocks/s')"

# 3. both at once: node RPC -> Kafka -> PostgreSQL
prefix2="bench-backfill-both-$(date +%s)-"
bench_new_db "bench_backfill_both_$(date +%s)"
uri2=$db_uri
start=$(now)
"$bin" backfill --node "$node" --rpc "$node/rpc" --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "$prefix2" --all \
  --listen "127.0.0.1:$(free_port)" --log-level warn >"$work/backfill2.log" 2>&1 &
backfill_pid=$!
pids+=("$backfill_pid")
"$bin" store-consume --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "$prefix2" --postgres "$uri2" --group both \
  --listen "127.0.0.1:$(free_port)" --log-level warn >"$work/store2.log" 2>&1 &
pids+=("$!")
wait "$backfill_pid"
wait_stored "$uri2"
end=$(now)
python3 -c "print(f'end to end: {$blocks} blocks in {$end-$start:.1f} s = {$blocks/($end-$start):.0f} blocks/s')"
