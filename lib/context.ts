import { KeyObject, X509Certificate } from 'node:crypto';
import {
  CertificateInput,
  CertificateListInput,
  CsrInput,
  KeyInput,
  SecretInput,
  checkString,
  keyFromDer,
  toBytes,
  toCert,
  toCertDer,
  toCerts,
  toCertsDer,
  toCsrDer,
  toKeyDer,
  toPrivateKeyDer,
  typeError,
  CrlInput,
  toCrlDer,
} from './convert';
import { CertReqType, Option } from './constants';
import { CmpError } from './errors';
import { oidDer, tlv } from './der';
import { IssuedDetails, LogEntry, MessageFiles, NativeCmpContext, NativeItav, binding } from './native';
import { applyOptions, optionMap } from './options/setup';

export type { LogEntry, MessageFiles } from './native';

/** Sends one DER PKIMessage, returns the DER response. */
export type TransferCallback = (request: Buffer) => Buffer | Uint8Array | Promise<Buffer | Uint8Array>;
/** @internal The bulk engine's entry points, kept off the public surface. */
export const kExecWithKey = Symbol('execWithKey');
/** @internal */
export const kCertConfDetails = Symbol('certConfDetails');
/** @internal */
export const kAbort = Symbol('abort');

/** OSSL_CMP_certConf_cb_t: 0 accepts the new certificate, failure bits reject it. */
export type CertConfCallback = (cert: X509Certificate, failInfo: number, text: string | null) => number | Promise<number>;
export type LogCallback = (entry: LogEntry) => void;

/** Certificate verification parameters, as the openssl apps' -verify_* options set them. */
export interface VerifyOptions {
  policy?: string[];
  purpose?: string;
  verifyName?: string;
  depth?: number;
  authLevel?: number;
  /** Verification time, seconds since the epoch. */
  attime?: number;
  host?: string;
  email?: string;
  ip?: string;
  /** Flag names as the options spell them: 'partial_chain', 'x509_strict', 'no_check_time', ... */
  flags?: string[];
}

/** HTTPS through OpenSSL's own HTTP client, as `openssl cmp -tls_used -tls_*`. */
export interface TlsOptions {
  cert?: CertificateInput;
  key?: KeyInput;
  extra?: CertificateListInput;
  trusted?: CertificateListInput;
  /** Name (or IP address) the server certificate must match; default: the server address. */
  host?: string;
}

/** An InfoTypeAndValue: `type` as a dotted OID, short name or bare InfoType name; `value` the DER infoValue. */
export interface ItavInput {
  type: string;
  value?: Buffer | Uint8Array;
}

export interface Itav {
  type: string;
  name?: string;
  value?: Buffer;
}

export interface TransactionOptions {
  signal?: AbortSignal;
}

export type TryCertReqResult = { done: true; cert: X509Certificate | null } | { done: false; checkAfter: number };

export interface RootCaKeyUpdate {
  newWithNew: X509Certificate | null;
  newWithOld?: X509Certificate;
  oldWithNew?: X509Certificate;
}

/** What OSSL_CMP_get1_certReqTemplate returns: DER CertTemplate and DER Controls (keySpec). */
export interface CertReqTemplate {
  /** DER CertTemplate (RFC 4211); null when the server offers none. */
  certTemplate: Buffer | null;
  /** DER of the key specification (a SEQUENCE OF AttributeTypeAndValue), when sent. */
  keySpec: Buffer | null;
}

/** A request extension: OID or short name, DER of extnValue's content, criticality. */
export interface ExtensionInput {
  oid: string;
  value: Buffer | Uint8Array;
  critical?: boolean;
}

const ALGNID_OPTIONS: ReadonlySet<number> = new Set([Option.OWF_ALGNID, Option.MAC_ALGNID, Option.DIGEST_ALGNID]);

function itavToNative(itav: ItavInput, param: string): NativeItav {
  if (itav === null || typeof itav !== 'object') throw typeError(param, 'an object { type, value? }', itav);
  checkString(itav.type, `${param}.type`);
  const value = itav.value == null ? undefined : toBytes(itav.value, `${param}.value`)!;
  return value === undefined ? { type: itav.type } : { type: itav.type, value };
}

function nameArg(v: string | null | undefined, param: string): string | null {
  return checkString(v ?? null, param, true);
}

/**
 * One OSSL_CMP_CTX. Setters and getters are synchronous; transactions return
 * Promises and run on the addon's own threads.
 */
