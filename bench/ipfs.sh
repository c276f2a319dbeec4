#!/usr/bin/env bash
# Issue 9's figures: `cat` of 100 MiB through IpfsClient against curl of the same HTTP call, side by side, and
# `cat` of 16 MiB from a C guest through the ipfs capability against IpfsClient directly, on a js-ipfs node
# (tests/interop/ipfs) started here offline in a temporary repo. Options: --mib N --rounds N.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
ipfs="$root/tests/interop/ipfs"
bash "$ipfs/install.sh"
command -v curl >/dev/null || { echo "error: curl is not on PATH" >&2; exit 1; }
dotnet build -c Release "$root/bench/Wetware.Ipfs.Bench" --nologo -v quiet | { grep -E "error" || true; }
# The SDK's test guest (tests/sdk-guests/e2e.c) for cat through the ipfs capability.
out="$root/bench/Wetware.Ipfs.Bench/bin/Release/net10.0"
dotnet build -c Release "$root/src/Wetware.Capnp.Generator.C" --nologo -v quiet | { grep -E "error" || true; }
CAPNPC_C="$root/src/Wetware.Capnp.Generator.C/bin/Release/net10.0/capnpc-c" bash "$root/guest/sdk/build.sh" "$out/sdk" \
  --schema "$root/tests/sdk-guests/sdktest.capnp" "$root/tests/sdk-guests/e2e.c" >/dev/null

tmp="$(mktemp -d)"
export IPFS_PATH="$tmp/repo"
NODE_OPTIONS="--import=$ipfs/polyfill.mjs" node "$ipfs/node_modules/ipfs/src/cli.js" init --profile test >/dev/null
# Every address on a port the system picks, as the test fixture does.
node -e '
  const fs = require("fs"); const f = process.argv[1]; const c = JSON.parse(fs.readFileSync(f));
  const any = "/ip4/127.0.0.1/tcp/0";
  Object.assign(c.Addresses, { API: any, Gateway: any, RPC: any, Swarm: [any] });
  fs.writeFileSync(f, JSON.stringify(c, null, 2));' "$IPFS_PATH/config"
# daemon.sh runs the daemon until its stdin closes: fd 3 is that stdin, closed when this script ends.
exec 3> >(WW_IPFS_DELETE_ON_EXIT="$tmp" bash "$ipfs/daemon.sh" >"$tmp.log" 2>&1)
for _ in $(seq 1 300); do
  [ -f "$IPFS_PATH/api" ] && break
  sleep 0.1
done
[ -f "$IPFS_PATH/api" ] || { echo "error: the js-ipfs daemon did not start:" >&2; cat "$tmp.log" >&2; exit 1; }
port="$(sed -E 's#.*/tcp/([0-9]+).*#\1#' "$IPFS_PATH/api")"
rm -f "$tmp.log"
dotnet "$out/Wetware.Ipfs.Bench.dll" --api-url "http://127.0.0.1:$port" --e2e "$out/sdk/e2e.wasm" "$@"
