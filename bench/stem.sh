#!/usr/bin/env bash
# Issue 10's figures, each against a real anvil: (1) the epoch indexer catching up on 10,000 historical
# HeadUpdated events (events per second; only the newest is adopted); (2) `ww run --stem` on a js-ipfs node
# (tests/interop/ipfs, started here offline): the time from the block that makes a setHead final to the new
# pid0's first graft answered, p50 over 20 updates (issue 10's goal: under 500 ms).
# Options: --events N (catch-up), --updates N (latency), --depth N (latency's confirmation depth, 2).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/contracts/install.sh"
dotnet build -c Release "$root/bench/Wetware.Stem.Bench" --nologo -v quiet | { grep -E "error" || true; }
out="$root/bench/Wetware.Stem.Bench/bin/Release/net10.0"
dotnet "$out/Wetware.Stem.Bench.dll" "$root" catch-up "$@"
# pid0 of the latency run: tests/guests/sdk/stemprobe.c, which grafts and says so.
CAPNPC_C="$root/src/Wetware.Capnp.Generator.C/bin/Release/net10.0/capnpc-c" bash "$root/guest/sdk/build.sh" "$out/sdk" \
  "$root/tests/guests/sdk/stemprobe.c" >/dev/null
source "$root/bench/ipfs-daemon.sh"
dotnet "$out/Wetware.Stem.Bench.dll" "$root" latency --ipfs-url "$ipfs_api_url" --probe "$out/sdk/stemprobe.wasm" "$@"
