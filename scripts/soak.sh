#!/usr/bin/env bash
# Scenario 11 of the resilience suite, the soak (tests/ha/resilience_itest.cpp, Soak.*): `make soak
# [MINUTES=30] [SEED=N]`, on a --ha stack of its own (state .state/soak, ports from 36000; brought down at
# the end, also on failure) through scripts/resilience.sh. Prints its tables and adds them to
# docs/resilience.md, newest run first, below the marker line of the scenario 11 section. Exit status:
# the test's.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export CES_STATE=${CES_STATE:-$PWD/.state/soak} CES_PORT_BASE=${CES_PORT_BASE:-36000}
export CES_SOAK_MINUTES=${MINUTES:-30} CES_RESILIENCE_REPORT=
CES_SOAK_REPORT=$(mktemp) || exit 1
export CES_SOAK_REPORT
trap 'rm -f "$CES_SOAK_REPORT"' EXIT
scripts/resilience.sh --gtest_filter='Soak.*'
status=$?
marker='<!-- make soak adds its runs below, newest first -->'
if [ -s "$CES_SOAK_REPORT" ]; then
    awk -v report="$CES_SOAK_REPORT" -v marker="$marker" \
        '{ print } $0 == marker { print ""; while ((getline line < report) > 0) print line }' \
        docs/resilience.md >docs/resilience.md.new && mv docs/resilience.md.new docs/resilience.md
    echo "soak: the run's tables were added to docs/resilience.md"
fi
exit $status
