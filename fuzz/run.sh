#!/usr/bin/env bash
# Coverage-guided fuzzing on the stable toolchain: builds every target in fuzz_targets/ with
# libFuzzer (libfuzzer-sys) and rustc's stable SanitizerCoverage flags, runs each for a bounded
# time from its seeds, prints executions and peak RSS per target and in total, and fails on a
# crash, a hang (a unit slower than FUZZ_TIMEOUT), an out-of-memory or a leak of panics.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (make fuzz, make fuzz-smoke)
#   fuzz/run.sh build                                build only
#
# Environment: FUZZ_TIMEOUT (seconds a unit may take, default 10), FUZZ_RSS_MB (default 2048),
# FUZZ_JOBS (targets fuzzed at once, default 1), FUZZ_CORPUS (working corpora, default
# fuzz/corpus, not committed), FUZZ_ARTIFACTS (crash inputs, default fuzz/artifacts).
# A crash input is kept in FUZZ_ARTIFACTS/<target>/; replay one with
#   fuzz/target/x86_64-unknown-linux-gnu/release/<target> <file>
set -euo pipefail
cd "$(dirname "$0")"

triple=$(rustc -vV | sed -n 's/^host: //p')
# No sanitizer (those need nightly's -Zsanitizer): libFuzzer's coverage feedback comes from
# LLVM's SanitizerCoverage pass, which stable rustc runs through -Cpasses and -Cllvm-args.
# Passing --target keeps these flags off build scripts, which do not link libFuzzer.
export RUSTFLAGS="-Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
--cfg fuzzing -Cdebug-assertions -Coverflow-checks"
export CARGO_TARGET_DIR="$PWD/target"

build() {
  cargo build --release --locked --target "$triple" --bins
}

targets_all=$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^flux-operator-mcp-fuzz$')

if [ "${1:-}" = build ]; then
  build
  exit 0
fi

seconds=${1:-60}
shift || true
targets=${*:-$targets_all}
timeout=${FUZZ_TIMEOUT:-10}
rss_mb=${FUZZ_RSS_MB:-2048}
corpus_root=${FUZZ_CORPUS:-$PWD/corpus}
artifacts_root=${FUZZ_ARTIFACTS:-$PWD/artifacts}

build
bin_dir="$CARGO_TARGET_DIR/$triple/release"
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
# Harnesses that need files (kubeconfig) write them under TMPDIR: keep them in the scratch
# folder that goes away with the run.
mkdir "$logs/tmp"
export TMPDIR="$logs/tmp"

run_one() {
  local t=$1 corpus="$corpus_root/$1" artifacts="$artifacts_root/$1/"
  mkdir -p "$corpus" "$artifacts"
  local dict=() d="dict/${t%%_*}.dict"
  [ -f "dict/$t.dict" ] && d="dict/$t.dict"
  [ -f "$d" ] && dict=(-dict="$d")
  # The seeds are read, never written: new inputs go to the working corpus.
  "$bin_dir/$t" "$corpus" "seeds/$t" "${dict[@]}" \
    -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb="$rss_mb" \
    -max_len="$(max_len "$t")" -print_final_stats=1 -artifact_prefix="$artifacts" \
    >"$logs/$t.log" 2>&1
}

# Inputs past these lengths add time, not paths: the parsers are linear, and the product's
# own limits (64 MiB lines, Helm payload caps) are proved by tests, not by the fuzzer.
max_len() {
  case $1 in
    jsonrpc_session|objects|helm_release|docs_markdown|kubeconfig) echo 65536 ;;
    *) echo 8192 ;;
  esac
}

failed=()
pids=()
names=()
jobs=${FUZZ_JOBS:-1}
for t in $targets; do
  [ -x "$bin_dir/$t" ] || { echo "fuzz: no target $t" >&2; exit 2; }
  run_one "$t" &
  pids+=($!)
  names+=("$t")
  if [ "${#pids[@]}" -ge "$jobs" ]; then
    if ! wait "${pids[0]}"; then failed+=("${names[0]}"); fi
    pids=("${pids[@]:1}")
    names=("${names[@]:1}")
  fi
done
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then failed+=("${names[$i]}"); fi
done

stat() { sed -n "s/^stat::$2: *//p" "$logs/$1.log" | tail -1; }
total=0
printf '%-18s %14s %10s %8s %9s\n' target executions exec/s units peak-rss
for t in $targets; do
  n=$(stat "$t" number_of_executed_units)
  total=$((total + ${n:-0}))
  printf '%-18s %14s %10s %8s %7sMB\n' "$t" "${n:-?}" "$(stat "$t" average_exec_per_sec)" \
    "$(find "$corpus_root/$t" -type f | wc -l)" "$(stat "$t" peak_rss_mb)"
done
printf '%-18s %14s\n' total "$total"

if [ "${#failed[@]}" -gt 0 ]; then
  for t in "${failed[@]}"; do
    echo "fuzz: $t FAILED; the end of its log:" >&2
    tail -n 40 "$logs/$t.log" >&2
  done
  echo "fuzz: crash inputs are in $artifacts_root/<target>/" >&2
  exit 1
fi
echo "fuzz: ${total} executions, 0 crashes, 0 hangs"
