#!/usr/bin/env node
// Runs the jest suite under this Node and under Node 24 (OpenSSL 3.5), then
// prints one line covering both: "N passed, N failed". OPENSSL_CMP_OPENSSL=bundled
// runs it against the bundled-OpenSSL build instead of Node's OpenSSL.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js');
const outDir = path.join(root, '.test-results');
fs.mkdirSync(outDir, { recursive: true });

const runtimes = [{ name: `node ${process.version}`, bin: process.execPath }];
if (!process.env.OPENSSL_CMP_TEST_ONE_RUNTIME) {
  const node24 = execFileSync(path.join(__dirname, 'node24.sh'), { encoding: 'utf8' }).trim();
  const version = execFileSync(node24, ['-p', 'process.version'], { encoding: 'utf8' }).trim();
  runtimes.push({ name: `node ${version}`, bin: node24 });
}

const mode = process.env.OPENSSL_CMP_OPENSSL || 'default';
let passed = 0;
let failed = 0;
for (const rt of runtimes) {
  const out = path.join(outDir, `${rt.name.replace(/\W+/g, '_')}_${mode}.json`);
  fs.rmSync(out, { force: true });
  const ossl = execFileSync(rt.bin, ['-p', 'process.versions.openssl'], { encoding: 'utf8' }).trim();
  console.log(`\n=== jest under ${rt.name} (OpenSSL ${ossl}), addon: ${mode} ===`);
  const r = spawnSync(rt.bin, [jest, '--json', `--outputFile=${out}`, ...process.argv.slice(2)], {
    cwd: root,
    stdio: 'inherit',
  });
  if (!fs.existsSync(out)) {
    console.log(`jest under ${rt.name} produced no results (exit ${r.status}, signal ${r.signal})`);
    failed += 1;
    continue;
  }
  const res = JSON.parse(fs.readFileSync(out, 'utf8'));
  passed += res.numPassedTests;
  failed += res.numFailedTests + res.numRuntimeErrorTestSuites;
  if (r.status !== 0 && res.numFailedTests === 0 && res.numRuntimeErrorTestSuites === 0) failed += 1;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
