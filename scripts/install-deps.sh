#!/usr/bin/env bash
# Installs what the build and the tests need, idempotently: Debian packages
# (the official Cap'n Proto compiler and C++ library, used by the code
# generator, the conformance tests and the benchmark; clang, lld and wasi-libc,
# which build the C guests to wasm32-wasi; bsdutils for script(1), the pseudo-terminal the kernel's shell
# tests run ww in; ipfs-cid, whose `ipfs_cid` computes file CIDs independently of the IPFS node for
# Wetware.Ipfs.Tests), Node.js with the interop scripts' pinned npm packages, and the
# .NET packages.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(capnproto libcapnp-dev g++ pkg-config clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 bsdutils ipfs-cid)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Node.js and npm run the independent implementations the interop tests compare with (tests/interop/*).
# The machine image ships Node 20 with npm; Debian's own packages are the fallback on a machine without them.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "installing Debian packages: nodejs npm" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq nodejs npm >/dev/null
fi
tests/interop/identity/install.sh
tests/interop/libp2p-js/install.sh
tests/interop/ipfs/install.sh
# solc-js and anvil for the Atom contract (contracts/): the build compiles it, the Stem tests run anvil.
contracts/install.sh

if ! command -v dotnet >/dev/null; then
  echo "error: the .NET 10 SDK (dotnet) is not on PATH" >&2
  exit 1
fi
dotnet restore Wetware.slnx --nologo -v quiet
