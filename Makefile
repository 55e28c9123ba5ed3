# tiercel — build, test, demo, benchmark. Run as root on Debian 12 (`make test` installs what
# is missing through scripts/setup.sh).

SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TARGET_DIR ?= $(CURDIR)/target
RELEASE_BIN := $(CARGO_TARGET_DIR)/release/tiercel
FUZZ_SECONDS ?= 60
E2E_ARGS ?=

.PHONY: all build release setup lint fmt clippy unit e2e conformance test demo bench fuzz clean-containers help

all: build

help:
	@echo "make setup    install runc, busybox-static, gcc, … (idempotent)"
	@echo "make build    debug build of the workspace"
	@echo "make release  release binaries (tiercel, tiercel-shim, tiercel-hook)"
	@echo "make lint     rustfmt --check and clippy -D warnings"
	@echo "make test     setup, lint, unit + data-driven tests, release build, end-to-end tests"
	@echo "make e2e      only the end-to-end tests (root, real runc containers)"
	@echo "make conformance  Falco's evtgen e2e suite against tiercel (root; TIERCEL_SHARED)"
	@echo "make demo     the seed scenario in audit and enforce mode"
	@echo "make bench    the benchmark; writes BENCHMARKS.md"
	@echo "make fuzz     the rules fuzz targets for FUZZ_SECONDS each (needs cargo-fuzz + nightly)"

setup:
	@bash scripts/setup.sh

build:
	$(CARGO) build --workspace

release:
	$(CARGO) build --release --workspace --bins

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

lint: fmt clippy

unit:
	$(CARGO) test --workspace --exclude tiercel-e2e

e2e: release
	TIERCEL_BIN=$(RELEASE_BIN) $(CARGO) test -p tiercel-e2e -- --test-threads=1 $(E2E_ARGS)

# Falco's declarative event-generator suite (../shared/upstream-tests/falco-e2e-evtgen-suite)
# against `tiercel supervise` with the stable rules; last line: "evtgen: P passed, F failed, …".
conformance: release
	TIERCEL_BIN=$(RELEASE_BIN) $(CARGO) test -p tiercel-e2e --test evtgen -- --ignored --nocapture --test-threads=1

test:
	@bash scripts/test.sh

demo: setup release
	TIERCEL_BIN=$(RELEASE_BIN) DEMO_NO_BUILD=1 bash examples/demo.sh

bench: setup release
	TIERCEL_BIN=$(RELEASE_BIN) bash tests/bench/run.sh

fuzz:
	@bash scripts/fuzz.sh $(FUZZ_SECONDS)

# Remove containers the tests left behind after a hard interruption.
clean-containers:
	@for id in $$(runc list -q 2>/dev/null | grep -E '^(tce2e-|tiercel-demo-|tiercel-bench-)'); do \
		runc kill $$id KILL 2>/dev/null; runc delete --force $$id && echo "deleted $$id"; done; true
