#!/usr/bin/env node
// Enrolls 1,000 devices from a CSV file against a CA served in this process,
// through `openssl-cmp bulk`: progress while it runs, then the summary.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { CmpServer, TestCa } = require('..');
const { main } = require('../dist/cli/main');

const COUNT = Number(process.env.DEVICES || 1000);

(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulk-demo-'));
  const rows = ['id,subject,sans'];
  for (let i = 1; i <= COUNT; i++) rows.push(`sensor-${i},/CN=sensor-${i}/O=Demo Factory,sensor-${i}.demo.example`);
  fs.writeFileSync(path.join(dir, 'devices.csv'), `${rows.join('\n')}\n`);

  const secret = require('node:crypto').randomBytes(12).toString('hex');
  const server = new CmpServer({ ca: await TestCa.create({ subject: '/CN=Demo Factory CA' }), ref: 'factory', secret });
  const { url } = await server.listen();
  process.env.DEMO_SECRET = secret;
  console.log(`CA listening at ${url}; ${COUNT} devices in ${path.join(dir, 'devices.csv')}\n`);
  const status = await main(['bulk', '-config', '', '-in', path.join(dir, 'devices.csv'), '-out_dir', path.join(dir, 'out'),
    '-server', url.replace('http://', ''), '-ref', 'factory', '-secret', 'env:DEMO_SECRET', '-concurrency', '16']);
  await server.close();
  console.log(`\nexit status ${status}; certificates, keys and manifest.jsonl in ${path.join(dir, 'out')}`);
  process.exitCode = status;
})();
