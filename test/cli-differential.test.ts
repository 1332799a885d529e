// Differential: each vector runs through `openssl cmp` of the OpenSSL this runtime has (the system's
// 3.0 under Node 20, the 3.5 reference build under Node 24) and through `openssl-cmp`, each against
// OpenSSL mock servers of its own, started afresh, in directories of their own: a server's state (3.0
// caches the extraCerts it has seen) cannot make one side pass for the other's reasons. Exit status
// and every file written must agree (certificates and form).
import { X509Certificate } from 'node:crypto';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REF, SECRET, mockArgs, startMock } from './helpers/mock-server';
import { opensslBin } from './helpers/openssl-bin';
import { Pki, makePki, removePki } from './helpers/pki';

const BIN = path.join(__dirname, '..', 'bin', 'openssl-cmp.js');
const NOW = String(Math.floor(Date.now() / 1000));
let pki: Pki;

interface Vector {
  name: string;
  args: string[];
  /** A fresh mock server for each tool, with these extra arguments (state such as poll counts is per server). */
  mock?: string[];
  files?: Record<string, string>;
  env?: Record<string, string>;
}

function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  return new Promise<{ code: number; stderr: string }>((resolve) => {
    const p = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 20000);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stderr });
    });
  });
}

const RECORDED = ['ir-req1.der', 'ir-req2.der', 'ir-rsp1.der', 'ir-rsp2.der'];
const PKI_FILES = [...RECORDED, 'ca.crt', 'server.crt', 'server.key', 'client.crt', 'client.key', 'newkey.key', 'newkey.crt', 'newkey.csr', 'other.crt', 'other.key'];

function workdir(v: Vector): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmp-diff-'));
  for (const f of PKI_FILES) fs.copyFileSync(pki.file(f), path.join(dir, f));
  for (const [name, text] of Object.entries(v.files ?? {})) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

/** Files written by a run, each as its form and certificates. */
function outputs(dir: string, before: Set<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(dir).sort()) {
    if (before.has(f)) continue;
    const data = fs.readFileSync(path.join(dir, f));
    const text = data.toString('latin1');
    if (text.includes('-----BEGIN')) {
      const certs = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
      out[f] = `PEM ${certs.map((c) => new X509Certificate(c).fingerprint256).join(',')}`;
    } else if (data.length === 0) {
      out[f] = 'empty';
    } else {
      const certs: string[] = [];
      let at = 0;
      while (at < data.length) {
        const lenByte = data[at + 1];
        const n = lenByte & 0x80 ? lenByte & 0x7f : 0;
        const len = n ? data.subarray(at + 2, at + 2 + n).reduce((a, b) => a * 256 + b, 0) : lenByte;
        const end = at + 2 + n + len;
        try {
          certs.push(new X509Certificate(data.subarray(at, end)).fingerprint256);
        } catch {
          // PKIMessages and random seeds: their bytes differ from run to run
          certs.push('not a certificate');
          break;
        }
        at = end;
      }
      out[f] = `DER ${certs.join(',')}`;
    }
  }
  return out;
}

async function runBoth(v: Vector) {
  const results = [];
  const uses = (p: string) => [...v.args, ...Object.values(v.files ?? {})].some((a) => a.includes(p));
  for (const tool of ['openssl', 'openssl-cmp'] as const) {
    const own = v.mock ? await startMock(pki, v.mock, undefined, opensslBin()) : undefined;
    const pbm = !own && uses('PBMPORT') ? await startMock(pki, [], undefined, opensslBin()) : undefined;
    const sig = !own && uses('SIGPORT') ? await startMock(pki, [], mockArgs(pki, false), opensslBin()) : undefined;
    const ports = (text: string) =>
      text.replace(/PBMPORT/g, String(own?.port ?? pbm?.port)).replace(/SIGPORT/g, String(own?.port ?? sig?.port));
    const args = v.args.map(ports);
    const files = Object.fromEntries(Object.entries(v.files ?? {}).map(([k, t]) => [k, ports(t)]));
    const dir = workdir({ ...v, files });
    const before = new Set(fs.readdirSync(dir));
    const r = tool === 'openssl'
      ? await run(opensslBin(), ['cmp', ...args], dir, v.env)
      : await run(process.execPath, [BIN, ...args], dir, v.env);
    results.push({ code: r.code, files: outputs(dir, before), stderr: r.stderr });
    fs.rmSync(dir, { recursive: true, force: true });
    await Promise.all([own?.stop(), pbm?.stop(), sig?.stop()]);
  }
  return results;
}

const S = (port: string) => ['-server', `127.0.0.1:${port}`, '-path', 'pkix/'];
const PBM = ['-config', '', ...S('PBMPORT'), '-ref', REF, '-secret', `pass:${SECRET}`];
const SIG = ['-config', '', ...S('SIGPORT'), '-cert', 'client.crt', '-key', 'client.key', '-trusted', 'ca.crt'];
const NEW = ['-newkey', 'newkey.key', '-subject', '/CN=newkey/O=Test'];
const OUT = ['-certout', 'cert.pem', '-cacertsout', 'ca.pem', '-extracertsout', 'extra.pem', '-chainout', 'chain.pem'];
const OUT_DER = ['-certout', 'cert.der', '-cacertsout', 'ca.der', '-extracertsout', 'extra.der', '-certform', 'DER'];

