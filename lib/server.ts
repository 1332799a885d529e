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
import { headerGeneralInfo } from './der';
import type { TransferCallback } from './context';
import type { LogEntry } from './native';
import { CmpError } from './errors';
import { NativeCertReq, NativeCmpServer, NativeDispatchArgs, NativeServerOptions, binding } from './native';
import { TestCa, kDerHandlers } from './test-ca';
import { kPublicKeyUsable } from './server-handlers';
import type { CertRequest, CmpServerHandlers, HandlerResult } from './server-handlers';

export type { CertRequest, CmpServerHandlers, HandlerResult, RevocationRequest } from './server-handlers';
import { serveMetrics } from './metrics';
import type { MetricsOptions, Registry, ServerMetrics } from './metrics';
import type { TransactionEvent } from './server-events';
import { RequestWatch } from './server-watch';

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
  /**
   * Log hook: OpenSSL's own log lines of each request processed (as `openssl
   * cmp`'s mock server prints them), up to `logVerbosity` (default 6, INFO),
   * and the HTTP server's own (component "http"). Without it the server logs
   * nothing anywhere.
   */
  log?: ServerLogHook;
  logVerbosity?: number;
  /** One structured event per transaction, when it ends (see TransactionEvent). */
  onTransaction?: (event: TransactionEvent) => void;
  /** Prometheus metrics through prom-client (an optional dependency): true, or where and how. */
  metrics?: boolean | MetricsOptions;
  /** Seconds an unfinished transaction is kept (default 300). */
  transactionTimeout?: number;
  maxTransactions?: number;
  /**
   * The server's one overload limit: requests queued or running at once
   * (default 256); beyond it handle() rejects with code ERR_CMP_SERVER_BUSY
   * and HTTP answers 503 with Retry-After.
   */
  maxPending?: number;
  /** Of the pending requests, how many are processed at once; the rest wait their turn (default: no limit). */
  maxConcurrent?: number;
}

/** A log line; HTTP lines (component "http") also say which request. */
export interface HttpLogInfo {
  method: string;
  url: string;
  version: string;
  remote: string;
  /** The request's header lines as received, or with `status` the response's. */
  headers?: string[];
  keepAlive?: boolean;
  /** Set on the response. */
  status?: number;
}
export interface ServerLogEntry extends LogEntry {
  http?: HttpLogInfo;
}
export type ServerLogHook = (entry: ServerLogEntry) => void;

export interface ListenOptions {
  host?: string;
  port?: number;
  /**
   * The request path served (default '/pkix/'), or several. Paths compare as OpenSSL's HTTP server
   * compares them: leading slashes and a run of trailing slashes do not count.
   */
  path?: string | string[];
  /** Largest request body accepted, in bytes (default 1 MiB). */
  maxRequestBytes?: number;
  /** Serves the Prometheus metrics (option `metrics`) to GET requests on this path, e.g. "/metrics". */
  metricsPath?: string;
}

const CONTENT_TYPE = 'application/pkixcmp';
const HTTP_STATUS: Record<string, number> = { ERR_CMP_BAD_REQUEST: 400, ERR_CMP_SERVER_BUSY: 503 };

/** A request path as OpenSSL's HTTP server sees it: no leading slashes, one trailing slash at most. */
function httpPath(p: string): string {
  return p.replace(/^\/+/, '').replace(/\/\/+$/, '/');
}

function certDers(certs: CertificateListInput | undefined, param: string): Buffer[] | undefined {
  return certs === undefined ? undefined : toCertsDer(certs, param)!;
}

export class CmpServer {
  readonly #options: CmpServerOptions;
  readonly #ready: Promise<NativeCmpServer>;
  #ca: TestCa | undefined;
  #http: http.Server | undefined;
  #closed = false;
  readonly #watch: RequestWatch;

  constructor(options: CmpServerOptions = {}) {
    if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
    this.#options = options;
    this.#ca = options.ca;
    // converted here so that a wrong type throws at the call, not in handle()
    const native = this.#nativeOptions(options);
    this.#watch = new RequestWatch(options);
    this.#ready = this.#start(native);
    this.#ready.catch(() => {}); // surfaced by handle()
  }

  /** The issuing CA when the server runs on the built-in one. */
  async ca(): Promise<TestCa | undefined> {
    await this.#ready;
    return this.#ca;
  }

