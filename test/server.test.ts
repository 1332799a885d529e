import { execFile } from 'node:child_process';
import { X509Certificate, createPublicKey, generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { CertReqType, CmpContext, CmpError, CmpServer, FailInfo, Option, PKIStatus, PopoMethod, TestCa } from '../lib';
import { closeAll, track } from './helpers/context';
import { Pki, makePki, removePki } from './helpers/pki';

const run = promisify(execFile);
let pki: Pki;
let ca: TestCa;
let server: CmpServer;

beforeAll(async () => {
  pki = makePki(['other']);
  ca = await TestCa.create({ subject: '/CN=Server Test CA/O=openssl-cmp' });
  server = new CmpServer({ ref: 'ref', secret: 'sec', ca, trusted: ca.cert });
  // (signature-protected requests are answered as the CA itself)
});
afterEach(closeAll);
afterAll(async () => {
  await server.close();
  removePki(pki);
});

function client(srv: CmpServer = server) {
  const ctx = track(new CmpContext());
  ctx.setTransferCallback(srv.transfer);
  ctx.setReferenceValue('ref');
  ctx.setSecretValue('sec');
  ctx.setTrustedStore(ca.cert);
  return ctx;
}

function newKey() {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}

async function enroll(subject = '/CN=device/O=Test') {
  const ctx = client();
  const key = newKey();
  ctx.setNewPkey(key);
  ctx.setSubjectName(subject);
  const cert = await ctx.execIR();
  ctx.close();
  return { cert, key };
}

describe('in process, through server.transfer', () => {
  test('IR: a real certificate for the requested key, subject and SANs, issued by the CA', async () => {
    const ctx = client();
    const key = newKey();
    ctx.setNewPkey(key);
    ctx.setSubjectName('/CN=dev-1/O=Acme');
    ctx.pushSubjectAltName('DNS:dev-1.acme.example');
    const cert = await ctx.execIR();
    expect(cert.subject).toBe('CN=dev-1\nO=Acme');
    expect(cert.issuer).toBe('CN=Server Test CA\nO=openssl-cmp');
    expect(cert.subjectAltName).toBe('DNS:dev-1.acme.example');
    expect(cert.publicKey.equals(createPublicKey(key))).toBe(true);
    expect(cert.verify(ca.cert.publicKey)).toBe(true);
    expect(ctx.getCaPubs()[0].raw.equals(ca.cert.raw)).toBe(true);
    expect(ca.certificate(cert.serialNumber)).toBeDefined();
  });

  test('the validity the client requests (VALIDITY_DAYS) is the validity issued', async () => {
    const ctx = client();
    ctx.setNewPkey(newKey());
    ctx.setSubjectName('/CN=short-lived');
    ctx.setOption(Option.VALIDITY_DAYS, 10);
    const cert = await ctx.execIR();
    const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86400000;
    expect(days).toBeCloseTo(10, 1);
    ctx.reinit();
    ctx.setOption(Option.VALIDITY_DAYS, 0);
    const dflt = await ctx.execIR();
    expect((Date.parse(dflt.validTo) - Date.parse(dflt.validFrom)) / 86400000).toBeGreaterThan(300);
  });

  test('CR signed with an enrolled certificate, against the trusted CA', async () => {
    const { cert, key } = await enroll('/CN=signer');
    const ctx = track(new CmpContext());
    ctx.setTransferCallback(server.transfer);
    ctx.setCert(cert);
    ctx.setPkey(key);
    ctx.setTrustedStore(ca.cert);
    ctx.setNewPkey(newKey());
    ctx.setSubjectName('/CN=second');
    const c2 = await ctx.execCR();
    expect(c2.subject).toBe('CN=second');
  });

  test('a KUR handler sees the old certificate itself', async () => {
    const { cert, key } = await enroll('/CN=seen-by-handler');
    let seen: X509Certificate | null = null;
    const handlers = ca.handlers();
    const srv = new CmpServer({ ref: 'ref', secret: 'sec', ca, handlers: { ...handlers, certReq: (req) => {
      seen = req.oldCert;
      return handlers.certReq!(req);
    } } });
    // signed with the certificate being updated, which so travels in extraCerts
    const kur = track(new CmpContext());
    kur.setTransferCallback(srv.transfer);
    kur.setTrustedStore(ca.cert);
    kur.setCert(cert);
    kur.setPkey(key);
    kur.setNewPkey(newKey());
    await kur.execKUR();
    expect(seen!.raw.equals(cert.raw)).toBe(true);
    await srv.close();
  });

  test('KUR replaces, RR revokes, and a revoked certificate cannot be updated', async () => {
    const { cert, key } = await enroll('/CN=renew-me');
    const kur = client();
    kur.setCert(cert);
    kur.setPkey(key);
    kur.setOldCert(cert);
    kur.setNewPkey(newKey());
    const renewed = await kur.execKUR();
    expect(renewed.subject).toBe('CN=renew-me');
    expect(renewed.serialNumber).not.toBe(cert.serialNumber);

    const rr = client();
    rr.setOldCert(renewed);
    await rr.execRR();
    expect(ca.isRevoked(renewed.serialNumber)).toBe(true);

    const again = client();
    again.setCert(cert);
    again.setPkey(key);
    again.setOldCert(renewed);
    again.setNewPkey(newKey());
    const err: CmpError = await again.execKUR().catch((e) => e);
    expect(err).toBeInstanceOf(CmpError);
    expect(err.failInfo).toContain('certRevoked');
  });

  test('P10CR from a PKCS#10 CSR', async () => {
    const ctx = client();
    ctx.setP10CSR(pki.read('newkey.csr'));
    const cert = await ctx.execP10CR();
    expect(cert.subject).toBe('CN=newkey\nO=Test');
  });

  test('GENM: caCerts and rootCaKeyUpdate answered by the CA', async () => {
    const ctx = client();
    const cas = await ctx.getCaCerts();
    expect(cas.map((c) => c.raw.equals(ca.cert.raw))).toEqual([true]);
    ctx.reinit();
    await expect(ctx.getRootCaKeyUpdate(ca.cert)).resolves.toEqual({ newWithNew: null });
  });

  test('RR of an unknown certificate is rejected with badCertId', async () => {
    const ctx = client();
    ctx.setOldCert(pki.read('client.crt'));
    const err: CmpError = await ctx.execRR().catch((e) => e);
    expect(err.pkiStatus).toBe(PKIStatus.rejection);
    expect(err.failInfo).toEqual(['badCertId']);
  });
});

describe('handlers', () => {
  test('rejection with failInfo and text, field by field', async () => {
    const srv = new CmpServer({ ref: 'ref', secret: 'sec', handlers: {
      certReq: () => ({ status: PKIStatus.rejection, failInfo: 1 << FailInfo.badPOP | 1 << FailInfo.notAuthorized, text: 'not today' }),
    } });
    const ctx = client(srv);
    ctx.setNewPkey(newKey());
    ctx.setSubjectName('/CN=x');
    const err: CmpError = await ctx.execIR().catch((e) => e);
    expect(err.code).toBe('ERR_OSSL_CMP_REQUEST_REJECTED_BY_SERVER');
    expect(err.failInfo).toEqual(['badPOP', 'notAuthorized']);
    expect(err.statusString).toEqual(['not today']);
    await srv.close();
  });

  test('waiting, then the certificate: polling through execIR and tryCertReq', async () => {
    let polls = 0;
    const srv = new CmpServer({ ref: 'ref', secret: 'sec', handlers: {
      certReq: () => ({ waiting: true, checkAfter: 0 }),
      pollReq: (req) => (++polls % 3 ? { waiting: true, checkAfter: 0 } : { cert: ca.issue({ publicKey: req.publicKey!, subject: req.subjectDer! }) }),
    } });
    const ctx = client(srv);
    ctx.setNewPkey(newKey());
    ctx.setSubjectName('/CN=patient');
    expect((await ctx.execIR()).subject).toBe('CN=patient');
    expect(polls).toBe(3);
    ctx.reinit();
    const first = await ctx.tryCertReq(CertReqType.IR);
    expect(first).toEqual({ done: false, checkAfter: 0 });
    let r = first;
    while (!r.done) r = await ctx.tryCertReq(CertReqType.IR);
    expect(r.cert!.subject).toBe('CN=patient');
    await srv.close();
  });

  test('certConf and error handlers see what the client sent; implicit confirmation skips certConf', async () => {
    const confs: unknown[] = [];
    const errors: unknown[] = [];
    const handlers = { ...ca.handlers(), certConf: (c: unknown) => void confs.push(c), error: (e: unknown) => void errors.push(e) };
    const srv = new CmpServer({ ref: 'ref', secret: 'sec', handlers, grantImplicitConfirm: true });
    const ctx = client(srv);
    ctx.setNewPkey(newKey());
    ctx.setSubjectName('/CN=c');
    await ctx.execIR();
    expect(confs).toHaveLength(1);
    ctx.reinit();
    ctx.setOption(Option.IMPLICIT_CONFIRM, 1);
    await ctx.execIR();
    expect(confs).toHaveLength(1);
    ctx.reinit();
    ctx.setOption(Option.IMPLICIT_CONFIRM, 0);
    ctx.setCertConfCallback(() => 1 << FailInfo.badCertTemplate);
    await expect(ctx.execIR()).rejects.toBeInstanceOf(CmpError);
    expect(confs).toHaveLength(2);
    await srv.close();
  });

  test('a throwing handler becomes a CMP error message, not a crash', async () => {
    const srv = new CmpServer({ ref: 'ref', secret: 'sec', handlers: { certReq: () => { throw new Error('db down'); } } });
    const ctx = client(srv);
    ctx.setNewPkey(newKey());
    ctx.setSubjectName('/CN=x');
    const err: CmpError = await ctx.execIR().catch((e) => e);
    expect(err.code).toBe('ERR_OSSL_CMP_RECEIVED_ERROR');
    expect(err.pkiStatus).toBe(PKIStatus.rejection);
    await srv.close();
  });

  test('abandoned transactions expire; maxTransactions bounds the open ones', async () => {
    const srv = new CmpServer({ ref: 'ref', secret: 'sec', ca, transactionTimeout: 1, maxTransactions: 2 });
    const abandon = async () => {
      const ctx = client(srv);
      let n = 0;
      ctx.setTransferCallback(async (req) => {
        if (n++ === 1) throw new Error('client went away before certConf');
        return srv.handle(req);
      });
      ctx.setNewPkey(newKey());
      ctx.setSubjectName('/CN=gone');
      await expect(ctx.execIR()).rejects.toBeInstanceOf(CmpError);
    };
    await abandon();
    await abandon();
    const third = client(srv);
    third.setNewPkey(newKey());
    third.setSubjectName('/CN=third');
    const err: CmpError = await third.execIR().catch((e) => e);
    expect((err.cause as CmpError).message).toMatch(/too many open transactions/);
    await new Promise((r) => setTimeout(r, 2100));
    third.reinit();
    await expect(third.execIR()).resolves.toBeInstanceOf(X509Certificate);
    await srv.close();
  });
});

describe('backpressure', () => {
  test('beyond maxPending, handle() rejects with ERR_CMP_SERVER_BUSY and HTTP answers 503 with Retry-After', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered = 0;
    const issue = ca.handlers();
    const srv = new CmpServer({
      ref: 'ref', secret: 'sec', ca, grantImplicitConfirm: true, maxPending: 2,
      handlers: { certReq: async (req) => { entered++; await gate; return issue.certReq!(req); } },
    });
    const { url } = await srv.listen();
    const enrolling = [0, 1].map((i) => {
      const ctx = client(srv);
      ctx.setNewPkey(newKey());
      ctx.setSubjectName(`/CN=queued ${i}`);
      ctx.setOption(Option.IMPLICIT_CONFIRM, 1);
      return ctx.execIR();
    });
    for (const deadline = Date.now() + 10000; entered < 2; await new Promise((r) => setTimeout(r, 10))) {
      if (Date.now() > deadline) throw new Error(`only ${entered} requests reached the handler`);
    }
    const refused: CmpError = await srv.handle(Buffer.from('anything')).catch((e) => e);
    expect(refused).toBeInstanceOf(CmpError);
    expect(refused.code).toBe('ERR_CMP_SERVER_BUSY');
    const rsp = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/pkixcmp' }, body: Buffer.from('x') });
    expect(rsp.status).toBe(503);
    expect(rsp.headers.get('retry-after')).toBe('1');
    release();
    const certs = await Promise.all(enrolling);
    expect(certs.map((c) => c.subject)).toEqual(['CN=queued 0', 'CN=queued 1']);
    // room again: a bad request is now parsed, and refused as such
    await expect(srv.handle(Buffer.from('x'))).rejects.toMatchObject({ code: 'ERR_CMP_BAD_REQUEST' });
    await srv.close();
  });

  test('options of the wrong type throw TypeError at construction', () => {
    expect(() => new CmpServer({ cert: 42 as never })).toThrow(TypeError);
    expect(() => new CmpServer({ secret: 'x', maxPending: '2' as never })).toThrow(/maxPending/);
    expect(() => new CmpServer({ secret: 'x', maxPending: 0 })).toThrow(TypeError);
    expect(() => new CmpServer({ secret: 'x', maxConcurrent: -1 })).toThrow(/maxConcurrent/);
  });
});

