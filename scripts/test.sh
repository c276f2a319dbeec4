#!/usr/bin/env bash
# Every test: installs what is needed, builds the solution (warnings are
# errors), runs every test project, and prints the runner's totals.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/scripts/install-deps.sh" || exit 1
dotnet build Wetware.slnx -c Release --nologo -v quiet --no-restore || exit 1

results="$root/artifacts/test-results"
rm -rf "$results"
mkdir -p "$results"
dotnet test Wetware.slnx -c Release --no-build --nologo \
  --logger "trx" --results-directory "$results" "$@"
status=$?

# One closing line for the whole run, summed over every test assembly's TRX.
passed=0; failed=0; skipped=0
for f in "$results"/*.trx; do
  [ -e "$f" ] || continue
  line=$(grep -o '<Counters [^>]*>' "$f" | head -n1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$line")
  fl=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$line")
  t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$line")
  e=$(sed -n 's/.* executed="\([0-9]*\)".*/\1/p' <<<"$line")
  passed=$((passed + ${p:-0})); failed=$((failed + ${fl:-0})); skipped=$((skipped + ${t:-0} - ${e:-0}))
done
echo "Totals: $passed passed, $failed failed, $skipped skipped"
if [ "$status" -eq 0 ] && [ "$passed" -eq 0 ]; then
  echo "error: no test ran" >&2
  exit 1
fi
exit "$status"
