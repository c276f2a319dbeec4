#!/usr/bin/env bash
# Builds the C test guests (one .wasm per .c) into $1 (default ./build) with Debian's clang-14 and wasi-libc.
# Incremental: a guest is rebuilt only when its source or this script is newer than it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/build}"
mkdir -p "$out"
cc=(clang-14 --target=wasm32-wasi -O2 -Wall -Werror)
build() { # build <source> <output> <flags...>
  local src="$1" dst="$2"; shift 2
  if [ ! -f "$dst" ] || [ "$src" -nt "$dst" ] || [ "$here/build.sh" -nt "$dst" ]; then
    "${cc[@]}" "$@" "$src" -o "$dst.tmp.$$"
    mv "$dst.tmp.$$" "$dst"
  fi
}
for src in "$here"/*.c; do
  name="$(basename "$src" .c)"
  build "$src" "$out/$name.wasm" -Wl,--strip-all
done
# The trap guest once more with DWARF, for backtraces with source lines (--wasm-debug).
build "$here/trap.c" "$out/trap-debug.wasm" -g -O0
echo "$out"
