#!/usr/bin/env bash
# Benchmarks Wetware.Capnp side by side with the C++ reference (Debian's libcapnp) and prints
# each of our times as a ratio to C++. Pass --quick for a shorter BenchmarkDotNet job.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
dotnet run -c Release --project "$root/bench/Wetware.Capnp.Bench" -- "$@"
