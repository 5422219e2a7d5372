# gantry: the two entry points are `make demo` (set up this machine, build, run the sample) and
# `make test` (set up, build, run every test). Both are idempotent.
BUILD ?= build
PYTEST ?= /usr/bin/python3 -m pytest
JOBS ?= $(shell nproc)

.PHONY: all deps build demo test unit e2e stress format format-check bench lint-corpus clean

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

test: format-check unit e2e stress

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp' '*.c' '*.h')

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.cpp' '*.hpp' '*.c' '*.h')

bench: build
	./bench/load.sh

# gantry lint on 43 public GPU projects' Dockerfiles against hand-labelled findings: a precision
# measurement, not part of `test` (the files are not committed; tests/corpus/test_lint_corpus.py).
lint-corpus: build
	$(PYTEST) -p no:cacheprovider -q -s tests/corpus

clean:
	rm -rf $(BUILD)
