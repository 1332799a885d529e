import { X509Certificate } from 'node:crypto';
import { CertReqType, CmpContext, Option, PKIStatus } from '../lib';
import { closeAll, pbmContext, signatureContext } from './helpers/context';
import { MockServer, mockArgs, startMock } from './helpers/mock-server';
import { Pki, makePki, removePki } from './helpers/pki';

let pki: Pki;
let server: MockServer;
let sigServer: MockServer;
let expected: X509Certificate;

beforeAll(async () => {
  pki = makePki();
  server = await startMock(pki);
  sigServer = await startMock(pki, [], mockArgs(pki, false));
  expected = new X509Certificate(pki.read('newkey.crt'));
});

afterEach(closeAll);

afterAll(async () => {
  await server.stop();
  await sigServer.stop();
  removePki(pki);
});

function expectEnrolled(ctx: CmpContext, cert: X509Certificate): void {
  expect(cert).toBeInstanceOf(X509Certificate);
  expect(cert.raw.equals(expected.raw)).toBe(true);
  expect(ctx.getNewCert()!.raw.equals(expected.raw)).toBe(true);
  expect(ctx.getStatus()).toBe(PKIStatus.accepted);
}

test('IR with PBM protection returns the new certificate and caPubs', async () => {
  const ctx = pbmContext(pki, server);
  const cert = await ctx.execIR();
  expectEnrolled(ctx, cert);
  const caPubs = ctx.getCaPubs();
  expect(caPubs).toHaveLength(1);
  expect(caPubs[0].subject).toBe('CN=Test Root CA');
  expect(ctx.getExtraCertsIn()).toEqual([]); // the mock sends none with PBM
});

test('CR with signature protection against a trust store', async () => {
  const ctx = signatureContext(pki, sigServer);
  const cert = await ctx.execCR();
  expectEnrolled(ctx, cert);
  expect(ctx.getNewChain()).toEqual([]); // built only on request (OSSL_CMP_CTX_build_cert_chain)
});

test('execCertReq with an explicit type equals the named method', async () => {
  const ctx = signatureContext(pki, sigServer);
  expectEnrolled(ctx, await ctx.execCertReq(CertReqType.CR));
});

test('KUR signed with the certificate being updated', async () => {
  const ctx = signatureContext(pki, sigServer);
  // the mock server expects the certid of its rsp_cert as oldCertID
  ctx.setCert(pki.read('newkey.crt'));
  ctx.setPkey(pki.read('newkey.key'));
  ctx.setOldCert(pki.read('newkey.crt'));
  const cert = await ctx.execKUR();
  expectEnrolled(ctx, cert);
});

test('P10CR with a PKCS#10 CSR', async () => {
  const ctx = signatureContext(pki, sigServer);
  ctx.setP10CSR(pki.read('newkey.csr'));
  const cert = await ctx.execP10CR();
  expectEnrolled(ctx, cert);
});

test('RR with signature protection resolves to undefined', async () => {
  const ctx = signatureContext(pki, sigServer);
  ctx.setOldCert(pki.read('newkey.crt'));
  await expect(ctx.execRR()).resolves.toBeUndefined();
  expect(ctx.getStatus()).toBe(PKIStatus.accepted);
});

test('GENM returns the ITAVs of the genp', async () => {
  const ctx = pbmContext(pki, server);
  // the mock server echoes the single ITAV it receives
  ctx.pushGenmITAV({ type: 'signKeyPairTypes' });
  expect(await ctx.execGENM()).toEqual([{ type: '1.3.6.1.5.5.7.4.2', name: 'id-it-signKeyPairTypes' }]);
  ctx.reinit();
  // suppLangTags: SEQUENCE OF UTF8String, given by OID
  const langTags = Buffer.from([0x30, 0x04, 0x0c, 0x02, 0x68, 0x69]);
  ctx.pushGenmITAV({ type: '1.3.6.1.5.5.7.4.16', value: langTags });
  expect(await ctx.execGENM()).toEqual([{ type: '1.3.6.1.5.5.7.4.16', name: 'id-it-suppLangTags', value: langTags }]);
});

test('an ITAV value that does not fit its type is refused before sending', () => {
  const ctx = pbmContext(pki, server);
  expect(() => ctx.pushGenmITAV({ type: 'suppLangTags', value: Buffer.from([0x0c, 0x02, 0x68, 0x69]) })).toThrow(
    expect.objectContaining({ name: 'CmpError', message: expect.stringMatching(/not a valid DER value/) }),
  );
});

test('getCaCerts sends a caCerts genm; an empty answer gives an empty list', async () => {
  const ctx = pbmContext(pki, server);
  await expect(ctx.getCaCerts()).resolves.toEqual([]);
  // OpenSSL's rule: the context must be clean before the next such request
  await expect(ctx.getCaCerts()).rejects.toMatchObject({ name: 'CmpError' });
  ctx.reinit();
  await expect(ctx.getCaCerts()).resolves.toEqual([]);
});

test('getRootCaKeyUpdate rejects a genp without a rootCaKeyUpdate ITAV', async () => {
  const ctx = pbmContext(pki, server);
  const err = await ctx.getRootCaKeyUpdate(pki.read('ca.crt')).catch((e) => e);
  expect(err.name).toBe('CmpError');
  expect(err.message).toMatch(/rootCaKeyUpdate/);
});

test('a reinitialised context runs a second transaction with a new transactionID', async () => {
  const ctx = pbmContext(pki, server);
  await ctx.execIR();
  ctx.reinit();
  expect(ctx.getNewCert()).toBeNull();
  expect(ctx.getStatus()).toBe(-1);
  expectEnrolled(ctx, await ctx.execIR());
});

test("reinit() lets go of the context's kept-alive connection at once, as OpenSSL does: the mock server, one connection at a time, serves the next context", async () => {
  // a request left waiting (tryCertReq) keeps its connection for the polls to come
  const polling = await startMock(pki, ['-poll_count', '5', '-check_after', '1']);
  try {
    const first = pbmContext(pki, polling);
    expect(await first.tryCertReq(CertReqType.IR)).toMatchObject({ done: false });
    first.reinit(); // first stays open, unused
    const second = pbmContext(pki, polling);
    second.setOption(Option.MSG_TIMEOUT, 5);
    // answered (waiting, or done where the mock's poll count ran out), not timed out behind first's connection
    expect(typeof (await second.tryCertReq(CertReqType.IR)).done).toBe('boolean');
    expect(first.getStatus()).toBe(-1); // what reinit() cleared reads as cleared
  } finally {
    await polling.stop();
  }
});

test('parallel transactions on separate contexts all succeed', async () => {
  const ctxs = Array.from({ length: 8 }, () => {
    const c = pbmContext(pki, server);
    c.setOption(25 /* IMPLICIT_CONFIRM */, 1);
    return c;
  });
  const certs = await Promise.all(ctxs.map((c) => c.execIR()));
  for (const c of certs) expect(c.raw.equals(expected.raw)).toBe(true);
});
