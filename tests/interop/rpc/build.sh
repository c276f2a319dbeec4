#!/usr/bin/env bash
# Builds the C++ interop server and client from source with Debian's libcapnp-dev into $1 (default ./build).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/build}"
mkdir -p "$out"
capnp compile --src-prefix="$here" -oc++:"$out" "$here/interop.capnp"
for prog in interop_server interop_client; do
  g++ -std=c++17 -O1 -I"$out" "$here/$prog.cpp" "$out/interop.capnp.c++" -o "$out/$prog" $(pkg-config --cflags --libs capnp-rpc)
done
echo "$out"
