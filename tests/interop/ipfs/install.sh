#!/usr/bin/env bash
# Installs the pinned npm packages of the js-ipfs interop node (package-lock.json, `npm ci`), only when
# node_modules is missing or was installed from another lockfile. Called by scripts/install-deps.sh and by the
# Wetware.Ipfs.Tests fixture (IpfsNode), so either order works and a second call costs nothing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec bash "$here/../../../scripts/npm-ci.sh" "$here"
