#!/usr/bin/env bash
# `make bench-peer`: measure our static binary and the Go peer (npm kubernetes-mcp-server) in
# one run with ../shared/tools/mcpbench.py: spawn -> initialize, tools/list, a tool call listing
# Kustomizations from the test API server, peak RSS, size.
# The peer is installed under /tmp (never in the repository). Both get the same kubeconfig,
# pointing at the test API server. RUNS (default 5) fresh spawns each, CALLS (default 50) calls.
# Usage: bench-peer.sh SHARED_DIR OUR_BINARY
set -euo pipefail
shared=${1:?shared dir}
ours=${2:?our binary}
bench="$shared/tools/mcpbench.py"
[ -f "$bench" ] || { echo "bench-peer: $bench not found (needs ../shared)" >&2; exit 1; }

peer_dir=${PEER_DIR:-/tmp/flux-operator-mcp-peer}
peer="$peer_dir/node_modules/kubernetes-mcp-server-linux-amd64/bin/kubernetes-mcp-server-linux-amd64"
if [ ! -x "$peer" ]; then
  mkdir -p "$peer_dir"
  [ -f "$peer_dir/package.json" ] || echo '{"name":"peer","private":true}' > "$peer_dir/package.json"
  (cd "$peer_dir" && npm install --no-audit --no-fund --loglevel=error kubernetes-mcp-server >&2)
fi
[ -x "$peer" ] || { echo "bench-peer: $peer missing after npm install" >&2; exit 1; }

# Both servers talk to the test API server (tests/apiserver/, real wire format over HTTPS) and
# answer the same question: the Kustomizations of the test cluster.
root=$(cd "$(dirname "$0")/../.." && pwd)
(cd "$root" && cargo build --quiet --release --example test-apiserver)
work=$(mktemp -d)
kubeconfig="$work/kubeconfig"
"$root/target/release/examples/test-apiserver" --kubeconfig-out "$kubeconfig" >"$work/url" 2>"$work/err" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.1; done
[ -s "$work/url" ] || { echo "bench-peer: test API server did not start: $(cat "$work/err")" >&2; exit 1; }

runs=${RUNS:-5}
calls=${CALLS:-50}
list='{"apiVersion":"kustomize.toolkit.fluxcd.io/v1","kind":"Kustomization"}'
for label in flux-operator-mcp kubernetes-mcp-server; do
  if [ "$label" = flux-operator-mcp ]; then
    cmd=("$ours" serve); tool=get_kubernetes_resources
  else
    cmd=("$peer"); tool=resources_list
  fi
  echo "== $label ($tool)"
  python3 "$bench" --runs "$runs" -n "$calls" --clean-env --env "KUBECONFIG=$kubeconfig" \
    --label "$label" --tool "$tool" --args "$list" -- "${cmd[@]}"
done

# The same list call with the API server 50 ms away (`--latency`: every response held 50 ms, as
# behind a VPN or a cloud load balancer), where the round trips made one after another decide
# the time. FAR_CALLS (default 10) calls per run, after the warm-up.
far_latency=${FAR_LATENCY:-50ms}
far_calls=${FAR_CALLS:-10}
"$root/target/release/examples/test-apiserver" --latency "$far_latency" \
  --kubeconfig-out "$work/kubeconfig-far" >"$work/url-far" 2>"$work/err-far" &
far=$!
trap 'kill $server $far 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$work/url-far" ] && break; sleep 0.1; done
[ -s "$work/url-far" ] || { echo "bench-peer: delayed test API server did not start: $(cat "$work/err-far")" >&2; exit 1; }
for label in flux-operator-mcp kubernetes-mcp-server; do
  if [ "$label" = flux-operator-mcp ]; then
    cmd=("$ours" serve); tool=get_kubernetes_resources
  else
    cmd=("$peer"); tool=resources_list
  fi
  echo "== $label ($tool), API server +$far_latency per response"
  python3 "$bench" --runs "$runs" -n "$far_calls" --clean-env --env "KUBECONFIG=$work/kubeconfig-far" \
    --label "$label +$far_latency" --tool "$tool" --args "$list" -- "${cmd[@]}"
done
