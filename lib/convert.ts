// Normalises every input kind of the API to the DER the addon decodes, and
// wraps what it returns in Node's own crypto classes.
import { KeyObject, X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { CmpError } from './errors';

export type CertificateInput = string | Buffer | Uint8Array | X509Certificate;
export type CertificateListInput = CertificateInput[] | CertificateInput;
export type KeyInput =
  | string
  | Buffer
  | Uint8Array
  | KeyObject
  | { key: string | Buffer | Uint8Array; passphrase?: string | Buffer; format?: 'pem' | 'der'; type?: string };
export type CsrInput = string | Buffer | Uint8Array;
export type SecretInput = string | Buffer | Uint8Array;

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? `an instance of ${(v as object).constructor?.name ?? 'Object'}` : `type ${typeof v}`;
}

export function typeError(param: string, expected: string, got: unknown): TypeError {
  const err = new TypeError(`The "${param}" argument must be ${expected}. Received ${typeName(got)}`);
  (err as TypeError & { code: string }).code = 'ERR_INVALID_ARG_TYPE';
  return err;
}

function invalid(param: string, what: string, cause: unknown): CmpError {
  const err = new CmpError(`${param}: ${what}`, { code: 'ERR_CMP_INVALID_ARGUMENT', cause });
  const c = cause as { code?: string; library?: string; reason?: string; opensslErrorStack?: string[] };
  if (c && typeof c.code === 'string' && c.code.startsWith('ERR_OSSL_')) err.code = c.code;
  if (c?.opensslErrorStack) err.opensslErrorStack = c.opensslErrorStack;
  return err;
}

function looksLikePem(v: string | Uint8Array): boolean {
  const head = typeof v === 'string' ? v : Buffer.from(v.buffer, v.byteOffset, Math.min(v.byteLength, 64)).toString('latin1');
  return head.trimStart().startsWith('-----BEGIN');
}

function pemText(v: string | Uint8Array): string {
  return typeof v === 'string' ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1');
}

function certDer(input: CertificateInput, param: string): Buffer {
  if (input instanceof X509Certificate) return input.raw;
  if (typeof input !== 'string' && !isBytes(input)) {
    throw typeError(param, 'a PEM string, a PEM or DER Buffer, or an X509Certificate', input);
  }
  if (!looksLikePem(input)) {
    if (typeof input === 'string') throw invalid(param, 'is not a PEM certificate', undefined);
    return Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  }
  try {
    return new X509Certificate(pemText(input)).raw;
  } catch (err) {
    throw invalid(param, 'is not a valid PEM certificate', err);
  }
}

/** A CRL given as DER or PEM (`-----BEGIN X509 CRL-----`). */
export type CrlInput = Buffer | Uint8Array | string;

export function toCrlDer(input: CrlInput | null | undefined, param: string): Buffer | null {
  return input == null ? null : singleDer(input, param, 'CRL', ['X509 CRL']);
}

/** DER bytes as given, or the base64 body of the first PEM block with one of `labels`. */
function singleDer(input: string | Uint8Array, param: string, what: string, labels: string[]): Buffer {
  if (typeof input !== 'string' && !isBytes(input)) throw typeError(param, 'a PEM string or a PEM/DER Buffer', input);
  if (!looksLikePem(input)) {
    if (typeof input === 'string') throw invalid(param, `is not a PEM ${what}`, undefined);
    return Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  }
  const block = pemText(input).match(PEM_BLOCK)?.find((b) => labels.some((l) => b.startsWith(`-----BEGIN ${l}-----`)));
  if (!block) throw invalid(param, `holds no PEM ${what}`, undefined);
  return Buffer.from(block.replace(/-----[A-Z0-9 ]+-----|\s+/g, ''), 'base64');
}

export function toCertDer(input: CertificateInput | null | undefined, param: string): Buffer | null {
  return input == null ? null : certDer(input, param);
}

export function toCertsDer(input: CertificateListInput | null | undefined, param: string): Buffer[] | null {
  if (input == null) return null;
  if (Array.isArray(input)) return input.map((c, i) => certDer(c, `${param}[${i}]`));
  if (input instanceof X509Certificate) return [input.raw];
  if (typeof input !== 'string' && !isBytes(input)) {
    throw typeError(param, 'an array of certificates or a PEM string or buffer', input);
  }
  if (!looksLikePem(input)) return [certDer(input, param)];
  const blocks = pemText(input).match(PEM_BLOCK)?.filter((b) => b.includes('CERTIFICATE-----')) ?? [];
  if (blocks.length === 0) throw invalid(param, 'holds no PEM certificate', undefined);
  return blocks.map((b, i) => certDer(b, `${param}[${i}]`));
}

