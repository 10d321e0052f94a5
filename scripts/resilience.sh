#!/usr/bin/env bash
# The resilience suite (tests/ha/resilience_itest.cpp) on a --ha stack of its own: `make resilience
# [SEED=N] [MODE=quick|full]` (default full). Prints the summary table and writes it to
# docs/resilience.md (CES_RESILIENCE_REPORT). The stack (state .state/resilience, ports from 35000) is
# brought down at the end, also on failure. Exit status: the test's. Arguments go to the test binary
# (scripts/soak.sh: --gtest_filter); CES_RESILIENCE_REPORT set empty writes no summary.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export CES_STATE=${CES_STATE:-$PWD/.state/resilience} CES_PORT_BASE=${CES_PORT_BASE:-35000}
export CES_RESILIENCE=${MODE:-full}
export CES_RESILIENCE_REPORT=${CES_RESILIENCE_REPORT-$PWD/docs/resilience.md}
if [ -n "${SEED:-}" ]; then export CES_RESILIENCE_SEED=$SEED; fi
binary=${BUILD_DIR:-build}/tests/resilience_itest
[ -x "$binary" ] || { echo "no $binary: run make build first"; exit 1; }
trap 'scripts/stack down >/dev/null 2>&1' EXIT
scripts/stack up --ha || exit 1
eval "$(scripts/stack env)"
export KAFKA_BOOTSTRAP ZOOKEEPER POSTGRES_URI MONGO_URI
"$binary" "$@"
