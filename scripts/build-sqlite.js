#!/usr/bin/env node
// The bulk journal uses node:sqlite where Node has it (22.5+). Older Nodes use
// better-sqlite3 (a dev and optional peer dependency), which is not Node-API:
// it is compiled here, for this Node, since installs run with --ignore-scripts
// and its prebuilt download is not always reachable.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

function hasNodeSqlite() {
  try {
    require('node:sqlite');
    return true;
  } catch {
    return false;
  }
}

function loads() {
  const r = spawnSync(process.execPath, ['-e', "new (require('better-sqlite3'))(':memory:').close()"], { stdio: 'ignore' });
  return r.status === 0;
}

if (hasNodeSqlite()) process.exit(0);
let dir;
try {
  dir = path.dirname(require.resolve('better-sqlite3/package.json'));
} catch {
  console.error('build-sqlite: better-sqlite3 is not installed; bulk journals need it on Node < 22.5');
  process.exit(1);
}
if (loads()) process.exit(0);
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const r = spawnSync(process.execPath, [gyp, 'rebuild', '--release'], { cwd: dir, stdio: 'inherit' });
if (r.status !== 0 || !loads()) {
  console.error('build-sqlite: building better-sqlite3 failed');
  process.exit(1);
}
