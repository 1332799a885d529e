// What OpenSSL added after 3.0: certReqTemplate and crlUpdate (3.4), central
// key generation (3.5), and the `openssl cmp` options built on them and on the
// 3.2/3.3 functions. Under OpenSSL 3.0 each must be refused exactly as that
// version's `openssl cmp` refuses it; under 3.5 each must work, against our
// own server (the system openssl is 3.0 and cannot serve them).
import { ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { CmpContext, CmpError, CmpServer, Option, PopoMethod, TestCa, features } from '../lib';
import { Pki, makePki, removePki } from './helpers/pki';

const BIN = path.join(__dirname, '..', 'bin', 'openssl-cmp.js');
const run = promisify(execFile);
const has = (f: string) => features[f] === 'native';
const V32 = has('validatedSrvCert');
const V34 = has('certReqTemplate') && has('crlUpdate');
const V35 = has('centralKeyGen');

let pki: Pki;
const children: ChildProcess[] = [];
beforeAll(() => {
  pki = makePki();
  // a server certificate fit to sign centrally generated keys (id-kp-cmKGA)
  fs.writeFileSync(pki.file('kga.ext'), 'keyUsage=critical,digitalSignature\nextendedKeyUsage=1.3.6.1.5.5.7.3.32,codeSigning\n');
  execFileSync('openssl', ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', '4242', '-days', '5',
    '-extfile', 'kga.ext', '-out', 'kga.crt'], { cwd: pki.dir, stdio: 'ignore' });
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  removePki(pki);
});

async function ours(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const r = await run(process.execPath, [BIN, '-config', '', ...args], { cwd: pki.dir });
    return { code: 0, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

async function startMock(args: string[]): Promise<number> {
  const child = spawn(process.execPath, [BIN, '-config', '', '-port', '0', ...args], { cwd: pki.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /^ACCEPT \[::\]:(\d+)/m.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`openssl-cmp -port exited ${code}`)));
  });
}

const LATER_OPTIONS: Array<[string, boolean, string[]]> = [
  ['-srvcertout', V32, ['x.pem']],
  ['-serial', V32, ['12']],
  ['-no_cache_extracerts', V32, []],
  ['-oldwithold', V32, ['ca.crt']],
  ['-profile', has('geninfoITAVs'), ['p']],
  ['-template', V34, ['t.der']],
  ['-crlout', V34, ['c.der']],
  ['-crlform', V34, ['PEM']],
  ['-reqout_only', V34, ['r.der']],
  ['-centralkeygen', V35, []],
  ['-newkeyout', V35, ['k.pem']],
];

describe.each(LATER_OPTIONS)('option %s', (opt, available, value) => {
  test(available ? 'is accepted on this OpenSSL' : 'is refused as by this OpenSSL\'s openssl cmp', async () => {
    // a command line that fails at once for another reason when the option is known
    const r = await ours(['-cmd', 'nosuchcmd', opt, ...value]);
    expect(r.code).toBe(1);
    if (available) {
      expect(r.stderr).not.toMatch(/Unknown option/);
      expect(r.stderr).toMatch(/unknown cmp command 'nosuchcmd'/);
    } else {
      const sys = await run('openssl', ['cmp', '-config', '', '-cmd', 'nosuchcmd', opt, ...value], { cwd: pki.dir }).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => e,
      );
      expect(sys.code).toBe(1);
      expect(r.stderr).toBe(sys.stderr);
    }
    const help = await ours(['-help']);
    expect(help.stderr.includes(` ${opt} `)).toBe(available);
  });
});

