import { X509Certificate } from 'node:crypto';
import { CmpError, Option, httpTransport } from '../lib';
import { closeAll, pbmContext } from './helpers/context';
import { MockServer, startMock } from './helpers/mock-server';
import { Pki, makePki, removePki } from './helpers/pki';
import { Relay, startRelay } from './helpers/relay';

let pki: Pki;
let server: MockServer;
let relay: Relay;
const extra: Relay[] = [];

beforeAll(async () => {
  pki = makePki();
  server = await startMock(pki);
  relay = await startRelay(server.port);
});
afterEach(closeAll);
afterAll(async () => {
  await Promise.all([relay, ...extra].map((r) => r.close()));
  await server.stop();
  removePki(pki);
});

async function failure(p: Promise<unknown>): Promise<CmpError> {
  const err = await p.then(() => new Error('expected a failure'), (e: unknown) => e);
  expect(err).toBeInstanceOf(CmpError);
  return err as CmpError;
}

test('httpTransport carries every message of the transaction over fetch', async () => {
  const ctx = pbmContext(pki, server);
  ctx.setServerPort(1); // OpenSSL's own HTTP client would fail: nothing listens there
  const before = relay.requests;
  ctx.setTransferCallback(httpTransport(relay.url, { headers: { 'x-cmp-test': 'yes' } }));
  const cert = await ctx.execIR();
  expect(cert.raw.equals(new X509Certificate(pki.read('newkey.crt')).raw)).toBe(true);
  expect(relay.requests - before).toBe(2); // IR and certConf
  expect(relay.lastHeaders['x-cmp-test']).toBe('yes');
  expect(relay.lastHeaders['content-type']).toBe('application/pkixcmp');
});

test('a custom async transport sees each request as a DER PKIMessage', async () => {
  const ctx = pbmContext(pki, server);
  const seen: Buffer[] = [];
  const send = httpTransport(relay.url);
  ctx.setTransferCallback(async (req) => {
    expect(Buffer.isBuffer(req)).toBe(true);
    seen.push(req);
    return send(req);
  });
  await ctx.execIR();
  expect(seen).toHaveLength(2);
  for (const m of seen) expect(m[0]).toBe(0x30);
  // null restores OpenSSL's HTTP client
  ctx.setTransferCallback(null);
  ctx.reinit();
  await expect(ctx.execIR()).resolves.toBeInstanceOf(X509Certificate);
  expect(seen).toHaveLength(2);
});

test('a synchronous throw fails the transaction with the error as cause', async () => {
  const ctx = pbmContext(pki, server);
  const boom = new Error('no route');
  ctx.setTransferCallback(() => {
    throw boom;
  });
  const err = await failure(ctx.execIR());
  expect(err.code).toBe('ERR_CMP_TRANSFER_FAILED');
  expect(err.cause).toBe(boom);
});

test('a rejection fails the transaction with the reason as cause', async () => {
  const ctx = pbmContext(pki, server);
  ctx.setTransferCallback(() => Promise.reject(new RangeError('queue full')));
  const err = await failure(ctx.execIR());
  expect(err.code).toBe('ERR_CMP_TRANSFER_FAILED');
  expect(err.cause).toBeInstanceOf(RangeError);
});

test('a result that is not a buffer fails, with that result as cause', async () => {
  const ctx = pbmContext(pki, server);
  ctx.setTransferCallback(() => 'not bytes' as never);
  const err = await failure(ctx.execIR());
  expect(err.code).toBe('ERR_CMP_TRANSFER_FAILED');
  expect(err.cause).toBe('not bytes');
  expect(err.message).toMatch(/did not produce a Buffer/);
});

test('bytes that are not a PKIMessage fail, with the bytes as cause', async () => {
  const ctx = pbmContext(pki, server);
  const junk = Buffer.from('garbage');
  ctx.setTransferCallback(async () => junk);
  const err = await failure(ctx.execIR());
  expect(err.code).toBe('ERR_CMP_TRANSFER_FAILED');
  expect(err.message).toMatch(/not a DER PKIMessage/);
  expect(Buffer.from(err.cause as Buffer).equals(junk)).toBe(true);
});

