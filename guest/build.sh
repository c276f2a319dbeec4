#!/usr/bin/env bash
# Builds the bundled standard image (@std) into $1/std (default ./build/std), linking our guests against
# the C guest SDK with sdk/build.sh (objects and generated code under $1/sdk):
#   kernel/       (several .c files)  -> std/boot/main.wasm   the standard kernel, pid0 (spec/shell.md)
#   commands/<cmd>.c                  -> std/bin/<cmd>.wasm   the standard commands
# Incremental: sdk/build.sh rebuilds only what changed, and a module is copied into std/ only when it differs.
# CAPNPC_C names the capnpc-c plugin (else sdk/build.sh builds it with dotnet).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/build}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
if ! command -v clang-14 >/dev/null; then
  echo "guest/build.sh: clang-14 is missing (run scripts/install-deps.sh, or apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32)" >&2
  exit 1
fi
bins=("$here"/commands/*.c)
"$here/sdk/build.sh" "$out/sdk" "$here/kernel/" "${bins[@]}" >/dev/null
install_if_changed() { # install_if_changed <built> <destination>
  mkdir -p "$(dirname "$2")"
  if ! cmp -s "$1" "$2"; then
    cp "$1" "$2.tmp.$$"
    mv "$2.tmp.$$" "$2"
  else
    touch "$2" # up to date: newer than its inputs, for MSBuild's Inputs/Outputs check
  fi
}
install_if_changed "$out/sdk/kernel.wasm" "$out/std/boot/main.wasm"
for src in "${bins[@]}"; do
  name="$(basename "$src" .c)"
  install_if_changed "$out/sdk/$name.wasm" "$out/std/bin/$name.wasm"
done
echo "$out"
