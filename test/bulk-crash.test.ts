// A 2,000-item job killed with SIGKILL at random moments five times and run
// again each time, against a CA in a process of its own. Afterwards every
// item is confirmed exactly once, in the journal and on disk, each key fits
// its certificate, and every certificate the CA saw confirmed is in the
// output or among the orphans the job reported.
import { ChildProcess, fork, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkJobOutput, journalRows, tmpDir } from './helpers/bulk';

jest.setTimeout(300_000); // about 30 s on an idle 2-core machine

const COUNT = 2000;
const KILLS = 5;
const REF = 'crash-ref';
const SECRET = 'crash-secret-4711';
const env = { ...process.env, BULK_SECRET: SECRET };

let server: ChildProcess;
let port: number;
let dir: string;

beforeAll(async () => {
  dir = tmpDir();
  server = fork(path.join(__dirname, 'fixtures', 'bulk-crash-server.js'), [REF], { env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  port = await new Promise<number>((resolve, reject) => {
    server.once('message', (m: { port: number }) => resolve(m.port));
    server.once('exit', (code) => reject(new Error(`CA process exited with ${code}`)));
  });
});

afterAll(() => {
  server?.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

function certFiles(): number {
  try {
    return fs.readdirSync(path.join(dir, 'out')).filter((f) => f.endsWith('.cert.pem')).length;
  } catch {
    return 0;
  }
}

/** One run of the job; with `killAfter`, SIGKILL once that many more certificates are on disk, a random few ms later. */
function runClient(killAfter?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'bulk-crash-client.js'), String(port), dir, String(COUNT), REF], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  // progress, not time, picks the moment: a loaded machine may take seconds to start the job
  const target = killAfter === undefined ? undefined : certFiles() + killAfter;
  const poll =
    target === undefined
      ? undefined
      : setInterval(() => {
          if (certFiles() >= target) {
            clearInterval(poll);
            setTimeout(() => child.kill('SIGKILL'), Math.random() * 30);
          }
        }, 5);
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      clearInterval(poll);
      resolve({ code, signal, stdout, stderr });
    }),
  );
}

function caState(): Promise<{ issued: string[]; confirmed: string[] }> {
  return new Promise((resolve) => {
    server.once('message', resolve as never);
    server.send('state');
  });
}

test('killed five times and resumed, every item ends confirmed exactly once', async () => {
  let killed = 0;
  for (let i = 0; i < KILLS; i++) {
    const r = await runClient(1 + Math.floor(Math.random() * 300));
    if (r.signal === 'SIGKILL') killed++;
    else expect(r).toMatchObject({ code: 0 });
  }
  expect(killed).toBe(KILLS);
  const rowsBefore = journalRows(path.join(dir, 'job.db'));
  expect(rowsBefore.some((r) => r.state === 'confirmed')).toBe(true);

  const last = await runClient();
  expect(last.stderr).toBe('');
  expect(last.code).toBe(0);
  const summary = JSON.parse(last.stdout);
  expect(summary.failed).toBe(0);
  expect(summary.confirmed + summary.skipped).toBe(COUNT);
  expect(last.stdout + last.stderr).not.toContain(SECRET);

  const { lines } = checkJobOutput(path.join(dir, 'job.db'), path.join(dir, 'out'), COUNT);
  expect(fs.readdirSync(path.join(dir, 'out', '.partial'))).toEqual([]);
  expect(fs.readdirSync(path.join(dir, 'out')).filter((f) => f.endsWith('.cert.pem'))).toHaveLength(COUNT);

  const ca = await caState();
  const output = new Set(lines.map((l) => l.serial));
  const orphans = new Set<string>(summary.orphans);
  const confirmedAtCa = new Set(ca.confirmed);
  for (const s of output) expect(confirmedAtCa.has(s)).toBe(true);
  for (const s of confirmedAtCa) expect(output.has(s) || orphans.has(s)).toBe(true);
  for (const s of orphans) expect(output.has(s)).toBe(false);
  // each item was confirmed at the CA once, apart from what a kill cut short
  expect(ca.confirmed.length).toBe(COUNT + [...orphans].filter((s) => confirmedAtCa.has(s)).length);
  console.log(`crash test: ${killed} kills, ${ca.issued.length} issued, ${ca.confirmed.length} confirmed at the CA, ${orphans.size} orphans reported`);
});
