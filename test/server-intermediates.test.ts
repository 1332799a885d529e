// CmpServer remembers intermediate CAs that clients sent in validated requests, as OpenSSL's server
// caches extraCerts, but bounded: at most 100, the oldest leaving first.
import { X509Certificate, generateKeyPairSync, randomBytes } from 'node:crypto';
import { CmpContext, CmpError, CmpServer, TestCa } from '../lib';
import { binding } from '../lib/native';
import { closeAll, track } from './helpers/context';

afterEach(closeAll);

const BOUND = 100;

function keyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { key: privateKey, spki: publicKey.export({ format: 'der', type: 'spki' }), pkcs8: privateKey.export({ format: 'der', type: 'pkcs8' }) };
}

function issue(issuerCert: X509Certificate, issuerKey: Buffer, spki: Buffer, subject: string, ca: boolean) {
  const now = Math.floor(Date.now() / 1000);
  const serial = randomBytes(8);
  serial[0] = (serial[0] & 0x7f) | 1;
  return new X509Certificate(binding.issueCertificate({
    issuerCert: issuerCert.raw, issuerKey, publicKey: spki, subject, serial, notBefore: now - 60, notAfter: now + 3600, ca,
  }));
}

test(`intermediates from validated requests are kept, at most ${BOUND}, the oldest leaving first`, async () => {
  const root = await TestCa.create({ subject: '/CN=Cache Root' });
  const rootKey = root.key.export({ format: 'der', type: 'pkcs8' });
  const server = new CmpServer({ ca: root, trusted: [root.cert] });
  const leaves: Array<{ cert: X509Certificate; key: ReturnType<typeof keyPair> }> = [];
  const genm = (leaf: (typeof leaves)[number], chain: X509Certificate[]) => {
    const ctx = track(new CmpContext());
    ctx.setTransferCallback(server.transfer);
    ctx.setTrustedStore(root.cert);
    ctx.setCert(leaf.cert);
    ctx.setPkey(leaf.key.key);
    ctx.buildCertChain(null, chain);
    return ctx.execGENM();
  };
  for (let i = 0; i < BOUND + 5; i++) {
    const inter = keyPair();
    const interCert = issue(root.cert, rootKey, inter.spki, `/CN=Cache Inter ${i}`, true);
    const leafKey = keyPair();
    const leaf = { cert: issue(interCert, inter.pkcs8, leafKey.spki, `/CN=cache leaf ${i}`, false), key: leafKey };
    leaves.push(leaf);
    await genm(leaf, [interCert]);
  }
  expect(await server.cachedIntermediates()).toBe(BOUND);
  // the newest intermediates need not be sent again ...
  expect(Array.isArray(await genm(leaves[BOUND + 4], []))).toBe(true);
  // ... the oldest have left the cache
  const err = await genm(leaves[0], []).catch((e) => e);
  expect(err).toBeInstanceOf(CmpError);
  expect(err.message).toMatch(/sender cert/);
  await server.close();
}, 120000);
