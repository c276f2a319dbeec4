#!/usr/bin/env bash
# Every test: installs what is needed, builds the solution (warnings are
# errors), runs every test project, and prints the runner's totals.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/scripts/install-deps.sh" || exit 1
dotnet build Wetware.slnx -c Release --nologo -v quiet --no-restore || exit 1

log="$root/artifacts/test-output.log"
mkdir -p "$(dirname "$log")"
dotnet test Wetware.slnx -c Release --no-build --nologo "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# One closing line for the whole run, summed over each test assembly's summary line
# ("Passed!  - Failed: F, Passed: P, Skipped: S, Total: T, ...").
read -r passed failed skipped < <(
  grep -E '^(Passed|Failed)! +- Failed: +[0-9]+, Passed: +[0-9]+, Skipped: +[0-9]+' "$log" |
    sed -E 's/.*Failed: +([0-9]+), Passed: +([0-9]+), Skipped: +([0-9]+).*/\1 \2 \3/' |
    awk '{f+=$1; p+=$2; s+=$3} END {print p+0, f+0, s+0}')
echo "Totals: $passed passed, $failed failed, $skipped skipped"
if [ "$status" -eq 0 ] && [ "$passed" -eq 0 ]; then
  echo "error: no test ran" >&2
  exit 1
fi
exit "$status"
