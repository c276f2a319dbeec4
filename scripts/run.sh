#!/usr/bin/env bash
# The main job: build the ww tool (and the bundled image) and run `ww run` with the given arguments.
# With no arguments, ww boots the bundled standard image (@std).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
mkdir -p "$root/artifacts"
log="$root/artifacts/ww-build.log"
if ! dotnet build "$root/src/ww/ww.csproj" -c Release --nologo -o "$root/artifacts/ww" >"$log" 2>&1; then
  grep -E "error|Error" "$log" | sort -u | head -20 >&2
  echo "run.sh: building ww failed (full log: $log)" >&2
  exit 1
fi
exec "$root/artifacts/ww/ww" run "$@"
