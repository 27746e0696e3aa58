# flux-operator-mcp: build, test, static binary, real-client conformance, benchmarks, release,
# fuzzing.
# `make test` needs only Rust; `make conformance` and `make bench-peer` also use ../shared.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

CARGO ?= cargo
PREFIX ?= /usr/local
SHARED ?= ../shared
BUILD := build
VENV := $(BUILD)/venv
MCP_SDK := mcp==2.3.0
MUSL_TARGET := x86_64-unknown-linux-musl
STATIC_BIN := target/$(MUSL_TARGET)/release/flux-operator-mcp
# The read-only build has its own target dir so that it never replaces STATIC_BIN.
STATIC_READONLY_BIN := target/readonly/$(MUSL_TARGET)/release/flux-operator-mcp
# The command real clients start, as in a user's .mcp.json.
SERVE := $(abspath $(STATIC_BIN)) serve

# `make conformance` runs these in order; add a target here to add a check.
CONFORMANCE_CHECKS := conformance-sdk conformance-e2e conformance-suite conformance-kubectl \
	conformance-kubeconfig conformance-snapshot conformance-e2e-http conformance-http \
	conformance-inspector

.PHONY: build install static static-readonly test lint conformance $(CONFORMANCE_CHECKS) \
	conformance-2026 bench bench-peer dist dist-verify image fuzz fuzz-smoke mutants clean

build:
	$(CARGO) build --release

static:
	tests/scripts/static.sh

# The read-only build (no write code in it) as a static binary: $(STATIC_READONLY_BIN).
static-readonly:
	tests/scripts/static-readonly.sh

# The static musl binary where that target exists (x86_64 Linux); elsewhere (macOS, arm64 hosts,
# ...) a plain release build, and it says so.
install:
	@if [ "$$(uname -s)-$$(uname -m)" = Linux-x86_64 ]; then \
		$(MAKE) --no-print-directory static; bin=$(STATIC_BIN); \
	else \
		echo "install: no $(MUSL_TARGET) build on $$(uname -s) $$(uname -m): installing a plain 'cargo build --release' (not static)"; \
		$(CARGO) build --release; bin=target/release/flux-operator-mcp; \
	fi; \
	install -d "$(DESTDIR)$(PREFIX)/bin"; \
	install -m 0755 $$bin "$(DESTDIR)$(PREFIX)/bin/flux-operator-mcp"; \
	echo "installed $(DESTDIR)$(PREFIX)/bin/flux-operator-mcp"

# Both builds must pass: the default one and the one whose REST client can only GET.
test:
	$(CARGO) test
	$(CARGO) test --no-default-features

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --all-targets --no-default-features -- -D warnings

conformance: static $(CONFORMANCE_CHECKS)

# The official Python SDK in its session, auto (server/discover first) and legacy modes.
$(VENV)/.installed:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(MCP_SDK)
	touch $@

# Each check that runs the static binary builds it first, so that running one alone tests the
# current code (within one make run, `static` runs once).
conformance-sdk: static $(VENV)/.installed
	$(VENV)/bin/python tests/scripts/sdk_check.py $(STATIC_BIN)

# Every read tool through the official Python SDK against the standalone test API server.
conformance-e2e: static $(VENV)/.installed
	$(CARGO) build --release --example test-apiserver
	$(VENV)/bin/python tests/scripts/sdk_e2e.py $(STATIC_BIN) target/release/examples/test-apiserver

# The same over HTTP: Streamable HTTP (session and stateless modes) and the legacy SSE client.
conformance-e2e-http: static $(VENV)/.installed
	$(CARGO) build --release --example test-apiserver
	$(VENV)/bin/python tests/scripts/sdk_e2e.py --transport http $(STATIC_BIN) target/release/examples/test-apiserver
	$(VENV)/bin/python tests/scripts/sdk_e2e.py --transport sse $(STATIC_BIN) target/release/examples/test-apiserver

# The official MCP conformance suite over real HTTP: every server scenario of the stable suite
# (2025 sessions) and the pre-release suite's 2026-07-28 scenarios (stateless), judged check by
# check against tests/scripts/conformance-http.expected.
conformance-http: static
	tests/scripts/conformance-http.sh "$(SHARED)" $(STATIC_BIN)

