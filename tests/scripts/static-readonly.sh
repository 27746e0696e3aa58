#!/usr/bin/env bash
# `make static-readonly`: the read-only build (`--no-default-features`: no write tool, a REST
# client that can only GET) as a static x86_64 musl binary, in its own target dir so that it
# never overwrites `make static`'s binary; then the release checks that need no cluster
# (binary_check.py without --apiserver: static, stripped, says it is the read-only build, docs
# search, MCP over stdio, in an empty root).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/scripts/dist-lib.sh

TARGET=$(triple_of amd64)
BIN=target/readonly/$TARGET/release/flux-operator-mcp
ensure_toolchain amd64
cargo build --release --target "$TARGET" --no-default-features --target-dir target/readonly
python3 tests/scripts/binary_check.py "$BIN" --flavour read-only
size=$(stat -c %s "$BIN")
awk -v s="$size" -v b="$BIN" 'BEGIN { printf "static read-only binary: %s, %d bytes (%.2f MiB)\n", b, s, s / 1048576 }'
