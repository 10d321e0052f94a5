#!/usr/bin/env bash
# Resident memory of an idle producer: connected to a fake node that has sent its recording and now
# only sends keep-alives, after the Kafka client settled. Uses the running stack (scripts/stack env), else
# starts one on ports 32000+ in .state/bench.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_init bench 32000
emit_port=$(free_port); produce_port=$(free_port)
"$bin" emit --listen "127.0.0.1:$emit_port" --recordings "$recordings" --protocol 1 >/dev/null 2>&1 &
pids+=($!)
"$bin" produce --node "http://127.0.0.1:$emit_port" --kafka "$KAFKA_BOOTSTRAP" --topic-prefix "idle-$(date +%s)-" \
  --listen "127.0.0.1:$produce_port" --log-level warn >/dev/null 2>&1 &
produce=$!
pids+=("$produce")
sleep "${1:-20}"
for _ in 1 2 3; do awk '/VmRSS/ {printf "produce idle RSS: %.1f MB\n", $2 / 1024}' "/proc/$produce/status"; sleep 2; done
