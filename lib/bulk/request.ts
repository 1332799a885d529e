// One reusable CMP context of the pool and how an item's request is put on
// it. OpenSSL can append SANs and policies to a context but not take them
// away, so those go in as request extensions, which can be replaced whole;
// and a context whose last item set something the next item does not want
// is made anew from the factory rather than left to leak into that request.
import { KeyObject, X509Certificate, createPrivateKey } from 'node:crypto';
import { isIP } from 'node:net';
import { CertReqType, PopoMethod, Option } from '../constants';
import { CmpContext, kAbort, kExecWithKey } from '../context';
import { binding } from '../native';
import { CertificateInput, CsrInput, KeyInput, toPrivateKeyDer } from '../convert';
import { children, oidDer, readTlv, sequenceOf, tlv } from '../der';
import { BulkItem, BulkOperation, KeySpec, OPERATIONS, badItem, isKeySpec, keySpec } from './items';

export interface PreparedItem {
  id: string;
  operation: BulkOperation;
  subject?: string;
  extensions?: Buffer;
  keySource?: Exclude<KeySpec, { type: 'central' }> | KeyObject;
  /** The CA generates the key; the context asks for it with popo "none" and no key of its own. */
  central?: boolean;
  csr?: CsrInput;
  oldCert?: X509Certificate;
  oldKey?: KeyObject;
}

const SAN_OID = '2.5.29.17';
const POLICIES_OID = '2.5.29.32';

