// `openssl-cmp bulk` as a child process against a CmpServer over HTTP.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { X509Certificate, createPublicKey } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CmpServer, FailInfo, PKIStatus, TestCa } from '../lib';
import { checkPair, manifest, tmpDir } from './helpers/bulk';

const BIN = path.join(__dirname, '..', 'bin', 'openssl-cmp.js');
const SECRET = 'cli-secret-8c1f';
const KEYPASS = 'cli-keypass-77aa';

let server: CmpServer;
let url: string;
let dir: string;
let delayMs = 0;

beforeAll(async () => {
  const ca = await TestCa.create();
  const base = ca.handlers();
  server = new CmpServer({
    ca,
    ref: 'cli',
    secret: SECRET,
    handlers: {
      ...base,
      certReq: async (req) => {
        if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
        if (req.subject === '/CN=refused') return { status: PKIStatus.rejection, failInfo: 1 << FailInfo.badCertTemplate, text: 'refused' };
        return base.certReq!(req);
      },
    },
  });
  url = (await server.listen()).url.replace(/^http:\/\//, '');
});

afterAll(() => server.close());

beforeEach(() => {
  dir = tmpDir();
  delayMs = 0;
});

afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function csv(n: number, extra = ''): string {
  const file = path.join(dir, 'devices.csv');
  const rows = Array.from({ length: n }, (_, i) => `d${i},/CN=d${i},d${i}.example`);
  fs.writeFileSync(file, `id,subject,sans\n${rows.join('\n')}\n${extra}`);
  return file;
}

const conn = () => ['-config', '', '-server', url, '-ref', 'cli', '-secret', `pass:${SECRET}`];

function run(args: string[], onSpawn?: (c: ChildProcess) => void): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [BIN, 'bulk', ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  onSpawn?.(child);
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })));
}

test('-json: a line per result, progress and the summary; exit 0; no secret anywhere', async () => {
  const r = await run(['-in', csv(20), '-out_dir', 'out', '-json', '-concurrency', '4', '-out_keypass', `pass:${KEYPASS}`, ...conn()]);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  const events = r.out.trim().split('\n').map((l) => JSON.parse(l));
  expect(events.filter((e) => e.event === 'result' && e.ok)).toHaveLength(20);
  const summary = events[events.length - 1];
  expect(summary).toMatchObject({ event: 'summary', total: 20, confirmed: 20, failed: 0 });
  expect(summary.latency.p99).toBeGreaterThan(0);
  for (const line of manifest(path.join(dir, 'out'))) checkPair(line, KEYPASS);
  for (const f of fs.readdirSync(path.join(dir, 'out')).filter((f) => f.startsWith('journal') || f === 'manifest.jsonl')) {
    const bytes = fs.readFileSync(path.join(dir, 'out', f)).toString('latin1');
    expect(bytes).not.toContain(SECRET);
    expect(bytes).not.toContain(KEYPASS);
  }
  expect(r.out).not.toContain(SECRET);
  expect(r.out).not.toContain(KEYPASS);
});

