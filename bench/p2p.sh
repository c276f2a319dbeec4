#!/usr/bin/env bash
# Benchmarks Wetware.P2p on loopback against js-libp2p (tests/interop/libp2p-js/peer.mjs, the interop peer):
# one stream's echo throughput (our node -> our node vs js -> js, wall clock and CPU time per GiB), ping round
# trip p50 (the libp2p ping protocol repeated on one stream, as the ping spec has it, which issue 8's goal of at
# most 2x raw TCP is judged on; libp2p ping on a new stream each; both ours and js; raw TCP ping-pong in C#) and
# full dial p50 (TCP + Noise + Yamux, ours and js; then identify, ours). Prints the figures and the ratios.
# Options: --mib N (stream size, 256), --pings N (2000), --dials N (200), --window-kib N (our nodes' Yamux
# receive window per stream, 256), --no-js (ours only).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [[ " $* " != *" --no-js "* ]]; then
  "$root/tests/interop/libp2p-js/install.sh"
fi
dotnet run -c Release --project "$root/bench/Wetware.P2p.Bench" -- "$@"
