#!/usr/bin/env bash
# `make dist`: the release files, in dist/:
#   flux-operator-mcp_<version>_linux_<amd64|arm64>[_readonly]   static, stripped binaries
#   <each binary>.cdx.json                                       its CycloneDX SBOM (sbom.py)
#   SHA256SUMS                                                   sha256sum of all of the above
# then checks every binary (binary_check.py: static, stripped, no local paths, version texts,
# docs search, MCP over stdio, a tool call against the test API server; arm64 under qemu) and
# validates the SBOMs against the CycloneDX schema.
#
# Reproducible: see dist_env in dist-lib.sh; `make dist-verify` proves it (two clean builds).
#
# Environment: VERSION (default: Cargo.toml's), REVISION and SOURCE_DATE_EPOCH (default: from
# git), DIST_DIR (dist), DIST_ARCHES ("amd64 arm64"), DIST_CHECK (1; 0 skips the checks),
# SBOM_VALIDATE (auto: validate when the validator can be installed from PyPI; 1: must; 0: skip),
# TEST_APISERVER (default: built with cargo).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/scripts/dist-lib.sh
# Byte order for globs and sorting: SHA256SUMS must not depend on the builder's locale.
export LC_ALL=C

OUT=${DIST_DIR:-dist}
ARCHES=${DIST_ARCHES:-amd64 arm64}
start=$SECONDS

# shellcheck disable=SC2086
ensure_toolchain $ARCHES
dist_env
echo "dist: flux-operator-mcp $VERSION, revision $REVISION, SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"

rm -rf "$OUT"
mkdir -p "$OUT"
flavour_of=()
arch_of=()
names=()
for arch in $ARCHES; do
  for flavour in default read-only; do
    name=$(dist_name "$arch" "$flavour")
    build_one "$arch" "$flavour" "$OUT/$name"
    python3 tests/scripts/sbom.py --binary "$OUT/$name" --target "$(triple_of "$arch")" \
      --version "$VERSION" --flavour "$flavour" --out "$OUT/$name.cdx.json"
    names+=("$name")
    flavour_of+=("$flavour")
    arch_of+=("$arch")
  done
done
built=$((SECONDS - start))
(cd "$OUT" && sha256sum -- flux-operator-mcp_* > SHA256SUMS)

failed=0
if [ "${DIST_CHECK:-1}" = 1 ]; then
  # The SBOM schema check needs the official validator from PyPI, kept in build/.
  validator=build/sbom-venv
  case "${SBOM_VALIDATE:-auto}" in
    0) echo "dist: SBOM schema validation skipped (SBOM_VALIDATE=0)" ;;
    *)
      if [ ! -x "$validator/bin/python" ] || ! "$validator/bin/python" -c 'import cyclonedx.validation.json' 2>/dev/null; then
        rm -rf "$validator"
        if ! { python3 -m venv "$validator" &&
               "$validator/bin/pip" install --quiet --disable-pip-version-check \
                 'cyclonedx-python-lib[json-validation]==11.12.0'; }; then
          rm -rf "$validator"
          if [ "${SBOM_VALIDATE:-auto}" = 1 ]; then
            echo "dist: cannot install cyclonedx-python-lib to validate the SBOMs" >&2
            exit 1
          fi
          echo "dist: WARNING: SBOMs not validated (cyclonedx-python-lib could not be installed; offline?)" >&2
        fi
      fi
      if [ -x "$validator/bin/python" ]; then
        "$validator/bin/python" tests/scripts/sbom.py --validate "$OUT"/*.cdx.json || failed=1
      fi
      ;;
  esac

  apiserver=${TEST_APISERVER:-$(build_apiserver)}
  for i in "${!names[@]}"; do
    # The C compiler dist_env named for this target (CC_<triple>).
    cc_var=CC_$(triple_of "${arch_of[$i]}" | tr - _)
    python3 tests/scripts/binary_check.py "$OUT/${names[$i]}" --apiserver "$apiserver" \
      --cc "${!cc_var}" \
      --version "$VERSION" --flavour "${flavour_of[$i]}" --revision "$REVISION" \
      --source-date-epoch "$SOURCE_DATE_EPOCH" \
      --forbid-path "$DIST_SRC" --forbid-path "$DIST_CARGO_HOME" || failed=1
  done
fi

echo
for name in "${names[@]}"; do
  size=$(stat -c %s "$OUT/$name")
  awk -v s="$size" -v n="$name" 'BEGIN { printf "dist: %-45s %9d bytes (%.2f MiB)\n", n, s, s / 1048576 }'
done
echo "dist: built in ${built}s, with checks $((SECONDS - start))s; checksums in $OUT/SHA256SUMS"
if [ "$failed" != 0 ]; then
  echo "dist: FAILED: see the FAIL lines above" >&2
  exit 1
fi
