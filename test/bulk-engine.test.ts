// enrollMany against a real CmpServer issuing from a TestCa: files, manifest,
// journal, retries, rejections, stopping and resuming, bad input.
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BulkResult, CmpContext, CmpError, CmpServer, FailInfo, Option, PKIStatus, TestCa, enrollMany, features, readItems } from '../lib';
import { binding } from '../lib/native';
import { Output, issuedFromCert } from '../lib/bulk/output';
import { IdleCpu } from '../lib/bulk/engine';
import { children, readTlv } from '../lib/der';
import { kCertConfDetails } from '../lib/context';
import { BulkCa, REF, SECRET, bulkCa, checkPair, journalRows, manifest, tmpDir } from './helpers/bulk';

let env: BulkCa;
let dir: string;
// the os module itself (what the engine calls), not a namespace copy of it, for os.cpus() stubs
const nodeOs = jest.requireActual<typeof import('node:os')>('node:os');

/** os.cpus() as one CPU whose busy and idle counters move by what `step()` says at each call; returns the restore. */
function stubCpus(step: () => { busy: number; idle: number }): () => void {
  let user = 0;
  let idle = 0;
  const spy = jest.spyOn(nodeOs, 'cpus').mockImplementation(() => {
    const s = step();
    user += s.busy;
    idle += s.idle;
    return [{ model: 'x', speed: 1, times: { user, nice: 0, sys: 0, idle, irq: 0 } }];
  });
  return () => spy.mockRestore();
}

type WriteArgs = [entries: unknown[], sync: string[], pending?: unknown, leave?: boolean];
/** binding.writeFilesDurably with `seen` told of each call's arguments first; returns the restore. */
function seeWrites(seen: (...args: WriteArgs) => void): () => void {
  const original = binding.writeFilesDurably;
  binding.writeFilesDurably = ((...args: WriteArgs) => {
    seen(...args);
    return (original as (...a: WriteArgs) => Promise<unknown>).apply(binding, args);
  }) as typeof binding.writeFilesDurably;
  return () => {
    binding.writeFilesDurably = original;
  };
}

beforeEach(async () => {
  env = await bulkCa();
  dir = tmpDir();
});

