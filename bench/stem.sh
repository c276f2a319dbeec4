#!/usr/bin/env bash
# Issue 10's indexer figure: the epoch indexer catching up on 10,000 historical HeadUpdated events against a
# real anvil (events per second; only the newest is adopted). Options: --events N.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/contracts/install.sh"
dotnet build -c Release "$root/bench/Wetware.Stem.Bench" --nologo -v quiet | { grep -E "error" || true; }
dotnet "$root/bench/Wetware.Stem.Bench/bin/Release/net10.0/Wetware.Stem.Bench.dll" "$root" "$@"
