// Files and pass phrases the way the openssl apps read and write them.
import { KeyObject, X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import * as fs from 'node:fs';
import { derKey } from '../convert';
import { binding } from '../native';

export class CliError extends Error {}

/**
 * Pass-phrase sources: pass:, env:, file:, fd:, stdin. As openssl's apps do, a value that names no
 * usable source is taken as the pass phrase itself, after a warning (given to `warn`, never the value).
 */
export function readPass(source: string | undefined, what: string, warn?: (text: string) => void): string | undefined {
  if (source === undefined) return undefined;
  try {
    return readPassSource(source, what);
  } catch (err) {
    warn?.(`${(err as Error).message}\nError getting password for ${what}\nTrying plain input string (better precede with 'pass:')`);
    return source;
  }
}

function readPassSource(source: string, what: string): string {
  const firstLine = (text: string) => text.split(/\r?\n/)[0];
  if (source.startsWith('pass:')) return source.slice(5);
  if (source.startsWith('env:')) {
    const v = process.env[source.slice(4)];
    if (v === undefined) throw new CliError(`No environment variable ${source.slice(4)}`);
    return v;
  }
  try {
    if (source.startsWith('file:')) return firstLine(fs.readFileSync(source.slice(5), 'utf8'));
    if (source.startsWith('fd:')) return firstLine(fs.readFileSync(Number(source.slice(3)), 'utf8'));
    if (source === 'stdin') return firstLine(fs.readFileSync(0, 'utf8'));
  } catch (err) {
    throw new CliError(`cannot get ${what} from ${source.split(':')[0]}: ${(err as Error).message}`);
  }
  const colon = source.indexOf(':');
  throw new CliError(colon < 0 || colon > 5
    ? 'Invalid password argument, missing \':\' within the first 6 chars'
    : `Invalid password argument, starting with "${source.slice(0, colon + 1)}"`);
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

/** The first certificate of a file, as openssl takes it where it needs one. */
export function loadCert(file: string, desc: string, pass?: string): X509Certificate {
  return loadCerts(file, desc, pass)[0];
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

/**
 * A name in openssl's one-line form as the openssl apps read it: attributes of a type OpenSSL does
 * not know are skipped with a warning (openssl's parse_name), the rest is kept as written.
 */
export function appName(text: string, desc: string, warn: (text: string) => void): string {
  if (!text.startsWith('/')) return text; // the library reports the syntax error
  let out = text;
  // from the end, so that earlier offsets stay valid
  const parts: Array<[number, number]> = [];
  for (let i = 1, j = 1; i < text.length; i = j + 1) {
    for (j = i; j < text.length && text[j] !== '/' && text[j] !== '+'; ) j += text[j] === '\\' ? 2 : 1;
    parts.push([i, Math.min(j, text.length)]);
  }
  for (const [start, end] of parts.reverse()) {
    const part = text.slice(start, end);
    const eq = part.indexOf('=');
    if (eq < 0 || binding.objectNid(part.slice(0, eq)) !== 0) continue;
    warn(`cmp warning: Skipping unknown ${desc} name attribute "${part.slice(0, eq)}"`);
    // with the separator before it, or for the first attribute the one after it
    out = start === 1 ? out.slice(0, 1) + out.slice(end + 1) : out.slice(0, start - 1) + out.slice(end);
  }
  return out === '' ? '/' : out;
}
