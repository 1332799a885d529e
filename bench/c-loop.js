#!/usr/bin/env node
// Builds bench/c-loop.c against the libcrypto of the running Node's OpenSSL
// series, so the reference loop runs on the same OpenSSL as the addon: the
// static 3.5 reference build under Node 24, the system's 3.0 under Node 20
// (or, without its headers, the 3.0 reference build). Prints the binary's
// path; require('./c-loop').build() returns it. Rebuilt when the source or
// the library is newer than the binary.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const source = path.join(__dirname, 'c-loop.c');

function series(version = process.versions.openssl) {
  const [major, minor] = version.split('.');
  return `${major}.${minor}`;
}

function referenceTree(s) {
  return execFileSync(path.join(root, 'scripts', 'openssl-ref.sh'), ['build', s], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

// { cflags, libs, inputs, label }: how to compile against series `s`.
function toolchain(s) {
  const systemHeaders = '/usr/include/openssl/cmp.h';
  const systemSeries = (() => {
    try {
      return series(execFileSync('openssl', ['version'], { encoding: 'utf8' }).split(' ')[1]);
    } catch {
      return null;
    }
  })();
  if (s === systemSeries && fs.existsSync(systemHeaders)) {
    return { cflags: [], libs: ['-lcrypto'], inputs: [systemHeaders], label: `system ${s}` };
  }
  const tree = referenceTree(s);
  const lib = path.join(tree, 'libcrypto.a');
  return { cflags: ['-I', path.join(tree, 'include')], libs: [lib], inputs: [lib], label: path.basename(tree) };
}

/** Compiles `src` into build/bench/`name` unless the binary is newer than it and `inputs`; returns its path. */
function compile(src, name, { cflags = [], libs = [], inputs = [] } = {}) {
  const out = path.join(root, 'build', 'bench', name);
  const newest = Math.max(...[src, ...inputs].map((f) => fs.statSync(f).mtimeMs));
  if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= newest) return out;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  execFileSync('cc', ['-O2', '-std=c11', '-Wall', '-Wextra', '-Werror', ...cflags, '-o', out, src, ...libs], { stdio: 'inherit' });
  return out;
}

function build(version = process.versions.openssl) {
  const s = series(version);
  const tc = toolchain(s);
  return compile(source, `c-loop-${s}`, { cflags: tc.cflags, libs: [...tc.libs, '-lpthread', '-ldl'], inputs: tc.inputs });
}

module.exports = { build, compile, series };

if (require.main === module) {
  try {
    console.log(build(process.argv[2]));
  } catch (err) {
    console.error(`c-loop: ${err.message}`);
    process.exit(1);
  }
}
