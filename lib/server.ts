// CmpServer: OpenSSL's CMP server with JS handlers, in process or over HTTP.
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { KeyObject, X509Certificate, createPublicKey } from 'node:crypto';
import {
  CertificateInput,
  CertificateListInput,
  KeyInput,
  SecretInput,
  toBytes,
  toCertDer,
  toCertsDer,
  toPrivateKeyDer,
  typeError,
} from './convert';
import { PKIStatus } from './constants';
import type { Itav, ItavInput, TransferCallback } from './context';
import { CmpError } from './errors';
import { NativeCertReq, NativeCmpServer, NativeDispatchArgs, NativeServerOptions, binding } from './native';
import { TestCa } from './test-ca';

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

export interface CmpServerOptions {
  /** PBM: reference (senderKID) and shared secret. */
  ref?: SecretInput;
  secret?: SecretInput;
  /** Signature protection: the server's certificate and key. */
  cert?: CertificateInput;
  key?: KeyInput;
  /** Trust anchors for signature-protected requests (default: the issuing CA), and intermediates. */
  trusted?: CertificateListInput;
  untrusted?: CertificateListInput;
  /** The CA that issues when no handlers are given (a new TestCa otherwise). */
  ca?: TestCa;
  handlers?: CmpServerHandlers;
  grantImplicitConfirm?: boolean;
  acceptUnprotected?: boolean;
  acceptRaVerified?: boolean;
  sendUnprotectedErrors?: boolean;
  /** Send all responses without protection (as `openssl cmp -send_unprotected`). */
  sendUnprotected?: boolean;
  /** Accept unprotected error messages from clients (as `-accept_unprot_err`). */
  acceptUnprotectedErrors?: boolean;
  /** Seconds an unfinished transaction is kept (default 300). */
  transactionTimeout?: number;
  maxTransactions?: number;
  /**
   * Requests queued or running at once (default 256); beyond it handle()
   * rejects with code ERR_CMP_SERVER_BUSY and HTTP answers 503 with Retry-After.
   */
  maxPending?: number;
}

export interface ListenOptions {
  host?: string;
  port?: number;
  path?: string;
  /** Largest request body accepted, in bytes (default 1 MiB). */
  maxRequestBytes?: number;
}

const CONTENT_TYPE = 'application/pkixcmp';

function certDers(certs: CertificateListInput | undefined, param: string): Buffer[] | undefined {
  return certs === undefined ? undefined : toCertsDer(certs, param)!;
}

export class CmpServer {
  readonly #options: CmpServerOptions;
  readonly #ready: Promise<NativeCmpServer>;
  #ca: TestCa | undefined;
  #http: http.Server | undefined;
  #closed = false;

  constructor(options: CmpServerOptions = {}) {
    if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
    this.#options = options;
    this.#ca = options.ca;
    // converted here so that a wrong type throws at the call, not in handle()
    const native = this.#nativeOptions(options);
    this.#ready = this.#start(native);
    this.#ready.catch(() => {}); // surfaced by handle()
  }

  /** The issuing CA when the server runs on the built-in one. */
  async ca(): Promise<TestCa | undefined> {
    await this.#ready;
    return this.#ca;
  }

