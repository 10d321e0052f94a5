#!/usr/bin/env bash
# store-consume benchmarks against a local stack (Kafka and PostgreSQL on this machine).
#
#   bench/store_throughput.sh throughput [EVENTS] [WINDOW_SECONDS]
#       Sustained Kafka -> PostgreSQL rate: EVENTS synthetic events (default 400000, `generate` with the
#       mainnet mix: ~90% FinalitySignature, transactions with transfers, blocks, era ends) are first
#       put into Kafka (emit -> produce), then store-consume drains them into a fresh database. Its own
#       counters are sampled every WINDOW seconds (default 2): records/s (events + ApiVersion
#       messages), rows/s (inserted or updated), and its RSS. Reports the median window and the total.
#       CES_BENCH_PROTOCOL=1: the 1.x mix instead (three streams; DeployProcessed with auction effects).
#   bench/store_throughput.sh e2e [EVENTS]
#       Ingest end to end (issue 14, target 1): store-consume starts first (the topics do not exist yet),
#       then emit serves EVENTS events (default 100000; mix as above, CES_BENCH_PROTOCOL) at once and
#       produce ingests them. Rate = EVENTS / time from produce's start to the last record committed by
#       store-consume (its counters polled every 0.2 s); also store-consume's peak RSS.
#   bench/store_throughput.sh latency [RATE] [SECONDS]
#       Live-like stream: emit publishes RATE events/s (default 200) for SECONDS (default 60) through
#       produce to store-consume. Latency = commit time of an event's rows minus the time produce read
#       it from the node (the received-at header), from store-consume's histogram
#       ces_store_consume_event_latency_seconds (p50/p99 interpolated within buckets).
#
# Uses the running stack (scripts/stack env) or starts one on ports 33000+ in .state/bench-store and
# stops it afterwards. Binary: CES_BENCH_BINARY (default build-release/casper-event-store, else
# build/casper-event-store). Extra store-consume flags: CES_BENCH_STORE_ARGS.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
mode=${1:-throughput}
bench_init bench-store 33000

emit_port=$(free_port)
produce_port=$(free_port)
store_port=$(free_port)
bench_new_prefix "bench-store-$mode"
bench_new_db "bench_store_$(date +%s)"

start_store() {
  local store_args
  read -ra store_args <<< "${CES_BENCH_STORE_ARGS:-}"
  "$bin" store-consume --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "$prefix" --postgres "$db_uri" \
    --listen "127.0.0.1:$store_port" --log-level warn "${store_args[@]}" >"$work/store.log" 2>&1 &
  store_pid=$!
  pids+=("$store_pid")
  wait_ready "$store_port"
}

records() { metric "$store_port" '^ces_store_consume_batch_events_sum'; }
rows() { metric "$store_port" '^ces_store_consume_rows_total'; }

ingest() {  # ingest EVENTS: generate EVENTS events of the CES_BENCH_PROTOCOL mix, then emit -> produce
  events=$1
  protocol=${CES_BENCH_PROTOCOL:-2}
  api_versions=1  # records besides the events: one ApiVersion per stream
  "$bin" generate --out "$work/stream" --events "$events" --protocol "$protocol" --recordings "$recordings" \
    --seed 7 >/dev/null
  streams=(--stream "$work/stream")
  if [ "$protocol" = 1 ]; then
    streams=(--stream "$work/stream/main.stream" --stream "$work/stream/deploys.stream" --stream "$work/stream/sigs.stream")
    api_versions=3
  fi
  "$bin" emit --listen "127.0.0.1:$emit_port" "${streams[@]}" --buffer "$((events + 10))" \
    >"$work/emit.log" 2>&1 &
  pids+=("$!")
  t_produce=$(date +%s.%N)
  "$bin" produce --node "http://127.0.0.1:$emit_port" --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "$prefix" \
    --listen "127.0.0.1:$produce_port" --log-level warn >"$work/produce.log" 2>&1 &
  produce_pid=$!
  pids+=("$produce_pid")
  wait_ready "$produce_port"
}

