#!/usr/bin/env node
// Enrolls a certificate (IR with PBM protection) against a CMP server started
// for the purpose on 127.0.0.1 -- OpenSSL's own mock server -- and prints it.
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { CmpContext, opensslVersion } = require('..');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'openssl-cmp-demo-'));
const openssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });

function setUpCa() {
  // The mock server answers every request with one certificate (-rsp_cert),
  // so the demo CA issues it ahead for the key the client will enroll.
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ca.key');
  openssl('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=Demo CA', '-days', '1', '-addext', 'basicConstraints=critical,CA:TRUE', '-out', 'ca.crt');
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'device.key');
  openssl('req', '-new', '-key', 'device.key', '-subj', '/CN=device-0001/O=Demo', '-out', 'device.csr');
  openssl('x509', '-req', '-in', 'device.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', '1', '-days', '1', '-out', 'device.crt');
}

function startServer() {
  const child = spawn('openssl', ['cmp', '-config', '', '-port', '0', '-srv_ref', 'demo', '-srv_secret', 'pass:demo-secret',
    '-rsp_cert', 'device.crt', '-rsp_capubs', 'ca.crt'], { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /ACCEPT \S*:(\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.once('exit', (code) => reject(new Error(`CMP server exited with ${code}`)));
  });
}

async function main() {
  setUpCa();
  const server = await startServer();
  const ctx = new CmpContext();
  try {
    ctx.setServer('127.0.0.1');
    ctx.setServerPort(server.port);
    ctx.setServerPath('pkix/');
    ctx.setReferenceValue('demo');
    ctx.setSecretValue('demo-secret');
    ctx.setNewPkey(fs.readFileSync(path.join(dir, 'device.key'), 'utf8'));
    ctx.setSubjectName('/CN=device-0001/O=Demo');
    ctx.setTrustedStore(fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8'));
    const cert = await ctx.execIR();
    console.log(`enrolled via CMP IR on 127.0.0.1:${server.port} (${opensslVersion})`);
    console.log(`subject: ${cert.subject.replace(/\n/g, ', ')}`);
    console.log(`issuer:  ${cert.issuer}`);
    console.log(`serial:  ${cert.serialNumber}`);
    console.log(`caPubs:  ${ctx.getCaPubs().map((c) => c.subject).join(', ')}`);
    console.log(cert.toString());
  } finally {
    ctx.close();
    server.child.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
