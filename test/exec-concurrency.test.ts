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

test('far more transactions in flight than the libuv pool has threads all settle', async () => {
  const ctxs = Array.from({ length: 64 }, () => refused(pki));
  const results = await Promise.allSettled(ctxs.map((c) => c.execGENM()));
  expect(results).toHaveLength(64);
  for (const r of results) {
    expect(r.status).toBe('rejected');
    expect((r as PromiseRejectedResult).reason).toMatchObject({ name: 'CmpError', code: 'ERR_OSSL_CMP_TRANSFER_ERROR' });
  }
});
