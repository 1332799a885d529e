// Secrets given on the command line leave the process list once read, as with
// `openssl cmp`, in every mode; and no log, at any verbosity, repeats them.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { features } from '../lib';
import { BIN, Proc, cmdline, start, startServer, usePki } from './helpers/cli-procs';
import type { Pki } from './helpers/pki';

const exec = promisify(execFile);
const pkiOf = usePki();
let pki: Pki;
beforeAll(() => {
  pki = pkiOf();
});

const SECRETS = ['SrvSecret-7d1f', 'SrvKeyPass-c2e9', 'ClientSecret-41a0', 'KeyPass-9b3c', 'NewKeyPass-e5d2', 'OtherPass-0f6a',
  'TlsKeyPass-83b1', 'WrongSecret-5c7e', 'RspKeyPass-2a44'];

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