describe('over HTTP', () => {
  let url: string;
  let port: number;
  let http: CmpServer;

  beforeAll(async () => {
    http = new CmpServer({ ref: 'ref', secret: 'sec', ca, trusted: ca.cert });
    ({ url, port } = await http.listen());
    fs.writeFileSync(pki.file('testca.crt'), ca.cert.toString());
  });
  afterAll(() => http.close());

  const cli = (args: string[]) =>
    run('openssl', ['cmp', '-config', '', '-server', `127.0.0.1:${port}`, '-path', 'pkix/', ...args], { cwd: pki.dir });

  test('openssl cmp: IR with PBM, then KUR, RR and GENM with the result', async () => {
    await cli(['-cmd', 'ir', '-ref', 'ref', '-secret', 'pass:sec', '-newkey', 'client.key', '-subject', '/CN=from-openssl',
      '-certout', 'issued.pem']);
    const cert = new X509Certificate(pki.read('issued.pem'));
    expect(cert.subject).toBe('CN=from-openssl');
    expect(cert.verify(ca.cert.publicKey)).toBe(true);
    await cli(['-cmd', 'kur', '-cert', 'issued.pem', '-key', 'client.key', '-newkey', 'newkey.key', '-trusted', 'testca.crt',
      '-certout', 'renewed.pem']);
    const renewed = new X509Certificate(pki.read('renewed.pem'));
    expect(renewed.subject).toBe('CN=from-openssl');
    await cli(['-cmd', 'rr', '-ref', 'ref', '-secret', 'pass:sec', '-oldcert', 'renewed.pem']);
    expect(ca.isRevoked(renewed.serialNumber)).toBe(true);
    const genm = await cli(['-cmd', 'genm', '-ref', 'ref', '-secret', 'pass:sec', '-infotype', 'signKeyPairTypes']);
    expect(genm.stderr + genm.stdout).toMatch(/signKeyPairTypes/);
  });

  test('openssl cmp: CR with signature protection, P10CR, implicit confirm', async () => {
    const { cert, key } = await enroll('/CN=http-signer');
    fs.writeFileSync(pki.file('signer.crt'), cert.toString());
    fs.writeFileSync(pki.file('signer.key'), key.export({ format: 'pem', type: 'pkcs8' }));
    await cli(['-cmd', 'cr', '-cert', 'signer.crt', '-key', 'signer.key', '-newkey', 'newkey.key', '-subject', '/CN=cr-http',
      '-trusted', 'testca.crt', '-certout', 'cr.pem']);
    expect(new X509Certificate(pki.read('cr.pem')).subject).toBe('CN=cr-http');
    await cli(['-cmd', 'p10cr', '-ref', 'ref', '-secret', 'pass:sec', '-csr', 'newkey.csr', '-certout', 'p10.pem', '-implicit_confirm']);
    expect(new X509Certificate(pki.read('p10.pem')).subject).toBe('CN=newkey\nO=Test');
  });

  test('64 parallel clients without implicit confirmation, each with its own fresh key, all succeed', async () => {
    const results = await Promise.all(
      Array.from({ length: 64 }, async (_, i) => {
        const ctx = track(new CmpContext());
        ctx.setServer('127.0.0.1');
        ctx.setServerPort(port);
        ctx.setServerPath('pkix/');
        ctx.setReferenceValue('ref');
        ctx.setSecretValue('sec');
        ctx.setTrustedStore(ca.cert);
        const key = newKey();
        ctx.setNewPkey(key);
        ctx.setSubjectName(`/CN=parallel-${i}`);
        const cert = await ctx.execIR();
        return cert.subject === `CN=parallel-${i}` && cert.publicKey.equals(createPublicKey(key));
      }),
    );
    expect(results.filter(Boolean)).toHaveLength(64);
  }, 60000);

  test("OpenSSL's HTTP client reads a response a few read(2) calls at a time, not the header lines a byte per call", async () => {
    // In a process of its own, so that only the client's read(2) calls count (Linux: /proc/self/io).
    // OpenSSL 3.5 serves BIO_gets on a socket one byte per read(2): ~300 calls per IR and certConf.
    const script = `
      const { CmpContext } = require(${JSON.stringify(path.join(__dirname, '..'))});
      const { generateKeyPairSync } = require('node:crypto');
      const reads = () => Number(/^syscr: (\\d+)$/m.exec(require('node:fs').readFileSync('/proc/self/io', 'utf8'))[1]);
      (async () => {
        const ctx = new CmpContext();
        ctx.setServer('127.0.0.1:${port}');
        ctx.setServerPath('pkix/');
        ctx.setReferenceValue('ref');
        ctx.setSecretValue('sec');
        ctx.setTrustedStore(process.env.TRUSTED_PEM);
        ctx.setSubjectName('/CN=reads');
        ctx.setNewPkey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
        await ctx.execIR(); // whatever a first transaction reads once
        const before = reads();
        for (let i = 0; i < 10; i++) {
          ctx.reinit();
          await ctx.execIR();
        }
        process.stdout.write(String((reads() - before) / 10));
        ctx.close();
      })();`;
    const { stdout } = await run(process.execPath, ['-e', script], { env: { ...process.env, TRUSTED_PEM: ca.cert.toString() } });
    const perIr = Number(stdout);
    expect(perIr).toBeGreaterThan(0);
    expect(perIr).toBeLessThan(40);
  });

  test('bad HTTP requests get HTTP errors', async () => {
    const post = (body: Buffer, type = 'application/pkixcmp', p = '/pkix/') =>
      fetch(`http://127.0.0.1:${port}${p}`, { method: 'POST', headers: { 'content-type': type }, body });
    expect((await post(Buffer.from('junk'))).status).toBe(400);
    expect((await post(Buffer.from('junk'), 'text/plain')).status).toBe(415);
    expect((await post(Buffer.alloc(2 << 20))).status).toBe(413);
    expect((await post(Buffer.from('junk'), 'application/pkixcmp', '/other')).status).toBe(404);
    expect((await fetch(url)).status).toBe(405);
  });
});

