#!/usr/bin/env bash
# `make dist-verify`: are the release binaries reproducible? Builds the committed HEAD from
# scratch (git archive: no untracked or uncommitted file, an empty target dir) in folders whose
# paths differ from this checkout and from each other, and compares everything `make dist`
# writes (binaries and SBOMs, through SHA256SUMS) byte for byte:
#   DIST_VERIFY_BUILDS=2 (default): two fresh builds against each other, and against dist/ too
#                                   when dist/ holds a clean build of HEAD;
#   DIST_VERIFY_BUILDS=1:           one fresh build against dist/, which must hold a clean build
#                                   of HEAD (what CI does right after `make dist` in a fresh clone).
# Fails, naming the files that differ, if any do.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/scripts/dist-lib.sh

builds=${DIST_VERIFY_BUILDS:-2}
OUT=${DIST_DIR:-dist}
ARCHES=${DIST_ARCHES:-amd64 arm64}
start=$SECONDS
revision=$(git rev-parse HEAD)
epoch=$(git log -1 --format=%ct HEAD)
VERSION=${VERSION:-$(python3 -c 'import tomllib; print(tomllib.load(open("Cargo.toml", "rb"))["package"]["version"])')}

# Does dist/ hold a clean build of HEAD? Its amd64 binary says which revision it is.
dist_revision=
probe="$OUT/$(dist_name amd64 default)"
if [ -x "$probe" ] && [ -f "$OUT/SHA256SUMS" ]; then
  dist_revision=$("$probe" version --verbose | sed -n 's/^revision: *//p')
fi
compare_dist=0
if [ "$dist_revision" = "$revision" ]; then
  compare_dist=1
elif [ "$builds" -lt 2 ]; then
  echo "dist-verify: $OUT/ does not hold a clean build of $revision (it says: ${dist_revision:-nothing});" \
       "run 'make dist' on a clean checkout first, or DIST_VERIFY_BUILDS=2" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/dist-verify.XXXXXX")
trap 'rm -rf "$work"' EXIT
sums=()
for i in $(seq 1 "$builds"); do
  # A different depth and name for every build: no path may matter.
  dir="$work/build-$i/$(printf 'x%.0s' $(seq 1 "$i"))/flux-operator-mcp"
  mkdir -p "$dir"
  git archive --format=tar HEAD | tar -x -C "$dir"
  echo "dist-verify: clean build $i of $builds of $revision in $dir" >&2
  (
    cd "$dir"
    unset CARGO_TARGET_DIR
    DIST_DIR=out DIST_CHECK=0 DIST_ARCHES="$ARCHES" VERSION="$VERSION" REVISION="$revision" \
      SOURCE_DATE_EPOCH="$epoch" bash tests/scripts/dist.sh >/dev/null
  )
  sums+=("$dir/out/SHA256SUMS")
done
[ "$compare_dist" = 1 ] && sums+=("$OUT/SHA256SUMS")

failed=0
first=${sums[0]}
for other in "${sums[@]:1}"; do
  if cmp -s "$first" "$other"; then
    echo "PASS  dist-verify: $(dirname "$other") is byte-identical to $(dirname "$first")"
  else
    failed=1
    echo "FAIL  dist-verify: $(dirname "$other") differs from $(dirname "$first"):"
    diff <(sort -k2 "$first") <(sort -k2 "$other") | sed 's/^/    /' || true
  fi
done
echo
sed 's/^/dist-verify: /' "$first"
echo "dist-verify: ${#sums[@]} builds of $revision compared in $((SECONDS - start))s"
if [ "$failed" = 0 ]; then
  echo "dist-verify: $((${#sums[@]} - 1)) passed, 0 failed"
else
  echo "dist-verify: 0 passed, 1 failed"
  exit 1
fi
