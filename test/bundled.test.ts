// The bundled-OpenSSL build beside Node's own OpenSSL: chosen by the loader,
// private in its symbols, and trading certificates and keys with Node (and
// with a build on Node's OpenSSL in the same process) as DER only.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageCopy, prebuildFile } from './helpers/package-copy';

const root = path.join(__dirname, '..');
// Windows has only the bundled build: node.exe does not export OpenSSL's CMP functions.
const hasNodeBuild = process.platform !== 'win32';
const modes: Array<[string, boolean]> = hasNodeBuild ? [['node', false], ['bundled', true]] : [['bundled', true]];
const LATER_FUNCTIONS = ['caCerts', 'rootCaKeyUpdate', 'certReqTemplate', 'crlUpdate', 'centralKeyGen',
  'validatedSrvCert', 'serialNumber', 'geninfoITAVs', 'noCacheExtraCerts'];

function runNode(script: string, env: Record<string, string | undefined>) {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  return spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', env: childEnv });
}

const whichBuild = (dir: string) => `
  const { features, opensslVersion } = require(${JSON.stringify(dir)});
  const { addonPath } = require(${JSON.stringify(path.join(dir, 'dist', 'native'))});
  console.log(JSON.stringify({ addonPath, features, opensslVersion }));`;

describe('loader', () => {
  let pkg: ReturnType<typeof packageCopy>;
  beforeAll(() => {
    pkg = packageCopy();
  });
  afterAll(() => pkg.remove());

  test.each(modes)('OPENSSL_CMP_OPENSSL=%s loads that build and says so', (mode, bundled) => {
    const r = runNode(whichBuild(pkg.dir), { OPENSSL_CMP_OPENSSL: mode, NODE_DEBUG: 'openssl-cmp' });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.addonPath).toBe(path.join(pkg.dir, prebuildFile(bundled)));
    expect(out.features.bundled).toBe(bundled);
    // NODE_DEBUG=openssl-cmp names the file and the OpenSSL it runs on
    expect(r.stderr).toContain(`loaded ${out.addonPath}: ${bundled ? 'bundled' : "Node's"} OpenSSL, ${out.opensslVersion}`);
  });

  test("without a choice, Node's OpenSSL serves where the process exports it", () => {
    const r = runNode(whichBuild(pkg.dir), { OPENSSL_CMP_OPENSSL: undefined });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.features.bundled).toBe(!hasNodeBuild);
    if (hasNodeBuild) expect(out.opensslVersion).toContain(process.versions.openssl);
  });

  test('a from-source build comes before the prebuilds, whichever mode it is', () => {
    const built = packageCopy();
    try {
      const file = path.join(built.dir, 'build', 'Release', 'openssl_cmp_bundled.node');
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.copyFileSync(path.join(built.dir, prebuildFile(true)), file);
      const r = runNode(whichBuild(built.dir), { OPENSSL_CMP_OPENSSL: undefined });
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ addonPath: file, features: { bundled: true } });
    } finally {
      built.remove();
    }
  });

  test('an unknown choice is refused by name', () => {
    const r = runNode(whichBuild(pkg.dir), { OPENSSL_CMP_OPENSSL: 'boringssl' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('OPENSSL_CMP_OPENSSL must be "node" or "bundled", not "boringssl"');
  });

  test('a missing build is reported with what was tried and how to get it', () => {
    const bare = packageCopy(['openssl-cmp.bundled.node']);
    try {
      const r = runNode(whichBuild(bare.dir), { OPENSSL_CMP_OPENSSL: 'bundled' });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(`could not load its native addon for ${process.platform}-${process.arch}`);
      expect(r.stderr).toContain(`bundled: no build in build/ and no prebuild in prebuilds/${process.platform}-${process.arch}/`);
      expect(r.stderr).toContain('npm rebuild openssl-cmp --build-from-source --openssl=bundled');
    } finally {
      bare.remove();
    }
  });
});

