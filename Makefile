# Sluice: top-level entry points. See README.md.
#   make deps   install the Debian 12 packages the build needs (idempotent, needs root)
#   make        build (Release, warnings on, ccache when present) into build/
#   make test   deps + build + the whole CTest suite
#   make demo   deps + build + the demo job
#   make bench  deps + build + the benchmark suite (not part of make test)
#   make compose-test  the compose demo stack in Docker (minutes; not part of make test)
#   make format        clang-format every C++ file in place (.clang-format)
#   make format-check  fail, listing them, when files differ from clang-format's output

BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# The compose stack test (label compose) takes minutes and a Docker engine:
# `make compose-test` runs it, `make test` leaves it out.
CTEST_ARGS ?= -LE compose

.PHONY: all build deps test demo bench compose-test clean format format-check

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: deps
	@$(MAKE) --no-print-directory build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

demo: deps
	@$(MAKE) --no-print-directory build
	@scripts/demo.sh $(BUILD_DIR)/sluice

# The image builds Sluice itself; nothing here needs the local build.
compose-test:
	@scripts/install-deps.sh compose
	@scripts/compose-test.sh $(BUILD_DIR)/compose-test

bench: deps
	@$(MAKE) --no-print-directory build
	@bench/run.sh $(BUILD_DIR)/sluice

format:
	git ls-files '*.h' '*.cc' | xargs clang-format -i

format-check:
	@unformatted=$$(for f in $$(git ls-files '*.h' '*.cc'); do \
	  clang-format --dry-run -Werror "$$f" >/dev/null 2>&1 || echo "$$f"; done); \
	if [ -n "$$unformatted" ]; then \
	  echo "format-check: these files differ from clang-format's output (make format):"; \
	  echo "$$unformatted"; exit 1; fi; \
	echo "format-check: every C++ file is formatted"

clean:
	rm -rf $(BUILD_DIR)
