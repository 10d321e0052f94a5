#!/usr/bin/env bash
# The project's test command (`make test`, run by CI): installs what is missing, builds (normal and
# ASan/UBSan), runs the unit tier in both builds, then the integration tier against a local stack and
# the ha tier against a three-broker stack. Stacks run on their own ports and state folders and are
# always brought down, also on failure. Exit status: 0 only if every tier passed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${CES_JOBS:-2}
tiers=${CES_TEST_TIERS:-unit asan fuzz k8s integration ha}
failed=()

step() { printf '\n=== %s ===\n' "$*"; }

step "setup"
scripts/setup.sh || exit 1

step "build (RelWithDebInfo, -Werror)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCES_WERROR=ON >/dev/null || exit 1
cmake --build build -j "$jobs" || exit 1

if [[ " $tiers " == *" unit "* ]]; then
  step "unit tier"
  (cd build && ctest -L unit --output-on-failure -j "$jobs") || failed+=(unit)
fi

if [[ " $tiers " == *" asan "* ]]; then
  step "unit tier under AddressSanitizer + UndefinedBehaviorSanitizer"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCES_SANITIZE=ON -DCES_BUILD_BENCH=OFF >/dev/null || exit 1
  unit_targets=$(cd build-asan && ctest -L unit -N | awk '/Test +#/ {print $3}')
  # shellcheck disable=SC2086
  cmake --build build-asan -j "$jobs" --target $unit_targets || exit 1
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
     ctest -L unit --output-on-failure -j "$jobs") || failed+=(asan)
fi

if [[ " $tiers " == *" fuzz "* ]]; then
  step "fuzz smoke run (libFuzzer, ${CES_FUZZ_SECONDS:-20} s per target; longer: make fuzz)"
  fuzz/run.sh "${CES_FUZZ_SECONDS:-20}" || failed+=(fuzz)
fi

if [[ " $tiers " == *" k8s "* ]]; then
  step "kubernetes manifests (offline render, schema and policy checks)"
  scripts/k8s-check.sh || failed+=(k8s)
fi

run_tier() {  # run_tier LABEL STATE PORT_BASE [--ha]
  local label=$1 state=$2 base=$3 mode=${4:-}
  step "$label tier (stack ${mode:-single} at $state, ports from $base)"
  export CES_STATE=$state CES_PORT_BASE=$base
  scripts/stack down >/dev/null 2>&1 || true
  rm -rf "$state"
  if ! scripts/stack up $mode; then
    failed+=("$label (stack did not start)")
    scripts/stack down || true
    return
  fi
  eval "$(scripts/stack env)"
  export KAFKA_BOOTSTRAP ZOOKEEPER POSTGRES_URI MONGO_URI
  (cd build && ctest -L "$label" --output-on-failure) || failed+=("$label")
  scripts/stack down || true
  unset KAFKA_BOOTSTRAP ZOOKEEPER POSTGRES_URI MONGO_URI
}

cleanup() {
  for s in "$root/.state/test" "$root/.state/test-ha"; do
    [ -d "$s" ] && CES_STATE=$s scripts/stack down >/dev/null 2>&1
  done
}
trap cleanup EXIT

[[ " $tiers " == *" integration "* ]] && run_tier integration "$root/.state/test" 30000
[[ " $tiers " == *" ha "* ]] && run_tier ha "$root/.state/test-ha" 31000 --ha

step "summary"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED tiers: ${failed[*]}"
  exit 1
fi
echo "all test tiers passed: $tiers"
