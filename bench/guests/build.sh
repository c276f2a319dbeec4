#!/usr/bin/env bash
# Builds the benchmark's C guests (one .wasm per .c) into $1 (default ./build) with Debian's clang-14 and
# wasi-libc. Incremental: a guest is rebuilt only when its source or this script is newer than it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/build}"
mkdir -p "$out"
cc=(clang-14 --target=wasm32-wasi -O2 -Wall -Werror -Wl,--strip-all)
for src in "$here"/*.c; do
  dst="$out/$(basename "$src" .c).wasm"
  if [ ! -f "$dst" ] || [ "$src" -nt "$dst" ] || [ "$here/build.sh" -nt "$dst" ]; then
    "${cc[@]}" "$src" -o "$dst.tmp.$$"
    mv "$dst.tmp.$$" "$dst"
  fi
done
echo "$out"
