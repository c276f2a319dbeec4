// Compiles a Solidity file with the pinned solc-js (offline) into <out>/<Name>.abi.json and <out>/<Name>.bin
// (deployment bytecode, hex without 0x). Usage: node compile.mjs <source.sol> <outDir>
// Called by the MSBuild target in tests/Wetware.Stem.Tests (incremental on the .sol and the lockfile).
import fs from 'node:fs';
import path from 'node:path';
import solc from 'solc';

const [source, outDir] = process.argv.slice(2);
if (!source || !outDir) {
  console.error('usage: node compile.mjs <source.sol> <outDir>');
  process.exit(2);
}
const name = path.basename(source);
const input = {
  language: 'Solidity',
  sources: { [name]: { content: fs.readFileSync(source, 'utf8') } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    // Paris: no PUSH0, so the bytecode runs on any chain node of the last years, not only the newest.
    evmVersion: 'paris',
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
let failed = false;
for (const e of output.errors ?? []) {
  console.error(e.formattedMessage);
  if (e.severity === 'error') failed = true;
}
if (failed) process.exit(1);
fs.mkdirSync(outDir, { recursive: true });
for (const [contract, art] of Object.entries(output.contracts[name])) {
  fs.writeFileSync(path.join(outDir, `${contract}.abi.json`), JSON.stringify(art.abi, null, 2) + '\n');
  fs.writeFileSync(path.join(outDir, `${contract}.bin`), art.evm.bytecode.object + '\n');
  console.log(`compiled ${contract} (solc ${solc.version()}) -> ${outDir}`);
}
