import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageCopy, prebuildFile } from './helpers/package-copy';

// Which prebuild the copy must pick follows OPENSSL_CMP_OPENSSL, as the suite runs.
test('a copy of the package with only the prebuild loads it and enrolls', () => {
  const bundled = process.env.OPENSSL_CMP_OPENSSL === 'bundled';
  const { dir, remove } = packageCopy();
  try {
    expect(fs.existsSync(path.join(dir, 'build'))).toBe(false);
    const script = `
      const { CmpContext, CmpServer, opensslVersion, features } = require(${JSON.stringify(dir)});
      const { addonPath } = require(${JSON.stringify(path.join(dir, 'dist', 'native'))});
      (async () => {
        const server = new CmpServer({ ref: 'r', secret: 's' });
        const ctx = new CmpContext();
        ctx.setTransferCallback(server.transfer);
        ctx.setReferenceValue('r'); ctx.setSecretValue('s');
        ctx.setNewPkey(require('node:crypto').generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
        ctx.setSubjectName('/CN=prebuilt');
        const cert = await ctx.execIR();
        ctx.close(); await server.close();
        console.log(JSON.stringify({ path: addonPath, subject: cert.subject, opensslVersion, bundled: features.bundled }));
      })();`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8' }).trim());
    expect(out.path).toBe(path.join(dir, prebuildFile(bundled)));
    expect(out.subject).toBe('CN=prebuilt');
    expect(out.bundled).toBe(bundled);
    if (!bundled) expect(out.opensslVersion).toContain(process.versions.openssl);
  } finally {
    remove();
  }
});
