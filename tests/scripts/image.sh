#!/usr/bin/env bash
# `make image`: the container images, written as OCI archives in dist/ (no registry, no daemon):
#   flux-operator-mcp-image_<version>.oci.tar                  tag <version>
#   flux-operator-mcp-image_<version>-stdio-readonly.oci.tar   tag <version>-stdio-readonly
# Each holds one multi-arch image index (linux/amd64 + linux/arm64) built by buildah from the
# top-level Containerfile and the binaries of `make dist` (vfs storage and chroot isolation in a
# temporary root: no daemon, nothing left in /var/lib/containers). Timestamps come from
# SOURCE_DATE_EPOCH and buildah's identity label and history are left out, so the same binaries
# give the same image digests.
#
# Then the image run test (image_run.py), for every image and architecture: unpack the root
# filesystem (skopeo + umoci), check the config and the files, and run the entrypoint in that
# root as UID 65532 with a kubeconfig mounted at /home/nonroot/.kube/config, as `docker run`
# would (arm64 under qemu). IMAGE_CHECK=0 skips it; it needs root (CI runs as root).
#
# The version, revision and source date are those of the binaries in dist/ (read from the
# amd64 binary's `version --verbose`), so labels and timestamps always match what is inside.
# Environment: DIST_DIR (dist); SOURCE_URL for the org.opencontainers.image.source label
# (default: git's origin URL, else "unknown").
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/scripts/dist-lib.sh

OUT=${DIST_DIR:-dist}
start=$SECONDS
apt_need buildah buildah
apt_need skopeo skopeo
apt_need umoci umoci
apt_need qemu-aarch64-static qemu-user-static

# What `make dist` built: exactly one default amd64 binary names the version.
shopt -s nullglob
probes=("$OUT"/flux-operator-mcp_*_linux_amd64)
shopt -u nullglob
if [ ${#probes[@]} != 1 ]; then
  echo "image: expected one $OUT/flux-operator-mcp_<version>_linux_amd64, found ${#probes[@]}: run 'make dist' first" >&2
  exit 1
fi
VERSION=${probes[0]#"$OUT"/flux-operator-mcp_}
VERSION=${VERSION%_linux_amd64}
verbose=$("${probes[0]}" version --verbose)
REVISION=$(sed -n 's/^revision: *//p' <<<"$verbose")
SOURCE_DATE_EPOCH=$(sed -n 's/^source date:.*(SOURCE_DATE_EPOCH=\([0-9]*\))$/\1/p' <<<"$verbose")
if [ -z "$REVISION" ] || [ -z "$SOURCE_DATE_EPOCH" ]; then
  echo "image: ${probes[0]} names no revision or source date: not built by 'make dist'" >&2
  exit 1
fi
source_url=${SOURCE_URL:-$(git remote get-url origin 2>/dev/null || echo unknown)}
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
echo "image: flux-operator-mcp $VERSION, revision $REVISION, created $created" >&2

for arch in amd64 arm64; do
  for flavour in default read-only; do
    if [ ! -f "$OUT/$(dist_name "$arch" "$flavour")" ]; then
      echo "image: $OUT/$(dist_name "$arch" "$flavour") is missing: run 'make dist' first" >&2
      exit 1
    fi
  done
done

work=$(mktemp -d "${TMPDIR:-/tmp}/image.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The build context: just the binaries, under the paths the Containerfile names.
mkdir -p "$work/context/dist"
cp "$OUT"/flux-operator-mcp_"${VERSION}"_linux_* "$work/context/dist/"
rm -f "$work/context/dist/"*.cdx.json
buildah=(buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs)

archives=()
for flavour in default read-only; do
  tag=$VERSION suffix=
  if [ "$flavour" = read-only ]; then
    tag=$VERSION-stdio-readonly suffix=_readonly
  fi
  archive="$OUT/flux-operator-mcp-image_${tag}.oci.tar"
  list="localhost/flux-operator-mcp-list:$tag"
  for arch in amd64 arm64; do
    echo "image: building flux-operator-mcp:$tag for linux/$arch" >&2
    "${buildah[@]}" build --quiet --isolation chroot --platform "linux/$arch" --manifest "$list" \
      --timestamp "$SOURCE_DATE_EPOCH" --identity-label=false --omit-history \
      --build-arg VERSION="$VERSION" --build-arg FLAVOUR="$suffix" \
      --build-arg REVISION="$REVISION" --build-arg SOURCE="$source_url" \
      --build-arg CREATED="$created" \
      -f Containerfile "$work/context" >/dev/null
  done
  rm -f "$archive"
  "${buildah[@]}" manifest push --quiet --all --format oci "$list" \
    "oci-archive:$archive:flux-operator-mcp:$tag"
  archives+=("$archive")
done

for archive in "${archives[@]}"; do
  digest=$(tar -xOf "$archive" index.json | python3 -c 'import json, sys; print(json.load(sys.stdin)["manifests"][0]["digest"])')
  size=$(stat -c %s "$archive")
  awk -v s="$size" -v n="$archive" -v d="$digest" \
    'BEGIN { printf "image: %s: %d bytes (%.2f MiB), index %s\n", n, s, s / 1048576, d }'
done
echo "image: built in $((SECONDS - start))s"

if [ "${IMAGE_CHECK:-1}" = 1 ]; then
  apiserver=${TEST_APISERVER:-$(build_apiserver)}
  failed=0
  for archive in "${archives[@]}"; do
    flavour=default
    case "$archive" in *-stdio-readonly.oci.tar) flavour=read-only ;; esac
    for arch in amd64 arm64; do
      python3 tests/scripts/image_run.py "$archive" --arch "$arch" --apiserver "$apiserver" \
        --binary "$OUT/$(dist_name "$arch" "$flavour")" --flavour "$flavour" \
        --version "$VERSION" --revision "$REVISION" --source "$source_url" || failed=1
    done
  done
  [ "$failed" = 0 ] || { echo "image: FAILED: see the FAIL lines above" >&2; exit 1; }
fi