describe('library: certReqTemplate, crlUpdate, central key generation', () => {
  let ca: TestCa;
  let server: CmpServer;
  let clientCert: X509Certificate;
  const clientKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const pbm = () => {
    const c = new CmpContext();
    c.setTransferCallback(server.transfer);
    c.setReferenceValue('ref');
    c.setSecretValue('secret');
    return c;
  };
  beforeAll(async () => {
    ca = await TestCa.create({ template: { subject: '/CN=templated', keyType: 'rsa' } });
    const creds = await ca.serverCredentials();
    server = new CmpServer({ ca, ref: 'srv', secret: 'secret', cert: creds.cert, key: creds.key, trusted: [ca.cert] });
    const c = pbm();
    c.setNewPkey(true, clientKey);
    c.setSubjectName('/CN=client');
    clientCert = await c.execIR();
    c.close();
  });
  afterAll(() => server.close());

  test('fromOptions: noCacheExtracerts sets the option where OpenSSL has it, and is unknown elsewhere', () => {
    const options = { server: '127.0.0.1:1', noCacheExtracerts: true };
    if (!V32) {
      expect(() => CmpContext.fromOptions(options)).toThrow(TypeError);
      return;
    }
    const c = CmpContext.fromOptions(options);
    expect(c.getOption(Option.NO_CACHE_EXTRACERTS)).toBe(1);
    c.close();
  });

  test('getCertReqTemplate', async () => {
    const c = pbm();
    try {
      if (!V34) {
        expect(() => c.getCertReqTemplate()).toThrow(expect.objectContaining({ code: 'ERR_CMP_NOT_SUPPORTED' }));
        return;
      }
      const t = await c.getCertReqTemplate();
      expect(t.certTemplate).toBeInstanceOf(Buffer);
      expect(t.certTemplate!.includes(Buffer.from('templated'))).toBe(true);
      // keySpec: id-regCtrl-rsaKeyLen 2048
      expect(t.keySpec!.includes(Buffer.from('06092b060105050705010c', 'hex'))).toBe(true);
      expect(t.keySpec!.subarray(-4).equals(Buffer.from('02020800', 'hex'))).toBe(true);
    } finally {
      c.close();
    }
  });

  test('getCrlUpdate follows revocations and reports no update for a current CRL', async () => {
    let c = pbm();
    if (!V34) {
      expect(() => c.getCrlUpdate(clientCert)).toThrow(expect.objectContaining({ code: 'ERR_CMP_NOT_SUPPORTED' }));
      c.close();
      return;
    }
    const first = await c.getCrlUpdate(clientCert);
    c.close();
    expect(first).toEqual(ca.crl());
    c = pbm();
    expect(await c.getCrlUpdate(null, first)).toBeNull();
    c.close();
    expect(ca.revoke(clientCert.serialNumber)).toBe(true);
    c = pbm();
    const second = await c.getCrlUpdate(clientCert, first);
    c.close();
    expect(second).not.toBeNull();
    const text = execFileSync('openssl', ['crl', '-inform', 'DER', '-noout', '-text'], { input: second! }).toString();
    expect(text).toContain(`Serial Number: ${clientCert.serialNumber}`);
    c = pbm();
    expect(() => c.getCrlUpdate(null, 'not a crl')).toThrow(CmpError); // the right type, but no CRL
    expect(() => c.getCrlUpdate(null, 42 as unknown as Buffer)).toThrow(TypeError);
    c.close();
  });

  test('central key generation, several times in one process', async () => {
    const signer = await (async () => {
      const c = pbm();
      const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      c.setNewPkey(true, key);
      c.setSubjectName('/CN=signer');
      const cert = await c.execIR();
      c.close();
      return { cert, key };
    })();
    for (let i = 0; i < 3; i++) {
      const c = new CmpContext();
      c.setTransferCallback(server.transfer);
      c.setCert(signer.cert);
      c.setPkey(signer.key);
      c.setTrustedStore([ca.cert]);
      c.setSubjectName(`/CN=central ${i}`);
      c.setOption(Option.POPO_METHOD, PopoMethod.NONE);
      try {
        if (!V35) {
          await expect(c.execIR()).rejects.toThrow(CmpError);
          continue;
        }
        const cert = await c.execIR();
        const key = c.getNewPkey(true)!;
        expect(key.type).toBe('private');
        expect(createPublicKey(key).export({ type: 'spki', format: 'der' })).toEqual(cert.publicKey.export({ type: 'spki', format: 'der' }));
      } finally {
        c.close();
      }
    }
  });
});

if (!(V35 && V34)) {
  test('without OpenSSL 3.4, -infotype caCerts and certReqTemplate are plain genm requests, as in openssl cmp 3.0', async () => {
    const port = await startMock(['-srv_ref', 'r', '-srv_secret', 'pass:s']);
    for (const infotype of ['caCerts', 'certReqTemplate']) {
      const r = await ours(['-server', `127.0.0.1:${port}`, '-path', 'pkix/', '-ref', 'r', '-secret', 'pass:s', '-cmd', 'genm', '-infotype', infotype]);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/genp contains InfoType/);
    }
  });
}

