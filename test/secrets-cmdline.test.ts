// Secrets given on the command line leave the process list once read, as with
// `openssl cmp`, in every mode; and no log, at any verbosity, repeats them.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { CmpServer, TestCa, features } from '../lib';
import { checkPair, manifest } from './helpers/bulk';
import { BIN, Proc, cmdline, start, startServer, usePki } from './helpers/cli-procs';
import type { Pki } from './helpers/pki';

const exec = promisify(execFile);
const pkiOf = usePki();
let pki: Pki;
beforeAll(() => {
  pki = pkiOf();
});

const SECRETS = ['SrvSecret-7d1f', 'SrvKeyPass-c2e9', 'ClientSecret-41a0', 'KeyPass-9b3c', 'NewKeyPass-e5d2', 'OtherPass-0f6a',
  'TlsKeyPass-83b1', 'WrongSecret-5c7e', 'RspKeyPass-2a44', 'BulkSecret-6e0d', 'BulkKeyPass-d71b'];

function expectBlanked(args: string[], where: string): void {
  const all = args.join('\0');
  for (const s of SECRETS) if (all.includes(s)) throw new Error(`${where}: "${s}" is on the process list: ${args.join(' ')}`);
}

/** The arguments after the program ("openssl cmp", "node .../openssl-cmp.js"), with the port made neutral. */
const userArgs = (args: string[], skip: number) => args.slice(skip).map((a) => a.replace(/^127\.0\.0\.1:\d+$/, '127.0.0.1:PORT'));

const srvArgs = ['-srv_ref', '1234', '-srv_secret', `pass:${SECRETS[0]}`, '-srv_keypass=pass:' + SECRETS[1],
  '-srv_cert', 'server.crt', '-srv_key', 'server.key', '-srv_trusted', 'ca.crt', '-rsp_cert', 'newkey.crt'];

test('-port: the server\'s secrets are blanked in /proc/PID/cmdline exactly as openssl cmp blanks them', async () => {
  const theirs = await startServer('openssl', srvArgs, pki.dir);
  const theirLine = cmdline(theirs.child.pid!);
  await theirs.stop();
  const ours = await startServer('ours', srvArgs, pki.dir);
  const ourLine = cmdline(ours.child.pid!);
  expectBlanked(ourLine, 'openssl-cmp -port');
  expect(ourLine.slice(0, 2)).toEqual([process.execPath, BIN]);
  // same argument area, same bytes zeroed: -srv_secret's value and "=pass:..." of -srv_keypass
  expect(userArgs(ourLine, 2)).toEqual(userArgs(theirLine, 2));
  expect(userArgs(ourLine, 2).join('\0')).toContain(`-srv_ref\x001234\0-srv_secret\0${'\0'.repeat(`pass:${SECRETS[0]}`.length)}\0-srv_keypass\0`);
  // and the server works with what it read before blanking
  await exec('openssl', ['cmp', '-config', '', '-server', `127.0.0.1:${ours.port}`, '-path', 'pkix/', '-ref', '1234', '-secret', `pass:${SECRETS[0]}`,
    '-cmd', 'ir', '-newkey', 'newkey.key', '-subject', '/CN=x', '-certout', 'port.pem'], { cwd: pki.dir });
  expect(pki.read('port.pem')).toMatch(/BEGIN CERTIFICATE/);
});

test('-port with OpenSSL 3.5\'s -rsp_keypass: blanked too', async () => {
  // the option exists only where the running OpenSSL has central key generation
  const extra = features.centralKeyGen === 'native' ? ['-rsp_key', 'newkey.key', '-rsp_keypass', `pass:${SECRETS[8]}`] : [];
  const ours = await startServer('ours', [...srvArgs, ...extra], pki.dir);
  const line = cmdline(ours.child.pid!);
  expectBlanked(line, 'openssl-cmp -port');
  expect(line.includes('-rsp_keypass')).toBe(extra.length > 0);
});

