#!/usr/bin/env node
// Runs the jest suite under this Node and under Node 24 (OpenSSL 3.5), then
// prints one line covering both: "N passed, N failed". It runs once with the addon on Node's
// OpenSSL and once on the bundled OpenSSL; OPENSSL_CMP_OPENSSL=node|bundled runs one of them.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js');

// The tests load dist/ and whichever addon node-gyp-build picks: both must be
// newer than their sources, or this builds them, or refuses to run at all.
function newest(dir, exts) {
  let best = { file: null, mtime: 0 };
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const f = path.join(dir, e.name);
    if (e.isDirectory()) {
      const b = newest(f, exts);
      if (b.mtime > best.mtime) best = b;
    } else if (exts.some((x) => e.name.endsWith(x))) {
      const m = fs.statSync(f).mtimeMs;
      if (m > best.mtime) best = { file: f, mtime: m };
    }
  }
  return best;
}
function staleness() {
  const problems = [];
  const ts = newest(path.join(root, 'lib'), ['.ts']);
  const js = fs.existsSync(path.join(root, 'dist')) ? newest(path.join(root, 'dist'), ['.js']) : { mtime: 0 };
  if (js.mtime < ts.mtime) problems.push({ what: 'dist/', source: ts.file, fix: 'build:ts' });
  const native = newest(path.join(root, 'native'), ['.cc', '.h']);
  const gyp = fs.statSync(path.join(root, 'binding.gyp')).mtimeMs;
  let addon = null;
  try {
    addon = require('node-gyp-build').path(root);
  } catch {
    // none built yet
  }
  const addonTime = addon ? fs.statSync(addon).mtimeMs : 0;
  if (addonTime < Math.max(native.mtime, gyp)) problems.push({ what: addon ?? 'the addon', source: native.file, fix: 'build:native' });
  return problems;
}
let stale = staleness();
for (const fix of new Set(stale.map((p) => p.fix))) {
  console.log(`stale build (${stale.filter((p) => p.fix === fix).map((p) => `${p.what} older than ${path.relative(root, p.source)}`).join('; ')}): npm run ${fix}`);
  const r = spawnSync('npm', ['run', fix], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(1);
}
stale = staleness();
if (stale.length > 0) {
  for (const p of stale) console.error(`refusing to test a stale build: ${p.what} is older than ${path.relative(root, p.source)}`);
  process.exit(1);
}
const outDir = path.join(root, '.test-results');
fs.mkdirSync(outDir, { recursive: true });

const runtimes = [{ name: `node ${process.version}`, bin: process.execPath }];
if (!process.env.OPENSSL_CMP_TEST_ONE_RUNTIME) {
  const node24 = execFileSync(path.join(__dirname, 'node24.sh'), { encoding: 'utf8' }).trim();
  const version = execFileSync(node24, ['-p', 'process.version'], { encoding: 'utf8' }).trim();
  runtimes.push({ name: `node ${version}`, bin: node24 });
}

// both builds of the addon unless one is asked for: Node's OpenSSL and the bundled OpenSSL 3.5
const modes = process.env.OPENSSL_CMP_OPENSSL ? [process.env.OPENSSL_CMP_OPENSSL] : ['default', 'bundled'];
let passed = 0;
let failed = 0;
// the public .d.ts, as users compile against it
const types = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p',
  path.join(root, 'test', 'types')], { cwd: root, stdio: 'inherit' });
console.log(`type test of the public .d.ts: ${types.status === 0 ? 'passed' : 'FAILED'}`);
if (types.status === 0) passed += 1;
else failed += 1;
for (const mode of modes) for (const rt of runtimes) {
  const out = path.join(outDir, `${rt.name.replace(/\W+/g, '_')}_${mode}.json`);
  fs.rmSync(out, { force: true });
  const ossl = execFileSync(rt.bin, ['-p', 'process.versions.openssl'], { encoding: 'utf8' }).trim();
  console.log(`\n=== jest under ${rt.name} (OpenSSL ${ossl}), addon: ${mode} ===`);
  const env = { ...process.env };
  if (mode === 'default') delete env.OPENSSL_CMP_OPENSSL;
  else env.OPENSSL_CMP_OPENSSL = mode;
  const r = spawnSync(rt.bin, [jest, '--json', `--outputFile=${out}`, ...process.argv.slice(2)], {
    cwd: root,
    stdio: 'inherit',
    env,
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