function privateKey(input: KeyInput, where: string): KeyObject {
  if (input instanceof KeyObject && input.type === 'private') return input;
  try {
    return createPrivateKey({ key: toPrivateKeyDer(input, where), format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw badItem(`${where}: not a usable private key (${(err as Error).message})`);
  }
}

function certificate(input: CertificateInput, where: string): X509Certificate {
  try {
    return input instanceof X509Certificate ? input : new X509Certificate(input as string | Buffer);
  } catch (err) {
    throw badItem(`${where}: not a certificate (${(err as Error).message})`);
  }
}

/** Checks an item and turns its fields into what the context takes. */
export function prepareItem(raw: BulkItem): PreparedItem {
  if (raw === null || typeof raw !== 'object') throw badItem(`item is not an object`);
  const id = raw.id;
  if (typeof id !== 'string' || id === '') throw badItem('item has no id (a non-empty string)');
  const where = `item '${id}'`;
  const operation = raw.operation ?? 'ir';
  if (!OPERATIONS.includes(operation)) throw badItem(`${where}: unknown operation '${String(operation)}' (${OPERATIONS.join(', ')})`);
  const p: PreparedItem = { id, operation };
  if (raw.subject !== undefined) {
    if (typeof raw.subject !== 'string' || !raw.subject.startsWith('/')) throw badItem(`${where}: subject must be a name like "/CN=a/O=b"`);
    p.subject = raw.subject;
  }
  const exts: Buffer[] = [];
  if (raw.sans !== undefined) {
    if (!Array.isArray(raw.sans) || raw.sans.some((s) => typeof s !== 'string')) throw badItem(`${where}: sans must be an array of strings`);
    if (raw.sans.length) exts.push(sanExtension(raw.sans, where));
  }
  if (raw.policies !== undefined) {
    if (!Array.isArray(raw.policies) || raw.policies.some((s) => typeof s !== 'string')) throw badItem(`${where}: policies must be an array of OIDs`);
    try {
      if (raw.policies.length) exts.push(extension(POLICIES_OID, false, sequenceOf(raw.policies.map((o) => sequenceOf([oidDer(o, 'policy')])))));
    } catch (err) {
      throw badItem(`${where}: ${(err as Error).message}`);
    }
  }
  if (exts.length) p.extensions = sequenceOf(exts);
  if (operation === 'p10cr') {
    if (raw.csr === undefined) throw badItem(`${where}: p10cr needs a csr`);
    p.csr = raw.csr;
  }
  if (operation === 'kur' || operation === 'rr') {
    if (raw.oldCert === undefined) throw badItem(`${where}: ${operation} needs oldCert`);
    p.oldCert = certificate(raw.oldCert, `${where} oldCert`);
  }
  if (raw.oldKey !== undefined) p.oldKey = privateKey(raw.oldKey, `${where} oldKey`);
  if (operation === 'ir' || operation === 'cr' || operation === 'kur') {
    const k = raw.key;
    let key: KeySpec | KeyObject;
    if (k === undefined) key = { type: 'ec', curve: 'P-256' };
    else if (isKeySpec(k)) key = keySpec(k, `${where} key`);
    else if (typeof k === 'string' && /^(ec|rsa|ed25519|central)(:|$)/.test(k)) key = keySpec(k, `${where} key`);
    else key = privateKey(k, `${where} key`);
    if (key instanceof KeyObject || key.type !== 'central') p.keySource = key;
    else if (binding.features.centralKeyGen !== 'native') {
      throw badItem(`${where}: central key generation needs OpenSSL 3.5 or later; this is ${binding.opensslVersion}`);
    } else p.central = true;
    if ((operation === 'ir' || operation === 'cr') && p.subject === undefined && raw.sans === undefined) {
      throw badItem(`${where}: ${operation} needs a subject or sans`);
    }
  }
  return p;
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return sequenceOf([oidDer(oid, 'extension'), ...(critical ? [Buffer.from([0x01, 0x01, 0xff])] : []), tlv(0x04, value)]);
}

/** subjectAltName from names as `openssl cmp -sans` takes them: DNS:, IP:, URI:, email:, or bare (an IP address, else a DNS name). */
export function sanExtension(sans: string[], where: string): Buffer {
  let critical = false;
  const names: Buffer[] = [];
  for (const s of sans) {
    if (s === 'critical') {
      critical = true;
      continue;
    }
    const m = /^(DNS|IP|URI|email):(.*)$/i.exec(s);
    const kind = m ? m[1].toUpperCase() : isIP(s) ? 'IP' : 'DNS';
    const value = m ? m[2] : s;
    if (value === '') throw badItem(`${where}: empty subject alternative name '${s}'`);
    if (kind === 'IP') {
      const bytes = ipBytes(value);
      if (!bytes) throw badItem(`${where}: '${value}' is not an IP address`);
      names.push(tlv(0x87, bytes));
    } else {
      if (!/^[\x20-\x7e]+$/.test(value)) throw badItem(`${where}: subject alternative name '${value}' must be printable ASCII`);
      names.push(tlv(kind === 'DNS' ? 0x82 : kind === 'URI' ? 0x86 : 0x81, Buffer.from(value, 'ascii')));
    }
  }
  return extension(SAN_OID, critical, sequenceOf(names));
}

function ipBytes(text: string): Buffer | null {
  const v = isIP(text);
  if (v === 4) return Buffer.from(text.split('.').map(Number));
  if (v !== 6) return null;
  let t = text.replace(/%.*$/, '');
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(t);
  if (v4) t = `${t.slice(0, v4.index)}${((+v4[1] << 8) | +v4[2]).toString(16)}:${((+v4[3] << 8) | +v4[4]).toString(16)}`;
  const [head, tail] = t.split('::');
  const hw = head ? head.split(':') : [];
  const tw = tail ? tail.split(':') : [];
  const words = tail === undefined ? hw : [...hw, ...new Array<string>(8 - hw.length - tw.length).fill('0'), ...tw];
  const out = Buffer.alloc(16);
  words.forEach((w, i) => out.writeUInt16BE(parseInt(w, 16), i * 2));
  return out;
}

/** The extensions of a DER Extensions, each whole. */
function extensionsOf(der: Buffer): Buffer[] {
  return children(der, readTlv(der, 0)).map((t) => der.subarray(t.start, t.end));
}

/** The OID element of one DER Extension, as bytes to compare. */
function oidOf(ext: Buffer): string {
  const oid = children(ext, readTlv(ext, 0))[0];
  return ext.toString('hex', oid.start, oid.end);
}

/** Checks DER Extensions given for every request; the message names what is wrong. */
export function checkExtensions(der: unknown, what: string): Buffer {
  if (!Buffer.isBuffer(der) && !(der instanceof Uint8Array)) throw new TypeError(`${what} must be DER Extensions (a Buffer)`);
  const buf = Buffer.from(der);
  try {
    if (readTlv(buf, 0).end !== buf.length || buf[0] !== 0x30) throw new RangeError('trailing or missing bytes');
    for (const ext of extensionsOf(buf)) if (readTlv(ext, children(ext, readTlv(ext, 0))[0].start).tag !== 0x06) throw new RangeError('an extension without OID');
  } catch (err) {
    throw new TypeError(`${what} is not DER Extensions: ${(err as Error).message}`);
  }
  return buf;
}

/** The job's extensions with the item's own: an item's extension replaces the job's of the same type. */
function mergeExtensions(base: Buffer | undefined, own: Buffer | undefined): Buffer | undefined {
  if (!base || !own) return own ?? base;
  const mine = extensionsOf(own);
  const replaced = new Set(mine.map(oidOf));
  return sequenceOf([...extensionsOf(base).filter((e) => !replaced.has(oidOf(e))), ...mine]);
}

type Field = 'subject' | 'extensions' | 'newPkey' | 'csr' | 'oldCert' | 'signer' | 'central';

const CERT_REQ_TYPES = { ir: CertReqType.IR, cr: CertReqType.CR, p10cr: CertReqType.P10CR, kur: CertReqType.KUR };

/** How the transaction's thread names a key spec (see GenerateKey in native/issued_details.cc). */
export function nativeKeySpec(spec: Exclude<KeySpec, { type: 'central' }>): string {
  if (spec.type === 'rsa') return `RSA:${spec.bits ?? 2048}`;
  if (spec.type === 'ed25519') return 'ED25519';
  return `EC:${spec.curve ?? 'P-256'}`;
}

/** A pooled context; `configure` puts one item's request on it. */
export class Slot {
  ctx: CmpContext;
  #touched = new Set<Field>();
  readonly #make: () => CmpContext;
  readonly #reqExtensions: Buffer | undefined;

  /** `reqExtensions`: DER Extensions every certificate request carries, merged with an item's own. */
  constructor(make: () => CmpContext, reqExtensions?: Buffer) {
    this.#make = make;
    this.#reqExtensions = reqExtensions;
    this.ctx = make();
  }

  /** `nativeKey`: the transaction makes the new key itself (execWithKey). */
  configure(item: PreparedItem, newKey: KeyObject | null, nativeKey = false): void {
    const want = new Set<Field>();
    // a CSR brings its own extensions, a revocation asks for none
    const extensions = item.operation === 'rr' || item.operation === 'p10cr' ? item.extensions : mergeExtensions(this.#reqExtensions, item.extensions);
    if (item.subject !== undefined) want.add('subject');
    if (extensions) want.add('extensions');
    if (newKey || nativeKey) want.add('newPkey');
    if (item.csr !== undefined) want.add('csr');
    if (item.oldCert) want.add('oldCert');
    if (item.oldKey) want.add('signer');
    if (item.central) want.add('central');
    if ([...this.#touched].some((f) => !want.has(f))) {
      this.ctx.close();
      this.ctx = this.#make();
    } else {
      this.ctx.reinit();
    }
    this.#touched = want;
    const ctx = this.ctx;
    if (item.subject !== undefined) ctx.setSubjectName(item.subject);
    if (extensions) ctx.setReqExtensions(extensions);
    if (newKey) ctx.setNewPkey(newKey);
    if (item.central) ctx.setOption(Option.POPO_METHOD, PopoMethod.NONE);
    if (item.csr !== undefined) ctx.setP10CSR(item.csr);
    if (item.oldCert) ctx.setOldCert(item.oldCert);
    if (item.oldKey) {
      ctx.setCert(item.oldCert ?? null);
      ctx.setPkey(item.oldKey);
    }
  }

  /**
   * The item's transaction; a certificate comes back as DER, unparsed (null for a revocation). With
   * `keySpec` (nativeKeySpec) the new key is made on the transaction's thread.
   */
  exec(op: BulkOperation, signal?: AbortSignal, keySpec: string | null = null): Promise<Uint8Array | null> {
    const opts = signal && { signal };
    if (op === 'rr') return this.ctx.execRR(opts).then(() => null);
    return this.ctx[kExecWithKey](CERT_REQ_TYPES[op], keySpec, opts);
  }

  /** Withdraws the transaction in flight (without an AbortSignal: one per item costs the main thread ~40 µs). */
  withdraw(): void {
    this.ctx[kAbort]();
  }
}
