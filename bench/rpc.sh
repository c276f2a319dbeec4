#!/usr/bin/env bash
# Benchmarks Wetware.Capnp.Rpc against the C++ reference (Debian's libcapnp): echo over loopback
# TCP for every client/server pair, one call and 100 calls in flight, and our in-process round
# trip; prints calls per second, ratios to C++ and the issue's goals.
# Options: --seconds S (per mode, default 2), --warmup S (0.5), --rounds N (pairs take turns N times;
# medians are printed; 3), --in-flight N (100), --calls N (in-process calls, 100000),
# --pairs oo,oc,co (a subset by client/server initials; C++ -> C++ always runs), --no-in-process,
# --alloc-profile (only the in-process run, with the types allocated per call, sampled).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
dotnet run -c Release --project "$root/bench/Wetware.Capnp.Rpc.Bench" -- "$@"