const CONF = `
# default section values
path = pkix/
ref = ${REF}
[cmp]
server = 127.0.0.1:PBMPORT
secret = pass:${SECRET}
cmd = ir
newkey = newkey.key
subject = /CN=newkey/O=Test
certout = from-cmp.pem
[ir]
cmd = ir
certout = from-ir.pem
[cr]
cmd = cr
certout = from-cr.pem
[signature]
secret =
cert = client.crt
key = client.key
trusted = ca.crt
server = 127.0.0.1:SIGPORT
[bad]
days = -5
[empty]
[default]
unknown_option = is ignored
`;

// The shape of the CMP sections Debian's openssl.cnf ships, pointed at the local mocks.
const INSTA_LIKE = `
[insta] # CMP against the local mock
server = 127.0.0.1:PBMPORT
path = pkix/
recipient = "/CN=Test Root CA" # quoted value
ignore_keyusage = 1
unprotected_errors = 1
extracertsout = insta.extracerts.pem
ref = ${REF}
secret = pass:${SECRET}
cmd = ir
subject = "/CN=openssl-cmp-test"
newkey = newkey.key
out_trusted = ca.crt
certout = insta.cert.pem

[pbm]
ref = $insta::ref
secret = $insta::secret

[signature]
server = 127.0.0.1:SIGPORT
trusted = $insta::out_trusted
secret = # disable PBM
key = $insta::newkey
cert = newkey.crt

[ir]
cmd = ir

[cr]
cmd = cr

[kur]
cmd = kur
oldcert = newkey.crt

[rr]
cmd = rr
oldcert = newkey.crt
`;

const EXT_CONF = `
[exts]
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth, serverAuth
subjectAltName = DNS:ext.example, IP:10.9.8.7
[plain_exts]
basicConstraints = CA:FALSE
[pols]
certificatePolicies = 1.2.3.4, 1.2.3.5
[bad_exts]
keyUsage = no_such_usage
`;
const EXT = (extra: string[]): Vector => ({
  name: `extension sections ${extra.join(' ')}`,
  args: ['-config', 'ext.cnf', '-section', 'exts', ...S('PBMPORT'), '-ref', REF, '-secret', `pass:${SECRET}`, '-cmd', 'ir', ...NEW, '-certout', 'c.pem', ...extra],
  files: { 'ext.cnf': EXT_CONF },
});

// no [cmp] section: openssl then uses [default] and the unnamed section
const NO_CMP_SECTION = `server = 127.0.0.1:PBMPORT\nref = ${REF}\nsecret = pass:${SECRET}\n[ir]\ncmd = ir\n[default]\npath = pkix/\n`;

function withConf(): Vector['files'] {
  return { 'cmp.cnf': CONF };
}