(V35 && V34 ? describe : () => undefined)('openssl-cmp with the OpenSSL 3.2-3.5 options, against openssl-cmp -port', () => {
  let port: number;
  let fixed: number;
  const pbm = () => ['-server', `127.0.0.1:${port}`, '-path', 'pkix/', '-ref', 'r', '-secret', 'pass:s'];
  beforeAll(async () => {
    const srv = ['-srv_ref', 'r', '-srv_secret', 'pass:s', '-srv_cert', 'kga.crt', '-srv_key', 'server.key', '-srv_trusted', 'ca.crt'];
    port = await startMock(srv);
  });

  test('-centralkeygen -newkeyout -newkeypass -srvcertout', async () => {
    const r = await ours(['-server', `127.0.0.1:${port}`, '-path', 'pkix/', '-cert', 'client.crt', '-key', 'client.key', '-trusted', 'ca.crt',
      '-cmd', 'ir', '-centralkeygen', '-newkeyout', 'central.pem', '-newkeypass', 'pass:kp', '-subject', '/CN=central', '-certout', 'central.crt',
      '-srvcertout', 'srv.pem']);
    expect(r).toMatchObject({ code: 0 });
    const cert = new X509Certificate(pki.read('central.crt'));
    expect(pki.read('central.pem')).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    const key = createPrivateKey({ key: pki.read('central.pem'), passphrase: 'kp' });
    expect(cert.checkPrivateKey(key)).toBe(true);
    expect(new X509Certificate(pki.read('srv.pem')).raw).toEqual(new X509Certificate(pki.read('kga.crt')).raw);
    const bad = await ours([...pbm(), '-cmd', 'ir', '-popo', '-1', '-subject', '/CN=x', '-certout', 'x.crt']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/-newkeyout not given/);
  });

  test('-infotype certReqTemplate, crlStatusList, caCerts, rootCaCert', async () => {
    expect((await ours([...pbm(), '-cmd', 'genm', '-infotype', 'certReqTemplate', '-template', 't.der', '-keyspec', 'ks.der'])).code).toBe(0);
    expect(fs.readFileSync(pki.file('t.der'))[0]).toBe(0x30);
    expect(fs.readFileSync(pki.file('ks.der')).includes(Buffer.from('06092b060105050705010b', 'hex'))).toBe(true); // id-regCtrl-algId
    expect((await ours([...pbm(), '-cmd', 'genm', '-infotype', 'certReqTemplate'])).stderr).toMatch(/missing -template/);

    expect((await ours([...pbm(), '-cmd', 'genm', '-infotype', 'crlStatusList', '-crlcert', 'client.crt', '-crlout', 'crl.pem', '-crlform', 'PEM'])).code).toBe(0);
    expect(pki.read('crl.pem')).toMatch(/^-----BEGIN X509 CRL-----/);
    execFileSync('openssl', ['crl', '-in', 'crl.pem', '-inform', 'PEM', '-noout'], { cwd: pki.dir });
    // the CRL held is current: no update, and the output file is removed
    expect((await ours([...pbm(), '-cmd', 'genm', '-infotype', 'crlStatusList', '-oldcrl', 'crl.pem', '-crlout', 'crl.pem'])).code).toBe(0);
    expect(fs.existsSync(pki.file('crl.pem'))).toBe(false);

    expect((await ours([...pbm(), '-cmd', 'genm', '-infotype', 'caCerts', '-cacertsout', 'cas.pem'])).code).toBe(0);
    expect(new X509Certificate(pki.read('cas.pem')).subject).toBe('CN=openssl-cmp Test CA');
    // -oldwithold is read: an unreadable one fails before anything is sent
    expect((await ours([...pbm(), '-cmd', 'genm', '-infotype', 'rootCaCert', '-newwithnew', 'nwn.pem', '-oldwithold', 'nosuch.pem'])).code).toBe(1);
    fs.writeFileSync(pki.file('nwn.pem'), 'stale');
    expect((await ours([...pbm(), '-cmd', 'genm', '-infotype', 'rootCaCert', '-newwithnew', 'nwn.pem'])).code).toBe(0);
    expect(fs.existsSync(pki.file('nwn.pem'))).toBe(false);
  });

  test('rr by -issuer and -serial', async () => {
    expect((await ours([...pbm(), '-cmd', 'ir', '-newkey', 'newkey.key', '-subject', '/CN=to revoke', '-certout', 'rev.crt'])).code).toBe(0);
    const cert = new X509Certificate(pki.read('rev.crt'));
    const args = [...pbm(), '-cmd', 'rr', '-issuer', '/CN=openssl-cmp Test CA', '-serial', `0x${cert.serialNumber}`];
    expect((await ours(args)).code).toBe(0);
    expect((await ours(args)).code).toBe(1); // already revoked
    expect((await ours([...pbm(), '-cmd', 'rr', '-serial', '5'])).stderr).toMatch(/both -issuer and -serial/);
  });

  test('-reqout_only with -profile and -geninfo text: the request is saved, nothing is sent', async () => {
    const r = await ours(['-ref', 'r', '-secret', 'pass:s', '-cmd', 'ir', '-newkey', 'newkey.key', '-subject', '/CN=ro',
      '-profile', 'factory-profile', '-geninfo', '1.2.3.4:str:hello, 1.2.3.5:int:7', '-reqout_only', 'req.der']);
    expect(r.code).toBe(0);
    const der = fs.readFileSync(pki.file('req.der'));
    expect(der.includes(Buffer.from('06082b06010505070415', 'hex'))).toBe(true); // id-it-certProfile
    expect(der.includes(Buffer.from('factory-profile'))).toBe(true);
    expect(der.includes(Buffer.from('0c0568656c6c6f', 'hex'))).toBe(true); // UTF8String "hello"
    const parsed = execFileSync('openssl', ['asn1parse', '-inform', 'DER', '-in', 'req.der'], { cwd: pki.dir }).toString();
    expect(parsed).toMatch(/UTF8STRING\s*:ro$/m); // the requested subject CN
  });

  test('mock -rsp_crl and -rsp_key answer with the given CRL and key', async () => {
    // a CRL of the test CA, made with openssl
    fs.writeFileSync(pki.file('ca.cnf'), `[ca]\ndefault_ca=d\n[d]\ndatabase=${pki.file('index.txt')}\ncrlnumber=${pki.file('crlnum')}\ndefault_md=sha256\ndefault_crl_days=2\n`);
    fs.writeFileSync(pki.file('index.txt'), '');
    fs.writeFileSync(pki.file('crlnum'), '01\n');
    execFileSync('openssl', ['ca', '-config', 'ca.cnf', '-gencrl', '-keyfile', 'ca.key', '-cert', 'ca.crt', '-out', 'given.crl'], { cwd: pki.dir, stdio: 'ignore' });
    fixed = await startMock(['-srv_cert', 'kga.crt', '-srv_key', 'server.key', '-srv_trusted', 'ca.crt', '-srv_ref', 'r', '-srv_secret', 'pass:s',
      '-rsp_cert', 'newkey.crt', '-rsp_key', 'newkey.key', '-rsp_crl', 'given.crl']);
    const base = ['-server', `127.0.0.1:${fixed}`, '-path', 'pkix/'];
    expect((await ours([...base, '-ref', 'r', '-secret', 'pass:s', '-cmd', 'genm', '-infotype', 'crlStatusList', '-crlcert', 'client.crt', '-crlout', 'got.crl'])).code).toBe(0);
    const given = execFileSync('openssl', ['crl', '-in', 'given.crl', '-outform', 'DER'], { cwd: pki.dir });
    expect(fs.readFileSync(pki.file('got.crl'))).toEqual(given);
    expect((await ours([...base, '-cert', 'client.crt', '-key', 'client.key', '-trusted', 'ca.crt', '-cmd', 'cr', '-centralkeygen',
      '-newkeyout', 'rsp.pem', '-subject', '/CN=x', '-certout', 'rsp.crt'])).code).toBe(0);
    const want = createPublicKey(createPrivateKey(pki.read('newkey.key'))).export({ type: 'spki', format: 'der' });
    expect(createPublicKey(createPrivateKey(pki.read('rsp.pem'))).export({ type: 'spki', format: 'der' })).toEqual(want);
  });
});
