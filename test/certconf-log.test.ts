import { X509Certificate } from 'node:crypto';
import { CmpError, FailInfo, LogEntry, LogLevel } from '../lib';
import { closeAll, pbmContext } from './helpers/context';
import { MockServer, startMock } from './helpers/mock-server';
import { Pki, makePki, removePki } from './helpers/pki';

let pki: Pki;
let server: MockServer;
let expected: X509Certificate;

beforeAll(async () => {
  pki = makePki(['other']);
  server = await startMock(pki);
  expected = new X509Certificate(pki.read('newkey.crt'));
});
afterEach(closeAll);
afterAll(async () => {
  await server.stop();
  removePki(pki);
});

test('certConf callback sees the new certificate and accepts it with 0', async () => {
  const ctx = pbmContext(pki, server);
  const calls: Array<[X509Certificate, number, string | null]> = [];
  ctx.setCertConfCallback((cert, failInfo, text) => {
    calls.push([cert, failInfo, text]);
    return 0;
  });
  await expect(ctx.execIR()).resolves.toBeInstanceOf(X509Certificate);
  expect(calls).toHaveLength(1);
  expect(calls[0][0].raw.equals(expected.raw)).toBe(true);
  expect(calls[0][1]).toBe(0);
});

test('an async certConf callback rejecting with failure bits fails the enrollment', async () => {
  const ctx = pbmContext(pki, server);
  ctx.setCertConfCallback(async () => 1 << FailInfo.badCertTemplate);
  const err = await ctx.execIR().catch((e) => e);
  expect(err).toBeInstanceOf(CmpError);
  expect(err.opensslErrorStack.join('\n')).toMatch(/certificate not accepted/);
});

test('a throwing certConf callback rejects the certificate, with the error as cause', async () => {
  const ctx = pbmContext(pki, server);
  const boom = new Error('policy engine down');
  ctx.setCertConfCallback(() => {
    throw boom;
  });
  const err = await ctx.execIR().catch((e) => e);
  expect(err).toBeInstanceOf(CmpError);
  expect(err.cause).toBe(boom);
});

test('setCertConfTrusted: OpenSSL checks the new certificate against these anchors', async () => {
  const wrong = pbmContext(pki, server);
  wrong.setCertConfTrusted(pki.read('other.crt'));
  const err = await wrong.execIR().catch((e) => e);
  expect(err).toBeInstanceOf(CmpError);
  wrong.close();
  const right = pbmContext(pki, server);
  right.setCertConfTrusted(pki.read('ca.crt'));
  await expect(right.execIR()).resolves.toBeInstanceOf(X509Certificate);
});

test('log callback receives OpenSSL CMP log lines asynchronously, filtered by verbosity', async () => {
  const ctx = pbmContext(pki, server);
  const entries: LogEntry[] = [];
  ctx.setLogCallback((e) => entries.push(e));
  ctx.setLogVerbosity(LogLevel.DEBUG);
  await ctx.execIR();
  await new Promise((r) => setImmediate(r));
  const messages = entries.map((e) => e.message);
  expect(messages).toEqual(expect.arrayContaining(['sending IR', 'received IP', 'sending CERTCONF', 'received PKICONF']));
  expect(entries.some((e) => e.level === LogLevel.DEBUG)).toBe(true);
  for (const e of entries) {
    expect(typeof e.component).toBe('string');
    expect(e.level).toBeLessThanOrEqual(LogLevel.DEBUG);
  }
  expect(messages.join('\n')).not.toContain('test'); // the PBM secret never shows

  entries.length = 0;
  ctx.reinit();
  ctx.setLogVerbosity(LogLevel.ERR);
  await ctx.execIR();
  await new Promise((r) => setImmediate(r));
  expect(entries).toEqual([]);
});

test('a throwing log callback does not disturb the transaction', async () => {
  const ctx = pbmContext(pki, server);
  let calls = 0;
  ctx.setLogCallback(() => {
    calls++;
    throw new Error('logger broke');
  });
  await expect(ctx.execIR()).resolves.toBeInstanceOf(X509Certificate);
  // delivered asynchronously: wait until the throwing callback has run
  for (const deadline = Date.now() + 5000; calls === 0 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 10));
  expect(calls).toBeGreaterThan(0);
});
