# The entry point a newcomer uses. Everything real happens in CMake and
# CTest; this file only chains bootstrap, configure, build and test so
# that one command works on a fresh Debian 12 machine.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX     ?= /usr/local
CTEST_ARGS ?=
# Tests that start servers use free ports, so they can run in parallel.
CTEST      = ctest --output-on-failure --timeout 600 -j$(JOBS) $(CTEST_ARGS)

.PHONY: all build run test test-asan bench format format-check install clean bootstrap

all: build

bootstrap:
	@scripts/bootstrap

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX)

build: bootstrap $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

# Serve with embedded defaults: 127.0.0.1:8080, data in ./logshare-data.
run: build
	$(BUILD)/src/server/logshared

test:
	@scripts/bootstrap --test
	@$(MAKE) --no-print-directory build
	cd $(BUILD) && $(CTEST)

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLOGSHARE_SANITIZE=ON -DLOGSHARE_BUILD_BENCH=OFF

test-asan:
	@scripts/bootstrap --test
	@$(MAKE) --no-print-directory $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    LOGSHARE_SANITIZED=1 $(CTEST)

# Benchmarks measure logshare and its peers in the same run; results go
# to docs/benchmarks.md by hand, with the command that made them.
bench:
	@scripts/bootstrap --bench
	@$(MAKE) --no-print-directory build
	bench/run-all $(BUILD)

format:
	find include src tests bench fuzz examples -name node_modules -prune -o -name '*.[ch]' -print0 | xargs -0 clang-format -i

# Fails, naming the files, when any C source differs from clang-format's output
# (npm's node_modules, which the browser tests install, are not ours).
format-check:
	find include src tests bench fuzz examples -name node_modules -prune -o -name '*.[ch]' -print0 | xargs -0 clang-format --dry-run -Werror

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
