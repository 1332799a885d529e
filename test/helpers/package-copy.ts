import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..');

/** The package as installed from the registry: package.json, dist/ and prebuilds/, no build/. */
export function packageCopy(omit: string[] = []): { dir: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmp-package-'));
  for (const item of ['package.json', 'dist', 'prebuilds']) {
    fs.cpSync(path.join(root, item), path.join(dir, item), {
      recursive: true,
      filter: (src) => !omit.includes(path.basename(src)),
    });
  }
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** The prebuild file of one mode for this platform, relative to a package root. */
export function prebuildFile(bundled: boolean): string {
  return path.join('prebuilds', `${process.platform}-${process.arch}`, bundled ? 'openssl-cmp.bundled.node' : 'openssl-cmp.node');
}