describe('hostile input', () => {
  test('a request with crafted PBM protectionAlg parameters (CVE-2026-63076) is refused, not a crash', async () => {
    const ctx = client();
    ctx.setNewPkey(newKey());
    ctx.setSubjectName('/CN=x');
    let captured: Buffer | undefined;
    ctx.setTransferCallback(async (req) => {
      captured = req;
      return server.handle(req);
    });
    await ctx.execIR();
    const pbm = Buffer.from('06092a864886f67d07420d', 'hex');
    const at = captured!.indexOf(pbm) + pbm.length;
    expect(captured![at]).toBe(0x30);
    const evil = Buffer.from(captured!);
    evil[at] = 0x04;
    const err: CmpError = await server.handle(evil).catch((e) => e);
    expect(err.code).toBe('ERR_CMP_BAD_REQUEST');
    expect(err.message).toMatch(/CVE-2026-63076/);
  });

  test('a template key that does not decode is refused as no public key, not issued as sent', async () => {
    const srv = new CmpServer({ ca, acceptUnprotected: true, acceptRaVerified: true });
    try {
      const ctx = track(new CmpContext());
      const key = newKey();
      ctx.setNewPkey(key);
      ctx.setSubjectName('/CN=off-curve');
      ctx.setOption(Option.UNPROTECTED_SEND, 1);
      ctx.setOption(Option.POPO_METHOD, PopoMethod.RAVERIFIED); // raVerified: the server does not check a signature with the key
      ctx.setOption(Option.UNPROTECTED_ERRORS, 1);
      ctx.setTrustedStore(ca.cert);
      // the EC point as the key exports it, the last 65 bytes of its SubjectPublicKeyInfo
      const point = createPublicKey(key).export({ type: 'spki', format: 'der' }).subarray(-65);
      let sent = 0;
      ctx.setTransferCallback(async (req) => {
        const at = req.indexOf(point);
        if (at >= 0) {
          req = Buffer.from(req);
          req[at + 64] ^= 0x01; // no longer on the curve
          sent++;
        }
        return srv.handle(req);
      });
      const err: CmpError = await ctx.execIR().catch((e) => e);
      expect(sent).toBe(1);
      expect(err).toBeInstanceOf(CmpError);
      expect(err.pkiStatus).toBe(PKIStatus.rejection);
      expect(err.failInfo).toContain('badCertTemplate');
      expect(err.statusString!.join(' ')).toMatch(/no public key in the request/);
    } finally {
      await srv.close();
    }
  });

  test('a flood of requests with unique extraCerts leaves nothing retained (CVE-2026-63074)', async () => {
    const other = await TestCa.create({ subject: '/CN=elsewhere' });
    const srv = new CmpServer({ ref: 'r', secret: 's', ca });
    const extra = () => other.issue({ publicKey: createPublicKey(newKey()), subject: '/CN=extra' });
    // the count sees what it should: a transaction waiting for its certConf holds its context
    const waiting = track(new CmpContext());
    let held: { sessions: number } | undefined;
    waiting.setTransferCallback(async (req) => {
      const rsp = await srv.handle(req);
      held ??= await srv.retained();
      return rsp;
    });
    waiting.setReferenceValue('r');
    waiting.setSecretValue('s');
    waiting.setTrustedStore(ca.cert);
    waiting.setNewPkey(newKey());
    waiting.setSubjectName('/CN=waiting');
    await waiting.execIR();
    expect(held).toMatchObject({ sessions: 1 });
    // each request carries a certificate never seen before; a cache of them would keep every one
    let most = 0;
    for (let i = 0; i < 500; i++) {
      const ctx = new CmpContext();
      ctx.setTransferCallback(srv.transfer);
      ctx.setReferenceValue('r');
      ctx.setSecretValue('s');
      ctx.setExtraCertsOut([extra()]);
      await ctx.execGENM();
      ctx.close();
      const r = await srv.retained();
      most = Math.max(most, r.sessions, r.untrustedCerts);
    }
    expect(most).toBe(0);
    expect(await srv.retained()).toEqual({ sessions: 0, untrustedCerts: 0 });
    await srv.close();
  }, 120000);
});

