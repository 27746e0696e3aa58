#!/usr/bin/env bash
# `make bench-peer`: measure our static binary and the Go peer (npm kubernetes-mcp-server) in
# one run with ../shared/tools/mcpbench.py: spawn -> initialize, tools/list, peak RSS, size.
# The peer is installed under /tmp (never in the repository). Both get the same kubeconfig,
# which points at a closed local port: start-up must not depend on a reachable cluster.
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

kubeconfig="$peer_dir/kubeconfig"
cat > "$kubeconfig" <<'YAML'
apiVersion: v1
kind: Config
clusters:
- name: closed
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: nobody
  user: {token: "not-a-real-token"}
contexts:
- name: closed
  context: {cluster: closed, user: nobody}
current-context: closed
YAML

runs=${RUNS:-20}
for label in flux-operator-mcp kubernetes-mcp-server; do
  if [ "$label" = flux-operator-mcp ]; then cmd=("$ours" serve); else cmd=("$peer"); fi
  echo "== $label"
  python3 "$bench" --runs "$runs" --clean-env --env "KUBECONFIG=$kubeconfig" --label "$label" -- "${cmd[@]}"
done
