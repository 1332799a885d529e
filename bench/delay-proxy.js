#!/usr/bin/env node
// A loopback TCP proxy that delays every chunk by DELAY ms in each direction,
// as a remote CA's network would: `node delay-proxy.js TARGET_PORT DELAY_MS`.
// Prints "PROXY <port>" once listening.
'use strict';
const net = require('node:net');

const [target, delay] = process.argv.slice(2).map(Number);

function delayed(from, to) {
  // chunks keep their order: each is released DELAY ms after it arrived
  from.on('data', (chunk) => {
    setTimeout(() => {
      if (!to.destroyed) to.write(chunk);
    }, delay);
  });
  // a close is passed on after the data before it, never ahead of it
  from.on('end', () => setTimeout(() => to.end(), delay));
  from.on('close', () => setTimeout(() => to.end(), delay));
  from.on('error', () => setTimeout(() => to.destroy(), delay));
}

const server = net.createServer({ noDelay: true }, (client) => {
  const upstream = net.connect({ port: target, host: '127.0.0.1', noDelay: true });
  delayed(client, upstream);
  delayed(upstream, client);
});
server.listen(0, '127.0.0.1', () => console.log(`PROXY ${server.address().port}`));
