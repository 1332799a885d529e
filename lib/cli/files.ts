// Files and pass phrases the way the openssl apps read and write them.
import { KeyObject, X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import * as fs from 'node:fs';
import { derKey } from '../convert';
import { binding } from '../native';

export class CliError extends Error {}

/** Pass-phrase sources: pass:, env:, file:, fd:, stdin. */
export function readPass(source: string | undefined, what: string): string | undefined {
  if (source === undefined) return undefined;
  const firstLine = (text: string) => text.split(/\r?\n/)[0];
  if (source.startsWith('pass:')) return source.slice(5);
  if (source.startsWith('env:')) {
    const v = process.env[source.slice(4)];
    if (v === undefined) throw new CliError(`cannot get ${what}: environment variable ${source.slice(4)} is not set`);
    return v;
  }
  try {
    if (source.startsWith('file:')) return firstLine(fs.readFileSync(source.slice(5), 'utf8'));
    if (source.startsWith('fd:')) return firstLine(fs.readFileSync(Number(source.slice(3)), 'utf8'));
    if (source === 'stdin') return firstLine(fs.readFileSync(0, 'utf8'));
  } catch (err) {
    throw new CliError(`cannot get ${what} from ${source.split(':')[0]}: ${(err as Error).message}`);
  }
  throw new CliError(`invalid pass phrase source for ${what}; use pass:, env:, file:, fd: or stdin`);
}

export function loadBytes(file: string, desc: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new CliError(`cannot load ${desc} from '${file}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

// PEM may follow any text (openssl's own files often start with a "Subject:" line)
const isPem = (b: Buffer) => b[0] !== 0x30 && b.includes('-----BEGIN ');

/** Certificates from one or more files (comma-separated), each PEM, DER or PKCS#12. */
export function loadCerts(spec: string, desc: string, pass?: string): X509Certificate[] {
  const certs: X509Certificate[] = [];
  for (const file of spec.split(',').map((f) => f.trim()).filter(Boolean)) {
    const data = loadBytes(file, desc);
    try {
      if (isPem(data)) {
        const blocks = data.toString('latin1').match(/-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----[\s\S]*?-----END (?:X509 |TRUSTED )?CERTIFICATE-----/g) ?? [];
        if (!blocks.length) throw new Error('no certificate found');
        for (const b of blocks) certs.push(new X509Certificate(b));
      } else {
        try {
          certs.push(new X509Certificate(data));
        } catch {
          const p12 = binding.parsePkcs12(data, pass ?? '');
          for (const d of [p12.cert, ...p12.ca]) if (d) certs.push(new X509Certificate(d));
        }
      }
    } catch (err) {
      throw new CliError(`cannot load ${desc} from '${file}': ${(err as Error).message}`);
    }
  }
  return certs;
}

export function loadCert(file: string, desc: string, pass?: string): X509Certificate {
  const certs = loadCerts(file, desc, pass);
  if (certs.length !== 1) throw new CliError(`expected one certificate for ${desc} in '${file}', found ${certs.length}`);
  return certs[0];
}

/** A private key (or, for -newkey, possibly a public one) from PEM, DER or PKCS#12. */
export function loadKey(file: string, desc: string, pass?: string, allowPublic = false): KeyObject {
  const data = loadBytes(file, desc);
  try {
    if (isPem(data)) {
      const text = data.toString('latin1');
      if (allowPublic && /BEGIN (RSA )?PUBLIC KEY/.test(text)) return createPublicKey(text);
      return createPrivateKey({ key: text, format: 'pem', passphrase: pass });
    }
    try {
      return derKey(data, allowPublic ? undefined : true, pass);
    } catch (derError) {
      let p12;
      try {
        p12 = binding.parsePkcs12(data, pass ?? '');
      } catch {
        throw derError; // neither a DER key nor PKCS#12: the DER complaint says more
      }
      if (!p12.key) throw new Error('no key in PKCS#12 file');
      return createPrivateKey({ key: p12.key, format: 'der', type: 'pkcs8' });
    }
  } catch (err) {
    throw new CliError(`cannot load ${desc} from '${file}': ${(err as Error).message}`);
  }
}

/** Writes certificates as PEM, or DER concatenated, as openssl cmp does. */
export function saveCerts(file: string, certs: X509Certificate[], pem: boolean): void {
  const data = pem ? certs.map((c) => c.toString()).join('') : Buffer.concat(certs.map((c) => c.raw));
  fs.writeFileSync(file, data);
}