afterEach(async () => {
  await env.server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The PKIBody choice number of a DER PKIMessage (0 ir, 2 cr, 4 p10cr, 7 kur, 11 rr, 24 certConf). */
function bodyType(der: Buffer): number {
  const parts = children(der, readTlv(der, 0));
  return parts[1].tag & 0x1f;
}

const items = (n: number, extra: (i: number) => object = () => ({})) =>
  Array.from({ length: n }, (_, i) => ({ id: `dev-${i}`, subject: `/CN=dev-${i}/O=Factory`, ...extra(i) }));

test('enrolls every item: key and certificate files that belong together, chain, manifest, journal', async () => {
  const keys = [{ type: 'ec' as const }, { type: 'ec' as const, curve: 'P-384' as const }, { type: 'ed25519' as const }, { type: 'rsa' as const, bits: 2048 }];
  const job = enrollMany(items(12, (i) => ({ key: keys[i % 4], sans: [`dev-${i}.example`, 'IP:10.0.0.1', 'URI:urn:dev'] })), {
    context: env.context,
    transfer: env.server.transfer,
    concurrency: 4,
    outDir: path.join(dir, 'out'),
    journal: path.join(dir, 'job.db'),
  });
  const progress: number[] = [];
  job.on('progress', (p) => progress.push(p.done));
  const results = [];
  for await (const r of job) results.push(r);
  const summary = await job.done;
  expect(summary).toMatchObject({ total: 12, confirmed: 12, failed: 0, skipped: 0, orphans: [], stopped: false });
  expect(results).toHaveLength(12);
  expect(progress[progress.length - 1]).toBe(12);
  const lines = manifest(path.join(dir, 'out'));
  expect(lines.map((l) => l.id).sort()).toEqual(results.map((r) => r.id).sort());
  for (const line of lines) {
    const cert = checkPair(line);
    expect(cert.serialNumber).toBe(line.serial);
    expect(cert.fingerprint256).toBe(line.sha256);
    expect(cert.subjectAltName).toContain(`DNS:${line.id}.example`);
    expect(cert.subjectAltName).toContain('IP Address:10.0.0.1');
    expect(cert.checkIssued(env.ca.cert)).toBe(true);
    const chain = fs.readFileSync(line.files.chain, 'utf8');
    expect(new X509Certificate(chain).fingerprint256).toBe(env.ca.cert.fingerprint256);
    expect(line.subject).toBe(`/CN=${line.id}/O=Factory`);
    expect(env.ca.certificate(line.serial)).toBeDefined();
  }
  // results: the certificate and key, made into objects when read, are those of the files
  const spki = (k: ReturnType<typeof createPublicKey>) => k.export({ type: 'spki', format: 'der' });
  for (const r of results) {
    const line = lines.find((l) => l.id === r.id)!;
    expect(r.serial).toBe(line.serial);
    expect(r.cert!.serialNumber).toBe(line.serial);
    expect(r.cert!.fingerprint256).toBe(line.sha256);
    expect(line.notAfter).toBe(new Date(r.cert!.validTo).toISOString());
    expect(spki(createPublicKey(r.key!))).toEqual(spki(r.cert!.publicKey));
    // each result's own: read once, kept; and listed like the other fields
    expect(r.cert).toBe(r.cert);
    expect(r.key).toBe(r.key);
    expect(Object.keys(r)).toEqual(['id', 'ok', 'attempts', 'serial', 'cert', 'key']);
  }
  expect(results[0].cert).not.toBe(results[1].cert);
  const types = lines.map((l) => checkPair(l).publicKey.asymmetricKeyType).sort();
  expect(new Set(types)).toEqual(new Set(['ec', 'ed25519', 'rsa']));
  const rows = journalRows(path.join(dir, 'job.db'));
  expect(rows.every((r) => r.state === 'confirmed' && r.attempts === 1)).toBe(true);
  expect(fs.readdirSync(path.join(dir, 'out', '.partial'))).toEqual([]);
});

test('file name templates with directories of their own: the directories are made, every file lands whole', async () => {
  const out = path.join(dir, 'tree');
  const job = enrollMany(items(6, () => ({ key: { type: 'ec' as const } })), {
    context: env.context,
    transfer: env.server.transfer,
    concurrency: 3,
    outDir: out,
    names: { key: 'keys/{id}/device.key', cert: 'certs/{id}.pem', chain: 'chains/{id}/chain.pem' },
  });
  expect(await job.done).toMatchObject({ confirmed: 6, failed: 0 });
  const lines = manifest(out);
  expect(lines).toHaveLength(6);
  for (const line of lines) {
    expect(line.files).toEqual({
      key: path.join(out, 'keys', line.id, 'device.key'),
      cert: path.join(out, 'certs', `${line.id}.pem`),
      chain: path.join(out, 'chains', line.id, 'chain.pem'),
    });
    expect(checkPair(line).checkIssued(env.ca.cert)).toBe(true);
    expect(new X509Certificate(fs.readFileSync(line.files.chain)).raw.equals(env.ca.cert.raw)).toBe(true);
  }
  expect(fs.readdirSync(path.join(out, '.partial'))).toEqual([]);
});

test('subjects with escapes, several values and UTF-8 are written to the manifest as Node prints them', async () => {
  const subjects = ['/CN=a\\,b+serialNumber=7/O=Fac"tory', '/CN=d\u00e9vice \u2603/OU=#x/OU=second', '/C=DE/ST=  spaced  /CN=x;y<z>'];
  const job = enrollMany(subjects.map((subject, i) => ({ id: `s${i}`, subject })), {
    context: env.context,
    transfer: env.server.transfer,
    outDir: path.join(dir, 'names'),
  });
  expect(await job.done).toMatchObject({ confirmed: subjects.length, failed: 0 });
  const lines = manifest(path.join(dir, 'names'));
  expect(lines).toHaveLength(subjects.length);
  for (const line of lines) {
    const cert = checkPair(line);
    expect(line.subject).toBe(`/${cert.subject.split('\n').join('/')}`);
    expect(line.serial).toBe(cert.serialNumber);
    expect(line.notAfter).toBe(new Date(cert.validTo).toISOString());
  }
});

test('implicit confirmation granted: every item persisted, its key file and result key those of its certificate', async () => {
  const server = new CmpServer({ ca: env.ca, ref: REF, secret: SECRET, handlers: env.ca.handlers(), grantImplicitConfirm: true });
  // the PKIBody choice of every request: ir is 0, certConf 24
  const bodies: number[] = [];
  const transfer = (req: Buffer) => {
    bodies.push(children(req, readTlv(req, 0))[1].tag & 0x1f);
    return server.transfer(req);
  };
  try {
    const job = enrollMany(items(3), {
      context: () => {
        const ctx = env.context();
        ctx.setOption(Option.IMPLICIT_CONFIRM, 1);
        return ctx;
      },
      transfer,
      outDir: path.join(dir, 'implicit'),
      journal: path.join(dir, 'implicit.db'),
    });
    const results: BulkResult[] = [];
    for await (const r of job) results.push(r);
    expect(await job.done).toMatchObject({ confirmed: 3, failed: 0 });
    const spki = (k: ReturnType<typeof createPublicKey>) => k.export({ type: 'spki', format: 'der' });
    for (const line of manifest(path.join(dir, 'implicit'))) {
      const cert = checkPair(line); // the key file exists and belongs to the certificate
      const r = results.find((x) => x.id === line.id)!;
      expect(spki(createPublicKey(r.key!))).toEqual(spki(cert.publicKey));
    }
    expect(bodies).toEqual([0, 0, 0]); // three IRs and no certConf: the confirmation was implicit
  } finally {
    await server.close();
  }
});

test('a CSV file streamed through readItems, keys encrypted under the job pass phrase', async () => {
  const csv = path.join(dir, 'devices.csv');
  fs.writeFileSync(csv, '\ufeffid,subject,sans,key\r\n# a comment\r\na1,/CN=a1,a1.example;10.1.2.3,ec:P-384\r\na2,/CN=a2,,ed25519\r\n');
  const summary = await enrollMany(readItems(csv), {
    context: env.context, transfer: env.server.transfer, outDir: path.join(dir, 'out'), passphrase: 'job pass',
  }).done;
  expect(summary).toMatchObject({ confirmed: 2, failed: 0 });
  const lines = manifest(path.join(dir, 'out'));
  const a1 = checkPair(lines.find((l) => l.id === 'a1')!, 'job pass');
  expect(a1.subjectAltName).toBe('DNS:a1.example, IP Address:10.1.2.3');
  expect((a1.publicKey.asymmetricKeyDetails as { namedCurve: string }).namedCurve).toBe('secp384r1');
  expect(fs.readFileSync(lines[0].files.key, 'utf8')).toContain('ENCRYPTED PRIVATE KEY');
});

test('p10cr, kur and rr items next to ir ones', async () => {
  const first = await enrollMany(items(2), { context: env.context, transfer: env.server.transfer, outDir: path.join(dir, 'a') }).done;
  expect(first.confirmed).toBe(2);
  const [l0, l1] = manifest(path.join(dir, 'a')).sort((x, y) => x.id.localeCompare(y.id));
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'csr.key'),
    '-subj', '/CN=from-csr', '-out', path.join(dir, 'x.csr')], { stdio: 'ignore' });
  const job = enrollMany(
    [
      { id: 'csr', operation: 'p10cr' as const, csr: fs.readFileSync(path.join(dir, 'x.csr')) },
      { id: 'renew', operation: 'kur' as const, oldCert: fs.readFileSync(l0.files.cert), oldKey: fs.readFileSync(l0.files.key) },
      { id: 'revoke', operation: 'rr' as const, oldCert: fs.readFileSync(l1.files.cert) },
    ],
    { context: env.context, transfer: env.server.transfer, outDir: path.join(dir, 'b'), concurrency: 1 },
  );
  const results = [];
  for await (const r of job) results.push(r);
  expect(await job.done).toMatchObject({ confirmed: 3, failed: 0 });
  const byId = Object.fromEntries(manifest(path.join(dir, 'b')).map((l) => [l.id, l]));
  expect(new X509Certificate(fs.readFileSync(byId.csr.files.cert)).subject).toBe('CN=from-csr');
  expect(byId.csr.files.key).toBeUndefined();
  const renewed = checkPair(byId.renew);
  expect(renewed.subject).toBe('CN=dev-0\nO=Factory');
  expect(renewed.serialNumber).not.toBe(l0.serial);
  expect(byId.revoke.serial).toBe(l1.serial);
  expect(env.ca.isRevoked(l1.serial)).toBe(true);
});

