# Shared by the release scripts (dist.sh, dist-verify.sh, static-readonly.sh, image.sh); sourced,
# not run. Names the release targets and files, installs the tools a release build needs, and
# sets the environment that makes a build reproducible.

# Release architectures, in Go/OCI spelling as the file names use them, and their Rust targets.
triple_of() {
  case "$1" in
    amd64) echo x86_64-unknown-linux-musl ;;
    arm64) echo aarch64-unknown-linux-musl ;;
    *) echo "dist: unknown architecture $1 (amd64 or arm64)" >&2; return 1 ;;
  esac
}

# flux-operator-mcp_<version>_linux_<arch>[_readonly]
dist_name() {
  local arch=$1 flavour=$2 suffix=
  [ "$flavour" = read-only ] && suffix=_readonly
  echo "flux-operator-mcp_${VERSION}_linux_${arch}${suffix}"
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "dist: need root to run: $*" >&2; return 1
  fi
}

# apt_need COMMAND PACKAGE...: install the Debian packages when COMMAND is missing.
apt_need() {
  local cmd=$1
  shift
  command -v "$cmd" >/dev/null && return 0
  echo "dist: installing $* (for $cmd)" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# ensure_toolchain ARCH...: the rustup targets and the C cross tools ring needs. The Rust
# self-contained musl (crt objects and libc) comes with the rustup target; the C compiler only
# builds ring's C and assembly and drives the link.
ensure_toolchain() {
  local arch triple
  for arch in "$@"; do
    triple=$(triple_of "$arch")
    if ! rustup target list --installed | grep -qx "$triple"; then
      echo "dist: installing the rustup target $triple" >&2
      rustup target add "$triple"
    fi
    case "$arch" in
      amd64) apt_need musl-gcc musl-tools ;;
      arm64)
        apt_need aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
        apt_need qemu-aarch64-static qemu-user-static
        ;;
    esac
  done
  apt_need python3 python3
}

# dist_env: VERSION, REVISION and SOURCE_DATE_EPOCH (from git unless given), and the compiler
# environment of a reproducible release build:
# - every local path the compiler could record (this checkout, CARGO_HOME, the target dir) is
#   remapped to a fixed name, so the folder a build runs in does not reach the binary;
# - the flags are exactly ours (CARGO_ENCODED_RUSTFLAGS wins over RUSTFLAGS and cargo config);
# - the lock file is used as committed (--locked, in build_one).
dist_env() {
  VERSION=${VERSION:-$(python3 -c 'import tomllib; print(tomllib.load(open("Cargo.toml", "rb"))["package"]["version"])')}
  if [ -z "${REVISION:-}" ]; then
    if git rev-parse --verify -q HEAD >/dev/null 2>&1; then
      REVISION=$(git rev-parse HEAD)
      # A build of uncommitted changes says so: it is not a build of that commit. Untracked
      # files count where the build reads them (a new corpus document changes the binary);
      # elsewhere (a test's scratch output, an editor's file) they do not.
      if [ -n "$(git status --porcelain --untracked-files=no)" ] ||
         [ -n "$(git status --porcelain --untracked-files=all -- src build.rs Cargo.toml Cargo.lock)" ]; then
        REVISION="$REVISION-dirty"
      fi
    else
      echo "dist: not a git checkout: set REVISION and SOURCE_DATE_EPOCH" >&2
      return 1
    fi
  fi
  if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git log -1 --format=%ct HEAD)
  fi
  export VERSION REVISION SOURCE_DATE_EPOCH
  export FLUX_OPERATOR_MCP_VERSION=$VERSION FLUX_OPERATOR_MCP_REVISION=$REVISION

  local src cargo_home target_dir
  src=$(pwd -P)
  cargo_home=$(cd "${CARGO_HOME:-$HOME/.cargo}" && pwd -P)
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$src/target/dist}
  mkdir -p "$CARGO_TARGET_DIR"
  target_dir=$(cd "$CARGO_TARGET_DIR" && pwd -P)
  # rustc applies the last matching remap: the target dir (often inside the checkout) last.
  local flags=(
    "--remap-path-prefix=$src=/src"
    "--remap-path-prefix=$cargo_home=/cargo"
    "--remap-path-prefix=$target_dir=/target"
  )
  CARGO_ENCODED_RUSTFLAGS=$(IFS=$'\x1f'; echo "${flags[*]}")
  export CARGO_ENCODED_RUSTFLAGS
  unset RUSTFLAGS
  # The same for ring's C and assembly (no debug info is built, but __FILE__ could appear).
  local cflags="-ffile-prefix-map=$src=/src -ffile-prefix-map=$cargo_home=/cargo -ffile-prefix-map=$target_dir=/target"
  export CFLAGS_x86_64_unknown_linux_musl=$cflags CFLAGS_aarch64_unknown_linux_musl=$cflags
  # Named explicitly (the cc crate's default for x86_64 musl is the same musl-gcc) so that
  # `version --verbose` records which C compiler built ring.
  export CC_x86_64_unknown_linux_musl=musl-gcc
  # arm64: Debian's cross gcc compiles ring and links against Rust's self-contained musl.
  export CC_aarch64_unknown_linux_musl=aarch64-linux-gnu-gcc
  export AR_aarch64_unknown_linux_musl=aarch64-linux-gnu-ar
  export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=aarch64-linux-gnu-gcc
  # For dist.sh: binary_check.py fails a binary that contains either path.
  # shellcheck disable=SC2034
  DIST_SRC=$src DIST_CARGO_HOME=$cargo_home
}

# build_one ARCH FLAVOUR OUT: one release binary, copied to OUT.
build_one() {
  local arch=$1 flavour=$2 out=$3 triple features=()
  triple=$(triple_of "$arch")
  [ "$flavour" = read-only ] && features=(--no-default-features)
  echo "dist: building $(basename "$out") ($triple, $flavour)" >&2
  cargo build --quiet --locked --release --target "$triple" "${features[@]}"
  cp "$CARGO_TARGET_DIR/$triple/release/flux-operator-mcp" "$out"
  chmod 0755 "$out"
}

# The host's test API server, built without the release flags (it runs natively, it is not
# shipped, and sharing target/ with `make conformance` avoids building it twice).
build_apiserver() {
  (
    unset CARGO_ENCODED_RUSTFLAGS CARGO_TARGET_DIR FLUX_OPERATOR_MCP_VERSION \
      FLUX_OPERATOR_MCP_REVISION SOURCE_DATE_EPOCH
    cargo build --quiet --release --example test-apiserver
  )
  echo "$PWD/target/release/examples/test-apiserver"
}
