#!/usr/bin/env bash
# Builds our guests with Debian's clang-14 and wasi-libc (WASI preview1) into $1 (default ./build):
# the bundled standard image at $1/std (every std/**/*.c becomes the .wasm beside it).
# Incremental: a module is rebuilt only when its source or this script is newer than it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/build}"
if ! command -v clang-14 >/dev/null; then
  echo "guest/build.sh: clang-14 is missing (run scripts/install-deps.sh, or apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32)" >&2
  exit 1
fi
cc=(clang-14 --target=wasm32-wasi -O2 -Wall -Werror -Wl,--strip-all)
while IFS= read -r -d '' src; do
  rel="${src#"$here/std/"}"
  dst="$out/std/${rel%.c}.wasm"
  mkdir -p "$(dirname "$dst")"
  if [ ! -f "$dst" ] || [ "$src" -nt "$dst" ] || [ "$here/build.sh" -nt "$dst" ]; then
    "${cc[@]}" "$src" -o "$dst.tmp.$$"
    mv "$dst.tmp.$$" "$dst"
  fi
done < <(find "$here/std" -name '*.c' -print0)
echo "$out"