test('transient transport faults are retried with backoff; the CA saying "busy" too', async () => {
  let faults = 3;
  let busy = 1;
  await env.server.close();
  env = await bulkCa((base) => ({
    ...base,
    certReq: (req) => (busy-- > 0 ? { status: PKIStatus.rejection, failInfo: 1 << FailInfo.systemUnavail, text: 'busy' } : base.certReq!(req)),
  }));
  const transfer = async (req: Buffer) => {
    if (faults > 0) {
      faults--;
      throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
    }
    return env.server.transfer(req);
  };
  const job = enrollMany(items(4), { context: env.context, transfer, concurrency: 1, backoff: 5 });
  const results = [];
  for await (const r of job) results.push(r);
  const summary = await job.done;
  expect(summary).toMatchObject({ confirmed: 4, failed: 0 });
  expect(summary.attempts).toBe(4 + 3 + 1);
  expect(results[0].attempts).toBe(5);
  expect(faults).toBe(0);
});

test('a rejection is a result, never retried; its CmpError fields are kept and grouped in the summary', async () => {
  await env.server.close();
  env = await bulkCa((base) => ({
    ...base,
    certReq: (req) => (req.subject === '/CN=bad' ? { status: PKIStatus.rejection, failInfo: 1 << FailInfo.badCertTemplate, text: 'no such device' } : base.certReq!(req)),
  }));
  const journal = path.join(dir, 'job.db');
  const job = enrollMany([...items(3), { id: 'bad', subject: '/CN=bad' }], { context: env.context, transfer: env.server.transfer, journal, backoff: 5 });
  const results = [];
  for await (const r of job) results.push(r);
  const summary = await job.done;
  expect(summary).toMatchObject({ confirmed: 3, failed: 1, errors: { 'rejection: badCertTemplate': 1 } });
  const bad = results.find((r) => r.id === 'bad')!;
  expect(bad.ok).toBe(false);
  expect(bad.attempts).toBe(1);
  expect(bad.error).toBeInstanceOf(CmpError);
  expect(bad.error!.failInfo).toEqual(['badCertTemplate']);
  expect(bad.error!.statusString).toEqual(['no such device']);
  expect(env.requests.filter((s) => s === '/CN=bad')).toHaveLength(1);
  const row = journalRows(journal).find((r) => r.id === 'bad')!;
  expect(row.state).toBe('failed');
  expect(JSON.parse(row.error)).toMatchObject({ pkiStatusName: 'rejection', failInfo: ['badCertTemplate'] });
  // a rerun leaves it failed unless asked
  const again = await enrollMany([{ id: 'bad', subject: '/CN=bad' }], { context: env.context, transfer: env.server.transfer, journal }).done;
  expect(again).toMatchObject({ failed: 1, confirmed: 0 });
  expect(env.requests.filter((s) => s === '/CN=bad')).toHaveLength(1);
  await enrollMany([{ id: 'bad', subject: '/CN=bad' }], { context: env.context, transfer: env.server.transfer, journal, retryFailed: true }).done;
  expect(env.requests.filter((s) => s === '/CN=bad')).toHaveLength(2);
});