test('a callback that never answers is cut by MSG_TIMEOUT', async () => {
  const ctx = pbmContext(pki, server);
  ctx.setOption(Option.MSG_TIMEOUT, 1);
  ctx.setTransferCallback(() => new Promise<Buffer>(() => {}));
  const started = Date.now();
  const err = await failure(ctx.execIR());
  expect(err.code).toBe('ERR_CMP_TRANSFER_FAILED');
  expect(err.message).toMatch(/did not answer within 1 s/);
  expect(Date.now() - started).toBeLessThan(5000);
});

test('TOTAL_TIMEOUT caps the wait as well', async () => {
  const ctx = pbmContext(pki, server);
  ctx.setOption(Option.MSG_TIMEOUT, 60);
  ctx.setOption(Option.TOTAL_TIMEOUT, 1);
  ctx.setTransferCallback(() => new Promise<Buffer>(() => {}));
  const started = Date.now();
  const err = await failure(ctx.execIR());
  expect(err.code).toBe('ERR_CMP_TRANSFER_FAILED');
  expect(Date.now() - started).toBeLessThan(5000);
});

test('abort while the transaction waits in the callback', async () => {
  const ctx = pbmContext(pki, server);
  ctx.setTransferCallback(() => new Promise<Buffer>(() => {}));
  const ac = new AbortController();
  const p = ctx.execIR({ signal: ac.signal });
  setTimeout(() => ac.abort(), 200);
  const started = Date.now();
  const err = await failure(p);
  expect(err.code).toBe('ERR_CMP_ABORTED');
  expect(Date.now() - started).toBeLessThan(2000);
});

test('httpTransport checks the HTTP status and content type', async () => {
  const bad = await startRelay(server.port, { status: 500 });
  const wrongType = await startRelay(server.port, { contentType: 'text/html' });
  extra.push(bad, wrongType);
  const ctx = pbmContext(pki, server);
  ctx.setTransferCallback(httpTransport(bad.url));
  const e1 = await failure(ctx.execIR());
  expect(e1.code).toBe('ERR_CMP_TRANSFER_FAILED');
  expect((e1.cause as CmpError).code).toBe('ERR_CMP_HTTP_STATUS');
  ctx.reinit();
  ctx.setTransferCallback(httpTransport(wrongType.url));
  const e2 = await failure(ctx.execIR());
  expect((e2.cause as CmpError).code).toBe('ERR_CMP_HTTP_CONTENT_TYPE');
  expect(() => httpTransport('ftp://x/')).toThrow(CmpError);
  expect(() => ctx.setTransferCallback(42 as never)).toThrow(TypeError);
});

test('a transport that rejects after its transaction timed out leaves the next transaction\'s error alone', async () => {
  const ctx = pbmContext(pki, server);
  ctx.setOption(Option.MSG_TIMEOUT, 1);
  let calls = 0;
  const late = new Error('rejected after the timeout');
  let lateRejected!: () => void;
  const rejectedLate = new Promise<void>((resolve) => {
    lateRejected = resolve;
  });
  ctx.setTransferCallback(() => {
    calls += 1;
    if (calls === 1) {
      // outlives the 1 s MSG_TIMEOUT, then rejects while the second transaction waits
      return new Promise((_, reject) => setTimeout(() => {
        reject(late);
        lateRejected();
      }, 1500));
    }
    return new Promise(() => {}); // never answers: times out without a cause of its own
  });
  const first = await failure(ctx.execIR());
  expect(first.code).toBe('ERR_CMP_TRANSFER_FAILED');
  expect(first.message).toMatch(/did not answer within 1 s/);
  expect(first.cause).toBeUndefined();
  ctx.reinit();
  let settled = false;
  const second = failure(ctx.execIR()).finally(() => {
    settled = true;
  });
  await rejectedLate;
  expect(settled).toBe(false); // the late rejection landed while the second one was in flight
  const err = await second;
  expect(err.code).toBe('ERR_CMP_TRANSFER_FAILED');
  expect(err.message).toMatch(/did not answer within 1 s/);
  expect(err.cause).toBeUndefined();
});