case $mode in
  e2e)
    start_store
    ingest "${2:-100000}"
    deadline=$(($(date +%s) + 1200))
    peak_rss=0
    until [ "$(records)" -ge $((events + api_versions)) ]; do
      [ "$(date +%s)" -lt "$deadline" ] || { echo "timed out: $(records) records stored" >&2; exit 1; }
      sleep 0.2
    done
    t1=$(date +%s.%N)
    peak_rss=$(proc_kb "$store_pid" VmHWM)
    awk -v n="$events" -v rows="$(rows)" -v a="$t_produce" -v b="$t1" -v rss="$peak_rss" 'BEGIN {
      printf "end to end: %d events in %.1f s from produce'"'"'s start to the last row committed = %.0f events/s, %.0f rows/s; store-consume peak RSS %.0f MB\n",
        n, b - a, n / (b - a), rows / (b - a), rss / 1024
      printf "result pg_e2e %.0f\n", n / (b - a)}'
    ;;
  throughput)
    window_s=${3:-2}
    ingest "${2:-400000}"
    until [ "$(metric "$produce_port" '^ces_produce_events_total')" -ge $((events + 1)) ]; do sleep 0.5; done
    kill -TERM "$produce_pid"; wait "$produce_pid" || true
    echo "loaded $events events into Kafka (prefix $prefix)"
    t0=$(date +%s.%N)
    start_store
    r0=$(records); w0=$(rows); peak_rss=0
    lines=()
    while true; do
      sleep "$window_s"
      r1=$(records); w1=$(rows)
      rss=$(awk '/VmRSS/ {print $2}' "/proc/$store_pid/status")
      [ "$rss" -gt "$peak_rss" ] && peak_rss=$rss
      [ "$r1" -ge $((events + 1)) ] && break  # the last window is partial: not counted
      ev=$(( (r1 - r0) / window_s )); rw=$(( (w1 - w0) / window_s ))
      echo "window: $ev records/s, $rw rows/s, RSS $((rss / 1024)) MB"
      lines+=("$ev $rw")
      r0=$r1; w0=$w1
    done
    t1=$(date +%s.%N)
    total_rows=$(rows)
    if [ ${#lines[@]} -gt 0 ]; then
      printf '%s\n' "${lines[@]}" | sort -n | awk '{ev[NR] = $1; rw[NR] = $2} END {m = int((NR + 1) / 2);
        printf "median window: %d records/s, %d rows/s\n", ev[m], rw[m]}'
    fi
    awk -v n="$events" -v rows="$total_rows" -v a="$t0" -v b="$t1" -v rss="$peak_rss" 'BEGIN {
      printf "total: %d events in %.1f s (incl. start-up and group join) = %.0f events/s, %.0f rows/s; peak RSS %.0f MB\n",
        n, b - a, n / (b - a), rows / (b - a), rss / 1024}'
    for t in blocks transactions transfers finality_signatures era_validators validator_rewards; do
      printf '%s=%s ' "$t" "$(psql -tA "$db_uri" -c "SELECT count(*) FROM $t")"
    done
    echo
    ;;
  latency)
    rate=${2:-200}
    seconds=${3:-60}
    "$bin" generate --out "$work/stream" --events 50000 --protocol 2 --recordings "$recordings" --seed 7 >/dev/null
    start_store
    "$bin" emit --listen "127.0.0.1:$emit_port" --stream "$work/stream" --loop --synthetic --rate "$rate" \
      >"$work/emit.log" 2>&1 &
    pids+=("$!")
    "$bin" produce --node "http://127.0.0.1:$emit_port" --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "$prefix" \
      --listen "127.0.0.1:$produce_port" --log-level warn >"$work/produce.log" 2>&1 &
    pids+=("$!")
    wait_ready "$produce_port"
    sleep 5  # warm-up
    curl -s "http://127.0.0.1:$store_port/metrics" | grep '^ces_store_consume_event_latency_seconds_bucket' >"$work/h0"
    sleep "$seconds"
    curl -s "http://127.0.0.1:$store_port/metrics" | grep '^ces_store_consume_event_latency_seconds_bucket' >"$work/h1"
    paste -d' ' "$work/h0" "$work/h1" | awk -v rate="$rate" -v secs="$seconds" '
      { match($1, /le="[^"]*"/); le = substr($1, RSTART + 4, RLENGTH - 5); n++; bound[n] = (le == "+Inf") ? 1e9 : le + 0;
        cum[n] = $4 - $2 }
      function q(p,   target, i, lo, prev) {
        target = p * cum[n]; prev = 0; lo = 0
        for (i = 1; i <= n; i++) { if (cum[i] >= target) return lo + (bound[i] - lo) * (target - prev) / (cum[i] - prev); prev = cum[i]; lo = bound[i] }
        return bound[n] }
      END { printf "latency at %d events/s over %d s (%d events): p50 %.1f ms, p99 %.1f ms\n",
              rate, secs, cum[n], q(0.5) * 1000, q(0.99) * 1000 }'
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$store_pid/status")
    echo "store-consume RSS $((rss / 1024)) MB"
    ;;
  *) echo "usage: $0 e2e [EVENTS] | throughput [EVENTS] [WINDOW_SECONDS] | latency [RATE] [SECONDS]" >&2; exit 2 ;;
esac