test('a signal stops the job cleanly; running it again with the journal finishes it, skipping what is confirmed', async () => {
  const ac = new AbortController();
  const out = path.join(dir, 'out');
  const journal = path.join(dir, 'job.db');
  const slow = async (req: Buffer) => {
    await new Promise((r) => setTimeout(r, 5));
    return env.server.transfer(req);
  };
  const job = enrollMany(items(60), { context: env.context, transfer: slow, concurrency: 4, outDir: out, journal, signal: ac.signal });
  let seen = 0;
  for await (const r of job) {
    expect(r.ok).toBe(true);
    if (++seen === 10) ac.abort();
  }
  const first = await job.done;
  expect(first.stopped).toBe(true);
  expect(first.confirmed).toBeGreaterThanOrEqual(10);
  expect(first.confirmed).toBeLessThan(60);
  // nothing half-written: every certificate on disk has its key, no temporary files
  const files = fs.readdirSync(out);
  expect(fs.readdirSync(path.join(out, '.partial'))).toEqual([]);
  for (const f of files.filter((f) => f.endsWith('.cert.pem'))) expect(files).toContain(f.replace('.cert.pem', '.key.pem'));
  const second = await enrollMany(items(60), { context: env.context, transfer: env.server.transfer, concurrency: 4, outDir: out, journal }).done;
  expect(second.skipped).toBe(first.confirmed);
  expect(second.confirmed).toBe(60 - first.confirmed);
  const lines = manifest(out);
  expect(new Set(lines.map((l) => l.id)).size).toBe(60);
  expect(lines).toHaveLength(60);
  for (const l of lines) checkPair(l);
  expect(journalRows(journal).every((r) => r.state === 'confirmed')).toBe(true);
  // a clean stop leaves nothing written and unconfirmed: no orphans
  expect(first.orphans).toEqual([]);
  expect(second.orphans).toEqual([]);
});

test('stop() withdraws transactions still waiting for their server; their items stay pending for the next run', async () => {
  const journal = path.join(dir, 'job.db');
  let hung = 0;
  let allHung!: () => void;
  const waiting = new Promise<void>((resolve) => (allHung = resolve));
  // every IR waits for an answer that never comes: only a withdrawal ends those transactions
  const hang = (req: Buffer): Promise<Buffer> => {
    if (bodyType(req) !== 0) return env.server.transfer(req);
    if (++hung === 2) allHung();
    return new Promise<Buffer>(() => {});
  };
  const job = enrollMany(items(2), { context: env.context, transfer: hang, concurrency: 2, journal, retries: 0 });
  await waiting;
  job.stop();
  const s = await job.done;
  expect(s).toMatchObject({ stopped: true, confirmed: 0, failed: 0 });
  expect(journalRows(journal).map((r) => r.state)).toEqual(['pending', 'pending']);
  const again = await enrollMany(items(2), { context: env.context, transfer: env.server.transfer, journal }).done;
  expect(again).toMatchObject({ confirmed: 2, orphans: [] });
});

test('a certificate persisted but never confirmed is reported as an orphan and enrolled again', async () => {
  const journal = path.join(dir, 'job.db');
  let dropConf = true;
  const transfer = async (req: Buffer) => {
    if (dropConf && bodyType(req) === 24) {
      dropConf = false;
      throw new Error('connection lost before pkiConf');
    }
    return env.server.transfer(req);
  };
  const first = await enrollMany(items(1), { context: env.context, transfer, journal, outDir: path.join(dir, 'out'), retries: 0 }).done;
  expect(first).toMatchObject({ confirmed: 0, failed: 1 });
  expect(first.orphans).toHaveLength(1);
  const row = journalRows(journal)[0];
  expect(row.serial).toBe(first.orphans[0]);
  expect(env.ca.certificate(first.orphans[0])).toBeDefined();
  const second = await enrollMany(items(1), { context: env.context, transfer, journal, outDir: path.join(dir, 'out'), retryFailed: true }).done;
  expect(second).toMatchObject({ confirmed: 1, failed: 0, orphans: first.orphans });
  expect(manifest(path.join(dir, 'out'))[0].serial).not.toBe(first.orphans[0]);
  expect(env.ca.isRevoked(first.orphans[0])).toBe(false);
  const third = await enrollMany(items(1), { context: env.context, transfer, journal, revokeOrphans: true }).done;
  expect(third).toMatchObject({ skipped: 1, orphans: [], revoked: first.orphans });
  expect(env.ca.isRevoked(first.orphans[0])).toBe(true);
  expect(env.ca.isRevoked(manifest(path.join(dir, 'out'))[0].serial)).toBe(false);
});

