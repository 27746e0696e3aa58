#!/usr/bin/env bash
# Run the MCP conformance suite's generic scenarios against a stdio server through
# ../shared/tools/run-conformance.sh, and fail unless it ends with "N passed, 0 failed".
# Usage: conformance-suite.sh SHARED_DIR "SERVER COMMAND"
set -euo pipefail
shared=${1:?shared dir}
serve=${2:?server command}
runner="$shared/tools/run-conformance.sh"
[ -x "$runner" ] || { echo "conformance: $runner not found (make conformance needs ../shared)" >&2; exit 1; }

# Beyond the core scenarios: we declare logging and prompts, so their scenarios apply.
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
"$runner" --stdio "$serve" --add logging-set-level,prompts-list | tee "$out" || status=$?
last=$(tail -n 1 "$out")
if [ "$status" -ne 0 ] || ! grep -Eq '^[1-9][0-9]* passed, 0 failed' <<<"$last"; then
  echo "conformance: the suite did not pass (exit $status): $last" >&2
  exit 1
fi
