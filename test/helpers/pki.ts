// A throw-away PKI made with the openssl CLI at test time.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface Pki {
  dir: string;
  file(name: string): string;
  read(name: string): string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** CA "ca"; end entities signed by it: server, client, and each name in `extra`. */
export function makePki(extra: string[] = []): Pki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmp-pki-'));
  const key = (n: string) => openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${n}.key`], dir);
  key('ca');
  openssl(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=Test Root CA', '-days', '30',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'ca.crt'], dir);
  for (const n of ['server', 'client', 'newkey', ...extra]) {
    key(n);
    openssl(['req', '-new', '-key', `${n}.key`, '-subj', `/CN=${n}/O=Test`, '-out', `${n}.csr`], dir);
    openssl(['x509', '-req', '-in', `${n}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', String(1000 + Math.floor(Math.random() * 1e6)),
      '-days', '10', '-out', `${n}.crt`], dir);
  }
  return {
    dir,
    file: (name) => path.join(dir, name),
    read: (name) => fs.readFileSync(path.join(dir, name), 'utf8'),
  };
}

export function removePki(pki: Pki): void {
  fs.rmSync(pki.dir, { recursive: true, force: true });
}