const vectors: () => Vector[] = () => [
  // --- enrollment with PBM, outputs and formats
  { name: 'ir pbm certout', args: [...PBM, '-cmd', 'ir', ...NEW, '-certout', 'cert.pem'] },
  { name: 'ir pbm all outputs PEM', args: [...PBM, '-cmd', 'ir', ...NEW, ...OUT] },
  { name: 'ir pbm all outputs DER', args: [...PBM, '-cmd', 'ir', ...NEW, ...OUT_DER] },
  { name: 'ir certform der lower case', args: [...PBM, '-cmd', 'ir', ...NEW, '-certout', 'c.der', '-certform', 'der'] },
  { name: 'ir certform bad', args: [...PBM, '-cmd', 'ir', ...NEW, '-certout', 'c', '-certform', 'XYZ'] },
  { name: 'ir implicit confirm', args: [...PBM, '-cmd', 'ir', ...NEW, '-implicit_confirm', '-certout', 'c.pem'] },
  { name: 'ir disable confirm', args: [...PBM, '-cmd', 'ir', ...NEW, '-disable_confirm', '-certout', 'c.pem'] },
  { name: 'ir days', args: [...PBM, '-cmd', 'ir', ...NEW, '-days', '30', '-certout', 'c.pem'] },
  { name: 'ir sans', args: [...PBM, '-cmd', 'ir', ...NEW, '-sans', 'DNS:a.example, IP:10.1.2.3 critical', '-certout', 'c.pem'] },
  { name: 'ir sans bare', args: [...PBM, '-cmd', 'ir', ...NEW, '-sans', 'host.example 192.168.0.1 http://x/', '-certout', 'c.pem'] },
  { name: 'ir san_nodefault', args: [...PBM, '-cmd', 'ir', ...NEW, '-san_nodefault', '-certout', 'c.pem'] },
  { name: 'ir policy oids', args: [...PBM, '-cmd', 'ir', ...NEW, '-policy_oids', '1.2.3.4,1.2.3.5', '-policy_oids_critical', '-certout', 'c.pem'] },
  { name: 'ir popo signature', args: [...PBM, '-cmd', 'ir', ...NEW, '-popo', '1', '-certout', 'c.pem'] },
  { name: 'ir popo raverified refused by mock', args: [...PBM, '-cmd', 'ir', ...NEW, '-popo', '0', '-certout', 'c.pem'] },
  { name: 'ir popo out of range', args: [...PBM, '-cmd', 'ir', ...NEW, '-popo', '7', '-certout', 'c.pem'] },
  { name: 'ir issuer and recipient', args: [...PBM, '-cmd', 'ir', ...NEW, '-issuer', '/CN=Test Root CA', '-recipient', '/CN=Test Root CA', '-certout', 'c.pem'] },
  { name: 'ir timeouts', args: [...PBM, '-cmd', 'ir', ...NEW, '-msg_timeout', '10', '-total_timeout', '30', '-certout', 'c.pem'] },
  { name: 'ir keep_alive 0', args: [...PBM, '-cmd', 'ir', ...NEW, '-keep_alive', '0', '-certout', 'c.pem'] },
  { name: 'ir keep_alive 2', args: [...PBM, '-cmd', 'ir', ...NEW, '-keep_alive', '2', '-certout', 'c.pem'] },
  { name: 'ir digest sha512', args: [...PBM, '-cmd', 'ir', ...NEW, '-digest', 'sha512', '-certout', 'c.pem'] },
  { name: 'ir mac hmac-sha256', args: [...PBM, '-cmd', 'ir', ...NEW, '-mac', 'hmac-sha256', '-certout', 'c.pem'] },
  { name: 'ir verbosity 3', args: [...PBM, '-cmd', 'ir', ...NEW, '-verbosity', '3', '-certout', 'c.pem'] },
  { name: 'ir verbosity 8', args: [...PBM, '-cmd', 'ir', ...NEW, '-verbosity', '8', '-certout', 'c.pem'] },
  { name: 'ir verbosity out of range', args: [...PBM, '-cmd', 'ir', ...NEW, '-verbosity', '9', '-certout', 'c.pem'] },
  { name: 'ir repeat 2', args: [...PBM, '-cmd', 'ir', ...NEW, '-repeat', '2', '-certout', 'c.pem'] },
  { name: 'ir repeat 0', args: [...PBM, '-cmd', 'ir', ...NEW, '-repeat', '0', '-certout', 'c.pem'] },
  { name: 'ir batch', args: [...PBM, '-cmd', 'ir', ...NEW, '-batch', '-certout', 'c.pem'] },
  { name: 'ir expect_sender right', args: [...PBM, '-cmd', 'ir', ...NEW, '-expect_sender', '/CN=server/O=Test', '-certout', 'c.pem'] },
  { name: 'ir extracerts out', args: [...PBM, '-cmd', 'ir', ...NEW, '-extracerts', 'other.crt', '-certout', 'c.pem'] },
  { name: 'ir out_trusted right', args: [...PBM, '-cmd', 'ir', ...NEW, '-out_trusted', 'ca.crt', '-certout', 'c.pem'] },
  { name: 'ir out_trusted wrong', args: [...PBM, '-cmd', 'ir', ...NEW, '-out_trusted', 'other.crt', '-certout', 'c.pem'] },
  { name: 'ir csr as template', args: [...PBM, '-cmd', 'ir', '-csr', 'newkey.csr', '-newkey', 'newkey.key', '-certout', 'c.pem'] },
  { name: 'ir unprotected requests refused', args: ['-config', '', ...S('PBMPORT'), '-cmd', 'ir', ...NEW, '-unprotected_requests', '-certout', 'c.pem'] },
  { name: 'ir untrusted given', args: [...PBM, '-cmd', 'ir', ...NEW, '-untrusted', 'ca.crt', '-certout', 'c.pem'] },
  { name: 'ir trusted given with pbm', args: [...PBM, '-cmd', 'ir', ...NEW, '-trusted', 'ca.crt', '-certout', 'c.pem'] },
  { name: 'ir geninfo', args: [...PBM, '-cmd', 'ir', ...NEW, '-geninfo', '1.2.3:int:987', '-certout', 'c.pem'] },
  // --- option syntax
  { name: 'syntax -opt=value', args: ['-config=', '-server=127.0.0.1:PBMPORT', '-path=pkix/', `-ref=${REF}`, `-secret=pass:${SECRET}`, '-cmd=ir', '-newkey=newkey.key', '-subject=/CN=x', '-certout=c.pem'] },
  { name: 'syntax --opt', args: ['--config', '', '--server', '127.0.0.1:PBMPORT', '--path', 'pkix/', '--ref', REF, '--secret', `pass:${SECRET}`, '--cmd', 'ir', '--newkey', 'newkey.key', '--subject', '/CN=x', '--certout', 'c.pem'] },
  { name: 'server url with scheme and path', args: ['-config', '', '-server', 'http://127.0.0.1:PBMPORT/pkix/', '-ref', REF, '-secret', `pass:${SECRET}`, '-cmd', 'ir', ...NEW, '-certout', 'c.pem'] },
  { name: 'server url https without tls_used', args: ['-config', '', '-server', 'https://127.0.0.1:PBMPORT/pkix/', '-ref', REF, '-secret', `pass:${SECRET}`, '-cmd', 'ir', ...NEW, '-certout', 'c.pem'] },
  { name: 'later option wins', args: [...PBM, '-cmd', 'cr', '-cmd', 'ir', ...NEW, '-certout', 'x.pem', '-certout', 'c.pem'] },
  { name: 'unknown option', args: [...PBM, '-cmd', 'ir', ...NEW, '-bogus'] },
  { name: 'missing value', args: [...PBM, '-cmd', 'ir', ...NEW, '-certout'] },
  { name: 'non-numeric days', args: [...PBM, '-cmd', 'ir', ...NEW, '-days', 'ten'] },
  { name: 'negative days', args: [...PBM, '-cmd', 'ir', ...NEW, '-days', '-1'] },
  { name: 'flag with value', args: [...PBM, '-cmd', 'ir', ...NEW, '-implicit_confirm=1'] },
  { name: 'stray argument', args: [...PBM, '-cmd', 'ir', ...NEW, 'stray'] },
  { name: 'help', args: ['-help'] },
  // --- pass phrase sources
  { name: 'secret env:', args: ['-config', '', ...S('PBMPORT'), '-ref', REF, '-secret', 'env:CMP_SECRET', '-cmd', 'ir', ...NEW, '-certout', 'c.pem'], env: { CMP_SECRET: SECRET } },
  { name: 'secret env: unset', args: ['-config', '', ...S('PBMPORT'), '-ref', REF, '-secret', 'env:CMP_NOT_SET', '-cmd', 'ir', ...NEW, '-certout', 'c.pem'] },
  { name: 'secret file:', args: ['-config', '', ...S('PBMPORT'), '-ref', REF, '-secret', 'file:secret.txt', '-cmd', 'ir', ...NEW, '-certout', 'c.pem'], files: { 'secret.txt': `${SECRET}\nsecond line\n` } },
  { name: 'secret file: missing', args: ['-config', '', ...S('PBMPORT'), '-ref', REF, '-secret', 'file:nope.txt', '-cmd', 'ir', ...NEW, '-certout', 'c.pem'] },
  { name: 'secret wrong', args: ['-config', '', ...S('PBMPORT'), '-ref', REF, '-secret', 'pass:wrong', '-cmd', 'ir', ...NEW, '-certout', 'c.pem'] },
  { name: 'secret bad source', args: ['-config', '', ...S('PBMPORT'), '-ref', REF, '-secret', 'bogus:x', '-cmd', 'ir', ...NEW, '-certout', 'c.pem'] },
  // --- credentials and files
  { name: 'newkey missing file', args: [...PBM, '-cmd', 'ir', '-newkey', 'missing.key', '-subject', '/CN=x', '-certout', 'c.pem'] },
  { name: 'newkey garbage', args: [...PBM, '-cmd', 'ir', '-newkey', 'garbage.key', '-subject', '/CN=x', '-certout', 'c.pem'], files: { 'garbage.key': 'not a key' } },
  { name: 'newkey wrong key for rsp cert', args: [...PBM, '-cmd', 'ir', '-newkey', 'other.key', '-subject', '/CN=x', '-certout', 'c.pem'] },
  { name: 'trusted garbage', args: [...PBM, '-cmd', 'ir', ...NEW, '-trusted', 'garbage.crt', '-certout', 'c.pem'], files: { 'garbage.crt': 'not a cert' } },
  { name: 'no credentials', args: ['-config', '', ...S('PBMPORT'), '-cmd', 'ir', ...NEW, '-certout', 'c.pem'] },
  { name: 'cert without key', args: ['-config', '', ...S('SIGPORT'), '-cert', 'client.crt', '-cmd', 'ir', ...NEW, '-certout', 'c.pem'] },
  // --- signature protection
  { name: 'cr signature trusted', args: [...SIG, '-cmd', 'cr', ...NEW, ...OUT] },
  { name: 'cr signature srvcert', args: ['-config', '', ...S('SIGPORT'), '-cert', 'client.crt', '-key', 'client.key', '-srvcert', 'server.crt', '-cmd', 'cr', ...NEW, '-certout', 'c.pem'] },
  { name: 'cr signature wrong srvcert', args: ['-config', '', ...S('SIGPORT'), '-cert', 'client.crt', '-key', 'client.key', '-srvcert', 'other.crt', '-cmd', 'cr', ...NEW, '-certout', 'c.pem'] },
  { name: 'cr signature wrong trusted', args: ['-config', '', ...S('SIGPORT'), '-cert', 'client.crt', '-key', 'client.key', '-trusted', 'other.crt', '-cmd', 'cr', ...NEW, '-certout', 'c.pem'] },
  { name: 'cr key does not match cert', args: ['-config', '', ...S('SIGPORT'), '-cert', 'client.crt', '-key', 'other.key', '-trusted', 'ca.crt', '-cmd', 'cr', ...NEW, '-certout', 'c.pem'] },
  { name: 'cr subject from cert', args: [...SIG, '-cmd', 'cr', '-newkey', 'newkey.key', '-certout', 'c.pem'] },
  { name: 'kur with oldcert', args: ['-config', '', ...S('SIGPORT'), '-cert', 'newkey.crt', '-key', 'newkey.key', '-trusted', 'ca.crt', '-cmd', 'kur', '-newkey', 'newkey.key', '-oldcert', 'newkey.crt', '-certout', 'c.pem'] },
  { name: 'kur oldcert defaults to cert', args: ['-config', '', ...S('SIGPORT'), '-cert', 'newkey.crt', '-key', 'newkey.key', '-trusted', 'ca.crt', '-cmd', 'kur', '-newkey', 'newkey.key', '-certout', 'c.pem'] },
  { name: 'kur wrong oldcert', args: [...SIG, '-cmd', 'kur', '-newkey', 'newkey.key', '-oldcert', 'client.crt', '-certout', 'c.pem'] },
  { name: 'p10cr', args: [...SIG, '-cmd', 'p10cr', '-csr', 'newkey.csr', '-certout', 'c.pem'] },
  { name: 'p10cr pbm', args: [...PBM, '-cmd', 'p10cr', '-csr', 'newkey.csr', '-certout', 'c.pem', '-certform', 'DER'] },
  { name: 'p10cr without csr', args: [...SIG, '-cmd', 'p10cr', '-certout', 'c.pem'] },
  { name: 'p10cr csr missing file', args: [...SIG, '-cmd', 'p10cr', '-csr', 'nope.csr', '-certout', 'c.pem'] },
  { name: 'rr', args: [...SIG, '-cmd', 'rr', '-oldcert', 'newkey.crt'] },
  { name: 'rr with reason', args: [...SIG, '-cmd', 'rr', '-oldcert', 'newkey.crt', '-revreason', '4'] },
  { name: 'rr pbm', args: [...PBM, '-cmd', 'rr', '-oldcert', 'newkey.crt'] },
  { name: 'rr without oldcert', args: [...SIG, '-cmd', 'rr'] },
  { name: 'rr wrong cert', args: [...SIG, '-cmd', 'rr', '-oldcert', 'client.crt'] },
  { name: 'genm', args: [...PBM, '-cmd', 'genm'] },
  { name: 'genm infotype', args: [...PBM, '-cmd', 'genm', '-infotype', 'signKeyPairTypes'] },
  { name: 'genm signature', args: [...SIG, '-cmd', 'genm'] },
  // --- certificate verification options (applied to the trust stores)
  ...[
    ['-verify_depth', '0'], ['-verify_depth', '5'], ['-attime', '4000000000'], ['-attime', NOW],
    ['-attime', '4000000000', '-no_check_time'], ['-purpose', 'sslserver'], ['-purpose', 'crlsign'], ['-purpose', 'bogus'],
    ['-x509_strict'], ['-check_ss_sig'], ['-trusted_first'], ['-crl_check'], ['-policy', '1.2.3.4', '-explicit_policy'],
    ['-policy_check'], ['-verify_name', 'ssl_server'], ['-verify_name', 'bogus'], ['-auth_level', '1'],
    ['-ignore_critical', '-no_alt_chains', '-policy_print'], ['-suiteB_128'],
  ].map((extra) => ({ name: `verify ${extra.join(' ')}`, args: [...SIG, '-cmd', 'cr', ...NEW, '-certout', 'c.pem', ...extra] })),
  { name: 'verify partial_chain, server cert as anchor', args: ['-config', '', ...S('SIGPORT'), '-cert', 'client.crt', '-key', 'client.key', '-trusted', 'server.crt', '-partial_chain', '-cmd', 'cr', ...NEW, '-certout', 'c.pem'] },
  { name: 'verify server cert as anchor without partial_chain', args: ['-config', '', ...S('SIGPORT'), '-cert', 'client.crt', '-key', 'client.key', '-trusted', 'server.crt', '-cmd', 'cr', ...NEW, '-certout', 'c.pem'] },
  { name: 'verify out_trusted with attime in the future', args: [...PBM, '-cmd', 'ir', ...NEW, '-out_trusted', 'ca.crt', '-attime', '4000000000', '-certout', 'c.pem'] },
  { name: 'verify option from config file', args: ['-config', 'v.cnf', ...S('SIGPORT'), '-cert', 'client.crt', '-key', 'client.key', '-trusted', 'ca.crt', '-cmd', 'cr', ...NEW, '-certout', 'c.pem'], files: { 'v.cnf': '[cmp]\nverify_depth = 0\n' } },
  // --- provider and random state options
  { name: 'provider default', args: [...PBM, '-cmd', 'ir', ...NEW, '-certout', 'c.pem', '-provider', 'default'] },
  { name: 'provider twice', args: [...PBM, '-cmd', 'ir', ...NEW, '-certout', 'c.pem', '-provider', 'default', '-provider', 'base'] },
  { name: 'provider unknown', args: [...PBM, '-cmd', 'ir', ...NEW, '-certout', 'c.pem', '-provider', 'no_such_provider'] },
  { name: 'propquery', args: [...PBM, '-cmd', 'ir', ...NEW, '-certout', 'c.pem', '-propquery', 'provider=default'] },
  { name: 'rand file', args: [...PBM, '-cmd', 'ir', ...NEW, '-certout', 'c.pem', '-rand', 'ca.crt:client.crt'] },
  { name: 'rand missing file', args: [...PBM, '-cmd', 'ir', ...NEW, '-certout', 'c.pem', '-rand', 'nope.rnd'] },
  { name: 'writerand', args: [...PBM, '-cmd', 'ir', ...NEW, '-certout', 'c.pem', '-writerand', 'out.rnd'] },
  { name: 'writerand after a failure', args: [...PBM, '-cmd', 'ir', '-certout', 'c.pem', '-writerand', 'out.rnd'] },
  // --- stored messages
  { name: 'rspin replay, no server', args: ['-config', '', '-ref', REF, '-secret', `pass:${SECRET}`, '-cmd', 'ir', ...NEW, '-certout', 'c.pem', '-rspin', 'ir-rsp1.der,ir-rsp2.der'] },
  { name: 'rspin replay with rspout', args: ['-config', '', '-ref', REF, '-secret', `pass:${SECRET}`, '-cmd', 'ir', ...NEW, '-certout', 'c.pem', '-rspin', 'ir-rsp1.der,ir-rsp2.der', '-rspout', 'again1.der'] },
  { name: 'rspin wrong secret', args: ['-config', '', '-ref', REF, '-secret', 'pass:wrong', '-cmd', 'ir', ...NEW, '-certout', 'c.pem', '-rspin', 'ir-rsp1.der,ir-rsp2.der'] },
  { name: 'rspin too few, no server', args: ['-config', '', '-ref', REF, '-secret', `pass:${SECRET}`, '-cmd', 'ir', ...NEW, '-certout', 'c.pem', '-rspin', 'ir-rsp1.der'] },
  { name: 'rspin missing file', args: ['-config', '', '-ref', REF, '-secret', `pass:${SECRET}`, '-cmd', 'ir', ...NEW, '-certout', 'c.pem', '-rspin', 'nope.der'] },
  { name: 'rspin not a message', args: ['-config', '', '-ref', REF, '-secret', `pass:${SECRET}`, '-cmd', 'ir', ...NEW, '-certout', 'c.pem', '-rspin', 'ca.crt'] },
  { name: 'reqin with new tid', args: [...PBM, '-cmd', 'ir', ...NEW, '-certout', 'c.pem', '-reqin', 'ir-req1.der,ir-req2.der', '-reqin_new_tid'] },
  { name: 'reqin old tid', args: [...PBM, '-cmd', 'ir', ...NEW, '-certout', 'c.pem', '-reqin', 'ir-req1.der'] },
  { name: 'reqout and rspout with a server', args: [...PBM, '-cmd', 'ir', ...NEW, '-certout', 'c.pem', '-reqout', 'q1.der', '-rspout', 'r1.der,r2.der'] },
  // --- commands
  { name: 'no cmd', args: [...PBM, ...NEW] },
  { name: 'unknown cmd', args: [...PBM, '-cmd', 'xyz', ...NEW] },
  { name: 'no server', args: ['-config', '', '-ref', REF, '-secret', `pass:${SECRET}`, '-cmd', 'ir', ...NEW] },
  { name: 'nothing listening', args: ['-config', '', '-server', '127.0.0.1:1', '-ref', REF, '-secret', `pass:${SECRET}`, '-cmd', 'ir', ...NEW, '-msg_timeout', '5'] },
  // --- server behaviour (fresh mock per tool)
  { name: 'polling', args: [...PBM, '-cmd', 'ir', ...NEW, '-certout', 'c.pem'], mock: ['-poll_count', '2', '-check_after', '0'] },
  { name: 'rejection', args: [...PBM, '-cmd', 'ir', ...NEW, ...OUT], mock: ['-pkistatus', '2', '-failurebits', '3', '-statusstring', 'nope'] },
  { name: 'rejection one failure bit', args: [...PBM, '-cmd', 'ir', ...NEW, '-certout', 'c.pem'], mock: ['-pkistatus', '2', '-failure', '9'] },
  { name: 'granted with mods', args: [...PBM, '-cmd', 'ir', ...NEW, '-certout', 'c.pem'], mock: ['-pkistatus', '1'] },
  { name: 'send_error', args: [...PBM, '-cmd', 'ir', ...NEW, ...OUT], mock: ['-send_error'] },
  { name: 'unprotected error refused', args: [...PBM, '-cmd', 'ir', ...NEW, ...OUT], mock: ['-send_error', '-send_unprot_err'] },
  { name: 'unprotected error accepted', args: [...PBM, '-cmd', 'ir', ...NEW, '-unprotected_errors', ...OUT], mock: ['-send_error', '-send_unprot_err'] },
  { name: 'implicit confirm granted', args: [...PBM, '-cmd', 'ir', ...NEW, '-implicit_confirm', '-certout', 'c.pem'], mock: ['-grant_implicitconf'] },
  { name: 'extra certs in response', args: [...PBM, '-cmd', 'ir', ...NEW, ...OUT], mock: ['-rsp_extracerts', 'other.crt'] },
  { name: 'extra certs DER', args: [...PBM, '-cmd', 'ir', ...NEW, ...OUT_DER], mock: ['-rsp_extracerts', 'other.crt'] },
  // --- the in-process mock server
  { name: 'use_mock_srv ir', args: ['-config', '', '-use_mock_srv', '-srv_ref', REF, '-srv_secret', `pass:${SECRET}`, '-rsp_cert', 'newkey.crt', '-rsp_capubs', 'ca.crt', '-ref', REF, '-secret', `pass:${SECRET}`, '-cmd', 'ir', ...NEW, ...OUT] },
  { name: 'use_mock_srv cr signature', args: ['-config', '', '-use_mock_srv', '-srv_cert', 'server.crt', '-srv_key', 'server.key', '-srv_trusted', 'ca.crt', '-rsp_cert', 'newkey.crt', '-cert', 'client.crt', '-key', 'client.key', '-trusted', 'ca.crt', '-cmd', 'cr', ...NEW, '-certout', 'c.pem'] },
  { name: 'use_mock_srv rejection', args: ['-config', '', '-use_mock_srv', '-srv_ref', REF, '-srv_secret', `pass:${SECRET}`, '-rsp_cert', 'newkey.crt', '-pkistatus', '2', '-failure', '4', '-ref', REF, '-secret', `pass:${SECRET}`, '-cmd', 'ir', ...NEW, ...OUT] },
  { name: 'use_mock_srv polling', args: ['-config', '', '-use_mock_srv', '-srv_ref', REF, '-srv_secret', `pass:${SECRET}`, '-rsp_cert', 'newkey.crt', '-poll_count', '1', '-check_after', '0', '-ref', REF, '-secret', `pass:${SECRET}`, '-cmd', 'ir', ...NEW, '-certout', 'c.pem'] },
  { name: 'use_mock_srv rr', args: ['-config', '', '-use_mock_srv', '-srv_ref', REF, '-srv_secret', `pass:${SECRET}`, '-rsp_cert', 'newkey.crt', '-ref', REF, '-secret', `pass:${SECRET}`, '-cmd', 'rr', '-oldcert', 'newkey.crt'] },
  { name: 'use_mock_srv genm', args: ['-config', '', '-use_mock_srv', '-srv_ref', REF, '-srv_secret', `pass:${SECRET}`, '-rsp_cert', 'newkey.crt', '-ref', REF, '-secret', `pass:${SECRET}`, '-cmd', 'genm'] },
  { name: 'use_mock_srv send_error', args: ['-config', '', '-use_mock_srv', '-srv_ref', REF, '-srv_secret', `pass:${SECRET}`, '-rsp_cert', 'newkey.crt', '-send_error', '-ref', REF, '-secret', `pass:${SECRET}`, '-cmd', 'ir', ...NEW, ...OUT] },
  { name: 'port excludes server', args: ['-config', '', '-port', '0', '-server', '127.0.0.1:1', '-srv_ref', REF, '-srv_secret', `pass:${SECRET}`] },
  { name: 'port without credentials', args: ['-config', '', '-port', '0', '-rsp_cert', 'newkey.crt'] },
  // --- config files
  { name: 'config [cmp]', args: ['-config', 'cmp.cnf'], files: withConf() },
  { name: 'config section ir', args: ['-config', 'cmp.cnf', '-section', 'ir'], files: withConf() },
  { name: 'config sections cmp,ir', args: ['-config', 'cmp.cnf', '-section', 'cmp,ir'], files: withConf() },
  { name: 'config sections ir,cmp', args: ['-config', 'cmp.cnf', '-section', 'ir,cmp'], files: withConf() },
  { name: 'config sections cmp,cr with space', args: ['-config', 'cmp.cnf', '-section', 'cmp, cr'], files: withConf() },
  { name: 'config signature section empties secret', args: ['-config', 'cmp.cnf', '-section', 'cmp,cr,signature'], files: withConf() },
  { name: 'config command line overrides', args: ['-config', 'cmp.cnf', '-certout', 'override.pem', '-cmd', 'ir'], files: withConf() },
  { name: 'config missing section', args: ['-config', 'cmp.cnf', '-section', 'nosuch'], files: withConf() },
  { name: 'config default section only', args: ['-config', 'cmp.cnf', '-section', '', ...S('PBMPORT'), '-secret', `pass:${SECRET}`, '-cmd', 'ir', ...NEW, '-certout', 'c.pem'], files: withConf() },
  { name: 'config bad number', args: ['-config', 'cmp.cnf', '-section', 'cmp,bad'], files: withConf() },
  { name: 'config empty section', args: ['-config', 'cmp.cnf', '-section', 'cmp,empty'], files: withConf() },
  { name: 'config without [cmp], default section', args: ['-config', 'nocmp.cnf'], files: { 'nocmp.cnf': NO_CMP_SECTION } },
  { name: 'config without [cmp], sections cmp,ir', args: ['-config', 'nocmp.cnf', '-section', 'cmp,ir', ...NEW, '-certout', 'c.pem'], files: { 'nocmp.cnf': NO_CMP_SECTION } },
  { name: 'config without [cmp], section ir', args: ['-config', 'nocmp.cnf', '-section', 'ir', ...NEW, '-certout', 'c.pem'], files: { 'nocmp.cnf': NO_CMP_SECTION } },
  { name: 'config missing file', args: ['-config', 'nosuch.cnf', '-cmd', 'ir'] },
  { name: 'config syntax error', args: ['-config', 'broken.cnf', '-cmd', 'ir'], files: { 'broken.cnf': '[cmp\nx = $undefined_var\n' } },
  ...['insta,pbm,ir', 'insta,pbm,cr', 'insta,signature,cr', 'insta,signature,kur', 'insta,pbm,rr', 'insta,signature,rr', 'insta,pbm']
    .map((section) => ({ name: `debian-style sections ${section}`, args: ['-config', 'insta.cnf', '-section', section], files: { 'insta.cnf': INSTA_LIKE } })),
  EXT(['-reqexts', 'exts']),
  EXT(['-policies', 'pols']),
  EXT(['-reqexts', 'plain_exts', '-policies', 'pols']),
  EXT(['-reqexts', 'plain_exts', '-sans', 'DNS:more.example']),
  EXT(['-reqexts', 'exts', '-sans', 'DNS:conflict.example']),
  EXT(['-policies', 'pols', '-policy_oids', '1.2.3.6']),
  EXT(['-reqexts', 'bad_exts']),
  EXT(['-reqexts', 'no_such_section']),
  { name: 'reqexts without config', args: [...PBM, '-cmd', 'ir', ...NEW, '-certout', 'c.pem', '-reqexts', 'exts'] },
  { name: 'config via OPENSSL_CONF', args: ['-section', 'cmp,ir'], files: withConf(), env: { OPENSSL_CONF: 'cmp.cnf' } },
];

