#!/usr/bin/env bash
# Builds the C++ reference benchmark with Debian's capnp and libcapnp-dev into bench/cpp/build.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/build"
mkdir -p "$out"
capnp compile -I"$here/../../schema" --src-prefix="$here/../schema" -oc++:"$out" "$here/../schema/bench.capnp"
g++ -std=c++17 -O2 -DNDEBUG -I"$out" "$here/capnp_bench.cpp" "$out/bench.capnp.c++" -o "$out/capnp_bench" \
  $(pkg-config --cflags --libs capnp)
echo "$out/capnp_bench"
