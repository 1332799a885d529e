// One structured event per transaction, and Prometheus metrics scraped over
// HTTP, from CmpServer and from openssl-cmp -port.
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { promisify } from 'node:util';
import { CmpContext, CmpError, CmpServer, FailInfo, Option, PKIStatus, TestCa } from '../lib';
import type { TransactionEvent } from '../lib';
import { startServer, usePki } from './helpers/cli-procs';
import { closeAll, track } from './helpers/context';
import { sample } from './helpers/metrics';

const exec = promisify(execFile);
const pki = usePki();
afterEach(closeAll);

const newKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

function client(server: CmpServer, secret = 'sec'): CmpContext {
  const ctx = track(new CmpContext());
  ctx.setTransferCallback(server.transfer);
  ctx.setReferenceValue('ref');
  ctx.setSecretValue(secret);
  ctx.setNewPkey(newKey());
  ctx.setSubjectName('/CN=evented/O=Ops');
  return ctx;
}

test('onTransaction: one event per transaction with its id, messages, sender, status, failInfo names, duration', async () => {
  const events: TransactionEvent[] = [];
  const ca = await TestCa.create();
  let polls = 0;
  const base = ca.handlers();
  const server = new CmpServer({
    ref: 'ref', secret: 'sec', ca, grantImplicitConfirm: true, onTransaction: (e) => events.push(e),
    handlers: {
      ...base,
      certReq: (req) => {
        if (req.subject === '/CN=refuse-me') return { status: PKIStatus.rejection, failInfo: (1 << FailInfo.badPOP) | (1 << FailInfo.notAuthorized) };
        if (req.subject === '/CN=patient') return { waiting: true, checkAfter: 0 };
        return base.certReq!(req);
      },
      pollReq: (req) => (++polls < 2 ? { waiting: true, checkAfter: 0 } : base.certReq!(req)),
    },
  });
  const ok = client(server);
  const tid = Buffer.alloc(16, 0x5a);
  ok.setTransactionID(tid);
  await ok.execIR();
  const refused = client(server);
  refused.setSubjectName('/CN=refuse-me');
  await expect(refused.execIR()).rejects.toBeInstanceOf(CmpError);
  const patient = client(server);
  patient.setSubjectName('/CN=patient');
  await patient.execIR();
  const implicit = client(server);
  implicit.setOption(Option.IMPLICIT_CONFIRM, 1);
  await implicit.execIR();
  await expect(client(server, 'wrong').execIR()).rejects.toBeInstanceOf(CmpError);
  await expect(server.handle(Buffer.from('3000', 'hex'))).rejects.toThrow(/not a DER PKIMessage/);
  await server.close();

  expect(events.map((e) => [e.messages.join(' '), e.status, e.failInfo.join(','), e.outcome])).toEqual([
    ['ir ip certConf pkiconf', 'accepted', '', 'completed'],
    ['ir ip', 'rejection', 'badPOP,notAuthorized', 'completed'],
    ['ir ip pollReq pollRep pollReq ip certConf pkiconf', 'accepted', '', 'completed'],
    ['ir ip', 'accepted', '', 'completed'], // implicitly confirmed
    ['ir error', 'rejection', 'badRequest', 'error'],
    ['', null, '', 'refused'],
  ]);
  expect(events[0]).toMatchObject({ transactionId: tid.toString('hex'), type: 'ir', sender: '/CN=evented/O=Ops', remote: null });
  expect(events[5]).toMatchObject({ transactionId: null, type: 'unreadable', reason: expect.stringMatching(/not a DER PKIMessage/) });
  for (const e of events) {
    expect(e.durationMs).toBeGreaterThan(0);
    expect(Date.parse(e.start)).toBeGreaterThan(Date.now() - 60000);
  }
});

