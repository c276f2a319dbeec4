#!/usr/bin/env bash
# Builds the C++ RPC benchmark programs (echo server and client) with Debian's libcapnp-dev
# into $1 (default: a directory under /tmp). Prints the output directory last.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-${TMPDIR:-/tmp}/wetware-rpcbench-cpp}"
mkdir -p "$out"
capnp compile -I"$here/../../schema" --src-prefix="$here/../schema" -oc++:"$out" "$here/../schema/rpcbench.capnp"
for prog in echo_server echo_client; do
  g++ -std=c++17 -O2 -DNDEBUG -I"$out" "$here/$prog.cpp" "$out/rpcbench.capnp.c++" -o "$out/$prog" \
    $(pkg-config --cflags --libs capnp-rpc)
done
echo "$out"
