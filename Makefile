# casper-event-store — entry points used by developers, CI and acceptance checks.
#   make setup   install the tool chain and servers (idempotent, quick when done)
#   make build   build (binary at build/casper-event-store)
#   make run     local stack + fake node (or NODE=URL) + pipeline, in the foreground
#   make test    shellcheck, build, unit (also under ASan/UBSan and TSan), fuzz, k8s, integration, ha, secure tiers
#   make resilience [SEED=N] [MODE=quick]  the resilience suite in full on a --ha stack of its own;
#                writes its summary to docs/resilience.md
#   make soak [MINUTES=30] [SEED=N]  resilience scenario 11: the pipeline at 10x mainnet's event rate with a
#                fault per minute, RSS and lag measured, on a --ha stack of its own; adds its tables to
#                docs/resilience.md
#   make bench-e2e [RUNS=N] [QUICK=1] [ONLY=...]  the end-to-end targets (ingest, audit store, memory, topic
#                discovery, REST tail) in one run, one table (docs/benchmarks.md); QUICK=1 to try it
SHELL := /bin/bash
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
CMAKE_FLAGS ?=

.PHONY: setup build run test unit lint bench bench-e2e fuzz stack-up stack-down clean resilience soak

setup:
	@scripts/setup.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build: $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR)

run: setup build
	@scripts/run.sh

test:
	@scripts/test.sh

unit: build
	cd $(BUILD_DIR) && ctest -L unit --output-on-failure

resilience: build
	@SEED=$(SEED) MODE=$(MODE) scripts/resilience.sh

soak: build
	@SEED=$(SEED) MINUTES=$(MINUTES) scripts/soak.sh

bench:
	@scripts/bench.sh

bench-e2e:
	@BUILD_DIR=$(BUILD_DIR) RUNS=$(RUNS) QUICK=$(QUICK) ONLY=$(ONLY) bench/e2e.sh

fuzz:
	@fuzz/run.sh

lint:
	@scripts/shellcheck.sh

stack-up:
	@scripts/stack up

stack-down:
	@scripts/stack down

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan build-release build-fuzz build-k8s
