#!/usr/bin/env bash
# Installs the pinned npm packages of the js-libp2p interop peer (package-lock.json, `npm ci`), only when
# node_modules is missing or was installed from another lockfile. Called by scripts/install-deps.sh and by the
# Wetware.P2p.Tests fixture, so either order works and a second call costs nothing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec bash "$here/../../../scripts/npm-ci.sh" "$here"