  #nativeOptions(o: CmpServerOptions): NativeServerOptions {
    for (const k of ['transactionTimeout', 'maxTransactions', 'maxPending', 'maxConcurrent'] as const) {
      if (o[k] !== undefined && typeof o[k] !== 'number') throw typeError(k, 'a number', o[k]);
    }
    for (const k of ['maxPending', 'maxConcurrent'] as const) {
      if (o[k] !== undefined && !(o[k]! >= 1)) throw new TypeError(`The "${k}" option must be a positive number. Received ${o[k]}`);
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
      logVerbosity: o.log ? (o.logVerbosity ?? 6) : -1,
    };
  }

  async #start(native: NativeServerOptions): Promise<NativeCmpServer> {
    let handlers = this.#options.handlers;
    if (!handlers) {
      this.#ca ??= await TestCa.create();
      handlers = this.#ca[kDerHandlers]();
    }
    // clients holding certificates from the issuing CA are trusted unless told otherwise
    if (this.#ca) {
      const chain = this.#ca.chain;
      if (native.trusted === undefined) native.trusted = [chain[chain.length - 1].raw];
      if (native.untrusted === undefined && chain.length > 1) native.untrusted = chain.slice(0, -1).map((c) => c.raw);
    }
    if (native.key == null && this.#ca) {
      // no signing credentials given: sign responses as the CA itself (PBM
      // requests are still answered with PBM when a secret is set)
      native.cert = this.#ca.cert.raw;
      native.key = this.#ca.key.export({ format: 'der', type: 'pkcs8' });
    }
    const h = handlers;
    return new binding.CmpServer(native, (...args) =>
      args[0] === 'log' ? Promise.resolve(this.#log(args[1])) : Promise.resolve().then(() => dispatch(h, ...args)));
  }

  // a throwing hook must not take a transaction down
  #log(entry: ServerLogEntry): undefined {
    try {
      if (entry.level <= (this.#options.logVerbosity ?? 6)) this.#options.log?.(entry);
    } catch {
      // nothing to report it to
    }
    return undefined;
  }

  /**
   * Answers one DER PKIMessage, off the main thread; `remote` names the requester in events.
   * `transfer` and `listen()` pass every request through here, so a subclass sees each one.
   */
  async handle(request: Buffer | Uint8Array, meta: { remote?: string } = {}): Promise<Buffer> {
    const der = toBytes(request, 'request')!;
    if (this.#closed) throw new CmpError('The CMP server is closed', { code: 'ERR_CMP_SERVER_CLOSED' });
    const native = await this.#ready;
    return this.#watch.run((d) => native.handle(d), der, meta.remote ?? null);
  }

  /** The Prometheus metrics in the text exposition format (option `metrics`). */
  async metrics(): Promise<string> {
    return this.#metricsOrThrow().text();
  }

  /** The prom-client registry the metrics are in, for a process's other metrics to join. */
  get metricsRegistry(): Registry | undefined {
    return this.#watch.metrics?.registry;
  }

  #metricsOrThrow(): ServerMetrics {
    const m = this.#watch.metrics;
    if (!m) throw new CmpError('This server keeps no metrics: create it with the metrics option', { code: 'ERR_CMP_NO_METRICS' });
    return m;
  }

  /** A transfer callback for CmpContext.setTransferCallback: the server in process. */
  readonly transfer: TransferCallback = (request) => this.handle(request);

  /** Serves CMP over HTTP (RFC 6712): POST of application/pkixcmp, keep-alive. */
  async listen(options: ListenOptions = {}): Promise<{ url: string; port: number }> {
    if (this.#http) throw new CmpError('The server is listening already', { code: 'ERR_CMP_SERVER_LISTENING' });
    await this.#ready;
    const path = options.path ?? '/pkix/';
    const paths = new Set(typeof path === 'string' ? [httpPath(path), httpPath(path.replace(/\/$/, ''))] : path.map(httpPath));
    const limit = options.maxRequestBytes ?? 1 << 20;
    const metricsPath = options.metricsPath;
    if (metricsPath !== undefined) this.#metricsOrThrow();
    const server = http.createServer((req, res) => {
      if (metricsPath !== undefined && (req.url ?? '').split('?')[0] === metricsPath && req.method === 'GET') return this.#serveMetrics(res);
      this.#serveHttp(req, res, paths, limit);
    });
    server.keepAliveTimeout = 5000;
    this.#http = server;
    const awaiting = () => this.#log({ level: 7, component: 'http', message: `awaiting new connection on port ${(server.address() as AddressInfo).port} ...` });
    if (this.#options.log) {
      server.once('listening', awaiting);
      server.on('connection', (socket) => socket.once('close', () => server.listening && awaiting()));
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
    });
    const addr = server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return { url: `http://${host}:${addr.port}/${httpPath(typeof path === 'string' ? path : path[0] ?? '')}`, port: addr.port };
  }

  #serveHttp(req: http.IncomingMessage, res: http.ServerResponse, paths: Set<string>, limit: number): void {
    const logging = this.#options.log !== undefined;
    const about = logging ? httpAbout(req) : undefined;
    const note = (level: number, message: string, rsp?: { status: number; headers: Record<string, string | number> }) =>
      logging && this.#log({ level, component: 'http', message, http: { ...about!, ...(rsp && { status: rsp.status, headers: headerLines(rsp.headers) }) } });
    note(6, `received request, 1st line: ${about?.method} ${about?.url} HTTP/${about?.version}`);
    const reply = (status: number, headers: Record<string, string | number>, body: Buffer | string, level: number, message: string) => {
      note(level, message, { status, headers });
      res.writeHead(status, headers);
      res.end(body);
      if (logging && about!.keepAlive) res.once('finish', () => this.#log({ level: 7, component: 'http', message: 'awaiting next request ...' }));
    };
    const fail = (status: number, text: string, level = 4): void => {
      if (res.headersSent) {
        note(level, `refused with ${status}: ${text.trim()}`);
        res.destroy();
        return;
      }
      reply(status, { 'Content-type': 'text/plain', 'Content-Length': Buffer.byteLength(text) }, text, level, `refused with ${status}: ${text.trim()}`);
    };
    const url = (req.url ?? '').split('?')[0];
    if (!paths.has(httpPath(url))) return fail(404, 'not found\n', 3);
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
      this.handle(Buffer.concat(chunks), { remote: about?.remote ?? req.socket.remoteAddress }).then(
        (rsp) => reply(200, { 'Content-type': CONTENT_TYPE, 'Content-Length': rsp.length }, rsp, 6, 'sending response, 1st line: 200 OK'),
        (err: CmpError) => {
          if (err.code === 'ERR_CMP_SERVER_BUSY' && !res.headersSent) res.setHeader('Retry-After', '1');
          fail(HTTP_STATUS[err.code ?? ''] ?? 500, `${err.message}\n`);
        },
      );
    });
  }

  /**
   * Intermediate CA certificates kept from the extraCerts of validated requests, so that a later
   * request of the same client need not carry them again (as OpenSSL's own server does, but bounded:
   * at most 100 certificates that chain to `trusted`, the oldest leaving first).
   */
  async cachedIntermediates(): Promise<number> {
    return (await this.#ready).cachedIntermediates();
  }

  #serveMetrics(res: http.ServerResponse): void {
    serveMetrics(this.#metricsOrThrow().registry, res);
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
    this.#watch.close();
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

function httpAbout(req: http.IncomingMessage): Required<Omit<HttpLogInfo, 'status'>> {
  const connection = String(req.headers.connection ?? '').toLowerCase();
  const lines: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  return {
    method: req.method ?? '',
    url: req.url ?? '',
    version: req.httpVersion,
    // a dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d
    remote: (req.socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, ''),
    headers: lines,
    keepAlive: req.httpVersion === '1.0' ? connection === 'keep-alive' : connection !== 'close',
  };
}

function headerLines(headers: Record<string, string | number>): string[] {
  return Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
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

/** An enumerable property worked out on first read: most handlers read few of them. */
function lazy<T>(o: object, key: string, make: () => T): void {
  let done = false;
  let value: T;
  Object.defineProperty(o, key, {
    enumerable: true,
    configurable: true,
    get: () => {
      if (!done) {
        value = make();
        done = true;
      }
      return value;
    },
    set: (v: T) => {
      value = v;
      done = true;
    },
  });
}

function certRequest(n: NativeCertReq): CertRequest {
  const req = {
    type: n.type,
    certReqId: n.certReqId,
    subjectDer: n.subject,
    extensions: n.extensions,
    csr: n.csr,
    oldCertId: n.oldCertId
      ? { issuer: n.oldCertId.issuer ? binding.nameFromDer(n.oldCertId.issuer) : '', serial: bigSerial(n.oldCertId.serial) }
      : null,
    notBefore: n.notBefore === null ? null : new Date(n.notBefore * 1000),
    notAfter: n.notAfter === null ? null : new Date(n.notAfter * 1000),
    centralKeyGen: n.centralKeyGen,
    publicKeyDer: n.publicKey,
    [kPublicKeyUsable]: n.publicKeyUsable,
  } as unknown as CertRequest;
  // what costs a decoding on this thread is done when a handler asks for it
  lazy(req, 'subject', () => (n.subject ? binding.nameFromDer(n.subject) : null));
  lazy(req, 'publicKey', () => (n.publicKeyUsable ? spkiKey(n.publicKey) : null));
  lazy(req, 'oldCert', () => (n.oldCert ? new X509Certificate(n.oldCert) : null));
  lazy(req, 'generalInfo', () => (n.message ? headerGeneralInfo(n.message) : []));
  return req;
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