export function toPrivateKeyDer(input: KeyInput, param: string): Buffer {
  let key: KeyObject;
  try {
    key = toKeyObject(input, param, true);
  } catch (err) {
    if (err instanceof TypeError) throw err;
    throw invalid(param, 'is not a valid private key', err);
  }
  return key.export({ format: 'der', type: 'pkcs8' });
}

/** A private key's DER, or a public key's SubjectPublicKeyInfo, per `isPrivate`. */
export function toKeyDer(input: KeyInput, param: string): { der: Buffer; isPrivate: boolean } {
  let key: KeyObject;
  try {
    key = toKeyObject(input, param, undefined);
  } catch (err) {
    if (err instanceof TypeError) throw err;
    throw invalid(param, 'is not a valid key', err);
  }
  return key.type === 'private'
    ? { der: key.export({ format: 'der', type: 'pkcs8' }), isPrivate: true }
    : { der: key.export({ format: 'der', type: 'spki' }), isPrivate: false };
}

function toKeyObject(input: KeyInput, param: string, wantPrivate: boolean | undefined): KeyObject {
  if (input instanceof KeyObject) {
    if (input.type === 'secret') throw typeError(param, 'an asymmetric key', input);
    if (wantPrivate && input.type !== 'private') throw typeError(param, 'a private key', input);
    return input;
  }
  const makePrivate = (opts: Parameters<typeof createPrivateKey>[0]) => createPrivateKey(opts);
  if (typeof input === 'string' || isBytes(input)) {
    if (looksLikePem(input)) {
      const pem = pemText(input);
      if (wantPrivate === false || (wantPrivate === undefined && /BEGIN (RSA )?PUBLIC KEY/.test(pem))) {
        return createPublicKey(pem);
      }
      return makePrivate(pem);
    }
    if (typeof input === 'string') throw new Error('a key string must be PEM');
    return derKey(Buffer.from(input.buffer, input.byteOffset, input.byteLength), wantPrivate);
  }
  if (input && typeof input === 'object' && 'key' in input) {
    const { key, passphrase } = input;
    if (typeof key !== 'string' && !isBytes(key)) throw typeError(`${param}.key`, 'a string or Buffer', key);
    if (isBytes(key) && !looksLikePem(key)) {
      return makePrivate({ key: Buffer.from(key), format: 'der', type: 'pkcs8', passphrase });
    }
    return makePrivate({ key: pemText(key), format: 'pem', passphrase });
  }
  throw typeError(param, 'a PEM string, a DER Buffer, a KeyObject or { key, passphrase }', input);
}

/** A DER key in whichever encoding it is (PKCS#8, PKCS#1, SEC1, SPKI); the first error when none fits. */
export function derKey(der: Buffer, wantPrivate: boolean | undefined, passphrase?: string): KeyObject {
  const attempts: Array<() => KeyObject> = [];
  if (wantPrivate !== false) {
    for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
      attempts.push(() => createPrivateKey({ key: der, format: 'der', type, passphrase }));
    }
  }
  if (wantPrivate !== true) {
    for (const type of ['spki', 'pkcs1'] as const) {
      attempts.push(() => createPublicKey({ key: der, format: 'der', type }));
    }
  }
  let last: unknown;
  for (const attempt of attempts) {
    try {
      return attempt();
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

export function toCsrDer(input: CsrInput | null | undefined, param: string): Buffer | null {
  return input == null ? null : singleDer(input, param, 'certificate request', ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST']);
}

export function toBytes(input: SecretInput | null | undefined, param: string): Buffer | null {
  if (input == null) return null;
  if (typeof input === 'string') return Buffer.from(input, 'utf8');
  if (isBytes(input)) return Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  throw typeError(param, 'a string, Buffer or Uint8Array', input);
}

export function toCert(der: Uint8Array | null | undefined): X509Certificate | null {
  return der == null ? null : new X509Certificate(der);
}

export function toCerts(ders: Buffer[]): X509Certificate[] {
  return ders.map((d) => new X509Certificate(d));
}

export function keyFromDer(der: Buffer | null, isPrivate: boolean): KeyObject | null {
  if (der == null) return null;
  return isPrivate
    ? createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
    : createPublicKey({ key: der, format: 'der', type: 'spki' });
}

export function checkString(v: unknown, param: string, nullable = false): string | null {
  if (v == null && nullable) return null;
  if (typeof v !== 'string') throw typeError(param, nullable ? 'a string or null' : 'a string', v);
  return v;
}
