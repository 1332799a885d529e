// What CmpServer hands its handlers and what they answer: shared by the
// server and the CAs that implement handlers (TestCa), which need not know
// each other.
import type { KeyObject, X509Certificate } from 'node:crypto';
import type { CertificateInput, CertificateListInput, KeyInput } from './convert';
import type { Itav, ItavInput } from './context';

/**
 * Set on the requests CmpServer builds: publicKeyDer decodes to a key (checked
 * on the worker thread), so a CA can take it over without decoding it again.
 */
export const kPublicKeyUsable = Symbol('publicKeyUsable');

/** What a certificate request (IR, CR, P10CR, KUR) asks for. */
export interface CertRequest {
  type: 'ir' | 'cr' | 'p10cr' | 'kur';
  certReqId: number;
  /** One-line form, "/CN=a/O=b"; null when the request has none. */
  subject: string | null;
  subjectDer: Buffer | null;
  publicKey: KeyObject | null;
  /** DER Extensions of the template or CSR. */
  extensions: Buffer | null;
  /** DER PKCS#10 request (P10CR). */
  csr: Buffer | null;
  /** KUR: the certificate to be updated, by issuer and serial number. */
  oldCertId: { issuer: string; serial: bigint } | null;
  /** KUR: that certificate itself, when the request carries it (in extraCerts, as the signer). */
  oldCert: X509Certificate | null;
  /** Validity requested in the template (e.g. by the client's VALIDITY_DAYS), if any. */
  notBefore: Date | null;
  notAfter: Date | null;
  /**
   * Central key generation asked for (OpenSSL 3.5+): no proof of possession
   * and no usable public key. Answer with `{ cert, key }`, the private key the
   * certificate is for; OpenSSL returns it encrypted for the client.
   */
  centralKeyGen: boolean;
  /** The template's SubjectPublicKeyInfo as sent, DER; for central key generation it may carry just the algorithm. */
  publicKeyDer: Buffer | null;
  /** The header's generalInfo (a certProfile, for one), `value` the DER of each infoValue. */
  generalInfo: Array<{ type: string; value?: Buffer }>;
}

export interface RevocationRequest {
  issuer: string;
  serial: bigint;
}

/**
 * A handler's answer: certificates, a status (rejection with failInfo bits and
 * text), or "waiting" with the seconds after which the client should poll.
 */
export type HandlerResult =
  | { cert: CertificateInput; chain?: CertificateListInput; caPubs?: CertificateListInput; key?: KeyInput }
  | { status: number; failInfo?: number; text?: string }
  | { waiting: true; checkAfter: number };

export interface CmpServerHandlers {
  certReq?(req: CertRequest): HandlerResult | Promise<HandlerResult>;
  /** Called on each pollReq of a request answered with `waiting` (default: certReq again). */
  pollReq?(req: CertRequest): HandlerResult | Promise<HandlerResult>;
  rr?(req: RevocationRequest): HandlerResult | void | Promise<HandlerResult | void>;
  genm?(req: { itavs: Itav[] }): ItavInput[] | Promise<ItavInput[]>;
  /** false rejects the confirmation. */
  certConf?(conf: { certReqId: number; certHash: Buffer | null; status: string | null }): boolean | void | Promise<boolean | void>;
  error?(err: { status: string; errorCode: number; details: string[] }): void;
}
