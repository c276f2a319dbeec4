#!/usr/bin/env bash
# npm-ci.sh DIR: installs DIR's pinned npm packages (its package-lock.json, `npm ci`) only when node_modules is
# missing or was installed from another lockfile, so a second call costs nothing. Two processes may call it at
# once: one installs, the other waits on the lock and then finds the stamp. The install.sh of each npm folder
# (contracts/, tests/interop/*) calls it.
set -euo pipefail
cd "$1"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "error: $tool is not on PATH (scripts/install-deps.sh installs Node.js)" >&2
    exit 1
  fi
done

stamp=node_modules/.ww-lock-sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
exec 9>.install.lock
flock 9
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error >&2
echo "$want" >"$stamp"
