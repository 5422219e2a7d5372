# gantry: the two entry points are `make demo` (set up this machine, build, run the sample) and
# `make test` (set up, build, run every test). Both are idempotent.
BUILD ?= build
PYTEST ?= /usr/bin/python3 -m pytest
JOBS ?= $(shell nproc)

.PHONY: all deps build demo test unit e2e stress format format-check bench lint-corpus clean fuzz-build fuzz fuzz-smoke build-asan test-asan test-asan-ci

all: build

deps:
	./scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	ninja -C $(BUILD) -j $(JOBS)

demo: build
	./scripts/demo.sh

unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

e2e: build
	$(PYTEST) -p no:cacheprovider -q -ra tests/e2e tests/fixtures

# kill -9, full-disk and concurrency suites (docs/stress.md); STRESS_TRIALS=N runs longer
stress: build
	$(PYTEST) -p no:cacheprovider -q -ra tests/stress

# fuzz-smoke: every fuzz target FUZZ_SMOKE_SECONDS, so no harness rots (~4-5 min on 2 idle
# cores with a cold ccache: fuzz/README.md "CI")
# test-asan-ci: the unit suite and an e2e subset under ASan+UBSan (docs/sanitizers.md "CI")
test: format-check unit e2e stress fuzz-smoke test-asan-ci

# ASan + UBSan (docs/sanitizers.md): gantry and the unit tests instrumented, in their own build
# directory; the unit suite, then the e2e suite against that binary (ASAN_E2E: which tests).
ASAN_BUILD ?= build-asan
ASAN_E2E ?= tests/e2e

build-asan: deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGANTRY_SANITIZE=ON >/dev/null
	ninja -C $(ASAN_BUILD) -j $(JOBS)

test-asan: build-asan
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)
	GANTRY_BIN=$(ASAN_BUILD)/gantry $(PYTEST) -p no:cacheprovider -q -ra $(ASAN_E2E)

# What `make test` (CI) runs: the unit suite and the e2e tests of the paths sanitizers found
# bugs in or that parse hostile input: loads of bad and hostile archives and squashfs files,
# damaged shared stores, run's exit codes as
# root and rootless (the container process's clone and early start), --entrypoint, and gantry as
# runc's OCI hook. The full e2e suite under ASan is `make test-asan` (docs/sanitizers.md).
ASAN_CI_E2E ?= tests/e2e/test_bad_input.py tests/e2e/test_hostile.py \
	tests/e2e/test_run.py::test_exit_codes tests/e2e/test_run.py::test_entrypoint_rules \
	tests/e2e/test_bundle_gpu.py::test_bundle_gpus_are_the_vendors_cdi_edits \
	tests/e2e/test_image_store.py::test_load_hostile_and_damaged \
	tests/e2e/test_image_store.py::test_publish_errors

test-asan-ci:
	$(MAKE) test-asan ASAN_E2E="$(ASAN_CI_E2E)"

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp' '*.c' '*.h')

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.cpp' '*.hpp' '*.c' '*.h')

# libFuzzer harnesses (fuzz/README.md): clang, ASan+UBSan, in a build directory of their own.
# `make fuzz` runs each target FUZZ_SECONDS (default 60), `make fuzz-smoke` FUZZ_SMOKE_SECONDS;
# FUZZ_TARGETS="tar cdi_spec" picks targets. A finding fails the target and the run.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_TARGETS ?=
FUZZ_CCACHE := $(if $(shell command -v ccache),-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)

fuzz-build: deps
	cmake -S . -B $(FUZZ_BUILD) -G Ninja -DGANTRY_FUZZ=ON -DBUILD_TESTING=OFF \
	  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" \
	  "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" $(FUZZ_CCACHE) >/dev/null
	ninja -C $(FUZZ_BUILD) -j $(JOBS) fuzz_all

fuzz: fuzz-build
	./fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	./fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

bench: build
	./bench/load.sh

# gantry lint on 43 public GPU projects' Dockerfiles against hand-labelled findings: a precision
# measurement, not part of `test` (the files are not committed; tests/corpus/test_lint_corpus.py).
lint-corpus: build
	$(PYTEST) -p no:cacheprovider -q -s tests/corpus

clean:
	rm -rf $(BUILD)
