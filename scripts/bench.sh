#!/usr/bin/env bash
# `make bench`: the Google Benchmark micro-benchmarks in a Release build (medians of 5 repetitions),
# then the end-to-end scripts against a local stack. Figures and their meaning: docs/benchmarks.md.
# Release (-O3) is built without -Werror: GCC 12 reports a -Wrestrict false positive at -O3 in
# std::string code (CI builds RelWithDebInfo with -Werror).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DCES_WERROR=OFF -DCES_BUILD_TESTS=OFF >/dev/null
cmake --build build-release
for b in sse_parser_bench classifier_bench model_bench; do
  [ -x "build-release/bench/$b" ] || continue
  echo "=== $b"
  "build-release/bench/$b" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
done
export CES_BENCH_BINARY=build-release/casper-event-store
echo "=== ingest end to end"
bench/produce_throughput.sh small
bench/produce_throughput.sh large
echo "=== memory at full ingest and idle (1.x and 2.x mixes)"
bench/rss_bench.sh 1
bench/rss_bench.sh 2
echo "=== Kafka -> PostgreSQL"
bench/store_throughput.sh throughput
bench/store_throughput.sh latency
