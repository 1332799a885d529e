import { CertReqType, PKIStatus, httpTransport, opensslVersion } from '../lib';
import { closeAll, pbmContext } from './helpers/context';
import { MockServer, startMock } from './helpers/mock-server';
import { Pki, makePki, removePki } from './helpers/pki';
import { startRelay } from './helpers/relay';

let pki: Pki;
let server: MockServer;

beforeAll(async () => {
  pki = makePki();
  server = await startMock(pki, ['-poll_count', '2', '-check_after', '1']);
});
afterEach(closeAll);
afterAll(async () => {
  await server.stop();
  removePki(pki);
});

// The event loop's longest silence while `p` runs: a loop blocked through a 1 s
// poll wait would be silent for all of it.
async function ticksDuring<T>(p: Promise<T>): Promise<{ value: T; ticks: number; ms: number; maxGap: number }> {
  let ticks = 0;
  const start = Date.now();
  let last = start;
  let maxGap = 0;
  const timer = setInterval(() => {
    ticks++;
    const now = Date.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 50);
  try {
    const value = await p;
    const end = Date.now();
    return { value, ticks, ms: end - start, maxGap: Math.max(maxGap, end - last) };
  } finally {
    clearInterval(timer);
  }
}

test('execIR polls inside the transaction, without blocking the event loop', async () => {
  const ctx = pbmContext(pki, server);
  const { value: cert, ticks, ms, maxGap } = await ticksDuring(ctx.execIR());
  expect(cert.subject).toContain('CN=newkey');
  expect(ms).toBeGreaterThanOrEqual(900); // a checkAfter wait of 1 s
  expect(ticks).toBeGreaterThan(0);
  expect(maxGap).toBeLessThan(800); // never silent for most of the wait
});

test('tryCertReq returns checkAfter while waiting, then the certificate', async () => {
  const ctx = pbmContext(pki, server);
  const first = await ctx.tryCertReq(CertReqType.IR);
  expect(first).toEqual({ done: false, checkAfter: 1 });
  expect(ctx.getStatus()).toBe(PKIStatus.waiting);
  let r = first;
  let rounds = 1;
  while (!r.done) {
    await new Promise((res) => setTimeout(res, (r as { checkAfter: number }).checkAfter * 1000));
    r = await ctx.tryCertReq(CertReqType.IR);
    rounds++;
  }
  expect(rounds).toBe(2);
  expect(r.cert!.subject).toContain('CN=newkey');
  expect(ctx.getStatus()).toBe(PKIStatus.accepted);
});

test('a negative type aborts a pending tryCertReq and tells the server', async () => {
  const ctx = pbmContext(pki, server);
  expect((await ctx.tryCertReq(CertReqType.IR)).done).toBe(false);
  const aborted = await ctx.tryCertReq(-1);
  expect(aborted).toEqual({ done: true, cert: null });
  expect(ctx.getNewCert()).toBeNull();
  // the server has closed the transaction: a fresh one works
  ctx.reinit();
  await expect(ctx.execIR()).resolves.toBeDefined();
});

describe('aborting a pending request tells the server', () => {
  let slow: MockServer;
  beforeEach(async () => {
    slow = await startMock(pki, ['-poll_count', '3', '-check_after', '30', '-verbosity', '7']);
  });
  afterEach(() => slow.stop());

  test('an AbortSignal during the poll wait of execIR', async () => {
    const ctx = pbmContext(pki, slow);
    const ac = new AbortController();
    const p = ctx.execIR({ signal: ac.signal });
    await new Promise((r) => setTimeout(r, 300));
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'ERR_CMP_ABORTED' });
    await new Promise((r) => setTimeout(r, 200));
    expect(slow.output()).toMatch(/StatusString: "polling aborted"/);
  });

  test('an AbortSignal while a tryCertReq poll waits in a JS transport (withdrawn where OpenSSL still can)', async () => {
    const ctx = pbmContext(pki, slow);
    // one upstream connection per message: the mock serves one connection at a time
    const relay = await startRelay(slow.port);
    const send = httpTransport(relay.url);
    let stall = false;
    ctx.setTransferCallback(async (req) => {
      if (stall) await new Promise((r) => setTimeout(r, 2000));
      return send(req);
    });
    expect((await ctx.tryCertReq(CertReqType.IR)).done).toBe(false);
    stall = true;
    const ac = new AbortController();
    const p = ctx.tryCertReq(CertReqType.IR, null, { signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    await expect(p).rejects.toMatchObject({ code: 'ERR_CMP_ABORTED' });
    await new Promise((r) => setTimeout(r, 2500));
    if (opensslVersion.startsWith('OpenSSL 3.0.')) {
      expect(slow.output()).toMatch(/StatusString: "polling aborted"/);
    } else {
      // OpenSSL 3.2+ leaves the waiting state when an exchange fails, after
      // which OSSL_CMP_try_certreq can no longer withdraw the request
      expect(ctx.getStatus()).not.toBe(PKIStatus.waiting);
      expect(slow.output()).not.toMatch(/polling aborted/);
    }
    await relay.close();
  });
});
