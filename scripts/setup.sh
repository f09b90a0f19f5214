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