test('bad input: a clear error naming what was wrong, the other items unharmed', async () => {
  const job = enrollMany(
    [
      { id: 'ok', subject: '/CN=ok' },
      { id: 'nosubject' },
      { id: 'ok', subject: '/CN=again' },
      { id: 'a/b', subject: '/CN=x' },
      { id: 'curve', subject: '/CN=x', key: { type: 'ec', curve: 'P-999' } },
      { id: 'op', subject: '/CN=x', operation: 'xx' },
      { id: 'kur', operation: 'kur' },
      { id: 'name', subject: '/XYZ=1' },
    ] as never,
    { context: env.context, transfer: env.server.transfer, outDir: path.join(dir, 'out') },
  );
  const errors: Record<string, string> = {};
  for await (const r of job) if (!r.ok) errors[r.id] = `${r.error!.code}: ${r.error!.message}`;
  expect(await job.done).toMatchObject({ confirmed: 1, failed: 7 });
  expect(errors.nosubject).toMatch(/ERR_CMP_BULK_BAD_ITEM: item 'nosubject': ir needs a subject/);
  expect(errors.ok).toMatch(/ERR_CMP_BULK_DUPLICATE_ID: item 'ok' appears twice/);
  expect(errors['a/b']).toMatch(/cannot be used in a file name/);
  expect(errors.curve).toMatch(/unsupported curve 'P-999'/);
  expect(errors.op).toMatch(/unknown operation 'xx'/);
  expect(errors.kur).toMatch(/kur needs oldCert/);
  expect(errors.name).toMatch(/item 'name': .*XYZ/i);

  fs.writeFileSync(path.join(dir, 'bad.csv'), 'id,subject,colour\n1,/CN=1,red\n');
  await expect(enrollMany(readItems(path.join(dir, 'bad.csv')), { context: env.context }).done).rejects.toThrow(/unknown column\(s\) colour/);
  fs.writeFileSync(path.join(dir, 'bad.jsonl'), '{"id":"1","subject":"/CN=1"}\n{"id": 2,\n');
  await expect(enrollMany(readItems(path.join(dir, 'bad.jsonl')), { context: env.context, transfer: env.server.transfer }).done).rejects.toThrow(/bad.jsonl line 2: not a JSON object/);
  await expect(enrollMany(readItems(path.join(dir, 'missing.csv')), { context: env.context }).done).rejects.toThrow(/cannot read items from .*missing.csv.*no such file/);
  expect(() => enrollMany(items(1), {} as never)).toThrow(TypeError);
  expect(() => enrollMany(items(1), { context: env.context, concurrency: 0 })).toThrow(/concurrency/);
  expect(() => enrollMany(42 as never, { context: env.context })).toThrow(/iterable/);
});

test('the journal keeps no secret and a second job cannot open it while the first runs', async () => {
  const journal = path.join(dir, 'job.db');
  // the CA holds the first job's requests until the second job has tried the journal
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let firstRequest!: () => void;
  const running = new Promise<void>((r) => (firstRequest = r));
  const transfer = async (req: Buffer) => {
    firstRequest();
    await held;
    return env.server.transfer(req);
  };
  const job = enrollMany(items(20), { options: { ref: REF, secret: `pass:${SECRET}`, server: '127.0.0.1:1' }, transfer, journal, passphrase: 'keypass-xyz', outDir: path.join(dir, 'o') });
  await running;
  await expect(enrollMany(items(1), { context: env.context, transfer: env.server.transfer, journal }).done).rejects.toThrow(/in use by another job/);
  release();
  expect((await job.done).confirmed).toBe(20);
  for (const f of fs.readdirSync(dir).filter((f) => f.startsWith('job.db'))) {
    const bytes = fs.readFileSync(path.join(dir, f)).toString('latin1');
    expect(bytes).not.toContain(SECRET);
    expect(bytes).not.toContain('keypass-xyz');
  }
});

const openssl = (args: string[], env: Record<string, string>) =>
  execFileSync('openssl', args, { encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });

test('PKCS#12 per item: key, certificate and chain under the job pass phrase, as openssl pkcs12 reads them', async () => {
  const out = path.join(dir, 'out');
  const job = enrollMany(items(4, (i) => (i === 3 ? { key: { type: 'ed25519' } } : {})), {
    context: env.context, transfer: env.server.transfer, outDir: out, passphrase: 'p12 pass', pkcs12: true, concurrency: 2,
  });
  expect(await job.done).toMatchObject({ confirmed: 4, failed: 0 });
  const lines = manifest(out);
  expect(lines).toHaveLength(4);
  for (const line of lines) {
    expect(line.files.key).toBeUndefined();
    expect(fs.statSync(line.files.p12).mode & 0o777).toBe(0o600);
    const pem = openssl(['pkcs12', '-in', line.files.p12, '-passin', 'env:P12_PASS', '-nodes'], { P12_PASS: 'p12 pass' });
    const certs = pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)!.map((p) => new X509Certificate(p));
    const key = createPrivateKey(/-----BEGIN PRIVATE KEY-----[^-]+-----END PRIVATE KEY-----/.exec(pem)![0]);
    const cert = new X509Certificate(fs.readFileSync(line.files.cert));
    // the chain is in every bundle, also in those written before the issuer's chain was known
    expect(certs.map((c) => c.fingerprint256).sort()).toEqual([cert.fingerprint256, env.ca.cert.fingerprint256].sort());
    expect(createPublicKey(key).equals(cert.publicKey)).toBe(true);
    expect(pem).toContain(`friendlyName: ${line.id}`);
    expect(() => openssl(['pkcs12', '-in', line.files.p12, '-passin', 'env:P12_PASS', '-nodes'], { P12_PASS: 'wrong' })).toThrow();
  }
  expect(fs.readdirSync(out).filter((f) => f.endsWith('.key.pem'))).toEqual([]);
  expect(() => enrollMany(items(1), { context: env.context, outDir: out, pkcs12: true })).toThrow(/pkcs12.*passphrase/);
});

