#!/usr/bin/env bash
# End-to-end ingest throughput: emit (fake node, as fast as the client reads) -> produce -> Kafka acks.
#
#   bench/produce_throughput.sh small|large [WINDOWS] [WINDOW_SECONDS]
#
# small: a synthetic mainnet-like mix of small events (`generate`, looped with fresh ids and hashes);
# large: multi-MB Step events. The rate is read from produce's own counters of Kafka-acknowledged
# events (ces_produce_events_total / ces_produce_bytes_total), sampled once per window; the median
# window is reported. Also reports produce's RSS. Uses the running stack (scripts/stack env) or starts
# one on ports 32000+ in .state/bench and stops it afterwards. Extra produce flags: CES_BENCH_PRODUCE_ARGS
# (e.g. "--kafka-setting compression.type=lz4").
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
kind=${1:-small}
windows=${2:-7}
window_s=${3:-5}
bench_init bench 32000

emit_port=$(free_port)
produce_port=$(free_port)

case $kind in
  small)
    "$bin" generate --out "$work/stream" --events 200000 --protocol 2 --recordings "$recordings" --seed 7 >/dev/null
    ;;
  large)
    "$bin" generate --out "$work/stream" --events 40 --protocol 2 --recordings "$recordings" --mix signatures=0,transactions=0,era_blocks=1,expired=0 --large-step-mb 4 --seed 7 >/dev/null
    ;;
  *) echo "usage: $0 small|large [windows] [window_seconds]" >&2; exit 2 ;;
esac
"$bin" emit --listen "127.0.0.1:$emit_port" --stream "$work/stream" --loop --synthetic --buffer 1000 \
  >"$work/emit.log" 2>&1 &
pids+=("$!")
bench_new_prefix "bench-$kind"
read -ra produce_args <<< "${CES_BENCH_PRODUCE_ARGS:-}"
"$bin" produce --node "http://127.0.0.1:$emit_port" --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "$prefix" \
  --listen "127.0.0.1:$produce_port" --log-level warn "${produce_args[@]}" >"$work/produce.log" 2>&1 &
produce_pid=$!
pids+=("$produce_pid")

sample() {  # prints "events bytes"
  curl -s "http://127.0.0.1:$produce_port/metrics" | awk '
    /^ces_produce_events_total/ {e += $NF}
    /^ces_produce_bytes_total/ {b += $NF}
    END {printf "%.0f %.0f\n", e, b}'
}
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$produce_port/readyz" >/dev/null && break; sleep 0.2; done
sleep 3  # warm-up: connection, topic metadata, first batches
read -r e0 b0 < <(sample)
rates=()
for i in $(seq 1 "$windows"); do
  sleep "$window_s"
  read -r e1 b1 < <(sample)
  ev=$(awk -v a="$e1" -v b="$e0" -v s="$window_s" 'BEGIN {printf "%.0f", (a - b) / s}'); mb=$(awk -v b=$((b1 - b0)) -v s="$window_s" 'BEGIN {printf "%.1f", b / s / 1e6}')
  echo "window $i: $ev events/s, $mb MB/s"
  rates+=("$ev $mb")
  e0=$e1; b0=$b1
done
rss=$(awk '/VmRSS/ {print $2}' "/proc/$produce_pid/status")
printf '%s\n' "${rates[@]}" | sort -n | awk -v n="$windows" -v kind="$kind" -v rss="$rss" '
  {ev[NR] = $1; mb[NR] = $2}
  END {m = int((n + 1) / 2); printf "median (%s): %d events/s, %s MB/s; produce RSS %.1f MB\n", kind, ev[m], mb[m], rss / 1024}'