export class CmpContext {
  readonly #native: NativeCmpContext;

  constructor() {
    this.#native = new binding.CmpContext();
  }

  /**
   * A context configured from `openssl cmp` options in camelCase, as
   * `openssl cmp` configures its own (see also loadConfig).
   */
  static fromOptions(options: Record<string, string | number | boolean>): CmpContext {
    const m = optionMap(options);
    const ctx = new CmpContext();
    try {
      applyOptions(ctx, m);
    } catch (err) {
      ctx.close();
      throw err;
    }
    return ctx;
  }

  /** OSSL_CMP_CTX_reinit: prepares the context for the next transaction. */
  reinit(): void {
    this.#native.reinit();
  }

  /** Frees the context; a transaction in flight is aborted and the context freed when it ends. */
  close(): void {
    this.#native.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  get closed(): boolean {
    return this.#native.isClosed();
  }

  get busy(): boolean {
    return this.#native.isBusy();
  }

  // --- options and logging ------------------------------------------------

  /** OSSL_CMP_CTX_set_option. The *_ALGNID options also take a digest or MAC name. */
  setOption(opt: number, value: number | boolean | string): void {
    if (typeof opt !== 'number') throw typeError('opt', 'a number', opt);
    let v: number;
    if (typeof value === 'boolean') v = value ? 1 : 0;
    else if (typeof value === 'string' && ALGNID_OPTIONS.has(opt)) {
      v = binding.objectNid(value);
      if (v === 0) throw new CmpError(`value: unknown algorithm name '${value}'`, { code: 'ERR_CMP_INVALID_ARGUMENT' });
    } else if (typeof value === 'number') v = value;
    else throw typeError('value', 'a number or boolean', value);
    this.#native.setOption(opt, v);
  }

  /** OSSL_CMP_CTX_get_option. */
  getOption(opt: number): number {
    if (typeof opt !== 'number') throw typeError('opt', 'a number', opt);
    return this.#native.getOption(opt);
  }

  /** OSSL_CMP_CTX_set_log_verbosity. */
  setLogVerbosity(level: number): void {
    this.setOption(Option.LOG_VERBOSITY, level);
  }

  /** OSSL_CMP_CTX_print_errors: hands this thread's OpenSSL error queue to the log callback. */
  printErrors(): void {
    this.#native.printErrors();
  }

  // --- message transfer ---------------------------------------------------

  setServerPath(path: string | null): void {
    this.#native.setServerPath(checkString(path, 'path', true));
  }

  setServer(address: string | null): void {
    this.#native.setServer(checkString(address, 'address', true));
  }

  setServerPort(port: number): void {
    if (typeof port !== 'number') throw typeError('port', 'a number', port);
    this.#native.setServerPort(port);
  }

  setProxy(proxy: string | null): void {
    this.#native.setProxy(checkString(proxy, 'proxy', true));
  }

  setNoProxy(names: string | null): void {
    this.#native.setNoProxy(checkString(names, 'names', true));
  }

  // --- callbacks ------------------------------------------------------------

  /**
   * OSSL_CMP_CTX_set_transfer_cb: `fn` sends each request (DER PKIMessage) and
   * returns the DER response; null restores OpenSSL's HTTP client. A throw, a
   * rejection, a non-buffer or undecodable bytes end the transaction with
   * ERR_CMP_TRANSFER_FAILED, `cause` holding what the callback produced.
   */
  setTransferCallback(fn: TransferCallback | null): void {
    if (fn !== null && typeof fn !== 'function') throw typeError('fn', 'a function or null', fn);
    this.#native.setTransferCallback(fn === null ? null : (req) => Promise.resolve().then(() => fn(req)));
  }

