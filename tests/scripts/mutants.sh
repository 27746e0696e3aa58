#!/usr/bin/env bash
# `make mutants`: mutation testing (crates.io cargo-mutants) of the code whose tests must catch
# any change, one area at a time, each with the unit tests that guard it:
#   masking     Secret masking in src/tools/objects/lean.rs (sanitize and the masking helpers)
#   redact      credential-shaped text in src/redact.rs
#   client      the GET-only client path: Method, send, execute, the `mutations` verbs (patch,
#               apply, delete, their paths, content types and bodies), and the list reader
#               (src/kube/client.rs)
#   kubeconfig  kubeconfig precedence: files, merge, contexts, flags, credentials
#               (src/kube/config.rs)
# The JSON-RPC reader (src/mcp) is left for a later run.
# Bounded: each test run gets TIMEOUT seconds (default 120), each build BUILD_TIMEOUT (600);
# only the named files and functions are mutated; SHARD=k/n tests every n-th mutant from the
# k-th (a sample, for a quick pass; SHARD_redact=0/16 sets it for one area only). Mutants
# build in JOBS (default 2) copies of the tree, each with a copy of target/ so nothing is built
# from scratch; the checkout stays usable.
# Results land in build/mutants/AREA/mutants.out (caught.txt, missed.txt, timeout.txt).
# Usage: mutants.sh CARGO_MUTANTS [AREA...]
set -euo pipefail
tool=${1:?path to cargo-mutants}
shift
cd "$(dirname "$0")/../.."
[ $# -gt 0 ] || set -- masking redact client kubeconfig

timeout=${TIMEOUT:-120}
build_timeout=${BUILD_TIMEOUT:-600}

run() {
  local area=$1 file=$2 re=$3 filter=$4
  local shard_var="SHARD_$area"
  local SHARD=${!shard_var:-${SHARD:-}}
  echo "== mutants: $area ($file)"
  # --lib for the build as well as the tests: the integration-test binary would cost a minute
  # per mutant.
  local args=(mutants --copy-target=true --jobs "${JOBS:-2}" --no-shuffle --timeout "$timeout"
    --build-timeout "$build_timeout" --cargo-arg=--lib --output "build/mutants/$area" -f "$file")
  [ -z "$re" ] || args+=(-F "$re")
  [ -z "${SHARD:-}" ] || args+=(--shard "$SHARD" --sharding round-robin)
  # BASELINE=skip: do not first run the tests on the unmutated tree (`make test` does).
  [ -z "${BASELINE:-}" ] || args+=(--baseline "$BASELINE")
  # Exit status 2 means some mutants were missed: report them all, then fail at the end.
  "$tool" "${args[@]}" -- -- "$filter" || status=$?
  if [ "${status:-0}" -ne 0 ] && [ "${status:-0}" -ne 2 ] && [ "${status:-0}" -ne 3 ]; then
    echo "mutants: $area: cargo-mutants failed ($status)" >&2
    exit "$status"
  fi
  failed=$((failed + ${status:-0}))
  status=0
}

mkdir -p build/mutants
failed=0
for area in "$@"; do
  case $area in
    masking) run masking src/tools/objects/lean.rs \
      'lean\.rs.*(sanitize|mask|is_core|secret_values|leaks|base64_decoded_len)' tools::objects ;;
    redact) run redact src/redact.rs '' redact:: ;;
    client) run client src/kube/client.rs \
      '(Method::|PatchType::|Client::send|Client::execute|Client::send_mutation|Client::patch|Client::apply|Client::delete|write_path|delete_options_body|ItemBounded|read_page)' \
      kube::client ;;
    kubeconfig) run kubeconfig src/kube/config.rs \
      '(fn load|candidate_files|merge_file|add_in_cluster|in_cluster_possible|current_context|pick_context|context_cluster|context_user|server_flag|apply_cluster_flags|apply_user_flags|resolve_auth|client_cert|Kubeconfig::resolve)' \
      kube::config ;;
    *) echo "mutants: unknown area $area (masking, redact, client, kubeconfig)" >&2; exit 1 ;;
  esac
done
for area in "$@"; do
  out=build/mutants/$area/mutants.out
  printf '%-11s caught %4s  missed %4s  timeout %4s  unviable %4s\n' "$area" \
    "$(wc -l <"$out/caught.txt")" "$(wc -l <"$out/missed.txt")" \
    "$(wc -l <"$out/timeout.txt")" "$(wc -l <"$out/unviable.txt")"
done
[ "$failed" -eq 0 ] || { echo "mutants: some mutants survived (see missed.txt above)" >&2; exit 2; }