beforeAll(async () => {
  pki = makePki(['other']);
  // one IR + certConf recorded by openssl cmp, for the replay vectors
  const pbm = await startMock(pki, [], undefined, opensslBin());
  await run(opensslBin(), ['cmp', ...PBM.map((a) => a.replace('PBMPORT', String(pbm.port))), '-cmd', 'ir', ...NEW, '-certout', 'rec.pem',
    '-reqout', 'ir-req1.der,ir-req2.der', '-rspout', 'ir-rsp1.der,ir-rsp2.der'], pki.dir);
  await pbm.stop();
});
afterAll(() => removePki(pki));

const all = () => [
    ...vectors(),
    // each command with each output form
    ...(['ir', 'cr'] as const).flatMap((cmd) =>
      (['PEM', 'DER'] as const).flatMap((form) => [
        { name: `${cmd} ${form} certout only`, args: [...(cmd === 'ir' ? PBM : SIG), '-cmd', cmd, ...NEW, '-certout', 'out', '-certform', form] },
        { name: `${cmd} ${form} chainout only`, args: [...(cmd === 'ir' ? PBM : SIG), '-cmd', cmd, ...NEW, '-chainout', 'out', '-certform', form] },
        { name: `${cmd} ${form} chainout and certout`, args: [...(cmd === 'ir' ? PBM : SIG), '-cmd', cmd, ...NEW, '-chainout', 'chain', '-certout', 'cert', '-certform', form] },
        { name: `${cmd} ${form} cacertsout only`, args: [...(cmd === 'ir' ? PBM : SIG), '-cmd', cmd, ...NEW, '-cacertsout', 'out', '-certform', form] },
      ]),
    ),
];

test('the differential set has at least 100 vectors with distinct names', () => {
  const names = all().map((v) => v.name);
  expect(names.length).toBeGreaterThanOrEqual(100);
  expect(new Set(names).size).toBe(names.length);
});

const outcomes: Array<{ code: number; files: number }> = [];

describe('openssl cmp vs openssl-cmp', () => {
  const names = all().map((v) => v.name);
  test.each(names)('%s', async (name) => {
    const v = all().find((x) => x.name === name)!;
    const [ref, ours] = await runBoth(v);
    outcomes.push({ code: ref.code, files: Object.keys(ref.files).length });
    try {
      expect({ code: ours.code, files: ours.files }).toEqual({ code: ref.code, files: ref.files });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- openssl:\n${ref.stderr.slice(-800)}\n--- openssl-cmp:\n${ours.stderr.slice(-800)}`);
    }
  }, 60000);
});

test('the vectors exercise success as well as failure', () => {
  const succeeded = outcomes.filter((o) => o.code === 0);
  expect(succeeded.length).toBeGreaterThanOrEqual(60);
  expect(succeeded.filter((o) => o.files > 0).length).toBeGreaterThanOrEqual(45);
  expect(outcomes.length - succeeded.length).toBeGreaterThanOrEqual(30);
});