test('a pass phrase from stdin serves every pooled context (it can be read only once)', async () => {
  const child = spawn(process.execPath, [BIN, 'bulk', '-in', csv(12), '-out_dir', 'out', '-json', '-concurrency', '4', '-config', '', '-server', url, '-ref', 'cli', '-secret', 'stdin'], {
    cwd: dir,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stdin!.end(`${SECRET}\n`);
  const code = await new Promise((resolve) => child.once('exit', resolve));
  expect(code).toBe(0);
  const summary = JSON.parse(out.trim().split('\n').pop()!);
  expect(summary).toMatchObject({ event: 'summary', total: 12, confirmed: 12, failed: 0 });
});

test('piped: plain progress lines, a summary with failures by cause, exit 2 for a partial failure', async () => {
  const r = await run(['-in', csv(6, 'x,/CN=refused,x.example\n'), '-out_dir', 'out', ...conn()]);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/bulk: \d+ done \(\d+ confirmed, \d+ failed, \d+ skipped\)/);
  expect(r.err).toContain('bulk: x failed:');
  expect(r.out).toMatch(/bulk: 7 items: 6 confirmed, 1 failed, 0 skipped/);
  expect(r.out).toMatch(/failures by cause:\n\s+1\s+rejection: badCertTemplate/);
  expect(r.out).toMatch(/latency per item p50 [\d.]+ ms, p99 [\d.]+ ms/);
  expect(r.err + r.out).not.toContain(SECRET);
});

test('SIGINT stops cleanly with exit 3; the journal is not reused without -resume; -resume finishes the job', async () => {
  delayMs = 20;
  const file = csv(200);
  const args = ['-in', file, '-out_dir', 'out', '-concurrency', '4', ...conn()];
  const first = await run(args, (child) => {
    let sent = false;
    const poll = setInterval(() => {
      if (!sent && fs.existsSync(path.join(dir, 'out', 'd3.cert.pem'))) {
        sent = true;
        child.kill('SIGINT');
      }
    }, 20);
    child.once('exit', () => clearInterval(poll));
  });
  expect(first.code).toBe(3);
  expect(first.out).toContain('run again with -resume');
  const done = Number(/(\d+) confirmed/.exec(first.out)![1]);
  expect(done).toBeGreaterThan(0);
  expect(done).toBeLessThan(200);
  const again = await run(args);
  expect(again.code).toBe(1);
  expect(again.err).toMatch(/journal '.*journal.sqlite' exists already; use -resume/);
  delayMs = 0;
  const resumed = await run([...args, '-resume']);
  expect(resumed.code).toBe(0);
  expect(resumed.out).toMatch(new RegExp(`bulk: 200 items: ${200 - done} confirmed, 0 failed, ${done} skipped`));
  expect(manifest(path.join(dir, 'out'))).toHaveLength(200);
});

test('options from a config section; usage errors named', async () => {
  fs.writeFileSync(path.join(dir, 'cmp.cnf'), `[fleet]\nserver = ${url}\nref = cli\nsecret = pass:${SECRET}\ncmd = ir\n`);
  const ok = await run(['-config', 'cmp.cnf', '-section', 'fleet', '-in', csv(3), '-json']);
  expect(ok.code).toBe(0);
  expect(JSON.parse(ok.out.trim().split('\n').pop()!)).toMatchObject({ confirmed: 3 });
  expect(ok.err).toContain("using section(s) 'fleet'");

  const missing = await run(conn());
  expect(missing).toMatchObject({ code: 1, err: expect.stringContaining('missing -in FILE') });
  const badN = await run(['-in', csv(1), '-concurrency', '0', ...conn()]);
  expect(badN).toMatchObject({ code: 1, err: expect.stringContaining('-concurrency needs a positive integer') });
  const unknown = await run(['-in', csv(1), '-frobnicate', ...conn()]);
  expect(unknown).toMatchObject({ code: 1, err: expect.stringContaining('Unknown option: -frobnicate') });
  const badCmd = await run(['-in', csv(1), '-cmd', 'genm', ...conn()]);
  expect(badCmd).toMatchObject({ code: 1, err: expect.stringContaining('-cmd genm is not a bulk operation') });
  const noFile = await run(['-in', 'nope.csv', ...conn()]);
  expect(noFile).toMatchObject({ code: 1, err: expect.stringMatching(/cannot read items from 'nope.csv': no such file/) });
  for (const r of [missing, badN, unknown, badCmd, noFile]) expect(r.err + r.out).not.toContain(SECRET);
});

test('-reqexts and -policies sections reach every request, merged with the item sans; -out_p12 writes PKCS#12 files', async () => {
  fs.writeFileSync(path.join(dir, 'cmp.cnf'), `[fleet]\nserver = ${url}\nref = cli\nsecret = pass:${SECRET}\nreqexts = fleet_exts\npolicies = fleet_policies\n`
    + '[fleet_exts]\nsubjectAltName = DNS:fleet.example\nextendedKeyUsage = clientAuth\n[fleet_policies]\ncertificatePolicies = 1.3.6.1.4.1.4711.1\n');
  const r = await run(['-config', 'cmp.cnf', '-section', 'fleet', '-in', csv(2, 'bare,/CN=bare,\n'), '-out_dir', 'out', '-out_p12', '-out_keypass', `pass:${KEYPASS}`]);
  expect(r.err).not.toContain('CMP error');
  expect(r.code).toBe(0);
  const lines = manifest(path.join(dir, 'out'));
  expect(lines).toHaveLength(3);
  for (const line of lines) {
    const cert = new X509Certificate(fs.readFileSync(line.files.cert));
    expect(cert.subjectAltName).toBe(line.id === 'bare' ? 'DNS:fleet.example' : `DNS:${line.id}.example`);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(execFileSync('openssl', ['x509', '-noout', '-ext', 'certificatePolicies'], { input: cert.toString(), encoding: 'utf8' })).toContain('1.3.6.1.4.1.4711.1');
    expect(fs.existsSync(line.files.p12)).toBe(true);
    const pem = execFileSync('openssl', ['pkcs12', '-in', line.files.p12, '-passin', 'env:KP', '-nodes'], { env: { ...process.env, KP: KEYPASS }, encoding: 'utf8' });
    expect(createPublicKey(/-----BEGIN PRIVATE KEY-----[^-]+-----END PRIVATE KEY-----/.exec(pem)![0]).equals(cert.publicKey)).toBe(true);
  }
  const noPass = await run(['-in', csv(1), '-out_dir', 'o2', '-out_p12', ...conn()]);
  expect(noPass).toMatchObject({ code: 1, err: expect.stringContaining('-out_p12 needs -out_keypass') });
  const noSection = await run(['-in', csv(1), '-reqexts', 'nowhere', ...conn()]);
  expect(noSection).toMatchObject({ code: 1, err: expect.stringContaining("cannot load certificate request extension section 'nowhere'") });
});

test('on a terminal: a progress bar with done/total, failures, in flight, rate and ETA', async () => {
  const file = csv(20);
  const cmd = [process.execPath, BIN, 'bulk', '-in', file, '-config', '', '-server', url, '-ref', 'cli', '-secret', 'env:CLI_SECRET'].map((a) => `'${a}'`).join(' ');
  // `script` gives the child a pseudo-terminal, as an operator's shell would
  const child = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: dir, env: { ...process.env, CLI_SECRET: SECRET }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  expect(code).toBe(0);
  expect(out).toMatch(/\d+\/20 \| failed 0 \| in flight \d+ \| [\d.]+\/s \| ETA/);
  expect(out).toContain('bulk: 20 items: 20 confirmed');
});
