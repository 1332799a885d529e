// Bulk enrollment across processes: a coordinator (`openssl-cmp bulk
// -queue`) and worker processes (`openssl-cmp bulk-worker`) on a real
// redis-server, against a CA in a process of its own. Each case runs 1,000
// items, one of them with a fault: a worker SIGKILLed, Redis SIGKILLed and
// restarted, the coordinator SIGKILLed and restarted. Afterwards every item
// is confirmed exactly once in the journal and on disk, each key fits its
// certificate, every certificate the CA saw confirmed is in the output or
// among the orphans the job reported, and Redis never held a private key or
// the PBM secret in clear.
import { ChildProcess, fork, spawn } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkJobOutput, journalRows, tmpDir } from './helpers/bulk';
import { RedisServer } from './helpers/redis';

jest.setTimeout(240_000);

const COUNT = 1000;
const REF = 'dist-ref';
const SECRET = 'dist-secret-8231';
const env = { ...process.env, BULK_SECRET: SECRET };
const CLI = path.join(__dirname, '..', 'bin', 'openssl-cmp.js');

let ca: ChildProcess;
let caPort: number;
let root: string;
let redis: RedisServer;
let items: string;
const procs = new Set<ChildProcess>();
// the same two worker processes serve every case (one killed is replaced for the next); the jobs of a case are gone when it ends
const QUEUE = 'plant';
let workers: Run[] = [];