test('central key generation: the CA makes the key (OpenSSL 3.5+), a clear error per item before', async () => {
  const ca = await TestCa.create();
  const creds = await ca.serverCredentials();
  const base = ca.handlers();
  const central: boolean[] = [];
  const server = new CmpServer({
    ca, ref: REF, secret: SECRET, cert: creds.cert, key: creds.key, trusted: [ca.cert],
    handlers: { ...base, certReq: (req) => (central.push(req.centralKeyGen), base.certReq!(req)) },
  });
  try {
    // the CA encrypts a key it made to the requester's certificate: the job's requests are signed
    const signerKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const boot = new CmpContext();
    boot.setTransferCallback(server.transfer);
    boot.setReferenceValue(REF);
    boot.setSecretValue(SECRET);
    boot.setNewPkey(signerKey);
    boot.setSubjectName('/CN=line signer');
    const signer = await boot.execIR();
    boot.close();
    central.length = 0;
    const context = () => {
      const c = new CmpContext();
      c.setCert(signer);
      c.setPkey(signerKey);
      c.setTrustedStore([ca.cert]);
      return c;
    };
    const out = path.join(dir, 'out');
    const job = enrollMany(
      [{ id: 'c1', subject: '/CN=c1', key: { type: 'central' } }, { id: 'l1', subject: '/CN=l1' }, { id: 'c2', subject: '/CN=c2', key: 'central' as never }],
      { context, transfer: server.transfer, outDir: out, passphrase: 'kp', concurrency: 1 },
    );
    const results: Record<string, BulkResult> = {};
    for await (const r of job) results[r.id] = r;
    if (features.centralKeyGen !== 'native') {
      expect(await job.done).toMatchObject({ confirmed: 1, failed: 2 });
      for (const id of ['c1', 'c2']) {
        expect(results[id].error!.code).toBe('ERR_CMP_BULK_BAD_ITEM');
        expect(results[id].error!.message).toMatch(new RegExp(`item '${id}': central key generation needs OpenSSL 3.5 or later; this is OpenSSL 3\\.`));
      }
      expect(central).toEqual([false]);
      return;
    }
    expect(await job.done).toMatchObject({ confirmed: 3, failed: 0 });
    expect(central).toEqual([true, false, true]);
    for (const line of manifest(out)) {
      const cert = checkPair(line, 'kp');
      expect(createPublicKey(results[line.id].key!).equals(cert.publicKey)).toBe(true);
    }
  } finally {
    await server.close();
  }
});