  #nativeOptions(o: CmpServerOptions): NativeServerOptions {
    for (const k of ['transactionTimeout', 'maxTransactions', 'maxPending'] as const) {
      if (o[k] !== undefined && typeof o[k] !== 'number') throw typeError(k, 'a number', o[k]);
    }
    return {
      ref: toBytes(o.ref, 'ref'),
      secret: toBytes(o.secret, 'secret'),
      cert: toCertDer(o.cert, 'cert'),
      key: o.key == null ? null : toPrivateKeyDer(o.key, 'key'),
      trusted: certDers(o.trusted, 'trusted'),
      untrusted: certDers(o.untrusted, 'untrusted'),
      grantImplicitConfirm: !!o.grantImplicitConfirm,
      acceptUnprotected: !!o.acceptUnprotected,
      acceptRaVerified: !!o.acceptRaVerified,
      sendUnprotectedErrors: !!o.sendUnprotectedErrors,
      sendUnprotected: !!o.sendUnprotected,
      acceptUnprotectedErrors: !!o.acceptUnprotectedErrors,
      transactionTimeout: o.transactionTimeout,
      maxTransactions: o.maxTransactions,
      maxPending: o.maxPending,
    };
  }

  async #start(native: NativeServerOptions): Promise<NativeCmpServer> {
    let handlers = this.#options.handlers;
    if (!handlers) {
      this.#ca ??= await TestCa.create();
      handlers = this.#ca.handlers();
    }
    // clients holding certificates from the issuing CA are trusted unless told otherwise
    if (native.trusted === undefined && this.#ca) native.trusted = [this.#ca.cert.raw];
    if (native.key == null && this.#ca) {
      // no signing credentials given: sign responses as the CA itself (PBM
      // requests are still answered with PBM when a secret is set)
      native.cert = this.#ca.cert.raw;
      native.key = this.#ca.key.export({ format: 'der', type: 'pkcs8' });
    }
    const h = handlers;
    return new binding.CmpServer(native, (...args) => Promise.resolve().then(() => dispatch(h, ...args)));
  }

  /** Answers one DER PKIMessage, off the main thread. */
  async handle(request: Buffer | Uint8Array): Promise<Buffer> {
    const der = toBytes(request, 'request')!;
    if (this.#closed) throw new CmpError('The CMP server is closed', { code: 'ERR_CMP_SERVER_CLOSED' });
    return (await this.#ready).handle(der);
  }

  /** A transfer callback for CmpContext.setTransferCallback: the server in process. */
  readonly transfer: TransferCallback = (request) => this.handle(request);

  /** Serves CMP over HTTP (RFC 6712): POST of application/pkixcmp, keep-alive. */
  async listen(options: ListenOptions = {}): Promise<{ url: string; port: number }> {
    if (this.#http) throw new CmpError('The server is listening already', { code: 'ERR_CMP_SERVER_LISTENING' });
    await this.#ready;
    const path = options.path ?? '/pkix/';
    const limit = options.maxRequestBytes ?? 1 << 20;
    const server = http.createServer((req, res) => this.#serveHttp(req, res, path, limit));
    server.keepAliveTimeout = 5000;
    this.#http = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
    });
    const addr = server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return { url: `http://${host}:${addr.port}${path}`, port: addr.port };
  }

  #serveHttp(req: http.IncomingMessage, res: http.ServerResponse, path: string, limit: number): void {
    const fail = (status: number, text: string): void => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const url = (req.url ?? '').split('?')[0];
    if (url !== path && url !== path.replace(/\/$/, '')) return fail(404, 'not found\n');
    if (req.method !== 'POST') return fail(405, 'use POST\n');
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== CONTENT_TYPE) return fail(415, `content type must be ${CONTENT_TYPE}\n`);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      fail(413, 'request too large\n');
      return void req.destroy();
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        fail(413, 'request too large\n');
        req.destroy();
      } else {
        chunks.push(c);
      }
    });
    req.on('end', () => {
      if (size > limit) return;
      this.handle(Buffer.concat(chunks)).then(
        (rsp) => {
          res.writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': rsp.length });
          res.end(rsp);
        },
        (err: CmpError) => {
          if (err.code === 'ERR_CMP_SERVER_BUSY' && !res.headersSent) res.setHeader('retry-after', '1');
          fail(err.code === 'ERR_CMP_BAD_REQUEST' ? 400 : err.code === 'ERR_CMP_SERVER_BUSY' ? 503 : 500, `${err.message}\n`);
        },
      );
    });
  }

  /** Transactions begun and not yet finished (expired ones excluded). */
  async openTransactions(): Promise<number> {
    return (await this.#ready).openTransactions();
  }

  /**
   * What the server keeps between requests: live transaction contexts and the
   * certificates they hold as untrusted, for checking that a flood of
   * requests leaves nothing behind.
   */
  async retained(): Promise<{ sessions: number; untrustedCerts: number }> {
    return (await this.#ready).retained();
  }

  /** Stops listening and refuses further requests. */
  async close(): Promise<void> {
    this.#closed = true;
    const server = this.#http;
    this.#http = undefined;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections?.();
      });
    }
    try {
      (await this.#ready).close();
    } catch {
      // never started
    }
  }
}

