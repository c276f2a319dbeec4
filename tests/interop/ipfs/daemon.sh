#!/usr/bin/env bash
# Runs the js-ipfs daemon (offline) on the repo in $IPFS_PATH until this script's stdin closes, which happens
# when the test process that started it ends, even by a crash: no daemon outlives its tests. Then it deletes
# $WW_IPFS_DELETE_ON_EXIT (the fixture's temporary folder holding the repo), if set.
set -u
cd "$(dirname "$0")"
NODE_OPTIONS="--import=$PWD/polyfill.mjs" node node_modules/ipfs/src/cli.js daemon --offline </dev/null &
daemon=$!
# The watcher reads our stdin to its end (with a builtin, so killing it leaves nothing behind), then stops the daemon.
(while IFS= read -r _; do :; done; kill -TERM "$daemon" 2>/dev/null) <&0 &
watcher=$!
wait "$daemon"
status=$?
kill "$watcher" 2>/dev/null
if [ -n "${WW_IPFS_DELETE_ON_EXIT:-}" ]; then
  rm -rf -- "$WW_IPFS_DELETE_ON_EXIT"
fi
exit "$status"
