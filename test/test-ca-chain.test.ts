// The test CA's certificate responses carry the issuing chain in extraCerts
// (by default; configurable off), so a client can build the chain from the
// response alone, PBM-protected responses included.
import { execFile } from 'node:child_process';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { CmpContext, CmpServer, TestCa } from '../lib';
import { startServer, usePki } from './helpers/cli-procs';
import { closeAll, track } from './helpers/context';

const exec = promisify(execFile);
const pki = usePki();
afterEach(closeAll);

const newKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const ders = (certs: readonly X509Certificate[]) => certs.map((c) => c.raw.toString('base64'));

/** IR, CR and KUR, each from a fresh context (nothing cached): what each response's extraCerts held and the chain built. */
async function enrollAll(ca: TestCa) {
  const server = new CmpServer({ ref: 'ref', secret: 'sec', ca });
  const out: Array<{ op: string; extra: string[]; chain: string[] }> = [];
  let cert: X509Certificate | undefined;
  for (const op of ['ir', 'cr', 'kur'] as const) {
    const ctx = track(new CmpContext());
    ctx.setTransferCallback(server.transfer);
    ctx.setReferenceValue('ref');
    ctx.setSecretValue('sec');
    ctx.setNewPkey(newKey());
    ctx.setSubjectName('/CN=chained');
    if (op === 'kur') ctx.setOldCert(cert!);
    cert = op === 'ir' ? await ctx.execIR() : op === 'cr' ? await ctx.execCR() : await ctx.execKUR();
    expect(cert.verify(ca.cert.publicKey)).toBe(true);
    out.push({ op, extra: ders(ctx.getExtraCertsIn()), chain: ders(ctx.getNewChain()) });
  }
  await server.close();
  return out;
}

test('IP, CP and KUP carry the issuing chain in extraCerts; the client builds the new certificate\'s chain from it', async () => {
  const root = await TestCa.create({ subject: '/CN=Chain Root' });
  const issuing = await TestCa.create({ subject: '/CN=Chain Issuing CA', issuer: root });
  expect(ders(issuing.chain)).toEqual(ders([issuing.cert, root.cert]));
  for (const r of await enrollAll(issuing)) {
    expect(r).toEqual({ op: r.op, extra: ders(issuing.chain), chain: ders([issuing.cert]) }); // OpenSSL leaves the self-signed root out
  }
  // a root alone is sent too
  const single = await TestCa.create();
  for (const r of await enrollAll(single)) expect(r.extra).toEqual(ders([single.cert]));
});

test('sendChain: false leaves PBM-protected responses without it', async () => {
  const root = await TestCa.create();
  const issuing = await TestCa.create({ issuer: root, sendChain: false });
  for (const r of await enrollAll(issuing)) expect(r).toEqual({ op: r.op, extra: [], chain: [] });
});

test('openssl cmp -cmd kur -chainout writes the chain the test CA sent', async () => {
  const root = await TestCa.create({ subject: '/CN=Chain Root' });
  const ca = await TestCa.create({ subject: '/CN=Chain Issuing CA', issuer: root });
  const server = new CmpServer({ ref: 'ref', secret: 'sec', ca });
  const { port } = await server.listen();
  const cmp = (args: string[]) => exec('openssl', ['cmp', '-config', '', '-server', `127.0.0.1:${port}`, '-path', 'pkix/',
    '-ref', 'ref', '-secret', 'pass:sec', ...args], { cwd: pki().dir });
  try {
    await cmp(['-cmd', 'ir', '-newkey', 'client.key', '-subject', '/CN=renewed', '-certout', 'first.pem']);
    await cmp(['-cmd', 'kur', '-oldcert', 'first.pem', '-newkey', 'newkey.key', '-certout', 'kur.pem', '-chainout', 'kur-chain.pem']);
  } finally {
    await server.close();
  }
  expect(ders([new X509Certificate(pki().read('kur-chain.pem'))])).toEqual(ders([ca.cert]));
  expect(new X509Certificate(pki().read('kur.pem')).verify(ca.cert.publicKey)).toBe(true);
});

test('openssl-cmp -port: the test CA\'s KUP carries its certificate in extraCerts', async () => {
  const srv = await startServer('ours', ['-srv_ref', '1234', '-srv_secret', 'pass:test', '-srv_cert', 'server.crt', '-srv_key', 'server.key',
    '-srv_trusted', 'ca.crt'], pki().dir);
  const cmp = (args: string[]) => exec('openssl', ['cmp', '-config', '', '-server', `127.0.0.1:${srv.port}`, '-path', 'pkix/',
    '-ref', '1234', '-secret', 'pass:test', ...args], { cwd: pki().dir });
  await cmp(['-cmd', 'ir', '-newkey', 'client.key', '-subject', '/CN=renewed', '-certout', 'p-first.pem', '-cacertsout', 'p-ca.pem']);
  await cmp(['-cmd', 'kur', '-oldcert', 'p-first.pem', '-newkey', 'newkey.key', '-certout', 'p-kur.pem', '-extracertsout', 'p-extra.pem']);
  expect(ders([new X509Certificate(pki().read('p-extra.pem'))])).toEqual(ders([new X509Certificate(pki().read('p-ca.pem'))]));
});