function bigSerial(b: Buffer | null): bigint {
  return b && b.length ? BigInt(`0x${b.toString('hex')}`) : 0n;
}

function spkiKey(der: Buffer | null): KeyObject | null {
  if (!der) return null;
  try {
    return createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    return null; // an algorithm without key bits, as central key generation sends
  }
}

function certRequest(n: NativeCertReq): CertRequest {
  return {
    type: n.type,
    certReqId: n.certReqId,
    subject: n.subject ? binding.nameFromDer(n.subject) : null,
    subjectDer: n.subject,
    publicKey: n.centralKeyGen ? null : spkiKey(n.publicKey),
    extensions: n.extensions,
    csr: n.csr,
    oldCertId: n.oldCertId
      ? { issuer: n.oldCertId.issuer ? binding.nameFromDer(n.oldCertId.issuer) : '', serial: bigSerial(n.oldCertId.serial) }
      : null,
    oldCert: n.oldCert ? new X509Certificate(n.oldCert) : null,
    notBefore: n.notBefore === null ? null : new Date(n.notBefore * 1000),
    notAfter: n.notAfter === null ? null : new Date(n.notAfter * 1000),
    centralKeyGen: n.centralKeyGen,
    publicKeyDer: n.publicKey,
  };
}

function normalize(r: HandlerResult | void | undefined): Record<string, unknown> {
  if (r == null) return { status: PKIStatus.accepted };
  if ('waiting' in r && r.waiting) return { status: PKIStatus.waiting, checkAfter: Math.max(0, Math.floor(r.checkAfter)) };
  if ('cert' in r && r.cert) {
    return {
      status: PKIStatus.accepted,
      cert: toCertDer(r.cert, 'cert'),
      chain: r.chain === undefined ? undefined : toCertsDer(r.chain, 'chain'),
      caPubs: r.caPubs === undefined ? undefined : toCertsDer(r.caPubs, 'caPubs'),
      key: r.key === undefined ? undefined : toPrivateKeyDer(r.key, 'key'),
    };
  }
  const s = r as { status: number; failInfo?: number; text?: string };
  return { status: s.status, failInfo: s.failInfo ?? 0, text: s.text };
}

async function dispatch(h: CmpServerHandlers, ...[kind, info]: NativeDispatchArgs): Promise<Record<string, unknown>> {
  switch (kind) {
    case 'certReq':
      if (!h.certReq) return { status: PKIStatus.rejection, failInfo: 1 << 2, text: 'certificate requests are not served here' };
      return normalize(await h.certReq(certRequest(info)));
    case 'pollReq': {
      const fn = h.pollReq ?? h.certReq;
      if (!fn) return { status: PKIStatus.rejection, failInfo: 1 << 2 };
      return normalize(await fn(certRequest(info)));
    }
    case 'rr':
      if (!h.rr) return { status: PKIStatus.rejection, failInfo: 1 << 2, text: 'revocation is not served here' };
      return normalize(await h.rr({ issuer: info.issuer ? binding.nameFromDer(info.issuer) : '', serial: bigSerial(info.serial) }));
    case 'genm':
      return { itavs: h.genm ? await h.genm({ itavs: info.itavs }) : info.itavs };
    case 'certConf':
      return { accept: h.certConf ? (await h.certConf(info)) !== false : true };
    case 'error':
      try {
        h.error?.(info);
      } catch {
        // informational only
      }
      return {};
    default:
      throw new Error(`unknown server callback ${kind as string}`);
  }
}

