#!/usr/bin/env node
// Enrolls a fresh key with a CMP IR (PBM-protected) against a CMP server
// started here on 127.0.0.1 -- this package's CmpServer, issuing from a test
// CA -- through OpenSSL's own HTTP client, and prints the certificate.
'use strict';
const { generateKeyPairSync } = require('node:crypto');
const { CmpContext, CmpServer, TestCa, opensslVersion } = require('..');

async function main() {
  const ca = await TestCa.create({ subject: '/CN=Demo CA/O=openssl-cmp' });
  const server = new CmpServer({ ref: 'demo', secret: 'demo-secret', ca });
  const { url, port } = await server.listen({ host: '127.0.0.1', port: 0, path: '/pkix/' });
  const ctx = new CmpContext();
  try {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    ctx.setServer('127.0.0.1');
    ctx.setServerPort(port);
    ctx.setServerPath('pkix/');
    ctx.setReferenceValue('demo');
    ctx.setSecretValue('demo-secret');
    ctx.setTrustedStore(ca.cert);
    ctx.setNewPkey(privateKey);
    ctx.setSubjectName('/CN=device-0001/O=Demo');
    ctx.pushSubjectAltName('DNS:device-0001.demo.example');
    const cert = await ctx.execIR();
    console.log(`enrolled via CMP IR at ${url} (${opensslVersion})`);
    console.log(`subject: ${cert.subject.replace(/\n/g, ', ')}`);
    console.log(`issuer:  ${cert.issuer.replace(/\n/g, ', ')}`);
    console.log(`SAN:     ${cert.subjectAltName}`);
    console.log(`serial:  ${cert.serialNumber}`);
    console.log(`valid:   ${cert.validFrom} .. ${cert.validTo}`);
    console.log(cert.toString());
  } finally {
    ctx.close();
    await server.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
