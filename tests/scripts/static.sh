#!/usr/bin/env bash
# `make static`: build the x86_64 musl binary, prove it is stripped and statically linked, prove
# it runs in an empty root directory holding nothing but itself, and print its size.
# Installs the rustup target and musl-tools (apt) when they are missing.
# With CI=1 (or CI=true, as CI services set it) a check that cannot run here fails instead of
# warning: no readelf to prove the binary stripped, no way to chroot into an empty root.
set -euo pipefail
cd "$(dirname "$0")/../.."

strict=false
case "${CI:-}" in 1|true) strict=true ;; esac
# A check that cannot run: a warning on a workstation, a failure in CI.
cannot_check() {
  if $strict; then
    echo "static: FAILED (CI=$CI): $*" >&2
    exit 1
  fi
  echo "static: WARNING: $*" >&2
}

TARGET=x86_64-unknown-linux-musl
BIN=target/$TARGET/release/flux-operator-mcp

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "static: need root to run: $*" >&2; return 1
  fi
}

if ! rustup target list --installed | grep -qx "$TARGET"; then
  echo "static: installing the rustup target $TARGET" >&2
  rustup target add "$TARGET"
fi
if ! command -v musl-gcc >/dev/null; then
  echo "static: installing musl-tools" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq musl-tools
fi

cargo build --release --target "$TARGET"

# Statically linked: glibc's ldd says "statically linked" for static-pie, "not a dynamic
# executable" for non-PIE static binaries.
linkage=$(ldd "$BIN" 2>&1 || true)
if ! grep -Eq 'statically linked|not a dynamic executable' <<<"$linkage"; then
  echo "static: $BIN is not statically linked: $linkage" >&2
  exit 1
fi
if ! command -v readelf >/dev/null; then
  cannot_check "no readelf (binutils): cannot prove $BIN is stripped"
elif readelf -S "$BIN" | grep -q '\.symtab'; then
  echo "static: $BIN is not stripped" >&2
  exit 1
fi

# Run it in an empty root: no libc, no /etc, no /proc, no /tmp. As root a plain chroot does;
# otherwise an unprivileged user namespace (unshare -r) gives us the right to chroot.
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
cp "$BIN" "$root/flux-operator-mcp"
in_root=()
if [ "$(id -u)" = 0 ] && chroot "$root" /flux-operator-mcp --version >/dev/null 2>&1; then
  in_root=(chroot "$root")
  how="chroot (root)"
elif unshare -r chroot "$root" /flux-operator-mcp --version >/dev/null 2>&1; then
  in_root=(unshare -r chroot "$root")
  how="unshare -r chroot (user namespace)"
fi
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"static","version":"1"}}}'
if [ ${#in_root[@]} -gt 0 ]; then
  version=$("${in_root[@]}" /flux-operator-mcp --version)
  answer=$(printf '%s\n' "$init" | "${in_root[@]}" /flux-operator-mcp serve)
  echo "static: empty root via $how: $version"
else
  # Not root and no user namespaces (some sandboxes): say so loudly (fail in CI), and still
  # run the binary with an empty environment from an empty directory.
  cannot_check "cannot chroot here (not root, user namespaces unavailable);" \
       "running it with an empty environment in an empty directory instead"
  version=$(cd "$root" && env -i ./flux-operator-mcp --version)
  answer=$(cd "$root" && printf '%s\n' "$init" | env -i ./flux-operator-mcp serve)
fi
grep -q '^flux-operator-mcp ' <<<"$version" || { echo "static: bad --version: $version" >&2; exit 1; }
grep -q '"protocolVersion":"2025-06-18"' <<<"$answer" || {
  echo "static: serve did not answer initialize in the empty root: $answer" >&2
  exit 1
}

size=$(stat -c %s "$BIN")
awk -v s="$size" -v b="$BIN" 'BEGIN { printf "static binary: %s, %d bytes (%.2f MiB), statically linked, stripped\n", b, s, s / 1048576 }'
