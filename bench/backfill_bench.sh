#!/usr/bin/env bash
# backfill throughput against a local stack (Kafka and PostgreSQL on this machine).
#
#   bench/backfill_bench.sh [BLOCKS] [SIGNATURES] [TRANSACTIONS]
#       A synthetic 2.x chain of about BLOCKS blocks (default 5000) with SIGNATURES finality signatures
#       each (default 100), TRANSACTIONS transactions per block on average (default 10; each one's
#       TransactionAccepted and TransactionProcessed, listed by its block) and era ends every 50 blocks,
#       served by the fake node's JSON-RPC (emit --rpc).
#       1. Kafka: `backfill --all` from an empty prefix; blocks/s = heights / wall time of the run
#          (from its start to "range filled", every record acknowledged).
#       2. PostgreSQL: store-consume drains the backfilled records into a fresh database; blocks/s =
#          heights / time until every block, signature and transaction row is in.
#       3. Both at once: backfill and store-consume started together, into another prefix and database.
#
# Uses the running stack (scripts/stack env) or starts one on ports 33000+ in .state/bench-backfill and
# stops it afterwards. Binary: CES_BENCH_BINARY (default build-release/casper-event-store, else
# build/casper-event-store).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
blocks=${1:-5000}
signatures=${2:-100}
transactions=${3:-10}
bench_init bench-backfill 33000

now() { date +%s.%N; }
count_rows() { psql -Atq "$1" -c "select count(*) from $2" 2>/dev/null || echo 0; }
wait_stored() {  # wait_stored URI -> until every block, signature and transaction of the chain is in
  until [ "$(count_rows "$1" blocks)" -ge "$blocks" ] && [ "$(count_rows "$1" finality_signatures)" -ge "$want_sigs" ] &&
    [ "$(count_rows "$1" transactions)" -ge "$want_txs" ]; do
    sleep 0.2
  done
}

# Blocks of 2 x TRANSACTIONS transaction events on average, SIGNATURES signatures and the BlockAdded.
events=$((blocks * (signatures + 1 + 2 * transactions) + blocks / 50))
"$bin" generate --out "$work/chain.stream" --events "$events" --protocol 2 --recordings "$recordings" \
  --mix "signatures=$signatures,transactions=$transactions,expired=0,era_blocks=50" >/dev/null 2>&1
emit_port=$(free_port)
"$bin" emit --rpc --listen "127.0.0.1:$emit_port" --stream "$work/chain.stream" >"$work/emit.log" 2>&1 &
pids+=("$!")
until curl -sf "http://127.0.0.1:$emit_port/status" >/dev/null; do sleep 0.2; done
range=$(curl -s "http://127.0.0.1:$emit_port/status" | python3 -c 'import json,sys; r=json.load(sys.stdin)["available_block_range"]; print(r["low"], r["high"])')
read -r low high <<< "$range"
blocks=$((high - low + 1))
node="http://127.0.0.1:$emit_port"
# What backfill rebuilds: every signature of a served block, every transaction a block lists (the
# chain's last block may be cut short by the event count: its transactions have no block).
want_sigs=$(grep -c '^data:{"FinalitySignature"' "$work/chain.stream")
want_txs=$(grep '^data:{"BlockAdded"' "$work/chain.stream" | python3 -c '
import json, sys
n = 0
for line in sys.stdin:
    body = json.loads(line[5:])["BlockAdded"]["block"]["Version2"]["body"]
    n += sum(len(lane) for lane in body["transactions"].values())
print(n)')
echo "chain: $blocks blocks ($low..$high), $signatures signatures and $(python3 -c "print(f'{$want_txs/$blocks:.1f}')") transactions per block ($want_sigs signatures, $want_txs transactions); binary $bin"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

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
