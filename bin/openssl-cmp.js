#!/usr/bin/env node
'use strict';
// `openssl-cmp ARGS` does what `openssl cmp ARGS` does.
const { main } = require('../dist/cli/main');
const { blankSecretArgs, secretPositions } = require('../dist/cli/secrets');

const argv = process.argv.slice(2);
// the values are copied out first: blanking changes the process's own view too
const problem = blankSecretArgs(argv);
if (problem !== null && secretPositions(argv).some(([i, from]) => /^=?pass:/.test(argv[i].slice(from)))) {
  process.stderr.write(`CMP warning: pass phrases given as pass: stay visible on the process list (${problem}); use env: or file: sources\n`);
}

main(argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`CMP error: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 1;
  },
);