test("the job's request extensions (reqExtensions) in every request, an item's sans replacing the job's", async () => {
  const cnf = path.join(dir, 'exts.cnf');
  fs.writeFileSync(cnf, '[exts]\nsubjectAltName = DNS:fleet.example\nextendedKeyUsage = clientAuth\n');
  const reqExtensions = binding.extensionsFromConfig(cnf, ['exts']);
  const job = enrollMany([{ id: 'plain', subject: '/CN=plain' }, { id: 'own', subject: '/CN=own', sans: ['own.example'] }, { id: 'again', subject: '/CN=again' }], {
    context: env.context, transfer: env.server.transfer, reqExtensions, concurrency: 1,
  });
  const certs: Record<string, X509Certificate> = {};
  for await (const r of job) certs[r.id] = r.cert!;
  expect(await job.done).toMatchObject({ confirmed: 3 });
  expect(certs.plain.subjectAltName).toBe('DNS:fleet.example');
  expect(certs.own.subjectAltName).toBe('DNS:own.example');
  expect(certs.again.subjectAltName).toBe('DNS:fleet.example');
  for (const c of Object.values(certs)) expect(c.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
  expect(() => enrollMany(items(1), { context: env.context, reqExtensions: Buffer.from('3003', 'hex') })).toThrow(/reqExtensions" option is not DER Extensions/);
});

test('outTrusted: a new certificate that does not chain to these anchors is refused in certConf and never persisted', async () => {
  const other = await TestCa.create({ subject: '/CN=Other CA' });
  fs.writeFileSync(path.join(dir, 'ca.pem'), env.ca.cert.toString());
  fs.writeFileSync(path.join(dir, 'other.pem'), other.cert.toString());
  const base = { ref: REF, secret: `pass:${SECRET}`, server: '127.0.0.1:1' };
  const good = await enrollMany(items(2), { options: { ...base, outTrusted: path.join(dir, 'ca.pem') }, transfer: env.server.transfer, outDir: path.join(dir, 'good') }).done;
  expect(good).toMatchObject({ confirmed: 2, failed: 0 });
  const job = enrollMany(items(2), { options: { ...base, outTrusted: path.join(dir, 'other.pem') }, transfer: env.server.transfer, outDir: path.join(dir, 'bad') });
  const errors: CmpError[] = [];
  for await (const r of job) if (r.error) errors.push(r.error);
  expect(await job.done).toMatchObject({ confirmed: 0, failed: 2 });
  expect(errors.map((e) => e.code)).toEqual(['ERR_OSSL_CMP_CERTIFICATE_NOT_ACCEPTED', 'ERR_OSSL_CMP_CERTIFICATE_NOT_ACCEPTED']);
  expect(fs.readdirSync(path.join(dir, 'bad')).filter((f) => f.endsWith('.pem'))).toEqual([]);
});

test('writeFilesDurably: a call can leave its renames for the next call to flush, or for a call of their own', async () => {
  const partial = path.join(dir, '.partial');
  fs.mkdirSync(partial);
  const entry = (name: string, data: string) => ({ tmp: path.join(partial, `${name}.tmp`), file: path.join(dir, name), data });
  const first = await binding.writeFilesDurably([entry('a.pem', 'A')], [], null, true);
  expect(fs.readFileSync(path.join(dir, 'a.pem'), 'utf8')).toBe('A');
  // the next batch's first flush covers the renames the first one left
  await binding.writeFilesDurably([entry('b.pem', 'B')], [], first);
  expect(fs.readFileSync(path.join(dir, 'b.pem'), 'utf8')).toBe('B');
  // a batch that fails before its first flush leaves what it was given to flush: a call of its own still can
  const left = await binding.writeFilesDurably([entry('c.pem', 'C')], [], null, true);
  const missing = { tmp: path.join(dir, 'no-such-dir', 'x.tmp'), file: path.join(dir, 'x.pem'), data: 'X' };
  await expect(binding.writeFilesDurably([missing], [], left, true)).rejects.toThrow(/cannot write '.*x\.pem': open/);
  await binding.writeFilesDurably([], [], left);
  expect(fs.readdirSync(partial)).toEqual([]);
  expect(() => binding.writeFilesDurably([entry('d.pem', 'D')], [], {} as never)).toThrow(/pending must be a token/);
  // another of the addon's handles is not taken for one
  const issuerKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'der', type: 'pkcs8' });
  expect(() => binding.writeFilesDurably([entry('d.pem', 'D')], [], binding.certIssuer(null, issuerKey) as never)).toThrow(/pending must be a token/);
  expect(() => binding.writeFilesDurably([], [], null, true)).toThrow(/nothing to leave unflushed/);
});

test('batches written one after the other share a flush: the batch after a busy one covers its renames', async () => {
  // a machine without idle CPU, however long the test takes: CPU first throughout
  const restoreCpus = stubCpus(() => ({ busy: 10, idle: 0 }));
  const calls: Array<{ files: number; pending: boolean; leave: boolean }> = [];
  const original = binding.writeFilesDurably;
  let releaseFirst!: () => void;
  const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
  let startFirst!: () => void;
  const firstStarted = new Promise<void>((resolve) => (startFirst = resolve));
  let asked = 0;
  let persisting = 0;
  // The first item's files go alone; the other IRs are answered once that batch is being written, and
  // its write waits until every item's certConf callback has asked for its files, which queue behind it.
  const events: string[] = [];
  binding.writeFilesDurably = ((entries: never[], sync: string[], pending?: unknown, leave?: boolean) => {
    calls.push({ files: entries.length, pending: pending != null, leave: leave === true });
    const n = calls.length;
    const go = () =>
      (original as (...a: unknown[]) => Promise<unknown>).call(binding, entries, sync, pending, leave).then((r) => {
        events.push(`write ${n} done`);
        return r;
      });
    if (calls.length > 1) return go();
    startFirst();
    return firstHeld.then(go);
  }) as typeof binding.writeFilesDurably;
  try {
    const job = enrollMany(items(6), {
      context: () => {
        const ctx = env.context();
        const set = ctx[kCertConfDetails].bind(ctx);
        // the engine's callback queues the item's files before it returns
        ctx[kCertConfDetails] = (fn, passphrase) =>
          set(fn && ((...args) => {
            const accepted = fn(...args);
            if (++persisting === 6) releaseFirst();
            return accepted;
          }), passphrase);
        return ctx;
      },
      transfer: async (req: Buffer) => {
        if (bodyType(req) === 24) events.push('certConf');
        if (bodyType(req) === 0 && asked++ > 0) await firstStarted;
        return env.server.transfer(req);
      },
      concurrency: 6,
      outDir: path.join(dir, 'out'),
      journal: path.join(dir, 'job.db'),
    });
    const s = await job.done;
    expect(s.confirmed).toBe(6);
  } finally {
    binding.writeFilesDurably = original;
    restoreCpus();
  }
  const batches = calls.filter((c) => c.files > 0 && c.leave);
  expect(batches.length).toBeGreaterThanOrEqual(2);
  // the second batch flushed the first one's renames with its own data, and no item was confirmed before that
  expect(batches[1].pending).toBe(true);
  expect(events.indexOf('certConf')).toBeGreaterThan(events.indexOf('write 2 done'));
  const flushes = batches.length + calls.filter((c) => c.files === 0).length;
  expect(flushes).toBeLessThan(2 * batches.length);
  const lines = manifest(path.join(dir, 'out'));
  expect(lines).toHaveLength(6);
  for (const l of lines) checkPair(l);
});