async function pollingClient(which: 'ours' | 'openssl', args: string[]): Promise<{ line: string[]; client: Proc }> {
  // each side its own fresh mock; polling keeps the client alive for seconds
  const mock = await startServer('openssl', ['-srv_ref', '1234', '-srv_secret', `pass:${SECRETS[2]}`, '-rsp_cert', 'newkey.crt',
    '-poll_count', '2', '-check_after', '1'], pki.dir);
  const full = ['-config', '', '-server', `127.0.0.1:${mock.port}`, '-path', 'pkix/', ...args];
  const client = which === 'ours' ? start(process.execPath, [BIN, ...full], pki.dir) : start('openssl', ['cmp', ...full], pki.dir);
  // the client has read its options once its first request arrived
  await mock.waitFor(/Received request/);
  const line = cmdline(client.child.pid!);
  expect(await client.exited).toBe(0);
  await mock.stop();
  return { line, client };
}

test('client: -secret, -keypass, -newkeypass, -otherpass, -tls_keypass are blanked while it polls, as openssl cmp does', async () => {
  const args = ['-ref', '1234', '-secret', `pass:${SECRETS[2]}`, '-keypass', `pass:${SECRETS[3]}`, '-newkeypass', `pass:${SECRETS[4]}`,
    '-otherpass', `pass:${SECRETS[5]}`, '-tls_keypass', `pass:${SECRETS[6]}`, '-cmd', 'ir', '-newkey', 'newkey.key', '-subject', '/CN=polling',
    '-certout', 'polled.pem'];
  const theirs = await pollingClient('openssl', args);
  // both write polled.pem in the same directory: ours must write its own
  fs.rmSync(pki.file('polled.pem'), { force: true });
  const ours = await pollingClient('ours', args);
  expectBlanked(ours.line, 'openssl-cmp client');
  expect(theirs.line.join('\0')).not.toContain(SECRETS[2]); // the reference blanks as measured
  // the same bytes zeroed, and -tls_keypass too, which openssl cmp reads (and blanks) only with -tls_used
  const zeroed = (line: string[]) => userArgs(line, 2).join('\0').replace(/pass:[\w-]+/g, (m) => '\0'.repeat(m.length));
  expect(userArgs(ours.line, 2).join('\0')).toBe(zeroed(theirs.line));
  expect(pki.read('polled.pem')).toMatch(/BEGIN CERTIFICATE/);
}, 30000);

test('no secret in any output at -verbosity 8: server, client, wrong secret, in-process mock', async () => {
  const srv = await startServer('ours', [...srvArgs, '-verbosity', '8'], pki.dir);
  const outputs: string[] = [];
  const run = async (args: string[]) => {
    const r = await exec(process.execPath, [BIN, '-config', '', '-verbosity', '8', ...args], { cwd: pki.dir }).catch((e) => e);
    outputs.push(`${r.stdout}${r.stderr}`);
  };
  const client = ['-server', `127.0.0.1:${srv.port}`, '-path', 'pkix/', '-ref', '1234', '-newkey', 'newkey.key', '-newkeypass', `pass:${SECRETS[4]}`,
    '-otherpass', `pass:${SECRETS[5]}`, '-subject', '/CN=v8', '-certout', 'v8.pem'];
  await run([...client, '-secret', `pass:${SECRETS[0]}`, '-cmd', 'ir']);
  await run([...client, '-secret', `pass:${SECRETS[7]}`, '-cmd', 'ir']);
  await run([...client, '-secret', `pass:${SECRETS[0]}`, '-cmd', 'genm']);
  await run(['-use_mock_srv', '-srv_ref', '1234', '-srv_secret', `pass:${SECRETS[0]}`, '-rsp_cert', 'newkey.crt', '-ref', '1234',
    '-secret', `pass:${SECRETS[7]}`, '-cmd', 'ir', '-newkey', 'newkey.key', '-subject', '/CN=v8', '-certout', 'v8m.pem']);
  await srv.stop();
  outputs.push(srv.output());
  const all = outputs.join('\n');
  expect(all).toMatch(/wrong pbm value|PBM/i); // the failure is reported...
  for (const s of SECRETS) expect(all).not.toContain(s); // ...without the secret
});

