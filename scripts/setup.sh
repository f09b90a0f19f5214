# Sourced by the scripts that install what they need: Debian packages and the
# Python build tools, each only when missing.

# Debian packages, each installed when the command (or absolute path) it
# provides is missing:
#   apt_for COMMAND:PACKAGE /PATH:PACKAGE ...
apt_for() {
  local missing="" pair wanted
  for pair in "$@"; do
    wanted=${pair%%:*}
    if [[ $wanted == /* ]]; then [ -e "$wanted" ]; else command -v "$wanted" >/dev/null; fi \
      || missing="$missing ${pair#*:}"
  done
  if [ -n "$missing" ]; then
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    # shellcheck disable=SC2086 # one word per package
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
  fi
}

# maturin, ziglang (zig for manylinux2014, musl and cross links:
# scripts/zig-cc) and auditwheel from PyPI, in target/python-tools.
python_tools() {
  local tools=target/python-tools
  if ! "$tools/bin/python" -c "import ziglang" 2>/dev/null || [ ! -x "$tools/bin/maturin" ] \
    || [ ! -x "$tools/bin/auditwheel" ]; then
    python3 -m venv "$tools"
    "$tools/bin/pip" install --quiet 'maturin>=1.9.4,<2' ziglang 'auditwheel>=6'
  fi
}

# Point cargo and cc-rs at zig for one Linux target (scripts/zig-cc, which
# needs python_tools): the linker, and the C compiler of crates that build C
# (ring). A wrapper per target in target/zig, since cargo takes a linker
# without arguments.
#   use_zig RUST_TARGET ZIG_TARGET    e.g. aarch64-unknown-linux-gnu aarch64-linux-gnu.2.17
use_zig() {
  local target=$1 zig_target=$2 wrapper="$PWD/target/zig/$1" var=${1//-/_}
  mkdir -p target/zig
  printf '#!/bin/sh\nexec "%s/scripts/zig-cc" %s "$@"\n' "$PWD" "$zig_target" >"$wrapper"
  chmod +x "$wrapper"
  export "CARGO_TARGET_${var^^}_LINKER=$wrapper" "CC_$var=$wrapper" "AR_$var=ar"
}

# Lint every workspace crate as it is compiled: `cargo clippy` is `cargo
# check` with clippy-driver (rustc plus the lints) as the workspace's
# compiler (RUSTC_WORKSPACE_WRAPPER) and its flags in CLIPPY_ARGS; set here
# for real builds, it gives the lints of `cargo clippy -- -D warnings` with
# no second compilation of the dependencies in check mode (cargo never
# shares checked and built crates). Every cargo command of a script must
# run with it, or it compiles the workspace's crates again.
lint_while_building() {
  RUSTC_WORKSPACE_WRAPPER=$(rustup which clippy-driver)
  export RUSTC_WORKSPACE_WRAPPER
  export CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
}

# The test build: the release profile optimised at level 1, without LTO and
# in cargo's 16 codegen units (build scripts and proc macros keep cargo's
# level 0), for every cargo command of a script and the ones maturin runs.
# The tests ask what the code does, not how fast. The components keep their
# own profile (`guest`, level 3). `cargo build --release` outside the test
# scripts, scripts/release and bench/run.py build at level 3 with LTO (and
# so compile again).
test_build() {
  export CARGO_PROFILE_RELEASE_OPT_LEVEL=1
  export CARGO_PROFILE_RELEASE_LTO=false
  export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
}

# Whether Debian packages can be installed without a password prompt (as
# root, or with sudo that asks for none): only then in the background.
apt_unattended() {
  [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null
}
