// The `openssl` command that matches the OpenSSL the addon runs on: the system's 3.0 under
// Node 20, the reference 3.5 build (scripts/openssl-ref.sh, cached) under Node 24.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { binding } from '../../lib/native';

let cached: string | undefined;

export function opensslBin(): string {
  if (cached === undefined) {
    if (/^OpenSSL 3\.0\./.test(binding.opensslVersion)) {
      cached = 'openssl';
    } else {
      const script = path.join(__dirname, '..', '..', 'scripts', 'openssl-ref.sh');
      cached = path.join(execFileSync(script, ['build', '3.5'], { encoding: 'utf8' }).trim(), 'apps', 'openssl');
    }
  }
  return cached;
}
