import { promises as dns } from 'node:dns';
import { promises as fs } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { Option, httpTransport } from '../lib';
import { closeAll, pbmContext } from './helpers/context';
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
  expect(maxLag).toBeLessThan(200);
}, 60000);
