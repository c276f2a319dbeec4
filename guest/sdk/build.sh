#!/usr/bin/env bash
# Builds the C guest SDK with Debian's clang-14 and wasi-libc (WASI preview1):
#   1. generates C readers and builders with capnpc-c from schema/*.capnp and rpc.capnp into OUT/gen,
#   2. compiles the runtime (guest/sdk/src) and the generated code into OUT/obj,
#   3. links every guest/sdk/examples/*.c into OUT/examples/<name>.wasm,
#   4. and links each extra GUEST.c given into OUT/<name>.wasm, and each GUEST directory given (a
#      guest made of several files: every .c in it, its .h files as dependencies) into OUT/<dir>.wasm.
#
#   guest/sdk/build.sh [OUT] [--schema FILE.capnp]... [--import DIR]... [GUEST.c | GUEST/]...
#
# --schema generates C for more schemas (their .c is linked into the extra guests); --import adds
# an import path for them. CAPNPC_C names the plugin; without it the plugin is built with dotnet.
# CFLAGS_EXTRA adds compiler flags; WW_GUEST_DEBUG=1 builds with DWARF and does not strip. Incremental: an object or module is rebuilt only when something
# it depends on (its source, the SDK headers, the generated code, this script) is newer.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$here/build"
if [ $# -gt 0 ] && [[ "$1" != --* ]] && [[ "$1" != *.c ]] && [[ "$1" != */ ]]; then out="$1"; shift; fi
mkdir -p "$out"
out="$(cd "$out" && pwd)"
schemas=() imports=() guests=()
while [ $# -gt 0 ]; do
  case "$1" in
    --schema) schemas+=("$(realpath "$2")"); shift 2 ;;
    --import) imports+=("--import-path=$(realpath "$2")"); shift 2 ;;
    *) guests+=("$(realpath "$1")"); shift ;;
  esac
done

for tool in clang-14 capnp; do
  if ! command -v "$tool" >/dev/null; then
    echo "guest/sdk/build.sh: $tool is missing (run scripts/install-deps.sh)" >&2
    exit 1
  fi
done

plugin="${CAPNPC_C:-}"
if [ -z "$plugin" ]; then
  dotnet build "$root/src/Wetware.Capnp.Generator.C/Wetware.Capnp.Generator.C.csproj" -c Release --nologo -v quiet >&2
  plugin="$root/src/Wetware.Capnp.Generator.C/bin/Release/net10.0/capnpc-c"
fi

# ---- 1. generated code ----------------------------------------------------------------------
gen="$out/gen"
mkdir -p "$gen"
stamp="$gen/.stamp"
newer() { # newer <target> <inputs...>: true when target is missing or an input is newer
  local t="$1"; shift
  [ -e "$t" ] || return 0
  local f
  for f in "$@"; do [ "$f" -nt "$t" ] && return 0; done
  return 1
}
ours=("$root"/schema/system.capnp "$root"/schema/stem.capnp "$root"/schema/ipfs.capnp)
if newer "$stamp" "${ours[@]}" /usr/include/capnp/rpc.capnp "$plugin" "$here/build.sh" ${schemas[@]+"${schemas[@]}"}; then
  capnp compile --import-path="$root/schema" --src-prefix="$root/schema" -o"$plugin:$gen" "${ours[@]}"
  capnp compile --src-prefix=/usr/include/capnp -o"$plugin:$gen" /usr/include/capnp/rpc.capnp
  for s in ${schemas[@]+"${schemas[@]}"}; do
    capnp compile --import-path="$root/schema" ${imports[@]+"${imports[@]}"} --src-prefix="$(dirname "$s")" -o"$plugin:$gen" "$s"
  done
  touch "$stamp"
fi

# ---- 2. objects -------------------------------------------------------------------------------
cc=(clang-14 --target=wasm32-wasi -O2 -std=c11 -Wall -Wextra -Werror -I"$here/include" -I"$gen" ${CFLAGS_EXTRA:-})
strip=(-Wl,--strip-all)
if [ "${WW_GUEST_DEBUG:-}" = 1 ]; then cc+=(-g); strip=(); fi
obj="$out/obj"
mkdir -p "$obj"
headers=("$here"/include/*.h "$gen"/*.h "$here/build.sh")
compile() { # compile <source> <object>
  if newer "$2" "$1" "${headers[@]}"; then
    "${cc[@]}" -c "$1" -o "$2.tmp.$$"
    mv "$2.tmp.$$" "$2"
  fi
}
sdk_objs=()
for src in "$here"/src/*.c "$gen"/system.capnp.c "$gen"/stem.capnp.c "$gen"/ipfs.capnp.c "$gen"/rpc.capnp.c; do
  o="$obj/$(basename "$src" .c).o"
  compile "$src" "$o"
  sdk_objs+=("$o")
done
extra_objs=()
for s in ${schemas[@]+"${schemas[@]}"}; do
  src="$gen/$(basename "$s").c"
  o="$obj/$(basename "$src" .c).o"
  compile "$src" "$o"
  extra_objs+=("$o")
done

# ---- 3./4. guests -------------------------------------------------------------------------------
link() { # link <source> <module> <objects...>
  local src="$1" dst="$2"; shift 2
  if newer "$dst" "$src" "$@" "${headers[@]}"; then
    "${cc[@]}" ${strip[@]+"${strip[@]}"} "$src" "$@" -o "$dst.tmp.$$"
    mv "$dst.tmp.$$" "$dst"
  fi
}
mkdir -p "$out/examples"
for src in "$here"/examples/*.c; do
  [ -e "$src" ] || continue
  link "$src" "$out/examples/$(basename "$src" .c).wasm" "${sdk_objs[@]}"
done
for src in ${guests[@]+"${guests[@]}"}; do
  if [ -d "$src" ]; then
    # A guest directory: its objects go to OUT/obj/<dir>/, rebuilt when a source or one of its headers moves.
    name="$(basename "$src")"
    mkdir -p "$obj/$name"
    own_headers=("$src"/*.h)
    [ -e "${own_headers[0]}" ] || own_headers=()
    guest_objs=()
    for c in "$src"/*.c; do
      o="$obj/$name/$(basename "$c" .c).o"
      if newer "$o" "$c" ${own_headers[@]+"${own_headers[@]}"} "${headers[@]}"; then
        "${cc[@]}" -c "$c" -o "$o.tmp.$$"
        mv "$o.tmp.$$" "$o"
      fi
      guest_objs+=("$o")
    done
    dst="$out/$name.wasm"
    if newer "$dst" "${guest_objs[@]}" "${sdk_objs[@]}" ${extra_objs[@]+"${extra_objs[@]}"} "$here/build.sh"; then
      "${cc[@]}" ${strip[@]+"${strip[@]}"} "${guest_objs[@]}" "${sdk_objs[@]}" ${extra_objs[@]+"${extra_objs[@]}"} -o "$dst.tmp.$$"
      mv "$dst.tmp.$$" "$dst"
    fi
    continue
  fi
  link "$src" "$out/$(basename "$src" .c).wasm" "${sdk_objs[@]}" ${extra_objs[@]+"${extra_objs[@]}"}
done
echo "$out"
