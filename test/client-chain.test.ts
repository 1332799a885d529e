// The client certificate's chain in a request's extraCerts: what setCert, reinit and fromOptions
// give to OpenSSL must be what goes out, against servers that have seen nothing before.
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPublicKey, generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import { CmpContext, CmpError, CmpServer, TestCa } from '../lib';
import { children, readTlv } from '../lib/der';
import { closeAll, track } from './helpers/context';
import { startMock } from './helpers/mock-server';
import { Pki, makePki, removePki } from './helpers/pki';

afterEach(closeAll);

/** The certificates of a PKIMessage's extraCerts ([1] after header, body and optional protection). */
function extraCerts(msg: Buffer): X509Certificate[] {
  const parts = children(msg, readTlv(msg, 0)).slice(2);
  const extra = parts.find((t) => t.tag === 0xa1);
  if (!extra) return [];
  return children(msg, children(msg, extra)[0]).map((t) => new X509Certificate(msg.subarray(t.start, t.end)));
}

const newKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

test('reinit, then setCert and setPkey of the renewed certificate: the next request carries and is signed with it', async () => {
  const ca = await TestCa.create({ subject: '/CN=Chain Test CA' });
  const server = new CmpServer({ ca, trusted: ca.cert });
  const sent: Buffer[] = [];
  const ctx = track(new CmpContext());
  ctx.setTransferCallback((req) => {
    sent.push(req);
    return server.transfer(req);
  });
  ctx.setTrustedStore(ca.cert);
  const firstKey = newKey();
  const first = ca.issue({ subject: '/CN=renewed-device', publicKey: createPublicKey(firstKey) });
  ctx.setCert(first);
  ctx.setPkey(firstKey);
  ctx.setOldCert(first);
  const renewedKey = newKey();
  ctx.setNewPkey(renewedKey);
  const renewed = await ctx.execKUR();
  expect(extraCerts(sent[0])[0].raw.equals(first.raw)).toBe(true);

  ctx.reinit();
  ctx.setCert(renewed);
  ctx.setPkey(renewedKey);
  ctx.setOldCert(renewed);
  sent.length = 0;
  await expect(ctx.execRR()).resolves.toBeUndefined();
  const out = extraCerts(sent[0]);
  expect(out[0].raw.equals(renewed.raw)).toBe(true);
  expect(out.some((c) => c.raw.equals(first.raw))).toBe(false);
  expect(ca.isRevoked(renewed.serialNumber)).toBe(true);
  await server.close();
});

describe('a client certificate file that holds its chain', () => {
  let pki: Pki;
  const sh = (args: string[]) => execFileSync('openssl', args, { cwd: pki.dir, stdio: ['ignore', 'ignore', 'pipe'] });

  beforeAll(() => {
    // root "ca" -> intermediate "sub" -> leaf "leaf"; the server trusts the root only
    pki = makePki();
    sh(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'sub.key']);
    sh(['req', '-new', '-key', 'sub.key', '-subj', '/CN=Test Sub CA', '-out', 'sub.csr']);
    fs.writeFileSync(pki.file('ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
    sh(['x509', '-req', '-in', 'sub.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', '77', '-days', '10', '-extfile', 'ca.ext', '-out', 'sub.crt']);
    sh(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'leaf.key']);
    sh(['req', '-new', '-key', 'leaf.key', '-subj', '/CN=leaf/O=Test', '-out', 'leaf.csr']);
    sh(['x509', '-req', '-in', 'leaf.csr', '-CA', 'sub.crt', '-CAkey', 'sub.key', '-set_serial', '78', '-days', '10', '-out', 'leaf.crt']);
    fs.writeFileSync(pki.file('leaf-chain.crt'), `Subject: leaf\n${pki.read('leaf.crt')}${pki.read('sub.crt')}`);
  });
  afterAll(() => removePki(pki));

  const options = (cert: string, port: number) => ({
    server: `127.0.0.1:${port}`, path: 'pkix/', cert: pki.file(cert), key: pki.file('leaf.key'), trusted: pki.file('ca.crt'),
    newkey: pki.file('newkey.key'), subject: '/CN=newkey/O=Test',
  });
  const mockOptions = () => ['-srv_cert', pki.file('server.crt'), '-srv_key', pki.file('server.key'),
    '-srv_trusted', pki.file('ca.crt'), '-rsp_cert', pki.file('newkey.crt')];

  test('fromOptions gives the chain to the context: a fresh mock that trusts only the root accepts the request', async () => {
    const mock = await startMock(pki, [], mockOptions());
    try {
      const ctx = track(CmpContext.fromOptions(options('leaf-chain.crt', mock.port)));
      const cert = await ctx.execCR();
      expect(cert.raw.equals(new X509Certificate(pki.read('newkey.crt')).raw)).toBe(true);
    } finally {
      await mock.stop();
    }
  });

  test('without the intermediate in the file the same fresh mock finds no suitable sender certificate', async () => {
    const mock = await startMock(pki, [], mockOptions());
    try {
      const ctx = track(CmpContext.fromOptions(options('leaf.crt', mock.port)));
      const err: CmpError = await ctx.execCR().catch((e) => e);
      expect(err).toBeInstanceOf(CmpError);
      expect(err.message).toMatch(/no suitable sender cert|sender cert/i);
    } finally {
      await mock.stop();
    }
  });
});
