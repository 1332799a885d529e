// `openssl-cmp -port`: the mock-server mode, driven by the system `openssl cmp` client.
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { X509Certificate, createPublicKey, createPrivateKey } from 'node:crypto';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { REF, SECRET } from './helpers/mock-server';
import { Pki, makePki, removePki } from './helpers/pki';

const BIN = path.join(__dirname, '..', 'bin', 'openssl-cmp.js');
const exec = promisify(execFile);
let pki: Pki;

const children: ChildProcess[] = [];
beforeAll(() => {
  pki = makePki();
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});
afterAll(() => removePki(pki));

async function startOurs(args: string[]): Promise<{ port: number; child: ChildProcess; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, '-config', '', '-port', '0', ...args], { cwd: pki.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /^ACCEPT \[::\]:(\d+) PID=(\d+)$/m.exec(out);
      if (m) {
        expect(Number(m[2])).toBe(child.pid);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`openssl-cmp -port exited ${code}`)));
  });
  return { port, child, exited };
}

const srvCreds = ['-srv_ref', REF, '-srv_secret', `pass:${SECRET}`, '-srv_cert', 'server.crt', '-srv_key', 'server.key', '-srv_trusted', 'ca.crt'];
const client = (port: number, args: string[]) =>
  exec('openssl', ['cmp', '-config', '', '-server', `127.0.0.1:${port}`, '-path', 'pkix/', ...args], { cwd: pki.dir });
const pbm = ['-ref', REF, '-secret', `pass:${SECRET}`];

test('with -rsp_cert, as OpenSSL\'s mock server: IR, CR, KUR, P10CR, RR, GENM from openssl cmp', async () => {
  // as with OpenSSL's mock, a server given -srv_secret answers with PBM
  const srv = await startOurs([...srvCreds, '-rsp_cert', 'newkey.crt', '-rsp_capubs', 'ca.crt']);
  const sig = await startOurs(['-srv_cert', 'server.crt', '-srv_key', 'server.key', '-srv_trusted', 'ca.crt', '-rsp_cert', 'newkey.crt']);
  try {
    const rsp = new X509Certificate(pki.read('newkey.crt'));
    await client(srv.port, [...pbm, '-cmd', 'ir', '-newkey', 'newkey.key', '-subject', '/CN=x', '-certout', 'ir.pem', '-cacertsout', 'ca-out.pem']);
    expect(new X509Certificate(pki.read('ir.pem')).raw.equals(rsp.raw)).toBe(true);
    expect(new X509Certificate(pki.read('ca-out.pem')).subject).toBe('CN=Test Root CA');
    await client(sig.port, ['-cert', 'client.crt', '-key', 'client.key', '-trusted', 'ca.crt', '-cmd', 'cr', '-newkey', 'newkey.key', '-certout', 'cr.pem']);
    await client(sig.port, ['-cert', 'newkey.crt', '-key', 'newkey.key', '-trusted', 'ca.crt', '-cmd', 'kur', '-newkey', 'newkey.key', '-certout', 'kur.pem']);
    await client(srv.port, [...pbm, '-cmd', 'p10cr', '-csr', 'newkey.csr', '-certout', 'p10.pem']);
    await client(srv.port, [...pbm, '-cmd', 'rr', '-oldcert', 'newkey.crt']);
    const genm = await client(srv.port, [...pbm, '-cmd', 'genm', '-infotype', 'signKeyPairTypes']);
    expect(genm.stdout + genm.stderr).toMatch(/signKeyPairTypes/);
    for (const f of ['cr.pem', 'kur.pem', 'p10.pem']) expect(new X509Certificate(pki.read(f)).raw.equals(rsp.raw)).toBe(true);
  } finally {
    srv.child.kill('SIGTERM');
    sig.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
    expect(await sig.exited).toBe(0);
  }
});

test('without -rsp_cert, a test CA issues real certificates for the client\'s own key', async () => {
  const srv = await startOurs(['-srv_ref', REF, '-srv_secret', `pass:${SECRET}`]);
  try {
    await client(srv.port, [...pbm, '-cmd', 'ir', '-newkey', 'client.key', '-subject', '/CN=real/O=Issued', '-certout', 'real.pem']);
    const cert = new X509Certificate(pki.read('real.pem'));
    expect(cert.subject).toBe('CN=real\nO=Issued');
    expect(cert.publicKey.equals(createPublicKey(createPrivateKey(pki.read('client.key'))))).toBe(true);
  } finally {
    srv.child.kill('SIGTERM');
    await srv.exited;
  }
});

test('polling, rejection, implicit confirmation and error injection', async () => {
  const polling = await startOurs([...srvCreds, '-rsp_cert', 'newkey.crt', '-poll_count', '2', '-check_after', '1']);
  const started = Date.now();
  await client(polling.port, [...pbm, '-cmd', 'ir', '-newkey', 'newkey.key', '-subject', '/CN=x', '-certout', 'polled.pem']);
  expect(Date.now() - started).toBeGreaterThanOrEqual(900); // one checkAfter wait, as OpenSSL's mock
  polling.child.kill('SIGTERM');
  await polling.exited;

  const reject = await startOurs([...srvCreds, '-rsp_cert', 'newkey.crt', '-pkistatus', '2', '-failurebits', '6', '-statusstring', 'go away']);
  const r = await client(reject.port, [...pbm, '-cmd', 'ir', '-newkey', 'newkey.key', '-subject', '/CN=x', '-certout', 'no.pem']).catch((e) => e);
  expect(r.code).toBe(1);
  const said = `${r.stdout}${r.stderr}`;
  expect(said).toMatch(/rejection/);
  expect(said).toMatch(/badMessageCheck/);
  expect(said).toMatch(/go away/);
  reject.child.kill('SIGTERM');
  await reject.exited;

  const implicit = await startOurs([...srvCreds, '-rsp_cert', 'newkey.crt', '-grant_implicitconf', '-max_msgs', '1']);
  await client(implicit.port, [...pbm, '-cmd', 'ir', '-implicit_confirm', '-newkey', 'newkey.key', '-subject', '/CN=x', '-certout', 'imp.pem']);
  // one message served (the IR, confirmed implicitly): -max_msgs 1 ends the server
  expect(await implicit.exited).toBe(0);

  const erroring = await startOurs([...srvCreds, '-rsp_cert', 'newkey.crt', '-send_error']);
  const e = await client(erroring.port, [...pbm, '-cmd', 'ir', '-newkey', 'newkey.key', '-subject', '/CN=x', '-certout', 'err.pem']).catch((x) => x);
  expect(e.code).toBe(1);
  expect(`${e.stdout}${e.stderr}`).toMatch(/received error/);
  erroring.child.kill('SIGTERM');
  await erroring.exited;
}, 30000);