# MCP Inspector CLI over Streamable HTTP and SSE: tools/list --strict clean, a call, prompts.
conformance-inspector: static
	tests/scripts/inspector-http.sh "$(SHARED)" $(STATIC_BIN)

# The official MCP conformance suite's generic scenarios, bridged from stdio.
conformance-suite: static
	tests/scripts/conformance-suite.sh "$(SHARED)" "$(SERVE)"

# The real kubectl against the test API server: proves the server speaks the wire format.
conformance-kubectl:
	tests/scripts/kubectl-fidelity.sh

# The real kubectl reads a snapshot through `snapshot serve-api` and prints what it prints live.
conformance-snapshot: static
	$(CARGO) build --quiet --example test-apiserver
	BIN=$(STATIC_BIN) TEST_APISERVER=target/debug/examples/test-apiserver tests/scripts/snapshot-kubectl.sh

# kubectl as the oracle for kubeconfig semantics: every case in testdata/kubeconfig.
conformance-kubeconfig:
	$(CARGO) run --quiet --example kubeconfig-oracle

# The 2026-era pre-release suite (stateless scenarios); informative, not part of CI.
conformance-2026: static
	CONFORMANCE_VERSION=0.2.0-alpha.12 tests/scripts/conformance-suite.sh "$(SHARED)" "$(SERVE)"

bench: static
	$(CARGO) bench --bench bench

# Our binary next to the Go peer (npm kubernetes-mcp-server, installed under /tmp), measured
# in one run by ../shared/tools/mcpbench.py.
bench-peer: static
	tests/scripts/bench-peer.sh "$(SHARED)" "$(abspath $(STATIC_BIN))"

# Release files in dist/: four static binaries (amd64, arm64; default and read-only), their
# CycloneDX SBOMs and SHA256SUMS; every binary checked (arm64 under qemu). VERSION=... to name
# a release (default: Cargo.toml's version).
dist:
	tests/scripts/dist.sh

# Reproducibility: builds the commit from scratch in other folders and compares with dist/
# (DIST_VERIFY_BUILDS=2, the default: two fresh builds, and dist/ too when it holds this
# commit; 1: one fresh build against dist/, which must hold a clean build of this commit).
dist-verify:
	tests/scripts/dist-verify.sh

# OCI image archives in dist/ (multi-arch index per flavour, FROM scratch; buildah, no daemon)
# from the binaries of `make dist`, then the image run test.
image:
	tests/scripts/image.sh

# Coverage-guided fuzzing (fuzz/: libFuzzer on the stable toolchain, see fuzz/run.sh): every
# target for FUZZ_SECONDS, FUZZ_JOBS at a time (one per core: 8 targets take 20 minutes);
# prints executions and peak RSS per target and in total, and fails on a crash, a hang (a unit
# over FUZZ_TIMEOUT s) or running out of memory.
FUZZ_SECONDS ?= 300
FUZZ_JOBS ?= 2
fuzz:
	FUZZ_JOBS=$(FUZZ_JOBS) fuzz/run.sh $(FUZZ_SECONDS)

# The short pass CI runs: the same build, every target for a few seconds.
FUZZ_SMOKE_SECONDS ?= 8
fuzz-smoke:
	FUZZ_JOBS=$(FUZZ_JOBS) fuzz/run.sh $(FUZZ_SMOKE_SECONDS)

# Mutation testing of masking, redaction, the GET-only client path and kubeconfig precedence
# (tests/scripts/mutants.sh); cargo-mutants is installed under build/ on first use.
# `make mutants AREAS=redact` runs one area.
CARGO_MUTANTS := $(BUILD)/tools/bin/cargo-mutants
$(CARGO_MUTANTS):
	$(CARGO) install --locked --quiet --root $(BUILD)/tools cargo-mutants@27.1.0

mutants: $(CARGO_MUTANTS)
	tests/scripts/mutants.sh $(CARGO_MUTANTS) $(AREAS)

clean:
	$(CARGO) clean
	rm -rf $(BUILD) dist
