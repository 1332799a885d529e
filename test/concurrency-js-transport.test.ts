import { promises as dns } from 'node:dns';
import { promises as fs } from 'node:fs';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { CmpContext, CmpServer, Option, TestCa, getMaxThreads, httpTransport, setMaxThreads } from '../lib';
import { closeAll, pbmContext, track } from './helpers/context';
import { MockServer, startMock } from './helpers/mock-server';
import { Pki, makePki, removePki } from './helpers/pki';
import { Relay, startRelay } from './helpers/relay';

let pki: Pki;
let server: MockServer;
let relay: Relay;

beforeAll(async () => {
  pki = makePki();
  // one message per transaction, so the mock's single transaction state holds
  server = await startMock(pki, ['-grant_implicitconf']);
  relay = await startRelay(server.port);
});
afterEach(closeAll);
afterAll(async () => {
  await relay.close();
  await server.stop();
  removePki(pki);
});

test('64 transactions whose JS transport needs the libuv pool complete, the event loop keeps running', async () => {
  expect(process.env.UV_THREADPOOL_SIZE).toBeUndefined(); // the default pool of 4 threads
  const send = httpTransport(relay.url);
  let poolCalls = 0;
  const transport = async (req: Buffer) => {
    await fs.readFile(__filename); // libuv pool
    await dns.lookup('localhost'); // libuv pool (getaddrinfo)
    poolCalls++;
    return send(req); // fetch
  };
  const ctxs = Array.from({ length: 64 }, () => {
    const ctx = pbmContext(pki, server);
    ctx.setOption(Option.IMPLICIT_CONFIRM, 1);
    ctx.setTransferCallback(transport);
    return ctx;
  });
  let maxLag = 0;
  let last = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    maxLag = Math.max(maxLag, now - last - 10);
    last = now;
  }, 10);
  try {
    const certs = await Promise.all(ctxs.map((c) => c.execIR()));
    expect(certs).toHaveLength(64);
    for (const c of certs) expect(c).toBeInstanceOf(X509Certificate);
  } finally {
    clearInterval(timer);
  }
  expect(poolCalls).toBe(64);
  expect(maxLag).toBeLessThan(1000); // a blocked loop stalls for seconds; a loaded machine alone can reach 300 ms
}, 60000);

test('1,000 transactions in flight over a JS transport under a thread cap of 16 all complete', async () => {
  const cap = 16;
  const before = getMaxThreads();
  setMaxThreads(cap);
  const ca = await TestCa.create();
  const server = new CmpServer({ ref: 'ref', secret: 'sec', ca, grantImplicitConfirm: true });
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  let parked = 0;
  let maxParked = 0;
  let poolCalls = 0;
  // the first transports wait until `cap` of them are parked at once (or 20 s pass): whether the cap is
  // reached then depends on the executor alone, not on how fast this machine runs the rest
  let opened!: () => void;
  const full = new Promise<void>((resolve) => (opened = resolve));
  const gate = setTimeout(opened, 20000);
  const transport = async (req: Buffer) => {
    maxParked = Math.max(maxParked, ++parked);
    if (parked >= cap) opened();
    try {
      await full;
      await fs.readFile(__filename); // libuv pool
      await dns.lookup('localhost'); // libuv pool (getaddrinfo)
      poolCalls++;
      return await server.transfer(req); // the server's requests run in a lane of their own
    } finally {
      parked--;
    }
  };
  try {
    const ctxs = Array.from({ length: 1000 }, (_, i) => {
      const ctx = track(new CmpContext());
      ctx.setTransferCallback(transport);
      ctx.setReferenceValue('ref');
      ctx.setSecretValue('sec');
      ctx.setTrustedStore(ca.cert);
      ctx.setNewPkey(key);
      ctx.setSubjectName(`/CN=device ${i}`);
      ctx.setOption(Option.IMPLICIT_CONFIRM, 1);
      return ctx;
    });
    const certs = await Promise.all(ctxs.map((c) => c.execIR()));
    expect(new Set(certs.map((c) => c.serialNumber)).size).toBe(1000);
    expect(poolCalls).toBe(1000);
    // the cap was reached and never passed: the other transactions queued
    expect(maxParked).toBe(cap);
  } finally {
    clearTimeout(gate);
    setMaxThreads(before);
    await server.close();
  }
}, 120000);
