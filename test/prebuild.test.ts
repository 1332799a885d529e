import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// The package as installed from the registry: dist/ and prebuilds/, no build/.
test('a copy of the package with only the prebuild loads it and enrolls', () => {
  const root = path.join(__dirname, '..');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmp-prebuild-'));
  try {
    for (const item of ['package.json', 'dist', 'prebuilds']) fs.cpSync(path.join(root, item), path.join(dir, item), { recursive: true });
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(path.join(root, 'node_modules', 'node-gyp-build'), path.join(dir, 'node_modules', 'node-gyp-build'));
    expect(fs.existsSync(path.join(dir, 'build'))).toBe(false);
    const script = `
      const gyp = require('node-gyp-build');
      const { CmpContext, CmpServer, opensslVersion } = require(${JSON.stringify(dir)});
      (async () => {
        const server = new CmpServer({ ref: 'r', secret: 's' });
        const ctx = new CmpContext();
        ctx.setTransferCallback(server.transfer);
        ctx.setReferenceValue('r'); ctx.setSecretValue('s');
        ctx.setNewPkey(require('node:crypto').generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
        ctx.setSubjectName('/CN=prebuilt');
        const cert = await ctx.execIR();
        ctx.close(); await server.close();
        console.log(JSON.stringify({ path: gyp.path(${JSON.stringify(dir)}), subject: cert.subject, opensslVersion }));
      })();`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8' }).trim());
    expect(out.path).toBe(path.join(dir, 'prebuilds', `${process.platform}-${process.arch}`, 'openssl-cmp.node'));
    expect(out.subject).toBe('CN=prebuilt');
    expect(out.opensslVersion).toContain(process.versions.openssl);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
