#!/usr/bin/env bash
# The project's test command (`make test`, run by CI): installs what is missing, builds with -Werror,
# then runs the tiers named in CES_TEST_TIERS (default: all of them, in this order):
#   lint         shellcheck on every shell script of the repository (scripts/shellcheck.sh)
#   unit         the unit tests of the normal build
#   asan         the unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan)
#   tsan         the unit tests under ThreadSanitizer (build-tsan)
#   fuzz         a short libFuzzer run of every fuzz target (fuzz/run.sh, CES_FUZZ_SECONDS per target)
#   k8s          the offline Kubernetes checks (scripts/k8s-check.sh) and the PostgreSQL
#                point-in-time restore drill with pgBackRest (scripts/pg-restore-drill.sh)
#   integration  against a local stack; ha: against a three-broker stack
#   secure       the pipeline and its refusals against the secure stack (scripts/stack up --secure:
#                Kafka SASL_SSL + SCRAM + ACLs, PostgreSQL and FerretDB over TLS)
# Stacks run on their own ports and state folders and are always brought down, also on failure. The
# summary gives the time of every step. Exit status: 0 only if every tier passed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$(pwd)
jobs=${CES_JOBS:-2}
tiers=${CES_TEST_TIERS:-lint unit asan tsan fuzz k8s integration ha secure}
failed=()
timings=()

step() { printf '\n=== %s ===\n' "$*"; }
wanted() { [[ " $tiers " == *" $1 "* ]]; }
# timed NAME COMMAND...: runs COMMAND, records its duration for the summary and NAME as failed if it fails.
timed() {
  local name=$1 start=$SECONDS status=0
  shift
  "$@" || status=$?
  local took=$((SECONDS - start))
  timings+=("$(printf '%-12s %3d:%02d' "$name" $((took / 60)) $((took % 60)))")
  [ "$status" -eq 0 ] || failed+=("$name")
  return "$status"
}

build() {
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCES_WERROR=ON >/dev/null && cmake --build build -j "$jobs"
}

unit_tier() { (cd build && ctest -L unit --output-on-failure -j "$jobs"); }

# sanitizer_tier BUILD_DIR CES_SANITIZE [NAME=VALUE...]: builds only the unit test targets with the
# sanitizer and runs them with the given environment.
sanitizer_tier() {
  local dir=$1 sanitize=$2 targets=()
  shift 2
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCES_SANITIZE="$sanitize" -DCES_BUILD_BENCH=OFF >/dev/null ||
    return 1
  mapfile -t targets < <(cd "$dir" && ctest -L unit -N | awk '/Test +#/ {print $3}')
  [ ${#targets[@]} -gt 0 ] || { echo "no unit tests in $dir"; return 1; }
  cmake --build "$dir" -j "$jobs" --target "${targets[@]}" || return 1
  (cd "$dir" && env "$@" ctest -L unit --output-on-failure -j "$jobs")
}

run_tier() {  # run_tier LABEL STATE PORT_BASE [--ha|--secure]
  local label=$1 state=$2 base=$3 mode=()
  [ $# -ge 4 ] && mode=("$4")
  export CES_STATE=$state CES_PORT_BASE=$base
  scripts/stack down >/dev/null 2>&1 || true
  rm -rf "$state"
  if ! scripts/stack up "${mode[@]}"; then
    echo "$label: the stack did not start"
    scripts/stack down || true
    return 1
  fi
  # CES_KAFKA_SETTINGS, CES_STACK_CA: only from a --secure stack
  unset CES_KAFKA_SETTINGS CES_STACK_CA
  eval "$(scripts/stack env)"
  export KAFKA_BOOTSTRAP ZOOKEEPER POSTGRES_URI MONGO_URI
  [ -z "${CES_KAFKA_SETTINGS:-}" ] || export CES_KAFKA_SETTINGS CES_STACK_CA
  local status=0
  (cd build && ctest -L "$label" --output-on-failure) || status=1
  scripts/stack down || true
  unset KAFKA_BOOTSTRAP ZOOKEEPER POSTGRES_URI MONGO_URI CES_KAFKA_SETTINGS CES_STACK_CA
  return "$status"
}

cleanup() {
  for s in "$root/.state/test" "$root/.state/test-ha" "$root/.state/test-secure"; do
    [ -d "$s" ] && CES_STATE=$s scripts/stack down >/dev/null 2>&1
  done
}
trap cleanup EXIT

step "setup"
timed setup scripts/setup.sh || exit 1

if wanted lint; then
  step "lint: shellcheck"
  timed lint scripts/shellcheck.sh
fi

step "build (RelWithDebInfo, -Werror)"
timed build build || exit 1

if wanted unit; then
  step "unit tier"
  timed unit unit_tier
fi

if wanted asan; then
  step "unit tier under AddressSanitizer + UndefinedBehaviorSanitizer"
  timed asan sanitizer_tier build-asan address ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
fi

if wanted tsan; then
  step "unit tier under ThreadSanitizer"
  timed tsan sanitizer_tier build-tsan thread "TSAN_OPTIONS=second_deadlock_stack=1 history_size=4"
fi

if wanted fuzz; then
  step "fuzz smoke run (libFuzzer, ${CES_FUZZ_SECONDS:-15} s per target; longer: make fuzz)"
  timed fuzz fuzz/run.sh "${CES_FUZZ_SECONDS:-15}"
fi

if wanted k8s; then
  step "kubernetes manifests (offline render, schema and policy checks), PostgreSQL restore drill"
  timed k8s bash -c 'scripts/k8s-check.sh && CES_PORT_BASE=30000 scripts/pg-restore-drill.sh'
fi

if wanted integration; then
  step "integration tier (stack at $root/.state/test, ports from 30000)"
  timed integration run_tier integration "$root/.state/test" 30000
fi
if wanted ha; then
  step "ha tier (three-broker stack at $root/.state/test-ha, ports from 31000)"
  timed ha run_tier ha "$root/.state/test-ha" 31000 --ha
fi
if wanted secure; then
  step "secure tier (SASL_SSL/TLS stack at $root/.state/test-secure, ports from 32000)"
  timed secure run_tier secure "$root/.state/test-secure" 32000 --secure
fi

step "summary"
printf '%s\n' "${timings[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED tiers: ${failed[*]}"
  exit 1
fi
echo "all test tiers passed: $tiers"