  /** OSSL_CMP_CTX_set_certConf_cb with a JS function (sync or async). */
  setCertConfCallback(fn: CertConfCallback | null): void {
    if (fn !== null && typeof fn !== 'function') throw typeError('fn', 'a function or null', fn);
    this.#native.setCertConfCallback(
      fn === null ? null : (der, failInfo, text) => Promise.resolve().then(() => fn(new X509Certificate(der), failInfo, text)),
    );
  }

  /**
   * OpenSSL's own certConf check (OSSL_CMP_certConf_cb) against these trust anchors, as `-out_trusted`.
   * A certConf callback set afterwards keeps the check and gets its verdict as `failInfo`.
   */
  setCertConfTrusted(certs: CertificateListInput | null): void {
    this.#native.setCertConfTrusted(toCertsDer(certs, 'certs'));
  }

  /** OSSL_CMP_CTX_set_log_cb: every log line of OpenSSL's CMP code, delivered asynchronously. */
  setLogCallback(fn: LogCallback | null): void {
    if (fn !== null && typeof fn !== 'function') throw typeError('fn', 'a function or null', fn);
    this.#native.setLogCallback(fn);
  }

  /** HTTPS for OpenSSL's HTTP client (in place of OSSL_CMP_CTX_set_http_cb); null for plain HTTP. */
  setTls(options: TlsOptions | null): void {
    if (options === null) return this.#native.setTls(null);
    if (typeof options !== 'object') throw typeError('options', 'an object or null', options);
    const opts: { cert?: Buffer; key?: Buffer; extra?: Buffer[]; trusted?: Buffer[]; host?: string } = {};
    if (options.cert != null) opts.cert = toCertDer(options.cert, 'options.cert')!;
    if (options.key != null) opts.key = toPrivateKeyDer(options.key, 'options.key');
    if (options.extra != null) opts.extra = toCertsDer(options.extra, 'options.extra')!;
    if (options.trusted != null) opts.trusted = toCertsDer(options.trusted, 'options.trusted')!;
    if (options.host != null) opts.host = checkString(options.host, 'options.host')!;
    this.#native.setTls(opts);
  }

  /**
   * Verification parameters for every trust store the context holds (CMP
   * trusted store, certConf anchors, TLS roots); set them after the stores.
   */
  setVerifyParam(options: VerifyOptions): void {
    if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
    this.#native.setVerifyParam({ ...options });
  }

  /**
   * Saves requests/responses to files and takes requests/responses from files
   * instead of sending them, one file per message, as `openssl cmp -reqout
   * -rspout -reqin -rspin` (replayed messages are made to pass the nonce and
   * transactionID checks as openssl does).
   */
  setMessageFiles(files: MessageFiles): void {
    if (files === null || typeof files !== 'object') throw typeError('files', 'an object', files);
    this.#native.setMessageFiles({ ...files });
  }

  // --- server authentication ----------------------------------------------

  setSrvCert(cert: CertificateInput | null): void {
    this.#native.setSrvCert(toCertDer(cert, 'cert'));
  }

  setExpectedSender(name: string | null): void {
    this.#native.setExpectedSender(nameArg(name, 'name'));
  }

  /** OSSL_CMP_CTX_set0_trustedStore: the certificates become the trust anchors. */
  setTrustedStore(certs: CertificateListInput | null): void {
    this.#native.setTrustedStore(toCertsDer(certs, 'certs'));
  }

  /** The certificates of the trust store. */
  getTrustedStore(): X509Certificate[] {
    return toCerts(this.#native.getTrustedStore());
  }

  setUntrusted(certs: CertificateListInput | null): void {
    this.#native.setUntrusted(toCertsDer(certs, 'certs'));
  }

  getUntrusted(): X509Certificate[] {
    return toCerts(this.#native.getUntrusted());
  }

  // --- client authentication ----------------------------------------------

  setCert(cert: CertificateInput | null): void {
    this.#native.setCert(toCertDer(cert, 'cert'));
  }

  /** OSSL_CMP_CTX_build_cert_chain: builds the chain of the client certificate for extraCerts. */
  buildCertChain(ownTrusted: CertificateListInput | null, candidates?: CertificateListInput | null): void {
    this.#native.buildCertChain(toCertsDer(ownTrusted, 'ownTrusted'), toCertsDer(candidates, 'candidates'));
  }

  setPkey(key: KeyInput | null): void {
    this.#native.setPkey(key == null ? null : toPrivateKeyDer(key, 'key'));
  }

  setReferenceValue(ref: SecretInput | null): void {
    this.#native.setReferenceValue(toBytes(ref, 'ref'));
  }

  /** The PBM shared secret (a string is taken as its UTF-8 bytes). */
  setSecretValue(secret: SecretInput | null): void {
    const bytes = toBytes(secret, 'secret');
    try {
      this.#native.setSecretValue(bytes);
    } finally {
      if (bytes && typeof secret === 'string') bytes.fill(0);
    }
  }

  setRecipient(name: string | null): void {
    this.#native.setRecipient(nameArg(name, 'name'));
  }

  pushGeninfoITAV(itav: ItavInput): void {
    this.#native.pushGeninfoITAV(itavToNative(itav, 'itav'));
  }

  resetGeninfoITAVs(): void {
    this.#native.resetGeninfoITAVs();
  }

  /** OSSL_CMP_CTX_get0_geninfo_ITAVs (OpenSSL 3.3+). */
  getGeninfoITAVs(): Itav[] {
    return this.#native.getGeninfoITAVs();
  }

  setExtraCertsOut(certs: CertificateListInput | null): void {
    this.#native.setExtraCertsOut(toCertsDer(certs, 'certs'));
  }

  // --- certificate template -----------------------------------------------

  /**
   * OSSL_CMP_CTX_set0_newPkey. Either `(priv, key)` as in C, or `(key)` where
   * `priv` follows from the key (a public key asks for central key generation).
   */
  setNewPkey(privOrKey: boolean | KeyInput | null, key?: KeyInput | null): void {
    if (typeof privOrKey === 'boolean') {
      if (key == null) return this.#native.setNewPkey(privOrKey, null);
      const k = privOrKey ? { der: toPrivateKeyDer(key, 'key'), isPrivate: true } : toKeyDer(key, 'key');
      if (!privOrKey && k.isPrivate) {
        // a private key given for priv = false: OpenSSL then uses only its public part
        return this.#native.setNewPkey(true, k.der);
      }
      return this.#native.setNewPkey(privOrKey, k.der);
    }
    if (privOrKey == null) return this.#native.setNewPkey(true, null);
    const k = toKeyDer(privOrKey, 'key');
    this.#native.setNewPkey(k.isPrivate, k.der);
  }

  /** OSSL_CMP_CTX_get0_newPkey: the new key, else the client key; `priv` asks for a private key. */
  getNewPkey(priv = true): KeyObject | null {
    return keyFromDer(this.#native.getNewPkey(priv), priv);
  }

  setIssuer(name: string | null): void {
    this.#native.setIssuer(nameArg(name, 'name'));
  }

  setSubjectName(name: string | null): void {
    this.#native.setSubjectName(nameArg(name, 'name'));
  }

  pushSubjectAltName(name: string): void {
    this.#native.pushSubjectAltName(checkString(name, 'name')!);
  }

  /** OSSL_CMP_CTX_set0_reqExtensions: DER Extensions, or a list of extensions. */
  setReqExtensions(exts: Buffer | Uint8Array | ExtensionInput[] | null): void {
    if (exts == null) return this.#native.setReqExtensions(null);
    if (Array.isArray(exts)) return this.#native.setReqExtensions(encodeExtensions(exts));
    this.#native.setReqExtensions(toBytes(exts, 'exts'));
  }

  reqExtensionsHaveSAN(): boolean {
    return this.#native.reqExtensionsHaveSAN();
  }

  /** OSSL_CMP_CTX_push0_policy: a certificate policy OID (dotted or short name). */
  pushPolicy(policy: string): void {
    this.#native.pushPolicy(checkString(policy, 'policy')!);
  }

  setOldCert(cert: CertificateInput | null): void {
    this.#native.setOldCert(toCertDer(cert, 'cert'));
  }

  setP10CSR(csr: CsrInput | null): void {
    this.#native.setP10CSR(toCsrDer(csr, 'csr'));
  }

  pushGenmITAV(itav: ItavInput): void {
    this.#native.pushGenmITAV(itavToNative(itav, 'itav'));
  }

  // --- results --------------------------------------------------------------

  /** OSSL_CMP_CTX_get_status: the PKIStatus of the last response, -1 if none. */
  getStatus(): number {
    return this.#native.getStatus();
  }

  getStatusString(): string[] {
    return this.#native.getStatusString();
  }

  /** OSSL_CMP_CTX_get_failInfoCode: the PKIFailureInfo bit field, -1 if none. */
  getFailInfoCode(): number {
    return this.#native.getFailInfoCode();
  }

  /** OSSL_CMP_CTX_snprint_PKIStatus: status, failure info and text in one line. */
  snprintPKIStatus(): string | null {
    return this.#native.snprintPKIStatus();
  }

  getNewCert(): X509Certificate | null {
    return toCert(this.#native.getNewCert());
  }

  getNewChain(): X509Certificate[] {
    return toCerts(this.#native.getNewChain());
  }

  getCaPubs(): X509Certificate[] {
    return toCerts(this.#native.getCaPubs());
  }

  getExtraCertsIn(): X509Certificate[] {
    return toCerts(this.#native.getExtraCertsIn());
  }

  /** OSSL_CMP_CTX_get0_validatedSrvCert (OpenSSL 3.2+). */
  getValidatedSrvCert(): X509Certificate | null {
    return toCert(this.#native.getValidatedSrvCert());
  }

  setTransactionID(id: Buffer | Uint8Array | null): void {
    this.#native.setTransactionID(toBytes(id, 'id'));
  }

  setSenderNonce(nonce: Buffer | Uint8Array | null): void {
    this.#native.setSenderNonce(toBytes(nonce, 'nonce'));
  }

  /** OSSL_CMP_CTX_set1_serialNumber (OpenSSL 3.2+), for revocation. */
  setSerialNumber(serial: bigint | number | string | Buffer | null): void {
    this.#native.setSerialNumber(serial == null ? null : serialBytes(serial));
  }

  // --- transactions -----------------------------------------------------------

  execIR(opts?: TransactionOptions): Promise<X509Certificate> {
    return this.execCertReq(CertReqType.IR, null, opts);
  }

  execCR(opts?: TransactionOptions): Promise<X509Certificate> {
    return this.execCertReq(CertReqType.CR, null, opts);
  }

  execP10CR(opts?: TransactionOptions): Promise<X509Certificate> {
    return this.execCertReq(CertReqType.P10CR, null, opts);
  }

  execKUR(opts?: TransactionOptions): Promise<X509Certificate> {
    return this.execCertReq(CertReqType.KUR, null, opts);
  }

  /** OSSL_CMP_exec_certreq; `crm` is a DER CertReqMsg replacing the one built from the context. */
  execCertReq(type: number, crm?: Buffer | Uint8Array | null, opts?: TransactionOptions): Promise<X509Certificate> {
    checkType(type);
    const der = toBytes(crm, 'crm');
    return this.#run(opts, () => this.#native.execCertReq(type, der)).then((cert) => toCert(cert)!);
  }

  /**
   * @internal A certificate request whose new key is made on the transaction's thread
   * (`keySpec`, e.g. "EC:P-256"); resolves to the certificate's DER, unparsed.
   */
  [kExecWithKey](type: number, keySpec: string | null, opts?: TransactionOptions): Promise<Uint8Array | null> {
    checkType(type);
    return this.#run(opts, () => this.#native.execCertReq(type, null, keySpec));
  }

  /**
   * @internal Aborts the transaction in flight, as an aborted `signal` would, for a caller that
   * keeps no AbortSignal per transaction; nothing when none is running.
   */
  [kAbort](): void {
    this.#native.abort();
  }

  /**
   * @internal A certConf callback that gets, in place of an X509Certificate, the DER and what the
   * transaction's thread made of it and of the new key (its PEM encrypted under `passphrase` when given).
   */
  [kCertConfDetails](fn: ((der: Buffer, failInfo: number, details: IssuedDetails) => number | Promise<number>) | null, passphrase?: string): void {
    this.#native.setIssuedDetails(fn !== null, fn === null ? null : passphrase ?? null);
    this.#native.setCertConfCallback(fn === null ? null : (der, failInfo, _text, details) => Promise.resolve().then(() => fn(der, failInfo, details!)));
  }

  /**
   * OSSL_CMP_try_certreq: one step of an enrollment. Resolves `{ done: false,
   * checkAfter }` while the server says "waiting"; a negative `type` aborts a
   * pending request.
   */
  tryCertReq(type: number, crm?: Buffer | Uint8Array | null, opts?: TransactionOptions): Promise<TryCertReqResult> {
    checkType(type, true);
    const der = toBytes(crm, 'crm');
    return this.#run(opts, () => this.#native.tryCertReq(type, der)).then((r) =>
      r.done ? { done: true, cert: toCert(r.cert) } : { done: false, checkAfter: r.checkAfter! },
    );
  }

  /** OSSL_CMP_exec_RR_ses; revocation warnings count as success. */
  execRR(opts?: TransactionOptions): Promise<void> {
    return this.#run(opts, () => this.#native.execRR());
  }

  execGENM(opts?: TransactionOptions): Promise<Itav[]> {
    return this.#run(opts, () => this.#native.execGENM());
  }

  /** OSSL_CMP_get1_caCerts; emulated by a genm on OpenSSL older than 3.2. */
  getCaCerts(opts?: TransactionOptions): Promise<X509Certificate[]> {
    return this.#run(opts, () => this.#native.getCaCerts()).then(toCerts);
  }

  /** OSSL_CMP_get1_rootCaKeyUpdate; emulated by a genm on OpenSSL older than 3.2. */
  getRootCaKeyUpdate(oldWithOld?: CertificateInput | null, opts?: TransactionOptions): Promise<RootCaKeyUpdate> {
    const der = toCertDer(oldWithOld, 'oldWithOld');
    return this.#run(opts, () => this.#native.getRootCaKeyUpdate(der)).then((r) => {
      const out: RootCaKeyUpdate = { newWithNew: toCert(r.newWithNew) };
      if (r.newWithOld) out.newWithOld = toCert(r.newWithOld)!;
      if (r.oldWithNew) out.oldWithNew = toCert(r.oldWithNew)!;
      return out;
    });
  }

  /**
   * OSSL_CMP_get1_certReqTemplate (OpenSSL 3.4+): asks the server, in a genm,
   * which certificate template and key type to request.
   */
  getCertReqTemplate(opts?: TransactionOptions): Promise<CertReqTemplate> {
    return this.#run(opts, () => this.#native.getCertReqTemplate());
  }

  /**
   * OSSL_CMP_get1_crlUpdate (OpenSSL 3.4+): the newest CRL for `crlCert`'s
   * issuer or distribution point, or the successor of `lastCrl`; resolves to
   * the DER CRL, or null when the server has no newer one.
   */
  getCrlUpdate(crlCert?: CertificateInput | null, lastCrl?: CrlInput | null, opts?: TransactionOptions): Promise<Buffer | null> {
    const cert = toCertDer(crlCert, 'crlCert');
    const crl = toCrlDer(lastCrl, 'lastCrl');
    return this.#run(opts, () => this.#native.getCrlUpdate(cert, crl));
  }

  #run<T>(opts: TransactionOptions | undefined, start: () => Promise<T>): Promise<T> {
    const signal = opts?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw typeError('opts.signal', 'an AbortSignal', signal);
    if (signal?.aborted) {
      return Promise.reject(new CmpError('The CMP transaction was aborted', { code: 'ERR_CMP_ABORTED', cause: signal.reason }));
    }
    let promise: Promise<T>;
    try {
      promise = start();
    } catch (err) {
      // Bad arguments throw at the call; the context's state rejects, as the transaction would.
      const code = (err as { code?: string }).code;
      if (code === 'ERR_CMP_CONTEXT_BUSY' || code === 'ERR_CMP_CONTEXT_CLOSED') return Promise.reject(err);
      throw err;
    }
    if (!signal) return promise;
    const onAbort = () => this.#native.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    return promise.finally(() => signal.removeEventListener('abort', onAbort));
  }
}

function checkType(type: unknown, allowNegative = false): asserts type is number {
  if (typeof type !== 'number') throw typeError('type', 'a CertReqType number', type);
  const valid = Object.values(CertReqType) as number[];
  if (!valid.includes(type) && !(allowNegative && type < 0)) {
    throw new CmpError(`type: ${type} is not a CertReqType (IR, CR, P10CR or KUR)`, { code: 'ERR_CMP_INVALID_ARGUMENT' });
  }
}

function serialBytes(serial: bigint | number | string | Buffer): Buffer {
  if (Buffer.isBuffer(serial)) return serial;
  let n: bigint;
  try {
    n = BigInt(serial);
  } catch {
    throw new CmpError(`serial: '${String(serial)}' is not an integer`, { code: 'ERR_CMP_INVALID_ARGUMENT' });
  }
  if (n < 0n) throw new CmpError('serial: must not be negative', { code: 'ERR_CMP_INVALID_ARGUMENT' });
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return Buffer.from(hex, 'hex');
}

function encodeExtensions(exts: ExtensionInput[]): Buffer {
  return tlv(
    0x30,
    Buffer.concat(
      exts.map((e, i) => {
        if (e === null || typeof e !== 'object') throw typeError(`exts[${i}]`, 'an object { oid, value, critical? }', e);
        checkString(e.oid, `exts[${i}].oid`);
        const value = toBytes(e.value, `exts[${i}].value`)!;
        const parts = [oidDer(e.oid, `exts[${i}].oid`)];
        if (e.critical) parts.push(Buffer.from([0x01, 0x01, 0xff]));
        parts.push(tlv(0x04, value));
        return tlv(0x30, Buffer.concat(parts));
      }),
    ),
  );
}
