#!/usr/bin/env bash
# Issue 6's figures: the epoch guard's cost per call (guarded vs unguarded echo, side by side),
# spawn+wait of a trivial child guest per second over RPC, and guest->host echo calls per second (a C
# guest built with the SDK) against the same echo C# to C# over an in-memory pipe. Options: --seconds S.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
dotnet build -c Release "$root/bench/Wetware.Host.Bench" --nologo -v quiet | { grep -E "error" || true; }
out="$root/bench/Wetware.Host.Bench/bin/Release/net10.0"
bash "$root/tests/guests/build.sh" "$out/guests" >/dev/null
# The SDK's echo guest (tests/sdk-guests/e2e.c), with capnpc-c built by the bench's own build.
dotnet build -c Release "$root/src/Wetware.Capnp.Generator.C" --nologo -v quiet | { grep -E "error" || true; }
CAPNPC_C="$root/src/Wetware.Capnp.Generator.C/bin/Release/net10.0/capnpc-c" bash "$root/guest/sdk/build.sh" "$out/sdk" \
  --schema "$root/tests/sdk-guests/sdktest.capnp" "$root/tests/sdk-guests/e2e.c" >/dev/null
dotnet "$out/Wetware.Host.Bench.dll" "$@"
