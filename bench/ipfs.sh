#!/usr/bin/env bash
# Issue 9's figures: `cat` of 100 MiB through IpfsClient against curl of the same HTTP call, side by side, and
# `cat` of 16 MiB from a C guest through the ipfs capability against IpfsClient directly, on a js-ipfs node
# (tests/interop/ipfs) started here offline in a temporary repo. Options: --mib N --rounds N.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
command -v curl >/dev/null || { echo "error: curl is not on PATH" >&2; exit 1; }
dotnet build -c Release "$root/bench/Wetware.Ipfs.Bench" --nologo -v quiet | { grep -E "error" || true; }
# The SDK's test guest (tests/sdk-guests/e2e.c) for cat through the ipfs capability.
out="$root/bench/Wetware.Ipfs.Bench/bin/Release/net10.0"
dotnet build -c Release "$root/src/Wetware.Capnp.Generator.C" --nologo -v quiet | { grep -E "error" || true; }
CAPNPC_C="$root/src/Wetware.Capnp.Generator.C/bin/Release/net10.0/capnpc-c" bash "$root/guest/sdk/build.sh" "$out/sdk" \
  --schema "$root/tests/sdk-guests/sdktest.capnp" "$root/tests/sdk-guests/e2e.c" >/dev/null

source "$root/bench/ipfs-daemon.sh"
dotnet "$out/Wetware.Ipfs.Bench.dll" --api-url "$ipfs_api_url" --e2e "$out/sdk/e2e.wasm" "$@"