// nm on ELF and Mach-O; on Windows dumpbin (on PATH in a Visual Studio shell)
function exportedNames(file: string): string[] {
  if (process.platform === 'win32') {
    return execFileSync('dumpbin', ['/exports', file], { encoding: 'utf8' })
      .split('\n')
      .map((l) => /^\s+\d+\s+[0-9A-F]+\s+[0-9A-F]{8}\s+(\S+)/.exec(l)?.[1])
      .filter((n): n is string => n !== undefined);
  }
  const args = process.platform === 'darwin' ? ['-gU', file] : ['-D', '--defined-only', file];
  return execFileSync('nm', args, { encoding: 'utf8' })
    .split('\n')
    .filter((l) => / [TDBRVW] /.test(l))
    .map((l) => l.trim().split(/\s+/).pop()!.replace(/^_/, ''));
}

test('the bundled build exports only the Node-API entry points', () => {
  const file = path.join(root, prebuildFile(true));
  expect(exportedNames(file).sort()).toEqual(['napi_register_module_v1', 'node_api_module_get_api_version_v1']);
  // and it needs nothing of OpenSSL from the process
  if (process.platform === 'win32') {
    expect(execFileSync('dumpbin', ['/dependents', file], { encoding: 'utf8' })).not.toMatch(/libcrypto|libssl/i);
    return;
  }
  const undefinedOpenssl = execFileSync('nm', process.platform === 'darwin' ? ['-gu', file] : ['-D', '--undefined-only', file], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => /\b_?(OSSL_|EVP_|X509_|SSL_|BIO_|ERR_|OPENSSL_)/.test(l));
  expect(undefinedOpenssl).toEqual([]);
});

// Two copies of the package in one process: one on Node's OpenSSL, one on the
// bundled OpenSSL, each serving the other's client (not on Windows: no build
// on Node's OpenSSL exists there).
(hasNodeBuild ? test : test.skip)("one process runs both builds; certificates and keys cross between the OpenSSLs as DER", () => {
  const a = packageCopy();
  const b = packageCopy();
  try {
    const script = `
      const crypto = require('node:crypto');
      process.env.OPENSSL_CMP_OPENSSL = 'node';
      const A = require(${JSON.stringify(a.dir)});
      process.env.OPENSSL_CMP_OPENSSL = 'bundled';
      const B = require(${JSON.stringify(b.dir)});
      async function enroll(serverLib, clientLib, cn) {
        const ca = await serverLib.TestCa.create({ subject: '/CN=CA of ' + cn });
        const server = new serverLib.CmpServer({ ref: 'r', secret: 's', ca });
        const keys = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
        const ctx = new clientLib.CmpContext();
        ctx.setTransferCallback(server.transfer);
        ctx.setReferenceValue('r'); ctx.setSecretValue('s');
        ctx.setNewPkey(keys.privateKey);
        ctx.setSubjectName('/CN=' + cn);
        const cert = await ctx.execIR();
        ctx.close(); await server.close();
        const spki = (k) => k.export({ format: 'der', type: 'spki' }).toString('hex');
        return {
          subject: cert.subject,
          issued: cert.checkIssued(ca.cert) && cert.verify(ca.cert.publicKey),
          sameKey: spki(cert.publicKey) === spki(keys.publicKey),
          isX509: cert instanceof crypto.X509Certificate,
        };
      }
      (async () => {
        const out = {
          a: { bundled: A.features.bundled, version: A.opensslVersion },
          b: { bundled: B.features.bundled, version: B.opensslVersion, features: B.features },
          bundledClient: await enroll(A, B, 'bundled client'),
          bundledServer: await enroll(B, A, 'bundled server'),
        };
        console.log(JSON.stringify(out));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const r = runNode(script, {});
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.a.bundled).toBe(false);
    expect(out.a.version).toContain(process.versions.openssl);
    expect(out.b.bundled).toBe(true);
    // every post-3.0 function comes from the bundled OpenSSL, whichever Node runs
    for (const f of LATER_FUNCTIONS) expect([f, out.b.features[f]]).toEqual([f, 'native']);
    expect(out.bundledClient).toEqual({ subject: 'CN=bundled client', issued: true, sameKey: true, isX509: true });
    expect(out.bundledServer).toEqual({ subject: 'CN=bundled server', issued: true, sameKey: true, isX509: true });
  } finally {
    a.remove();
    b.remove();
  }
});
