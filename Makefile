# gantry: the two entry points are `make demo` (set up this machine, build, run the sample) and
# `make test` (set up, build, run every test). Both are idempotent. docs/testing.md says what
# each stage tests, what it costs and how to run one stage or one test.
BUILD ?= build
SAN_BUILD ?= build-san
PYTEST ?= /usr/bin/python3 -m pytest
JOBS ?= $(shell nproc)
# pytest-xdist workers for the e2e suites (docs/testing.md "Parallel e2e")
E2E_WORKERS ?= $(JOBS)
E2E_PARALLEL = $(if $(filter-out 0 1,$(E2E_WORKERS)),-n $(E2E_WORKERS) --dist loadfile)

.PHONY: all deps configure build build-gantry demo test unit e2e stress format format-check bench \
	lint-corpus clean build-san build-asan unit-san test-asan e2e-asan e2e-asan-ci test-asan-ci fuzz-build fuzz-campaign-build \
	fuzz fuzz-smoke test-gpu critest crun-suite docker-py-suite gpu-test-programs install deb build-types \
	build-aarch64 test-aarch64 deb-arm64 aarch64-package-check

all: build

# PREBUILT=1: run a test target on the builds that are there, without configuring or building
# first. make test builds each tree once, in a stage of its own, then runs its test stages so:
# three stages that each ran `make build-san` side by side ran cmake three times at once in one
# build directory, and one of them failed ("CTestTargets.cmake: configure_file: No such file").
GANTRY_DEP = $(if $(PREBUILT),,build-gantry)
SAN_DEP = $(if $(PREBUILT),,build-san)

# scripts/test_stages.py checks once and sets GANTRY_DEPS_CHECKED for the stages it runs
deps:
	@[ -n "$$GANTRY_DEPS_CHECKED" ] || ./scripts/install-deps.sh

# ccache (installed by deps): rebuilding unchanged sources in the same checkout is a cache hit;
# a clone in another path gets none (the unity files name the sources by absolute path)
CCACHE = $(if $(shell command -v ccache),-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)

configure: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGANTRY_WERROR=ON $(CCACHE) >/dev/null

# everything: gantry, the Slurm plugin, the unit tests
build: configure
	ninja -C $(BUILD) -j $(JOBS)

# what the e2e and stress suites run (make test's unit suite runs in $(SAN_BUILD))
build-gantry: configure
	ninja -C $(BUILD) -j $(JOBS) gantry gantry-docs crash-disk $(if $(wildcard /usr/include/slurm/spank.h),spank_gantry gantry-hold)

# Install as Debian's tools do (docs/packaging.md): `make install PREFIX=/usr DESTDIR=/tmp/x`;
# `make deb` makes the packages gantry_*.deb and gantry-slurm_*.deb in $(BUILD)/deb from the
# tree built (CPack), without compiling anything again.
PREFIX ?= /usr/local
DESTDIR ?=
install: build-gantry
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

