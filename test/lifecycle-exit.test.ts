import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { MockServer, startMock } from './helpers/mock-server';
import { Pki, makePki, removePki } from './helpers/pki';
import { StuckListener, startStuckListener } from './helpers/stuck-listener';

let pki: Pki;
let server: MockServer;

beforeAll(() => {
  pki = makePki();
});
// A fresh server per test: the mock's poll count is not reset between transactions.
beforeEach(async () => {
  // the enrollment waits 30 s before polling: only an abort ends it early
  server = await startMock(pki, ['-poll_count', '2', '-check_after', '30']);
});
afterEach(() => server.stop());
afterAll(() => removePki(pki));

function child(mode: string, nodeArgs: string[] = [], port = server.port) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [...nodeArgs, path.join(__dirname, 'fixtures', 'lifecycle-child.js'), mode,
    String(port), pki.file('newkey.key')], { encoding: 'utf8', timeout: 20000 });
  return { ...r, ms: Date.now() - started };
}

test('process.exit() while a transaction sleeps between polls exits at once, cleanly', () => {
  const r = child('exit-during-poll');
  expect(r.signal).toBeNull();
  expect(r.status).toBe(0);
  expect(r.ms).toBeLessThan(10000);
});

test('close() during a transaction aborts it and the process ends normally', () => {
  const r = child('close-during-poll');
  expect(r.signal).toBeNull();
  expect(r.status).toBe(0);
  expect(r.stdout.trim()).toBe('rejected ERR_CMP_ABORTED');
  expect(r.ms).toBeLessThan(10000);
});

test('garbage collection of a closed context with a transaction in flight', () => {
  const r = child('gc-after-close', ['--expose-gc']);
  expect(r.signal).toBeNull();
  expect(r.status).toBe(0);
  expect(r.stdout.trim()).toBe('rejected ERR_CMP_ABORTED');
});

test('terminating a worker_thread with a transaction in flight', () => {
  const r = child('worker-terminate');
  expect(r.signal).toBeNull();
  expect(r.status).toBe(0);
  expect(r.stdout.trim()).toBe('worker exited 1');
  expect(r.ms).toBeLessThan(10000);
});

test('process.exit() while transactions wait in JS transfer callbacks', () => {
  const r = child('exit-in-callback');
  expect(r.signal).toBeNull();
  expect(r.status).toBe(0);
  expect(r.ms).toBeLessThan(10000);
});

test('close() and GC while the transaction waits in a JS callback; a late answer is harmless', () => {
  const r = child('close-in-callback', ['--expose-gc']);
  expect(r.signal).toBeNull();
  expect(r.status).toBe(0);
  expect(r.stdout.trim()).toBe('rejected ERR_CMP_ABORTED');
});

test('terminating a worker_thread whose transaction waits in a JS callback', () => {
  const r = child('worker-in-callback');
  expect(r.signal).toBeNull();
  expect(r.status).toBe(0);
  expect(r.stdout.trim()).toBe('worker exited 1');
  expect(r.ms).toBeLessThan(10000);
});

describe('teardown while a transaction is stuck in connect(), which nothing interrupts', () => {
  let listener: StuckListener;
  let stuckPort: number;
  beforeAll(async () => {
    listener = await startStuckListener();
    stuckPort = listener.port;
  });
  afterAll(() => listener.stop());

  // Executor::kTeardownWait is 1 s: teardown waits that long, then leaves the stuck thread behind.
  test('process.exit() returns within the teardown bound', () => {
    const r = child('exit-stuck-connect', [], stuckPort);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('exiting'); // the transaction was still in connect()
    expect(r.ms).toBeLessThan(4000);
  });

  test('close() settles the transaction at once, and the process then ends on its own', () => {
    const r = child('close-stuck-connect', [], stuckPort);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('rejected ERR_CMP_ABORTED');
    expect(r.ms).toBeLessThan(5000);
  });

  test('worker.terminate() returns within the teardown bound', () => {
    const r = child('worker-stuck-connect', [], stuckPort);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    const m = /^terminated in (\d+) ms$/m.exec(r.stdout);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeLessThan(2500);
    expect(r.stdout).not.toMatch(/worker: /); // it never got past connect()
  });
});