describe('what the client puts in its requests', () => {
  test('transactionID, recipient, generalInfo, extraCerts and policies reach the wire', async () => {
    const ctx = client();
    const sent: Buffer[] = [];
    ctx.setTransferCallback(async (req) => {
      sent.push(req);
      return server.handle(req);
    });
    const tid = Buffer.alloc(16, 0xab);
    const nonce = Buffer.alloc(16, 0xcd);
    ctx.setTransactionID(tid);
    ctx.setSenderNonce(nonce);
    ctx.setRecipient('/CN=Recipient Of Choice');
    ctx.pushGeninfoITAV({ type: '1.2.3.4.5', value: Buffer.from([0x02, 0x01, 0x2a]) });
    ctx.setExtraCertsOut([pki.read('other.crt')]);
    ctx.pushPolicy('1.2.3.99');
    ctx.setNewPkey(newKey());
    ctx.setSubjectName('/CN=wire');
    await ctx.execIR();
    const ir = sent[0];
    expect(ir.includes(tid)).toBe(true);
    // OpenSSL draws a fresh senderNonce for every message; the setter's value is not sent
    expect(ir.includes(nonce)).toBe(false);
    expect(ir.includes(Buffer.from('Recipient Of Choice'))).toBe(true);
    expect(ir.includes(Buffer.from('06042a030405020 12a'.replace(/ /g, ''), 'hex'))).toBe(true); // OID 1.2.3.4.5, INTEGER 42
    expect(ir.includes(new X509Certificate(pki.read('other.crt')).raw)).toBe(true);
    expect(ir.includes(Buffer.from('06032a0363', 'hex'))).toBe(true); // policy OID 1.2.3.99
  });
});