deb: build-gantry
	cd $(BUILD) && cpack -G DEB -B $(abspath $(BUILD))/deb
	@ls $(BUILD)/deb/*.deb

# A full build of each CMake build type and Debian's dpkg-buildflags, warnings as errors
# (build-<type>/; minutes each, not part of make test: tests/e2e/test_build_types.py compiles the
# units where types differed). BUILD_TYPES_CC=clang for clang.
BUILD_TYPES_CC ?= gcc
build-types: deps
	for t in Release RelWithDebInfo Debug; do \
	  cmake -S . -B build-$$t-$(BUILD_TYPES_CC) -G Ninja -DCMAKE_BUILD_TYPE=$$t -DGANTRY_WERROR=ON \
	    -DBUILD_TESTING=OFF $(if $(filter clang,$(BUILD_TYPES_CC)),-DCMAKE_C_COMPILER=clang \
	    -DCMAKE_CXX_COMPILER=clang++) $(CCACHE) >/dev/null && \
	  ninja -C build-$$t-$(BUILD_TYPES_CC) -j $(JOBS) gantry || exit 1; done
	CFLAGS="$$(dpkg-buildflags --get CFLAGS) $$(dpkg-buildflags --get CPPFLAGS)" \
	CXXFLAGS="$$(dpkg-buildflags --get CXXFLAGS) $$(dpkg-buildflags --get CPPFLAGS)" \
	LDFLAGS="$$(dpkg-buildflags --get LDFLAGS)" \
	  cmake -S . -B build-dpkg-$(BUILD_TYPES_CC) -G Ninja -DCMAKE_BUILD_TYPE=None -DGANTRY_WERROR=ON \
	    -DBUILD_TESTING=OFF $(if $(filter clang,$(BUILD_TYPES_CC)),-DCMAKE_C_COMPILER=clang \
	    -DCMAKE_CXX_COMPILER=clang++) $(CCACHE) >/dev/null
	ninja -C build-dpkg-$(BUILD_TYPES_CC) -j $(JOBS) gantry

demo: build
	./scripts/demo.sh

# ctest runs gantry_unit once per GoogleTest suite (tests/unit/ctest_suites.cmake); each suite
# reports its cases to BUILD/unit-results/, and scripts/unit_summary.py counts them, since
# ctest's own count is of suites: "unit: N cases in S ctest suites: P passed, F failed, K skipped"
UNIT_CTEST = cd $(1) && rm -f unit-results/*.json unit-results/ctest.xml && \
	{ ctest --output-on-failure -j $(JOBS) --output-junit $(abspath $(1))/unit-results/ctest.xml; \
	rc=$$?; /usr/bin/python3 $(CURDIR)/scripts/unit_summary.py unit-results \
	unit-results/ctest.xml || rc=1; exit $$rc; }

unit: build
	$(call UNIT_CTEST,$(BUILD))

# GANTRY_UNIT: the unit binary one fixture test runs (make test builds only $(SAN_BUILD)'s);
# E2E_ARGS: more pytest arguments (make test's e2e stage runs that test in e2e-san instead)
E2E_ARGS ?=
e2e: $(GANTRY_DEP)
	GANTRY_UNIT=$(firstword $(wildcard $(BUILD)/gantry_unit $(SAN_BUILD)/gantry_unit)) \
	  $(PYTEST) -p no:cacheprovider -q -ra --durations=30 $(E2E_PARALLEL) $(E2E_ARGS) \
	  tests/e2e tests/fixtures

# critest (cri-tools' CRI validation suite, v1.26.1) through a containerd started for it, once with
# the runc handler and once with gantry-oci; prints which tests passed with both, with one, with
# neither (docs/kubernetes.md). As root; about 10 minutes. Not part of make test (docs/testing.md).
# tests/critest/build.sh builds critest; CRITEST_ARGS: run.py's flags (--focus REGEX, --out DIR).
critest: $(GANTRY_DEP)
	GANTRY_BIN=$(abspath $(BUILD))/gantry /usr/bin/python3 tests/critest/run.py $(CRITEST_ARGS)

# crun's own test suite (tests/test_*.py of a crun tree, CRUN_SRC: `git archive` of
# github.com/containers/crun) under runc and gantry-oci; prints the counts and the tests whose
# results differ (docs/oci-runtime.md, "crun's test suite"). As root; about 15 minutes; not CI.
CRUN_SRC ?= /tmp/crun-src
crun-suite: $(GANTRY_DEP)
	./tests/crun_suite/compare.sh $(CRUN_SRC) $(BUILD)/gantry $(CRUN_SUITE_OUT)

# docker-py 5.0.3's own integration tests (container, exec, image; DOCKERPY_SRC: `git archive 5.0.3`
# of github.com/docker/docker-py) against gantry's Engine API and podman 4.3's service, side by
# side; prints the counts and the tests whose outcomes differ (docs/testing.md). As root; about
# 20 minutes. Not part of make test. DOCKERPY_ARGS: run.py's flags (--only EXPR, --out DIR).
DOCKERPY_SRC ?= /tmp/docker-py
docker-py-suite: $(GANTRY_DEP)
	/usr/bin/python3 tests/dockerpy/run.py --src $(DOCKERPY_SRC) --gantry $(BUILD)/gantry --out $(BUILD)/dockerpy $(DOCKERPY_ARGS)

# tests/gpu/: gantry on a real NVIDIA GPU host, rootless and (as root) as root; prints a summary
# table. Without a driver and GPU it says why and exits 0. Not part of make test (docs/testing.md).
# gpu-test-programs builds its CUDA program with nvcc (here or anywhere nvcc is; copy build/gpu-tests/
# to a GPU host without nvcc).
test-gpu: $(GANTRY_DEP)
	GANTRY=$(BUILD)/gantry ./tests/gpu/run.sh

gpu-test-programs:
	./tests/gpu/build.sh $(BUILD)/gpu-tests

# kill -9, full-disk and concurrency suites (docs/stress.md); STRESS_TRIALS=N runs longer.
# Serial: they measure what concurrent gantry processes do to each other.
stress: $(GANTRY_DEP)
	$(PYTEST) -p no:cacheprovider -q -ra --durations=10 tests/stress

# What CI (.ci/run) runs: every stage below, timed, with the table at the end (docs/testing.md)
test:
	BUILD=$(BUILD) SAN_BUILD=$(SAN_BUILD) JOBS=$(JOBS) /usr/bin/python3 scripts/test_stages.py

# ---- aarch64 (docs/aarch64.md): cross-compiled with Debian's cross compilers and arm64 -dev
# packages (cmake/aarch64-linux-gnu.cmake), whatever runs at build time under qemu-aarch64-static
# ----
# build-aarch64: make test's check that gantry keeps compiling for aarch64: gantry at -O0 -g0 (a
# compile without optimisation or debug information is the cheapest that still compiles every
# line with warnings as errors), its man pages and completions (gantry run under qemu).
# test-aarch64 (not part of make test): the unit binary of the same tree, every suite run under
# qemu-aarch64-static (the tests that need a program of the build host skip themselves, saying
# so; the cases qemu 7.2 cannot run are left out by cause: tests/unit/emulator_skips.txt).
# deb-arm64: the arm64 packages from an optimised aarch64 build (AARCH64_DEB_BUILD);
# aarch64-package-check: tests/aarch64's test of the package made from build-aarch64's tree.
AARCH64_BUILD ?= build-aarch64
AARCH64_DEB_BUILD ?= build-aarch64-release
AARCH64_DEP = $(if $(PREBUILT),,build-aarch64)
AARCH64_CMAKE = cmake -S . -G Ninja -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/aarch64-linux-gnu.cmake \
	-DGANTRY_WERROR=ON $(CCACHE)
# dpkg-shlibdeps (CPack's Depends) reads the arm64 libraries' symbols files for arm64's binaries
AARCH64_CPACK = DEB_HOST_ARCH=arm64 DEB_HOST_MULTIARCH=aarch64-linux-gnu cpack -G DEB

build-aarch64: deps
	$(AARCH64_CMAKE) -B $(AARCH64_BUILD) -DCMAKE_BUILD_TYPE=None -DCMAKE_C_FLAGS="-O0 -g0" \
	  -DCMAKE_CXX_FLAGS="-O0 -g0" >/dev/null
	ninja -C $(AARCH64_BUILD) -j $(JOBS) gantry gantry-docs

test-aarch64: $(AARCH64_DEP)
	ninja -C $(AARCH64_BUILD) -j $(JOBS) gantry_unit
	$(call UNIT_CTEST,$(AARCH64_BUILD))

deb-arm64: deps
	$(AARCH64_CMAKE) -B $(AARCH64_DEB_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
	ninja -C $(AARCH64_DEB_BUILD) -j $(JOBS) gantry gantry-docs $(if $(wildcard /usr/include/slurm/spank.h),spank_gantry gantry-hold)
	cd $(AARCH64_DEB_BUILD) && $(AARCH64_CPACK) -B $(abspath $(AARCH64_DEB_BUILD))/deb
	@ls $(AARCH64_DEB_BUILD)/deb/*.deb

aarch64-package-check: $(AARCH64_DEP)
	GANTRY_AARCH64_BUILD=$(abspath $(AARCH64_BUILD)) $(PYTEST) -p no:cacheprovider -q -ra tests/aarch64

# ---- the instrumented build (docs/sanitizers.md, fuzz/README.md) ----
# One clang configuration with ASan + UBSan serves the unit suite under the sanitizers, the e2e
# tests against the instrumented gantry and the fuzz harnesses (their parser library at -O1,
# with libFuzzer's coverage instrumentation: fuzz/CMakeLists.txt).
SAN_CMAKE = cmake -S . -B $(SAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DGANTRY_SANITIZE=ON -DGANTRY_FUZZ=ON \
	-DGANTRY_SANITIZE_OPT=$(SAN_OPT) -DGANTRY_WERROR=ON
# ccache with the sloppiness its manual asks for precompiled headers (its "Precompiled headers";
# CMakeLists.txt builds the header's image without a timestamp): without it every batch that
# includes the header was uncacheable
COMMA := ,
SAN_CCACHE = $(if $(CCACHE),"-DCMAKE_CXX_COMPILER_LAUNCHER=env;CCACHE_SLOPPINESS=pch_defines$(COMMA)time_macros;ccache" \
	-DCMAKE_C_COMPILER_LAUNCHER=ccache)
# -O0: a third of -O1's compile time (CMakeLists.txt); the fuzzers' library is -O1 whatever it is
SAN_OPT ?= -O0

build-san: deps
	$(SAN_CMAKE) $(SAN_CCACHE) >/dev/null
	ninja -C $(SAN_BUILD) -j $(JOBS) gantry gantry-docs gantry_unit fuzz_all
build-asan fuzz-build: build-san

unit-san: $(SAN_DEP)
	$(call UNIT_CTEST,$(SAN_BUILD))

# The e2e tests of the paths sanitizers found bugs in or that parse hostile input: loads of bad
# and hostile archives and squashfs files, damaged shared stores, run's exit codes as root and
# rootless (the container process's clone and early start), --entrypoint, gantry as runc's OCI
# hook, gantry build's hostile contexts. `make test-asan` runs the whole e2e suite so.
ASAN_CI_E2E ?= tests/e2e/test_bad_input.py tests/e2e/test_hostile_builders.py \
	tests/e2e/test_hostile_escapes.py tests/e2e/test_hostile_ownership.py tests/e2e/test_vast_sparse.py \
	tests/e2e/test_run.py::test_exit_codes tests/e2e/test_run.py::test_entrypoint_rules \
	tests/e2e/test_bundle_gpu.py::test_bundle_gpus_are_the_vendors_cdi_edits \
	tests/e2e/test_image_store.py::test_load_hostile_and_damaged \
	tests/e2e/test_image_store.py::test_publish_errors \
	tests/fixtures/amdhost/test_amdhost.py::test_gantry_unit_reads_the_tree
ASAN_E2E ?= tests/e2e

e2e-asan: $(SAN_DEP)
	GANTRY_BIN=$(SAN_BUILD)/gantry GANTRY_UNIT=$(SAN_BUILD)/gantry_unit \
	  $(PYTEST) -p no:cacheprovider -q -ra $(E2E_PARALLEL) $(ASAN_E2E)

test-asan: unit-san e2e-asan

e2e-asan-ci:
	$(MAKE) e2e-asan ASAN_E2E="$(ASAN_CI_E2E)"

test-asan-ci:
	$(MAKE) test-asan ASAN_E2E="$(ASAN_CI_E2E)"

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp' '*.c' '*.h')

format-check: deps
	clang-format --dry-run -Werror $$(git ls-files '*.cpp' '*.hpp' '*.c' '*.h')

# libFuzzer harnesses (fuzz/README.md), built in $(SAN_BUILD). `make fuzz` runs each target
# FUZZ_SECONDS (default 60), `make fuzz-smoke` FUZZ_SMOKE_SECONDS (what CI runs, so no harness
# rots: every seed and regression is replayed whatever the time, then 1 s of fuzzing; fuzz/README.md
# "CI" has the numbers); FUZZ_TARGETS="tar cdi_spec" picks targets. A finding fails the target
# and the run.
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 1
# the smoke's fuzzers are build-san's -O0 library with its coverage: libFuzzer's entropic power
# schedule was half of their replay's CPU (its feature frequencies over every instrumented edge),
# and schedules nothing worth it in one second
FUZZ_SMOKE_ARGS ?= -entropic=0
FUZZ_TARGETS ?=

# Campaigns build their own tree, FUZZ_BUILD: gantry's instrumented library at -O1 with
# libFuzzer's coverage (5-20 times the executions of build-san's -O0 fuzzers; fuzz/CMakeLists.txt)
FUZZ_BUILD ?= build-fuzz
fuzz-campaign-build: deps
	cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
	  -DCMAKE_CXX_COMPILER=clang++ -DGANTRY_SANITIZE=ON -DGANTRY_FUZZ=ON \
	  -DGANTRY_SANITIZE_OPT=-O1 -DGANTRY_FUZZ_LIB_COVERAGE=ON -DBUILD_TESTING=OFF $(SAN_CCACHE) >/dev/null
	ninja -C $(FUZZ_BUILD) -j $(JOBS) fuzz_all

fuzz: fuzz-campaign-build
	./fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: $(SAN_DEP)
	FUZZ_ARGS="$(FUZZ_SMOKE_ARGS) $(FUZZ_ARGS)" ./fuzz/run.sh $(SAN_BUILD) $(FUZZ_SMOKE_SECONDS) \
	  $(FUZZ_TARGETS)

bench: build
	./bench/load.sh

# gantry lint on 43 public GPU projects' Dockerfiles against hand-labelled findings: a precision
# measurement, not part of `test` (the files are not committed; tests/corpus/test_lint_corpus.py).
lint-corpus: build
	$(PYTEST) -p no:cacheprovider -q -s tests/corpus

clean:
	rm -rf $(BUILD) $(SAN_BUILD)
