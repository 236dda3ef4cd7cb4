#!/bin/sh
# A build configured with -DXGATE_VERSION=x.y.z prints x.y.z with --version (what the
# Containerfile's XGATE_VERSION build argument does, where there is no .git to describe), and
# configured again with it empty prints the git description again.
# Usage: version_override_test.sh SOURCE_DIR
set -eu
source_dir=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
launcher=
command -v ccache >/dev/null && launcher=-DCMAKE_CXX_COMPILER_LAUNCHER=ccache
build() {
  cmake -S "$source_dir/tests/cli/version_probe" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    $launcher "-DXGATE_VERSION=$1" >"$dir.log" 2>&1 && cmake --build "$dir" >>"$dir.log" 2>&1 ||
    { cat "$dir.log"; rm -f "$dir.log"; exit 1; }
  rm -f "$dir.log"
}
build 9.8.7-probe
got=$("$dir/version_probe" --version)
[ "$got" = "version_probe 9.8.7-probe" ] || { echo "with -DXGATE_VERSION=9.8.7-probe: got '$got'"; exit 1; }
build ""
got=$("$dir/version_probe" --version)
case "$got" in
  "version_probe 9.8.7-probe" | "version_probe ") echo "with -DXGATE_VERSION= (empty): got '$got'"; exit 1 ;;
esac
echo "ok: 9.8.7-probe, then '$got'"
