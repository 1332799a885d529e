// A small CA for tests, demos and RAs: issues real certificates for the keys
// clients enroll, replaces them on KUR, revokes them on RR, and answers the
// caCerts and rootCaKeyUpdate general messages.
import { KeyObject, X509Certificate, generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { sequenceOf } from './der';
import { FailInfo, PKIStatus } from './constants';
import type { CertRequest, CmpServerHandlers, HandlerResult, RevocationRequest } from './server';
import { binding } from './native';

const generate = promisify(generateKeyPair);

export interface TestCaOptions {
  subject?: string;
  keyType?: 'ec' | 'rsa' | 'ed25519';
  /** Validity of issued certificates, in days. */
  days?: number;
}

const OID_CA_CERTS = '1.3.6.1.5.5.7.4.17';
const OID_ROOT_CA_CERT = '1.3.6.1.5.5.7.4.20';
const OID_ROOT_CA_KEY_UPDATE = '1.3.6.1.5.5.7.4.18';
const DAY = 86400;

function serialHex(serial: Buffer | bigint | string): string {
  if (Buffer.isBuffer(serial)) return BigInt(`0x${serial.toString('hex') || '0'}`).toString(16).toUpperCase();
  return BigInt(typeof serial === 'string' ? `0x${serial}` : serial).toString(16).toUpperCase();
}

export class TestCa {
  readonly cert: X509Certificate;
  readonly key: KeyObject;
  readonly days: number;
  // keyed by the serial as serialHex spells it, so lookups need no scan
  readonly #issued = new Map<string, X509Certificate>();
  readonly #revoked = new Set<string>();
  // worked out once: issuing and KUR checks are per request
  readonly #keyDer: Buffer;
  readonly #subjectLine: string;

  private constructor(cert: X509Certificate, key: KeyObject, days: number) {
    this.cert = cert;
    this.key = key;
    this.days = days;
    this.#keyDer = key.export({ format: 'der', type: 'pkcs8' });
    this.#subjectLine = binding.nameFromDer(subjectDerOf(cert));
  }

  static async create(options: TestCaOptions = {}): Promise<TestCa> {
    const keyType = options.keyType ?? 'ec';
    const pair =
      keyType === 'rsa'
        ? await generate('rsa', { modulusLength: 2048 })
        : keyType === 'ed25519'
          ? await generate('ed25519')
          : await generate('ec', { namedCurve: 'P-256' });
    const now = Math.floor(Date.now() / 1000);
    const der = binding.issueCertificate({
      issuerKey: pair.privateKey.export({ format: 'der', type: 'pkcs8' }),
      publicKey: pair.publicKey.export({ format: 'der', type: 'spki' }),
      subject: options.subject ?? '/CN=openssl-cmp Test CA',
      serial: TestCa.#newSerial(),
      notBefore: now - 60,
      notAfter: now + 3650 * DAY,
      ca: true,
    });
    return new TestCa(new X509Certificate(der), pair.privateKey, options.days ?? 365);
  }

  static #newSerial(): Buffer {
    const s = randomBytes(9);
    s[0] = (s[0] & 0x7f) | 0x01;
    return s;
  }

  /** Issues a certificate for `publicKey` with the given subject and extensions (DER). */
  issue(req: {
    publicKey: KeyObject | Buffer;
    subject: string | Buffer;
    extensions?: Buffer | null;
    days?: number;
    notBefore?: Date | null;
    notAfter?: Date | null;
  }): X509Certificate {
    const spki = req.publicKey instanceof KeyObject ? req.publicKey.export({ format: 'der', type: 'spki' }) : req.publicKey;
    const now = Math.floor(Date.now() / 1000);
    const from = req.notBefore ? Math.floor(req.notBefore.getTime() / 1000) : now - 60;
    const until = req.notAfter ? Math.floor(req.notAfter.getTime() / 1000) : from + 60 + (req.days ?? this.days) * DAY;
    const cert = new X509Certificate(
      binding.issueCertificate({
        issuerCert: this.cert.raw,
        issuerKey: this.#keyDer,
        publicKey: spki,
        subject: req.subject,
        serial: TestCa.#newSerial(),
        notBefore: from,
        notAfter: until,
        extensions: req.extensions ?? null,
      }),
    );
    this.#issued.set(serialHex(cert.serialNumber), cert);
    return cert;
  }

  /** The certificate this CA issued with that serial number, if any. */
  certificate(serial: Buffer | bigint | string): X509Certificate | undefined {
    return this.#issued.get(serialHex(serial));
  }

  /** Revokes a certificate this CA issued; false when unknown or revoked already. */
  revoke(serial: Buffer | bigint | string): boolean {
    const key = serialHex(serial);
    if (!this.#issued.has(key) || this.#revoked.has(key)) return false;
    this.#revoked.add(key);
    return true;
  }

  isRevoked(serial: Buffer | bigint | string): boolean {
    return this.#revoked.has(serialHex(serial));
  }

  /** The server handlers that make a CmpServer issue from this CA. */
  handlers(): CmpServerHandlers {
    return {
      certReq: (req) => this.#certReq(req),
      rr: (req) => this.#rr(req),
      genm: ({ itavs }) =>
        itavs.map((itav) => {
          if (itav.type === OID_CA_CERTS) return { type: OID_CA_CERTS, value: sequenceOf([this.cert.raw]) };
          if (itav.type === OID_ROOT_CA_CERT) return { type: OID_ROOT_CA_KEY_UPDATE }; // no update
          return itav;
        }),
    };
  }

  #certReq(req: CertRequest): HandlerResult {
    const reject = (bit: number, text: string): HandlerResult => ({ status: PKIStatus.rejection, failInfo: 1 << bit, text });
    if (!req.publicKey) return reject(FailInfo.badCertTemplate, 'no public key in the request');
    let subject: string | Buffer | null = req.subjectDer;
    if (req.type === 'kur') {
      if (!req.oldCertId) return reject(FailInfo.badCertId, 'no oldCertId');
      const old = this.certificate(req.oldCertId.serial);
      if (!old || req.oldCertId.issuer !== this.#subjectLine) {
        return reject(FailInfo.badCertId, 'unknown certificate');
      }
      if (this.isRevoked(req.oldCertId.serial)) return reject(FailInfo.certRevoked, 'certificate is revoked');
      subject ??= subjectDerOf(old);
    }
    if (!subject) return reject(FailInfo.badCertTemplate, 'no subject in the request');
    const cert = this.issue({ publicKey: req.publicKey, subject, extensions: req.extensions, notBefore: req.notBefore, notAfter: req.notAfter });
    return { cert, caPubs: [this.cert] };
  }

  #rr(req: RevocationRequest): HandlerResult {
    if (this.revoke(req.serial)) return { status: PKIStatus.accepted };
    return this.certificate(req.serial)
      ? { status: PKIStatus.rejection, failInfo: 1 << FailInfo.certRevoked, text: 'already revoked' }
      : { status: PKIStatus.rejection, failInfo: 1 << FailInfo.badCertId, text: 'unknown certificate' };
  }
}

/** The DER subject name of a certificate: TBSCertificate's sixth element. */
function subjectDerOf(cert: X509Certificate): Buffer {
  const der = cert.raw;
  const read = (at: number) => {
    let len = der[at + 1];
    let hdr = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + der[at + 2 + i];
      hdr += n;
    }
    return { start: at, content: at + hdr, end: at + hdr + len };
  };
  const tbs = read(read(0).content);
  let at = tbs.content;
  let el = read(at);
  if (der[at] === 0xa0) {
    at = el.end; // version
    el = read(at);
  }
  for (let i = 0; i < 4; i++) {
    // serial, signature, issuer, validity
    at = el.end;
    el = read(at);
  }
  return der.subarray(el.start, el.end);
}
