# Sourced by bench scripts: starts the js-ipfs node of tests/interop/ipfs offline in a temporary repo, every
# address on a port the system picks (as the test fixture does), and sets ipfs_api_url. The daemon runs until
# the sourcing script ends (daemon.sh stops when its stdin, fd 3 here, closes) and its repo is deleted then.
ipfs="$root/tests/interop/ipfs"
bash "$ipfs/install.sh"
ipfs_tmp="$(mktemp -d)"
export IPFS_PATH="$ipfs_tmp/repo"
NODE_OPTIONS="--import=$ipfs/polyfill.mjs" node "$ipfs/node_modules/ipfs/src/cli.js" init --profile test >/dev/null
node -e '
  const fs = require("fs"); const f = process.argv[1]; const c = JSON.parse(fs.readFileSync(f));
  const any = "/ip4/127.0.0.1/tcp/0";
  Object.assign(c.Addresses, { API: any, Gateway: any, RPC: any, Swarm: [any] });
  fs.writeFileSync(f, JSON.stringify(c, null, 2));' "$IPFS_PATH/config"
exec 3> >(WW_IPFS_DELETE_ON_EXIT="$ipfs_tmp" bash "$ipfs/daemon.sh" >"$ipfs_tmp.log" 2>&1)
for _ in $(seq 1 300); do
  [ -f "$IPFS_PATH/api" ] && break
  sleep 0.1
done
[ -f "$IPFS_PATH/api" ] || { echo "error: the js-ipfs daemon did not start:" >&2; cat "$ipfs_tmp.log" >&2; exit 1; }
ipfs_api_url="http://127.0.0.1:$(sed -E 's#.*/tcp/([0-9]+).*#\1#' "$IPFS_PATH/api")"
rm -f "$ipfs_tmp.log"
