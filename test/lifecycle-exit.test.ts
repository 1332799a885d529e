import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { MockServer, startMock } from './helpers/mock-server';
import { Pki, makePki, removePki } from './helpers/pki';

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

function child(mode: string, nodeArgs: string[] = []) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [...nodeArgs, path.join(__dirname, 'fixtures', 'lifecycle-child.js'), mode,
    String(server.port), pki.file('newkey.key')], { encoding: 'utf8', timeout: 20000 });
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
