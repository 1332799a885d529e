#!/usr/bin/env node
// Builds the bundled-OpenSSL prebuild: prebuildify against a static OpenSSL
// (OPENSSL_CMP_OPENSSL_DIR, else the cached 3.5 tree of scripts/openssl-ref.sh),
// stored as prebuilds/<platform>-<arch>/openssl-cmp.bundled.node beside the
// build for Node's OpenSSL. Extra arguments go to prebuildify (--arch=...).
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const opensslDir =
  process.env.OPENSSL_CMP_OPENSSL_DIR ||
  execFileSync(path.join(__dirname, 'openssl-ref.sh'), ['build', '3.5'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
for (const f of ['include/openssl/cmp.h', process.platform === 'win32' ? 'libcrypto.lib' : 'libcrypto.a']) {
  if (!fs.existsSync(path.join(opensslDir, f))) throw new Error(`${opensslDir} is not a built OpenSSL tree: ${f} is missing`);
}

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cmp-bundled-'));
try {
  const prebuildify = require.resolve('prebuildify/bin.js', { paths: [root] });
  execFileSync(process.execPath, [prebuildify, '--napi', '--strip', `--out=${out}`, ...process.argv.slice(2)], {
    cwd: root,
    stdio: 'inherit',
    // node-gyp turns npm_config_* into gyp variables (binding.gyp's openssl, openssl_dir).
    env: { ...process.env, npm_config_openssl: 'bundled', npm_config_openssl_dir: opensslDir },
  });
  for (const tuple of fs.readdirSync(path.join(out, 'prebuilds'))) {
    const dest = path.join(root, 'prebuilds', tuple);
    fs.mkdirSync(dest, { recursive: true });
    fs.copyFileSync(path.join(out, 'prebuilds', tuple, 'openssl-cmp.node'), path.join(dest, 'openssl-cmp.bundled.node'));
    console.log(`prebuilds/${tuple}/openssl-cmp.bundled.node (OpenSSL from ${opensslDir})`);
  }
} finally {
  fs.rmSync(out, { recursive: true, force: true });
}
