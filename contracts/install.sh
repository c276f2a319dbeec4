#!/usr/bin/env bash
# Installs the pinned npm packages of the contracts toolchain, solc-js and anvil (package-lock.json, `npm ci`), only when
# node_modules is missing or was installed from another lockfile. Called by scripts/install-deps.sh and by the
# contracts build target (Contracts.targets), so either order works and a second call costs nothing.
set -euo pipefail
cd "$(dirname "$0")"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "error: $tool is not on PATH (scripts/install-deps.sh installs Node.js)" >&2
    exit 1
  fi
done

stamp=node_modules/.ww-lock-sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
# Two test processes may start at once; one installs, the other waits and then finds the stamp.
exec 9>.install.lock
flock 9
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error >&2
echo "$want" >"$stamp"
