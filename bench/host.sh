#!/usr/bin/env bash
# Issue 6's host-side figures: the epoch guard's cost per call (guarded vs unguarded echo, side by
# side) and spawn+wait of a trivial child guest per second over RPC. Options: --seconds S.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
dotnet build -c Release "$root/bench/Wetware.Host.Bench" --nologo -v quiet | { grep -E "error" || true; }
out="$root/bench/Wetware.Host.Bench/bin/Release/net10.0"
bash "$root/tests/guests/build.sh" "$out/guests" >/dev/null
dotnet "$out/Wetware.Host.Bench.dll" "$@"
