#!/usr/bin/env bash
# Benchmarks cells (Wetware.Cells) against Wasmtime's built-in WASI in the same process: start to exit of a
# hello guest, reading a 64 MiB image file through fd_read against File.ReadAllBytes, and starts per
# second with 64 guests in flight; prints figures, ratios and the issue's goals.
# Options: --quick, --starts N (per round and side, 2000), --rounds N (3), --reads N (7), --file-mib N (64),
# --parallel N (64), --seconds S (3), --guests DIR (prebuilt guests; this script builds them).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
guests="$("$root/bench/guests/build.sh" "$root/bench/guests/build")"
dotnet run -c Release --project "$root/bench/Wetware.Cells.Bench" -- --guests "$guests" "$@"