test('a batch lingers no longer than writing a batch lately took, whatever the cap', async () => {
  const out = new Output(path.join(dir, 'linger'));
  await out.open([]);
  const issued = issuedFromCert(env.ca.cert);
  let could = 1;
  // a cap of an hour, which the test's deadline does not wait for; the first batch goes at once,
  // as nobody else could join it
  out.batching({ lingerMs: 3_600_000, couldJoin: () => could });
  await out.persist('first', out.files('first', false), null, issued);
  could = 2; // from now on a lone item waits for another, up to what writing a batch took
  await out.persist('second', out.files('second', false), null, issued);
  await out.close();
  expect(fs.readFileSync(path.join(dir, 'linger', 'second.cert.pem'), 'utf8')).toBe(env.ca.cert.toString());
}, 30_000);

test('latency first: a batch neither lingers nor leaves its renames to the next batch; CPU first, it does both', async () => {
  const calls: boolean[] = [];
  const restore = seeWrites((entries, _sync, _pending, leave) => {
    if (entries.length > 0) calls.push(leave === true);
  });
  try {
    const out = new Output(path.join(dir, 'modes'));
    await out.open([]);
    const issued = issuedFromCert(env.ca.cert);
    let latency = true;
    // a linger of an hour, with another item that could join: only latency first writes at once
    out.batching({ lingerMs: 3_600_000, couldJoin: () => 2, latencyFirst: () => latency });
    await out.persist('a', out.files('a', false), null, issued);
    expect(calls).toEqual([false]); // its renames flushed by its own call
    latency = false;
    out.batching({ lingerMs: 0 });
    await out.persist('b', out.files('b', false), null, issued);
    expect(calls).toEqual([false, true]); // left for the next batch, or a flush of their own
    // a flip to latency first while a batch waits for the next one's flush: that batch is flushed
    // on its own first (its token), the new one with a call of its own
    const tokens: boolean[] = [];
    let d: Promise<void> | undefined;
    const restoreTokens = seeWrites((_entries, _sync, pending) => {
      tokens.push(pending != null);
      if (!d) {
        // d comes while c's batch is being written, and the machine turns idle
        d = out.persist('d', out.files('d', false), null, issued);
        latency = true;
      }
    });
    await out.persist('c', out.files('c', false), null, issued);
    await d;
    restoreTokens();
    // c's call leaves its renames; d flips: c's token is flushed alone, then d's call has none
    expect(tokens).toEqual([false, true, false]);
    expect(calls.slice(2)).toEqual([true, false]);
    await out.close();
    expect(fs.readFileSync(path.join(dir, 'modes', 'a.cert.pem'), 'utf8')).toBe(env.ca.cert.toString());
  } finally {
    restore();
  }
}, 30_000);

test("IdleCpu: the machine's idle share, a moving average of os.cpus() samples, busy until measured", () => {
  // what the counters moved by before each call: the first sample, then three more
  const steps = [{ busy: 0, idle: 0 }, { busy: 10, idle: 90 }, { busy: 10, idle: 90 }, { busy: 100, idle: 0 }];
  const restore = stubCpus(() => steps.shift()!);
  try {
    const m = new IdleCpu();
    expect(m.share).toBe(0);
    m.sample();
    expect(m.share).toBeCloseTo(0.45);
    m.sample();
    expect(m.share).toBeCloseTo(0.675);
    m.sample();
    expect(m.share).toBeCloseTo(0.3375);
  } finally {
    restore();
  }
});

test('enrollMany turns to latency first once the machine shows idle CPU', async () => {
  // as os.cpus() tells it: a busy machine until the first batch was written, an idle one after
  const leaves: boolean[] = [];
  const restoreCpus = stubCpus(() => (leaves.length === 0 ? { busy: 10, idle: 0 } : { busy: 1, idle: 9 }));
  const restoreWrites = seeWrites((entries, _sync, _pending, leave) => {
    if (entries.length > 0) leaves.push(leave === true);
  });
  try {
    // answers 150 ms late, so that the job outlasts a few samples (one every 250 ms)
    const slow = async (req: Buffer) => {
      if (bodyType(req) === 0) await new Promise((resolve) => setTimeout(resolve, 150));
      return env.server.transfer(req);
    };
    const s = await enrollMany(items(16), { context: env.context, transfer: slow, concurrency: 2, outDir: path.join(dir, 'out') }).done;
    expect(s.confirmed).toBe(16);
  } finally {
    restoreWrites();
    restoreCpus();
  }
  // CPU first until idle CPU showed; latency first from then on
  expect(leaves[0]).toBe(true);
  expect(leaves.at(-1)).toBe(false);
  for (const l of manifest(path.join(dir, 'out'))) checkPair(l);
}, 30_000);