test('a transactionID set after reinit() is the one the next transaction sends (the reinit does not clear it later)', async () => {
  const events: TransactionEvent[] = [];
  const server = new CmpServer({ ref: 'ref', secret: 'sec', ca: await TestCa.create(), onTransaction: (e) => events.push(e) });
  try {
    const ctx = client(server);
    await ctx.execIR();
    ctx.reinit();
    const tid = Buffer.alloc(16, 0x7b);
    ctx.setTransactionID(tid);
    await ctx.execIR();
    expect(events.map((e) => e.outcome)).toEqual(['completed', 'completed']);
    expect(events[0].transactionId).not.toBe(tid.toString('hex'));
    expect(events[1].transactionId).toBe(tid.toString('hex'));
  } finally {
    await server.close();
  }
});

test('a transaction left open ends as "abandoned" after the timeout, or when the server closes', async () => {
  const events: TransactionEvent[] = [];
  const server = new CmpServer({ ref: 'ref', secret: 'sec', transactionTimeout: 1, onTransaction: (e) => events.push(e) });
  const gone = client(server);
  let n = 0;
  gone.setTransferCallback(async (req) => {
    if (n++ === 1) throw new Error('client went away before certConf');
    return server.handle(req);
  });
  await expect(gone.execIR()).rejects.toBeInstanceOf(CmpError);
  expect(events).toEqual([]);
  const deadline = Date.now() + 5000;
  const abandoned = () => events.filter((e) => e.outcome === 'abandoned');
  while (Date.now() < deadline && abandoned().length === 0) {
    await new Promise((r) => setTimeout(r, 250));
    await client(server).getCaCerts(); // any later request looks at what is overdue
  }
  expect(abandoned()).toEqual([expect.objectContaining({ messages: ['ir', 'ip'], outcome: 'abandoned', status: 'accepted' })]);
  const second = client(server);
  n = 0;
  second.setTransferCallback(async (req) => {
    if (n++ === 1) throw new Error('gone again');
    return server.handle(req);
  });
  await expect(second.execIR()).rejects.toBeInstanceOf(CmpError);
  await server.close();
  expect(abandoned()).toHaveLength(2);
});

test('metrics over HTTP: transactions by type and status, latency, in flight, queued, refused for load', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const ca = await TestCa.create();
  const server = new CmpServer({
    ref: 'ref', secret: 'sec', ca, metrics: true, maxConcurrent: 1, maxPending: 2,
    handlers: { ...ca.handlers(), certReq: async (req) => (req.subject === '/CN=slow' ? gate.then(() => ca.handlers().certReq!(req)) : ca.handlers().certReq!(req)) },
  });
  const { port } = await server.listen({ metricsPath: '/metrics' });
  const scrape = async () => {
    const r = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    return r.text();
  };
  const cmp = (args: string[]) => exec('openssl', ['cmp', '-config', '', '-server', `127.0.0.1:${port}`, '-path', 'pkix/', '-ref', 'ref',
    ...args], { cwd: pki().dir }).catch((e) => e);
  await cmp(['-secret', 'pass:sec', '-cmd', 'ir', '-newkey', 'newkey.key', '-subject', '/CN=m', '-certout', 'm.pem']);
  await cmp(['-secret', 'pass:wrong', '-cmd', 'ir', '-newkey', 'newkey.key', '-subject', '/CN=m', '-certout', 'm.pem']);

  // one request held by its handler, one waiting its turn, the third refused
  const slow = cmp(['-secret', 'pass:sec', '-cmd', 'ir', '-newkey', 'newkey.key', '-subject', '/CN=slow', '-certout', 's.pem']);
  let text = '';
  for (const deadline = Date.now() + 10000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    text = await scrape();
    if (sample(text, 'cmp_server_requests_in_flight') === 1) break;
  }
  expect(sample(text, 'cmp_server_requests_in_flight')).toBe(1);
  const waiting = cmp(['-secret', 'pass:sec', '-cmd', 'genm', '-infotype', 'signKeyPairTypes']);
  for (const deadline = Date.now() + 10000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    text = await scrape();
    if (sample(text, 'cmp_server_requests_queued') === 1) break;
  }
  expect(sample(text, 'cmp_server_requests_queued')).toBe(1);
  const busy = await fetch(`http://127.0.0.1:${port}/pkix/`, { method: 'POST', headers: { 'content-type': 'application/pkixcmp' },
    body: Buffer.from('3000', 'hex') });
  expect(busy.status).toBe(503);
  release();
  await slow;
  await waiting;
  text = await scrape();
  await server.close();

  expect(sample(text, 'cmp_server_transactions_total', { type: 'ir', status: 'accepted', outcome: 'completed' })).toBe(2);
  expect(sample(text, 'cmp_server_transactions_total', { type: 'ir', status: 'rejection', outcome: 'error' })).toBe(1);
  expect(sample(text, 'cmp_server_transactions_total', { type: 'genm', status: 'none', outcome: 'completed' })).toBe(1);
  expect(sample(text, 'cmp_server_requests_refused_total', { reason: 'load' })).toBe(1);
  expect(sample(text, 'cmp_server_request_duration_seconds_count', { type: 'ir' })).toBe(3);
  expect(sample(text, 'cmp_server_request_duration_seconds_count', { type: 'certConf' })).toBe(2);
  expect(sample(text, 'cmp_server_request_duration_seconds_bucket', { type: 'ir', le: '+Inf' })).toBe(3);
  expect(sample(text, 'cmp_server_requests_in_flight')).toBe(0);
  expect(sample(text, 'cmp_server_requests_queued')).toBe(0);
});