test('-reqexts and -policies put the config sections\' extensions into the request (seen in what the test CA issues)', async () => {
  require('node:fs').writeFileSync(pki.file('ext.cnf'), [
    '[exts]', 'extendedKeyUsage = clientAuth', 'subjectAltName = DNS:ext.example, IP:10.9.8.7',
    '[pols]', 'certificatePolicies = 1.2.3.4', '',
  ].join('\n'));
  await exec(process.execPath, [BIN, '-config', 'ext.cnf', '-section', 'exts', '-use_mock_srv', '-srv_ref', REF, '-srv_secret', `pass:${SECRET}`,
    ...pbm, '-cmd', 'ir', '-newkey', 'client.key', '-subject', '/CN=with-exts', '-reqexts', 'exts', '-policies', 'pols', '-certout', 'exts.pem'],
  { cwd: pki.dir });
  const cert = new X509Certificate(pki.read('exts.pem'));
  expect(cert.subjectAltName).toBe('DNS:ext.example, IP Address:10.9.8.7');
  expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
  const text = (await exec('openssl', ['x509', '-in', 'exts.pem', '-noout', '-text'], { cwd: pki.dir })).stdout;
  expect(text).toMatch(/Policy: 1\.2\.3\.4/);
});

test('-reqout and -rspout save every message of the transaction; -rspin replays them', async () => {
  await exec(process.execPath, [BIN, '-config', '', '-use_mock_srv', '-srv_ref', REF, '-srv_secret', `pass:${SECRET}`, '-rsp_cert', 'newkey.crt',
    ...pbm, '-cmd', 'ir', '-newkey', 'newkey.key', '-subject', '/CN=x', '-certout', 'msg.pem',
    '-reqout', 'req1.der,req2.der', '-rspout', 'rsp1.der,rsp2.der'], { cwd: pki.dir });
  for (const [file, body] of [['req1.der', 'cont [ 0 ]'], ['req2.der', 'cont [ 24 ]'], ['rsp1.der', 'cont [ 1 ]'], ['rsp2.der', 'cont [ 19 ]']]) {
    const { stdout } = await exec('openssl', ['asn1parse', '-inform', 'DER', '-in', file, '-i'], { cwd: pki.dir });
    // the body's CHOICE tag: ir [0], certConf [24], ip [1], pkiconf [19]
    expect(stdout).toContain(body);
  }
  // replayed, without any server: openssl-cmp makes the stored responses pass its checks
  await exec(process.execPath, [BIN, '-config', '', ...pbm, '-cmd', 'ir', '-newkey', 'newkey.key', '-subject', '/CN=x',
    '-certout', 'replayed.pem', '-rspin', 'rsp1.der,rsp2.der'], { cwd: pki.dir });
  expect(new X509Certificate(pki.read('replayed.pem')).raw.equals(new X509Certificate(pki.read('newkey.crt')).raw)).toBe(true);
});

test('loadConfig follows openssl cmp: a missing [cmp] falls back to [default], other missing sections are errors', () => {
  const { loadConfig } = require('../lib') as typeof import('../lib');
  require('node:fs').writeFileSync(pki.file('lc.cnf'), 'server = 127.0.0.1:1\n[ir]\ncmd = ir\ndays = 7\n[default]\npath = pkix/\n');
  expect(loadConfig(pki.file('lc.cnf'))).toEqual({ server: '127.0.0.1:1', path: 'pkix/' });
  expect(loadConfig(pki.file('lc.cnf'), 'ir')).toEqual({ server: '127.0.0.1:1', path: 'pkix/', cmd: 'ir', days: 7 });
  // only the default 'cmp' alone is lenient; named in a list, it must exist
  expect(() => loadConfig(pki.file('lc.cnf'), 'cmp,ir')).toThrow(/no \[cmp\] section/);
  expect(() => loadConfig(pki.file('lc.cnf'), 'ir,nosuch')).toThrow(/no \[nosuch\] section/);
  const thrown = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      return err;
    }
    throw new Error('did not throw');
  };
  expect(thrown(() => loadConfig(pki.file('lc.cnf'), 'ir,nosuch'))).toMatchObject({ name: 'CmpError', code: 'ERR_CMP_INVALID_CONFIG' });
  require('node:fs').writeFileSync(pki.file('lc-bad.cnf'), '[cmp]\ndays = -3\n');
  expect(thrown(() => loadConfig(pki.file('lc-bad.cnf')))).toMatchObject({ name: 'CmpError', code: 'ERR_CMP_INVALID_CONFIG', message: expect.stringContaining('-days') });
  expect(thrown(() => loadConfig(pki.file('no-such.cnf')))).toMatchObject({ name: 'CmpError' });
});