test('-use_mock_srv: the secrets leave the command line while the in-process transaction still runs', async () => {
  const p = start(process.execPath, [BIN, '-config', '', '-use_mock_srv', '-srv_ref', '1234', '-srv_secret', `pass:${SECRETS[0]}`,
    '-rsp_cert', 'newkey.crt', '-poll_count', '2', '-check_after', '1', '-ref', '1234', '-secret', `pass:${SECRETS[0]}`,
    '-cmd', 'ir', '-newkey', 'newkey.key', '-subject', '/CN=inproc', '-certout', 'inproc.pem'], pki.dir);
  let line = cmdline(p.child.pid!);
  for (const deadline = Date.now() + 10000; line.join('\0').includes(SECRETS[0]) && Date.now() < deadline;) {
    await new Promise((r) => setTimeout(r, 20));
    line = cmdline(p.child.pid!);
  }
  expect(p.child.exitCode).toBeNull(); // still polling: seen while running, not after
  expectBlanked(line, 'openssl-cmp -use_mock_srv');
  expect(line).toContain('-srv_secret');
  expect(await p.exited).toBe(0);
});

test('bulk: -secret and -out_keypass are blanked while the job runs; no output, journal or manifest holds them', async () => {
  const ca = await TestCa.create();
  const base = ca.handlers();
  let arrived = false;
  let release!: () => void;
  const opened = new Promise<void>((resolve) => (release = resolve));
  // the CA holds the first request until the process list has been read: the job is certainly running
  const server = new CmpServer({ ca, ref: 'bulk', secret: SECRETS[9], handlers: { ...base, certReq: async (req) => {
    arrived = true;
    await opened;
    return base.certReq!(req);
  } } });
  try {
    const { port } = await server.listen();
    fs.writeFileSync(path.join(pki.dir, 'devices.csv'), 'id,subject\nb0,/CN=b0\nb1,/CN=b1\nb2,/CN=b2\n');
    const p = start(process.execPath, [BIN, 'bulk', '-in', 'devices.csv', '-out_dir', 'bulk-out', '-json', '-config', '', '-server', `127.0.0.1:${port}`,
      '-path', 'pkix/', '-ref', 'bulk', '-secret', `pass:${SECRETS[9]}`, '-out_keypass', `pass:${SECRETS[10]}`, '-concurrency', '1'], pki.dir);
    for (const deadline = Date.now() + 15000; !arrived; await new Promise((r) => setTimeout(r, 20))) {
      if (Date.now() > deadline) throw new Error(`no request from openssl-cmp bulk:\n${p.output()}`);
    }
    const line = cmdline(p.child.pid!);
    expect(p.child.exitCode).toBeNull();
    expectBlanked(line, 'openssl-cmp bulk');
    expect(userArgs(line, 2).join('\0')).toContain(`-secret\0${'\0'.repeat(`pass:${SECRETS[9]}`.length)}\0-out_keypass\0${'\0'.repeat(`pass:${SECRETS[10]}`.length)}\0`);
    release();
    expect(await p.exited).toBe(0);
    // read before blanking: the keys are encrypted with the pass phrase given
    const out = path.join(pki.dir, 'bulk-out');
    expect(manifest(out).map((l) => checkPair(l, SECRETS[10]).subject)).toHaveLength(3);
    const files = (fs.readdirSync(out, { recursive: true }) as string[]).map((f) => path.join(out, f)).filter((f) => fs.statSync(f).isFile());
    expect(files.map((f) => path.basename(f))).toEqual(expect.arrayContaining(['manifest.jsonl', 'journal.sqlite', 'b0.key.pem']));
    const everything = [p.output(), ...files.map((f) => fs.readFileSync(f).toString('latin1'))].join('\n');
    expect(everything).toMatch(/"event":"summary"/);
    for (const s of SECRETS) expect(everything).not.toContain(s);
  } finally {
    release();
    await server.close();
  }
}, 30000);
