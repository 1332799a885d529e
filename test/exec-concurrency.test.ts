import * as fs from 'node:fs';
import { CmpError } from '../lib';
import { closeAll, pbmContext, refusedContext as refused } from './helpers/context';
import { MockServer, startMock } from './helpers/mock-server';
import { Pki, makePki, removePki } from './helpers/pki';

let pki: Pki;
let server: MockServer;

beforeAll(async () => {
  pki = makePki();
  server = await startMock(pki, ['-poll_count', '2', '-check_after', '30']);
});
afterEach(closeAll);
afterAll(async () => {
  await server.stop();
  removePki(pki);
});

test('a transaction never waits behind another one sleeping between polls', async () => {
  // leave exactly one idle worker thread behind
  await expect(refused(pki).execIR()).rejects.toBeInstanceOf(CmpError);
  const sleeper = pbmContext(pki, server);
  const ac = new AbortController();
  const started = Date.now();
  // submitted in the same tick: the second must not queue behind the first,
  // which will wait 30 s for its next poll
  const sleeping = sleeper.execIR({ signal: ac.signal }).catch((e: CmpError) => e.code);
  const quick = await Promise.allSettled([refused(pki).execIR()]);
  expect(quick[0].status).toBe('rejected');
  expect(Date.now() - started).toBeLessThan(5000);
  ac.abort();
  expect(await sleeping).toBe('ERR_CMP_ABORTED');
});

test('64 transactions parked in a JS transport at once: far more than the libuv pool has threads', async () => {
  // Each request is held until all 64 have arrived, so this settles only when
  // 64 transactions block in their transports at the same time.
  const n = 64;
  const held: Array<() => void> = [];
  let allArrived!: () => void;
  const arrived = new Promise<void>((resolve) => {
    allArrived = resolve;
  });
  const transport = () => new Promise<Buffer>((_, reject) => {
    held.push(() => reject(new Error('released')));
    if (held.length === n) allArrived();
  });
  const ctxs = Array.from({ length: n }, () => {
    const ctx = refused(pki);
    ctx.setTransferCallback(transport);
    return ctx;
  });
  const results = Promise.allSettled(ctxs.map((c) => c.execGENM()));
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`only ${held.length} of ${n} requests were held at once`)), 20000);
  });
  try {
    await Promise.race([arrived, deadline]);
  } finally {
    clearTimeout(timer);
    for (const release of held) release();
  }
  const settled = await results;
  expect(settled).toHaveLength(n);
  for (const r of settled) {
    expect(r.status).toBe('rejected');
    expect((r as PromiseRejectedResult).reason).toMatchObject({ name: 'CmpError', code: 'ERR_CMP_TRANSFER_FAILED' });
  }
}, 30000);

// thread names are set where the executor can (Linux) and read here from /proc
const linux = process.platform === 'linux' ? test : test.skip;

linux("a transaction runs on a thread named openssl-cmp, told apart from libuv's in top -H, perf and /proc", async () => {
  const names = () => fs.readdirSync('/proc/self/task').map((t) => fs.readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim());
  let seen: string[] = [];
  const ctx = refused(pki);
  // the names are read while the transaction's thread waits for this transport
  ctx.setTransferCallback(async () => {
    seen = names();
    throw new Error('enough');
  });
  await expect(ctx.execGENM()).rejects.toMatchObject({ code: 'ERR_CMP_TRANSFER_FAILED' });
  expect(seen).toContain('openssl-cmp');
});
