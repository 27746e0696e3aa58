# flux-operator-mcp: build, test, static binary, real-client conformance, benchmarks.
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
# The command real clients start, as in a user's .mcp.json.
SERVE := $(abspath $(STATIC_BIN)) serve

# `make conformance` runs these in order; add a target here to add a check.
CONFORMANCE_CHECKS := conformance-sdk conformance-e2e conformance-suite conformance-kubectl \
	conformance-kubeconfig conformance-snapshot

.PHONY: build install static test lint conformance $(CONFORMANCE_CHECKS) conformance-2026 \
	bench bench-peer clean

build:
	$(CARGO) build --release

static:
	tests/scripts/static.sh

install: static
	install -d "$(DESTDIR)$(PREFIX)/bin"
	install -m 0755 $(STATIC_BIN) "$(DESTDIR)$(PREFIX)/bin/flux-operator-mcp"
	@echo "installed $(DESTDIR)$(PREFIX)/bin/flux-operator-mcp"

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

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
