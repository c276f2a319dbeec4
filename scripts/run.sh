#!/usr/bin/env bash
# The main job: build the ww tool and run `ww run` with the given arguments.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
dotnet build "$root/src/ww/ww.csproj" -c Release --nologo -v quiet -o "$root/artifacts/ww" >/dev/null
exec "$root/artifacts/ww/ww" run "$@"
