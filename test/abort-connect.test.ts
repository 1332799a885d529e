// An abort reaches a transaction whose connect() hangs: the listener's accept
// queue is full, so the SYN goes unanswered until MSG_TIMEOUT.
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import { CmpContext, CmpError, Option, getMaxThreads, setMaxThreads } from '../lib';
import { closeAll, track } from './helpers/context';
import { StuckListener, startStuckListener } from './helpers/stuck-listener';

const MSG_TIMEOUT = 20;
const newKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
let listener: StuckListener;
let stuckPort: number;

beforeAll(async () => {
  listener = await startStuckListener();
  stuckPort = listener.port;
});
afterEach(closeAll);
afterAll(() => listener.stop());

function stuckContext(port = stuckPort): CmpContext {
  const ctx = track(new CmpContext());
  ctx.setServer('127.0.0.1');
  ctx.setServerPort(port);
  ctx.setServerPath('pkix/');
  ctx.setReferenceValue('ref');
  ctx.setSecretValue('secret');
  ctx.setSubjectName('/CN=stuck');
  ctx.setNewPkey(newKey);
  ctx.setOption(Option.MSG_TIMEOUT, MSG_TIMEOUT);
  return ctx;
}

// The inodes of this process's sockets in SYN_SENT towards the stuck port
// (Linux /proc); an earlier test's thread may still be among them.
function connectingSockets(toPort = stuckPort): Set<string> {
  const ours = new Set<string>();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/self/fd/${fd}`));
      if (m) ours.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  const port = toPort.toString(16).toUpperCase().padStart(4, '0');
  const rows = fs
    .readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/));
  return new Set(rows.filter((f) => f.length > 9 && f[2] === `0100007F:${port}` && f[3] === '02' && ours.has(f[9])).map((f) => f[9]));
}

const isNew = (before: Set<string>, port = stuckPort) => [...connectingSockets(port)].some((s) => !before.has(s));

async function untilConnecting(before: Set<string>): Promise<void> {
  const deadline = Date.now() + 10000;
  while (!isNew(before)) {
    if (Date.now() > deadline) throw new Error('the transaction never reached connect()');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function abortedWithin(p: Promise<unknown>, ms: number): Promise<CmpError> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the transaction did not end within ${ms} ms of the abort`)), ms);
  });
  try {
    const err = await Promise.race([p.then(() => new Error('expected the transaction to fail'), (e: unknown) => e), late]);
    expect(err).toBeInstanceOf(CmpError);
    expect(Date.now() - started).toBeLessThan(ms);
    return err as CmpError;
  } finally {
    clearTimeout(timer);
  }
}

const linux = process.platform === 'linux' ? describe : describe.skip;

linux('an abort reaches a transaction stuck in connect()', () => {
  // first: a thread still stuck from another case would hold the single thread until MSG_TIMEOUT
  test('an abort before the exchange starts keeps it from connecting at all', async () => {
    // a port of its own: the threads of the other cases keep connecting to theirs until MSG_TIMEOUT
    const own = await startStuckListener();
    const threads = getMaxThreads();
    // the only thread is held by a transaction parked in a JS transport, so the stuck one waits its turn:
    // the abort comes before its exchange for certain, however the machine schedules its threads
    setMaxThreads(1);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let parked!: () => void;
    const isParked = new Promise<void>((resolve) => (parked = resolve));
    try {
      const holder = stuckContext(own.port);
      holder.setTransferCallback(async () => {
        parked();
        await released;
        throw new Error('released');
      });
      const held = holder.execIR().catch((e: unknown) => e);
      await isParked;
      const ctx = stuckContext(own.port);
      const ac = new AbortController();
      const p = ctx.execIR({ signal: ac.signal });
      ac.abort();
      release();
      await held;
      expect((await abortedWithin(p, 3000)).code).toBe('ERR_CMP_ABORTED');
      expect(connectingSockets(own.port).size).toBe(0);
    } finally {
      release();
      setMaxThreads(threads);
      own.stop();
    }
  });

  test('AbortSignal', async () => {
    const ctx = stuckContext();
    const before = connectingSockets();
    const ac = new AbortController();
    const p = ctx.execIR({ signal: ac.signal });
    await untilConnecting(before);
    ac.abort();
    expect((await abortedWithin(p, 3000)).code).toBe('ERR_CMP_ABORTED');
  });

  test('close()', async () => {
    const ctx = stuckContext();
    const before = connectingSockets();
    const p = ctx.execIR();
    await untilConnecting(before);
    ctx.close();
    expect((await abortedWithin(p, 3000)).code).toBe('ERR_CMP_ABORTED');
  });
});
