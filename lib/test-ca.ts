// A small CA for tests, demos and RAs: issues real certificates for the keys
// clients enroll, replaces them on KUR, revokes them on RR, and answers the
// caCerts, rootCaKeyUpdate, crlStatusList and certReqTemplate general
// messages; with OpenSSL 3.5+ it also generates keys centrally.
import { KeyObject, X509Certificate, generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { children, oidDer, oidText, readTlv, sequenceOf, timeOf, tlv } from './der';
import { OID } from './oids';
import type { Itav, ItavInput } from './context';
import { FailInfo, PKIStatus } from './constants';
import { kPublicKeyUsable } from './server-handlers';
import type { CertRequest, CmpServerHandlers, HandlerResult, RevocationRequest } from './server-handlers';
import { binding } from './native';
import type { IssuerHandle } from './native';

const generate = promisify(generateKeyPair);

/** @internal The handlers that answer certificates as DER (see TestCa). */
export const kDerHandlers = Symbol('derHandlers');

export interface TestCaOptions {
  subject?: string;
  keyType?: 'ec' | 'rsa' | 'ed25519';
  /** Validity of issued certificates, in days. */
  days?: number;
  /**
   * What the CA answers to a certReqTemplate genm: the subject to put in the
   * template and the key type to ask for (default: no subject, an EC P-256 key).
   */
  template?: { subject?: string; keyType?: KeyType };
  /**
   * Certificate responses (IP, CP, KUP) carry the issuing chain in extraCerts,
   * as CAs in the field do, so a device can build the new certificate's chain
   * from the response alone (default true).
   */
  sendChain?: boolean;
  /** Makes this an intermediate CA, its certificate issued by `issuer` (default: a self-signed root). */
  issuer?: TestCa;
}

type KeyType = 'ec' | 'rsa' | 'ed25519';

const CURVES: Record<string, string> = { [OID.prime256v1]: 'P-256', [OID.secp384r1]: 'P-384', [OID.secp521r1]: 'P-521' };
const DAY = 86400;

function serialHex(serial: Buffer | bigint | string): string {
  if (Buffer.isBuffer(serial)) return BigInt(`0x${serial.toString('hex') || '0'}`).toString(16).toUpperCase();
  return BigInt(typeof serial === 'string' ? `0x${serial}` : serial).toString(16).toUpperCase();
}

export class TestCa {
  readonly cert: X509Certificate;
  readonly key: KeyObject;
  readonly days: number;
  /** This CA's certificate and those above it, up to the root. */
  readonly chain: readonly X509Certificate[];
  readonly #sendChain: boolean;
  // keyed by the serial as serialHex spells it, so lookups need no scan; DER until asked for
  readonly #issued = new Map<string, X509Certificate | Buffer>();
  // serial (as serialHex spells it) -> revocation time, seconds since the epoch
  readonly #revoked = new Map<string, number>();
  // worked out once: issuing, KUR checks and genm answers are per request
  readonly #issuer: IssuerHandle;
  // what every certificate response carries, as DER
  readonly #chainDer: Buffer[];
  readonly #rootDer: Buffer;
  readonly #subjectLine: string;
  readonly #certReqTemplate: Buffer;
  #crl: { der: Buffer; thisUpdate: number; number: number } | undefined;
  #crlCurrent = false; // false after a revocation: the next CRL is made anew

  private constructor(cert: X509Certificate, key: KeyObject, options: TestCaOptions) {
    const { days = 365, template, sendChain = true, issuer } = options;
    this.cert = cert;
    this.chain = [cert, ...(issuer?.chain ?? [])];
    this.key = key;
    this.days = days;
    this.#sendChain = sendChain;
    this.#certReqTemplate = certReqTemplateDer(template);
    this.#issuer = binding.certIssuer(cert.raw, key.export({ format: 'der', type: 'pkcs8' }));
    this.#chainDer = this.chain.map((c) => c.raw);
    this.#rootDer = this.#chainDer[this.#chainDer.length - 1];
    this.#subjectLine = binding.nameFromDer(subjectDerOf(cert));
  }

  static async create(options: TestCaOptions = {}): Promise<TestCa> {
    const pair = await newKeyPair({ type: options.keyType ?? 'ec' });
    const now = Math.floor(Date.now() / 1000);
    const issuer = options.issuer;
    const der = binding.issueCertificate({
      ...(issuer ? { issuer: issuer.#issuer } : { issuerKey: pair.privateKey.export({ format: 'der', type: 'pkcs8' }) }),
      publicKey: pair.publicKey.export({ format: 'der', type: 'spki' }),
      subject: options.subject ?? '/CN=openssl-cmp Test CA',
      serial: TestCa.#newSerial(),
      notBefore: now - 60,
      notAfter: now + 3650 * DAY,
      ca: true,
    });
    if (issuer) issuer.#issued.set(serialHex(new X509Certificate(der).serialNumber), new X509Certificate(der));
    return new TestCa(new X509Certificate(der), pair.privateKey, options);
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
    const { der, serial } = this.#issueDer(req);
    const cert = new X509Certificate(der);
    this.#issued.set(serialHex(serial), cert);
    return cert;
  }

  /** Issues and records a certificate; the record stays DER until someone asks for it. */
  #issueDer(
    req: { publicKey: KeyObject | Buffer; keyChecked?: boolean; handOver?: boolean; subject: string | Buffer; extensions?: Buffer | null; days?: number; notBefore?: Date | null; notAfter?: Date | null },
  ): { der: Buffer; serial: Buffer } {
    const spki = req.publicKey instanceof KeyObject ? req.publicKey.export({ format: 'der', type: 'spki' }) : req.publicKey;
    const now = Math.floor(Date.now() / 1000);
    const from = req.notBefore ? Math.floor(req.notBefore.getTime() / 1000) : now - 60;
    const until = req.notAfter ? Math.floor(req.notAfter.getTime() / 1000) : from + 60 + (req.days ?? this.days) * DAY;
    const serial = TestCa.#newSerial();
    const der = binding.issueCertificate({
      issuer: this.#issuer,
      publicKey: spki,
      keyChecked: req.keyChecked,
      handOver: req.handOver,
      subject: req.subject,
      serial,
      notBefore: from,
      notAfter: until,
      extensions: req.extensions ?? null,
    });
    this.#issued.set(serialHex(serial), der);
    return { der, serial };
  }

  /**
   * A key and certificate for a CMP server that speaks for this CA: key usage
   * digitalSignature and the extended key usage id-kp-cmKGA, which OpenSSL
   * 3.5+ clients require of the signer of centrally generated keys.
   */
  async serverCredentials(subject = '/CN=openssl-cmp Test Server'): Promise<{ cert: X509Certificate; key: KeyObject }> {
    const pair = await newKeyPair({ type: 'ec' });
    const ext = (oid: string, critical: boolean, value: Buffer) =>
      sequenceOf([oidDer(oid, 'extension'), ...(critical ? [Buffer.from([0x01, 0x01, 0xff])] : []), tlv(0x04, value)]);
    const extensions = sequenceOf([
      ext(OID.keyUsage, true, Buffer.from([0x03, 0x02, 0x07, 0x80])), // digitalSignature
      // codeSigning too: OpenSSL 3.5 checks the code-signing purpose instead
      // of cmKGA from the second central key generation in a process on
      ext(OID.extKeyUsage, false, sequenceOf([oidDer(OID.kpCmKGA, 'extension'), oidDer(OID.kpCodeSigning, 'extension')])),
    ]);
    return { cert: this.issue({ publicKey: pair.publicKey, subject, extensions }), key: pair.privateKey };
  }

  /** The certificate this CA issued with that serial number, if any. */
  certificate(serial: Buffer | bigint | string): X509Certificate | undefined {
    const key = serialHex(serial);
    const found = this.#issued.get(key);
    if (!Buffer.isBuffer(found)) return found;
    const cert = new X509Certificate(found);
    this.#issued.set(key, cert);
    return cert;
  }

  /** Revokes a certificate this CA issued; false when unknown or revoked already. */
  revoke(serial: Buffer | bigint | string): boolean {
    const key = serialHex(serial);
    if (!this.#issued.has(key) || this.#revoked.has(key)) return false;
    this.#revoked.set(key, Math.floor(Date.now() / 1000));
    this.#crlCurrent = false;
    return true;
  }

  /** The CA's current CRL (DER), listing every certificate it revoked. */
  crl(): Buffer {
    return this.#currentCrl().der;
  }

  #currentCrl(): { der: Buffer; thisUpdate: number } {
    if (!this.#crl || !this.#crlCurrent) {
      // each CRL's thisUpdate is later than the last one's, so "newer" is well defined
      const thisUpdate = Math.max(Math.floor(Date.now() / 1000), (this.#crl?.thisUpdate ?? 0) + 1);
      const number = (this.#crl?.number ?? 0) + 1;
      const der = binding.issueCrl({
        issuer: this.#issuer,
        thisUpdate,
        nextUpdate: thisUpdate + 7 * DAY,
        crlNumber: number,
        revoked: [...this.#revoked].map(([serial, date]) => ({ serial: Buffer.from(serial.length % 2 ? `0${serial}` : serial, 'hex'), date })),
      });
      this.#crl = { der, thisUpdate, number };
      this.#crlCurrent = true;
    }
    return this.#crl;
  }

  isRevoked(serial: Buffer | bigint | string): boolean {
    return this.#revoked.has(serialHex(serial));
  }

  /** The server handlers that make a CmpServer issue from this CA. */
  handlers(): CmpServerHandlers {
    return this.#handlers(false);
  }

  /**
   * @internal As handlers(), with certificates answered as DER: a server that only passes them on
   * makes no X509Certificate of each (the CmpServer default and the CLI's mock server).
   */
  [kDerHandlers](): CmpServerHandlers {
    return this.#handlers(true);
  }

  #handlers(der: boolean): CmpServerHandlers {
    return {
      certReq: (req) => this.#certReq(req, der),
      rr: (req) => this.#rr(req),
      genm: ({ itavs }) => itavs.map((itav) => this.#genm(itav)),
    };
  }

  #genm(itav: Itav): ItavInput {
    switch (itav.type) {
      case OID.caCerts:
        return { type: OID.caCerts, value: sequenceOf([this.cert.raw]) };
      case OID.rootCaCert:
        return { type: OID.rootCaKeyUpdate }; // no update
      case OID.certReqTemplate:
        return { type: OID.certReqTemplate, value: this.#certReqTemplate };
      case OID.crlStatusList: {
        const crl = this.#currentCrl();
        const known = itav.value ? crlStatusTimes(itav.value) : [];
        // no update when the client already holds a CRL as new as ours
        if (known.some((t) => t.getTime() / 1000 >= crl.thisUpdate)) return { type: OID.crls };
        return { type: OID.crls, value: sequenceOf([crl.der]) };
      }
      default:
        return itav;
    }
  }

  async #certReq(req: CertRequest, der: boolean): Promise<HandlerResult> {
    const reject = (bit: number, text: string): HandlerResult => ({ status: PKIStatus.rejection, failInfo: 1 << bit, text });
    let generated: KeyObject | undefined;
    // a request from CmpServer says whether its key decodes; the key then goes into the certificate as sent
    const checked = (req as { [kPublicKeyUsable]?: boolean })[kPublicKeyUsable];
    let publicKey: KeyObject | Buffer | null = checked ? req.publicKeyDer : checked === undefined ? req.publicKey : null;
    if (req.centralKeyGen) {
      const pair = await newKeyPair(requestedKeyType(req.publicKeyDer));
      generated = pair.privateKey;
      publicKey = pair.publicKey;
    }
    if (!publicKey) return reject(FailInfo.badCertTemplate, 'no public key in the request');
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
    const issued = this.#issueDer({
      publicKey, keyChecked: Buffer.isBuffer(publicKey), handOver: der, subject, extensions: req.extensions, notBefore: req.notBefore, notAfter: req.notAfter,
    });
    const cert = der ? issued.der : this.certificate(issued.serial)!;
    const chain = this.#sendChain ? (der ? this.#chainDer : [...this.chain]) : undefined;
    const caPubs = der ? [this.#rootDer] : [this.chain[this.chain.length - 1]]; // the root
    return generated ? { cert, chain, caPubs, key: generated } : { cert, chain, caPubs };
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
  const tbs = children(der, readTlv(der, readTlv(der, 0).content)).filter((el) => el.tag !== 0xa0); // without [0] version
  return der.subarray(tbs[4].start, tbs[4].end);
}

// CertReqTemplateContent ::= SEQUENCE { certTemplate CertTemplate, keySpec Controls OPTIONAL }
function certReqTemplateDer(template: TestCaOptions['template']): Buffer {
  const subject = template?.subject;
  const certTemplate = sequenceOf(subject ? [tlv(0xa5, binding.nameToDer(subject))] : []);
  const keyType = template?.keyType ?? 'ec';
  const spec =
    keyType === 'rsa'
      ? sequenceOf([oidDer(OID.regCtrlRsaKeyLen, 'keySpec'), tlv(0x02, Buffer.from([0x08, 0x00]))])
      : sequenceOf([
          oidDer(OID.regCtrlAlgId, 'keySpec'),
          sequenceOf(keyType === 'ed25519' ? [oidDer(OID.ed25519, 'keySpec')] : [oidDer(OID.ecPublicKey, 'keySpec'), oidDer(OID.prime256v1, 'keySpec')]),
        ]);
  return sequenceOf([certTemplate, sequenceOf([spec])]);
}

function newKeyPair(spec: { type: KeyType; curve?: string }): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  if (spec.type === 'rsa') return generate('rsa', { modulusLength: 2048 });
  if (spec.type === 'ed25519') return generate('ed25519');
  return generate('ec', { namedCurve: spec.curve ?? 'P-256' });
}

/** The key type a central key generation request names in its template's algorithm; EC P-256 by default. */
function requestedKeyType(spki: Buffer | null): { type: KeyType; curve?: string } {
  try {
    if (!spki) return { type: 'ec' };
    const alg = children(spki, readTlv(spki, children(spki, readTlv(spki, 0))[0].start));
    const oid = oidText(spki, alg[0]);
    if (oid === OID.rsaEncryption) return { type: 'rsa' };
    if (oid === OID.ed25519) return { type: 'ed25519' };
    if (oid === OID.ecPublicKey && alg[1]?.tag === 0x06) return { type: 'ec', curve: CURVES[oidText(spki, alg[1])] };
  } catch {
    // an unreadable template: fall back to the default
  }
  return { type: 'ec' };
}

/** The thisUpdate times a crlStatusList request gives (SEQUENCE OF CRLStatus { source, thisUpdate Time OPTIONAL }). */
function crlStatusTimes(value: Buffer): Date[] {
  const out: Date[] = [];
  try {
    for (const status of children(value, readTlv(value, 0))) {
      const parts = children(value, status);
      if (parts[1] && (parts[1].tag === 0x17 || parts[1].tag === 0x18)) out.push(timeOf(value, parts[1]));
    }
  } catch {
    // unreadable: treated as holding no CRL
  }
  return out;
}