beforeAll(async () => {
  root = tmpDir();
  ca = fork(path.join(__dirname, 'fixtures', 'bulk-crash-server.js'), [REF], { env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  caPort = await new Promise<number>((resolve, reject) => {
    ca.once('message', (m: { port: number }) => resolve(m.port));
    ca.once('exit', (code) => reject(new Error(`CA process exited with ${code}`)));
  });
  redis = new RedisServer(path.join(root, 'redis'));
  await redis.start();
  items = path.join(root, 'items.jsonl');
  fs.writeFileSync(items, Array.from({ length: COUNT }, (_, i) => JSON.stringify({ id: `dev-${String(i).padStart(5, '0')}`, subject: `/CN=dev-${i}/O=Dist` })).join('\n'));
  workers = await Promise.all([worker(), worker()]);
});

afterAll(async () => {
  await stopWorkers(workers);
  for (const p of procs) p.kill('SIGKILL');
  ca?.kill('SIGKILL');
  await redis?.kill();
  fs.rmSync(root, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(args: string[]): Run {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.add(child);
  const r: Run = { child, stdout: '', stderr: '', exit: undefined as never };
  child.stdout!.on('data', (d) => (r.stdout += d));
  child.stderr!.on('data', (d) => (r.stderr += d));
  r.exit = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      procs.delete(child);
      resolve({ code, signal });
    }),
  );
  return r;
}

async function until(what: string, cond: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const url = () => `redis://127.0.0.1:${redis.port}/${QUEUE}`;

async function worker(): Promise<Run> {
  const w = run(['bulk-worker', '-config', '', '-queue', url(), '-server', `127.0.0.1:${caPort}/pkix/`, '-ref', REF, '-secret', 'env:BULK_SECRET', '-concurrency', '8', '-lock_duration', '8000']);
  await until('a worker to serve', () => /serving/.test(w.stderr) || w.child.exitCode !== null, 30_000);
  expect(w.stderr).toMatch(/serving/);
  return w;
}

function coordinator(dir: string, resume = false): Run {
  return run(['bulk', '-config', '', '-queue', url(), '-in', items, '-out_dir', path.join(dir, 'out'), '-json', '-retries', '8', ...(resume ? ['-resume'] : [])]);
}

function certFiles(dir: string): number {
  try {
    return fs.readdirSync(path.join(dir, 'out')).filter((f) => f.endsWith('.cert.pem')).length;
  } catch {
    return 0;
  }
}

function caState(): Promise<{ issued: string[]; confirmed: string[] }> {
  return new Promise((resolve) => {
    ca.once('message', resolve as never);
    ca.send('state');
  });
}

async function stopWorkers(ws: Run[]): Promise<void> {
  for (const w of ws) w.child.kill('SIGTERM');
  await Promise.all(ws.map((w) => w.exit));
}

const alive = (w: Run) => w.child.exitCode === null && w.child.signalCode === null;

/** Runs one job with `fault` applied once it is under way; checks everything afterwards. */
async function scenario(
  name: string,
  fault: (ctx: { dir: string; coord: Run; workers: Run[] }) => Promise<Run | void>,
  // a lock that ran out on a loaded machine is the queue at work, not a fault: the checks below still hold
  workerNoise = /warning: (?!a job's lock expired)|error/i,
): Promise<Record<string, any>> {
  const dir = path.join(root, name);
  const before = new Set((await caState()).confirmed);
  const said = workers.map((w) => w.stderr.length);
  let coord = coordinator(dir);
  await until('the first certificates', () => certFiles(dir) >= 150 || coord.child.exitCode !== null);
  coord = (await fault({ dir, coord, workers })) ?? coord;
  const { code } = await coord.exit;
  expect(coord.stderr).not.toMatch(/CMP error/);
  expect(code).toBe(0);
  const summary = JSON.parse(coord.stdout.trim().split('\n').pop()!);
  expect(summary).toMatchObject({ event: 'summary', failed: 0, stopped: false });
  expect(summary.confirmed + summary.skipped).toBe(COUNT);
  workers.forEach((w, i) => alive(w) && expect(w.stderr.slice(said[i])).not.toMatch(workerNoise));
  workers = await Promise.all(workers.map((w) => (alive(w) ? w : worker())));

  const { lines } = checkJobOutput(path.join(dir, 'out', 'journal.sqlite'), path.join(dir, 'out'), COUNT);
  expect(certFiles(dir)).toBe(COUNT);

  const confirmedAtCa = new Set((await caState()).confirmed.filter((s) => !before.has(s)));
  const output = new Set(lines.map((l) => l.serial));
  const orphans = new Set<string>(summary.orphans);
  for (const s of output) expect(confirmedAtCa.has(s)).toBe(true);
  for (const s of confirmedAtCa) expect(output.has(s) || orphans.has(s)).toBe(true);
  for (const s of orphans) expect(output.has(s)).toBe(false);

  // all Redis ever stored is in its append-only file: keys went sealed, the secret not at all
  const aof = redis.aof();
  expect(aof).toContain('"epk":');
  expect(aof).not.toMatch(/PRIVATE KEY/);
  expect(aof).not.toContain(SECRET);
  for (const line of lines.slice(0, 100)) {
    const der = createPrivateKey(fs.readFileSync(line.files.key)).export({ type: 'pkcs8', format: 'der' });
    expect(aof.includes(der.toString('base64'))).toBe(false);
    expect(aof.includes(der.toString('hex'))).toBe(false);
  }
  console.log(`${name}: ${summary.confirmed} confirmed, ${summary.skipped} skipped, ${summary.attempts} attempts, ${orphans.size} orphans, ${summary.seconds} s`);
  return summary;
}

test('two workers enroll 1,000 items; job names and data say what each item is', async () => {
  let sample: Record<string, any> | undefined;
  await scenario('happy', async () => {
    // what a queue dashboard shows: a BullMQ job per item, named by its operation
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const IORedis = require('ioredis').default;
    const r = new IORedis({ port: redis.port, host: '127.0.0.1' });
    try {
      sample = await r.hgetall(`bull:${QUEUE}:dev-00999`);
    } finally {
      r.disconnect();
    }
  });
  expect(sample!.name).toBe('ir');
  expect(JSON.parse(sample!.data)).toEqual({ id: 'dev-00999', operation: 'ir', subject: '/CN=dev-999/O=Dist' });
});

test('a worker SIGKILLed mid-run: its jobs stall and are finished by the other', async () => {
  const summary = await scenario('worker-kill', async ({ workers }) => {
    workers[0].child.kill('SIGKILL');
    await workers[0].exit;
  });
  expect(summary.attempts).toBeGreaterThan(COUNT); // the killed worker's jobs were started again
});

test('Redis SIGKILLed and restarted mid-run: coordinator and workers carry on', async () => {
  await scenario('redis-restart', async ({ dir }) => {
    await redis.kill();
    const seen = certFiles(dir);
    await new Promise((r) => setTimeout(r, 300));
    await redis.start();
    await until('progress after the restart', () => certFiles(dir) > seen);
  }, /warning: (?!lost Redis|a job's lock expired)|error/i);
});

test('the coordinator SIGKILLed and restarted: it ingests what the workers did meanwhile', async () => {
  let journaled = 0;
  const summary = await scenario('coordinator-kill', async ({ dir, coord }) => {
    coord.child.kill('SIGKILL');
    await coord.exit;
    journaled = journalRows(path.join(dir, 'out', 'journal.sqlite')).filter((r) => r.state === 'confirmed').length;
    return coordinator(dir, true);
  });
  expect(journaled).toBeGreaterThan(0);
  expect(summary.skipped).toBe(journaled);
  expect(summary.skipped).toBeLessThan(COUNT);
});

test('coordinator and worker warn when Redis does not fsync every write', async () => {
  const lax = new RedisServer(path.join(root, 'redis-lax'));
  await lax.start(['--appendonly', 'no']);
  try {
    const empty = path.join(root, 'none.jsonl');
    fs.writeFileSync(empty, '');
    const queue = `redis://127.0.0.1:${lax.port}/lax`;
    const c = run(['bulk', '-config', '', '-queue', queue, '-in', empty, '-out_dir', path.join(root, 'lax')]);
    const w = run(['bulk-worker', '-config', '', '-queue', queue, '-server', `127.0.0.1:${caPort}/pkix/`, '-ref', REF, '-secret', 'env:BULK_SECRET']);
    expect((await c.exit).code).toBe(0);
    await until('the worker to serve', () => /serving/.test(w.stderr) || !alive(w), 30_000);
    await stopWorkers([w]);
    for (const r of [c, w]) expect(r.stderr).toMatch(/warning: Redis at 127\.0\.0\.1:\d+\/lax runs with appendonly no and appendfsync everysec/);
  } finally {
    await lax.kill();
  }
});

test('a worker pinned to another coordinator key refuses to seal keys to the one in Redis', async () => {
  const wrong = path.join(root, 'wrong-key.pem');
  fs.writeFileSync(wrong, generateKeyPairSync('x25519').publicKey.export({ type: 'spki', format: 'pem' }));
  const few = path.join(root, 'few.jsonl');
  fs.writeFileSync(few, ['a', 'b', 'c'].map((id) => JSON.stringify({ id, subject: `/CN=${id}` })).join('\n'));
  const queue = `redis://127.0.0.1:${redis.port}/pinned`;
  const w = run(['bulk-worker', '-config', '', '-queue', queue, '-coordinator_key', wrong, '-server', `127.0.0.1:${caPort}/pkix/`, '-ref', REF, '-secret', 'env:BULK_SECRET']);
  await until('the worker to serve', () => /serving/.test(w.stderr) || !alive(w), 30_000);
  const c = run(['bulk', '-config', '', '-queue', queue, '-in', few, '-out_dir', path.join(root, 'pinned'), '-json', '-retries', '0']);
  expect((await c.exit).code).toBe(2);
  await stopWorkers([w]);
  const lines = c.stdout.trim().split('\n').map((l) => JSON.parse(l));
  expect(lines.pop()).toMatchObject({ event: 'summary', confirmed: 0, failed: 3, errors: { ERR_CMP_BULK_QUEUE: 3 } });
  const results = lines.filter((l) => l.event === 'result');
  expect(results).toHaveLength(3);
  for (const r of results) expect(r.error.message).toMatch(/the coordinator key in Redis \(sha256 [0-9a-f]{16}\.\.\.\) is not the one this worker was given/);
});

test('a coordinator stopped with SIGINT resumes; enqueuing again adds nothing', async () => {
  const twenty = path.join(root, 'twenty.jsonl');
  fs.writeFileSync(twenty, Array.from({ length: 20 }, (_, i) => JSON.stringify({ id: `item-${i}`, subject: `/CN=item-${i}` })).join('\n'));
  const queue = `redis://127.0.0.1:${redis.port}/stop`;
  const dir = path.join(root, 'stop');
  const args = ['bulk', '-config', '', '-queue', queue, '-in', twenty, '-out_dir', dir, '-json'];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const r = new (require('ioredis').default)({ port: redis.port, host: '127.0.0.1' });
  try {
    const first = run(args);
    let waiting = 0;
    const end = Date.now() + 30_000;
    while ((waiting = await r.llen('bull:stop:wait')) < 20 && Date.now() < end) await new Promise((res) => setTimeout(res, 20));
    expect(waiting).toBe(20); // nobody serves the queue yet
    first.child.kill('SIGINT');
    expect((await first.exit).code).toBe(3);
    expect(JSON.parse(first.stdout.trim().split('\n').pop()!)).toMatchObject({ event: 'summary', stopped: true, confirmed: 0 });

    const before = new Set((await caState()).confirmed);
    const w = run(['bulk-worker', '-config', '', '-queue', queue, '-server', `127.0.0.1:${caPort}/pkix/`, '-ref', REF, '-secret', 'env:BULK_SECRET']);
    const second = run([...args, '-resume']);
    expect((await second.exit).code).toBe(0);
    await stopWorkers([w]);
    expect(JSON.parse(second.stdout.trim().split('\n').pop()!)).toMatchObject({ event: 'summary', confirmed: 20, attempts: 20, failed: 0 });
    expect((await caState()).confirmed.filter((s) => !before.has(s))).toHaveLength(20);
    expect(await r.keys('bull:stop:item-*')).toEqual([]); // taken in and removed
    expect(await r.hlen('bull:stop:cmp:results')).toBe(0);
  } finally {
    r.disconnect();
  }
});
