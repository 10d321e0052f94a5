#!/usr/bin/env bash
# emit throughput: how fast the fake node serves a looped synthetic stream to one curl client.
#
#   bench/emit_bench.sh [SECONDS] [EVENTS_IN_FILE]
#
# Generates a mainnet-like 2.x stream (`generate`), serves it with `emit --loop --synthetic` on a free
# loopback port and reads /events?start_from=0 for SECONDS; prints events/s and MB/s. Needs no stack.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
events=${2:-200000}
bin=${CES_BENCH_BINARY:-build-release/casper-event-store}
[ -x "$bin" ] || bin=build/casper-event-store
recordings=$(scripts/recordings-dir)
work=$(mktemp -d)
emit_pid=
cleanup() {
  if [ -n "$emit_pid" ]; then kill -TERM "$emit_pid" 2>/dev/null || true; wait "$emit_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" generate --out "$work/stream" --events "$events" --recordings "$recordings" --seed 7 2>"$work/generate.log"
"$bin" emit --listen 127.0.0.1:0 --port-file "$work/port" --stream "$work/stream" --loop --synthetic \
  --log-level warn 2>"$work/emit.log" &
emit_pid=$!
for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")

curl -sN --max-time "$seconds" "http://127.0.0.1:$port/events?start_from=0" 2>/dev/null \
  | awk -v s="$seconds" '
      /^id:/ {n++}
      {b += length($0) + 1}
      END {printf "emit: %d events/s, %.1f MB/s (%d events in %d s)\n", n / s, b / s / 1e6, n, s}'
