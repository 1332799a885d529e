#!/usr/bin/env node
// Builds the delay proxy (bench/delay-proxy.c: a loopback TCP proxy that
// holds every chunk DELAY_MS in each direction, as a remote CA's network
// would) and prints its path; require('./delay-proxy').build() returns it.
// Run it as `delay-proxy TARGET_PORT DELAY_MS`; it prints "PROXY <port>".
'use strict';
const path = require('node:path');
const { compile } = require('./c-loop');

const build = () => compile(path.join(__dirname, 'delay-proxy.c'), 'delay-proxy');

module.exports = { build };

if (require.main === module) console.log(build());
