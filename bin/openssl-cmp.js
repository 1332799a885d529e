#!/usr/bin/env node
'use strict';
// `openssl-cmp ARGS` does what `openssl cmp ARGS` does.
const { main } = require('../dist/cli/main');

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`CMP error: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 1;
  },
);