test('metricsPath needs the metrics option', async () => {
  const server = new CmpServer({ ref: 'ref', secret: 'sec' });
  await expect(server.listen({ metricsPath: '/metrics' })).rejects.toMatchObject({ code: 'ERR_CMP_NO_METRICS' });
  await expect(server.metrics()).rejects.toMatchObject({ code: 'ERR_CMP_NO_METRICS' });
  await server.close();
});

test('openssl-cmp -port -json_events -metrics_path: JSON lines on stdout, metrics on the path', async () => {
  const srv = await startServer('ours', ['-srv_ref', '1234', '-srv_secret', 'pass:test', '-json_events', '-metrics_path', '/metrics'], pki().dir);
  await exec('openssl', ['cmp', '-config', '', '-server', `127.0.0.1:${srv.port}`, '-path', 'pkix/', '-ref', '1234', '-secret', 'pass:test',
    '-cmd', 'ir', '-newkey', 'newkey.key', '-subject', '/CN=json', '-certout', 'json.pem'], { cwd: pki().dir });
  const line = await srv.waitFor(/^\{.*\}$/m);
  const event = JSON.parse(line[0]) as TransactionEvent;
  expect(event).toMatchObject({ type: 'ir', messages: ['ir', 'ip', 'certConf', 'pkiconf'], status: 'accepted', outcome: 'completed',
    sender: '/CN=json' });
  expect(event.remote).toMatch(/127\.0\.0\.1$/);
  const text = await (await fetch(`http://127.0.0.1:${srv.port}/metrics`)).text();
  expect(sample(text, 'cmp_server_transactions_total', { type: 'ir', status: 'accepted', outcome: 'completed' })).toBe(1);
});

test('metrics without prom-client installed: a clear error naming the package to install', async () => {
  // prom-client made unresolvable, as where optional dependencies were skipped
  const script = `
    const Module = require('node:module');
    const resolve = Module._resolveFilename;
    Module._resolveFilename = function (request, ...rest) {
      if (request === 'prom-client') throw Object.assign(new Error("Cannot find module 'prom-client'"), { code: 'MODULE_NOT_FOUND' });
      return resolve.call(this, request, ...rest);
    };
    const { CmpServer } = require(${JSON.stringify(require('node:path').join(__dirname, '..', 'dist'))});
    try { new CmpServer({ ref: 'r', secret: 's', metrics: true }); console.log('no error'); }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
    new CmpServer({ ref: 'r', secret: 's', onTransaction: () => {} }).close().then(() => console.log('events alone work'));`;
  const { stdout } = await exec(process.execPath, ['-e', script]);
  const [first, second] = stdout.trim().split('\n');
  expect(JSON.parse(first)).toEqual({ code: 'ERR_CMP_MISSING_DEPENDENCY', message: expect.stringMatching(/npm install prom-client@15\.1\.3/) });
  expect(second).toBe('events alone work');
});
