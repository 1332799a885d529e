// The addon's native surface, declared once; the public classes wrap it.
import * as fs from 'node:fs';
import type { VerifyOptions } from './context';
import * as path from 'node:path';
import { debuglog } from 'node:util';
import { CmpError } from './errors';

const debug = debuglog('openssl-cmp');

export type Der = Buffer;

export interface NativeItav {
  type: string;
  name?: string;
  value?: Buffer;
}

export declare class NativeCmpContext {
  reinit(): void;
  close(): void;
  abort(): void;
  isBusy(): boolean;
  isClosed(): boolean;
  setOption(opt: number, value: number): void;
  getOption(opt: number): number;
  printErrors(): void;
  setServerPath(path: string | null): void;
  setServer(address: string | null): void;
  setServerPort(port: number): void;
  setProxy(proxy: string | null): void;
  setNoProxy(names: string | null): void;
  setSrvCert(cert: Der | null): void;
  setExpectedSender(name: string | null): void;
  setTrustedStore(certs: Der[] | null): void;
  getTrustedStore(): Der[];
  setUntrusted(certs: Der[] | null): void;
  getUntrusted(): Der[];
  setCert(cert: Der | null): void;
  buildCertChain(ownTrusted: Der[] | null, candidates: Der[] | null): void;
  setPkey(key: Der | null): void;
  setReferenceValue(ref: Buffer | null): void;
  setSecretValue(secret: Buffer | null): void;
  setRecipient(name: string | null): void;
  pushGeninfoITAV(itav: NativeItav): void;
  resetGeninfoITAVs(): void;
  getGeninfoITAVs(): NativeItav[];
  setExtraCertsOut(certs: Der[] | null): void;
  setNewPkey(priv: boolean, key: Der | null): void;
  getNewPkey(priv: boolean): Der | null;
  setIssuer(name: string | null): void;
  setSubjectName(name: string | null): void;
  pushSubjectAltName(name: string): void;
  setReqExtensions(exts: Der | null): void;
  reqExtensionsHaveSAN(): boolean;
  pushPolicy(oid: string): void;
  setOldCert(cert: Der | null): void;
  setP10CSR(csr: Der | null): void;
  pushGenmITAV(itav: NativeItav): void;
  getStatus(): number;
  getStatusString(): string[];
  getFailInfoCode(): number;
  snprintPKIStatus(): string | null;
  getNewCert(): Der | null;
  getNewChain(): Der[];
  getCaPubs(): Der[];
  getExtraCertsIn(): Der[];
  getValidatedSrvCert(): Der | null;
  setTransactionID(id: Buffer | null): void;
  setSenderNonce(nonce: Buffer | null): void;
  setSerialNumber(serial: Buffer | null): void;
  setTransferCallback(fn: ((req: Buffer) => Promise<unknown>) | null): void;
  setCertConfCallback(fn: ((cert: Buffer, failInfo: number, text: string | null, details?: IssuedDetails) => Promise<unknown>) | null): void;
  /** The certConf callback gets the issued certificate's details (and the new key's PEM, encrypted under passphrase). */
  setIssuedDetails(on: boolean, passphrase?: string | null): void;
  setCertConfTrusted(certs: Der[] | null): void;
  setLogCallback(fn: ((entry: LogEntry) => void) | null): void;
  setVerifyParam(opts: NativeVerifyParam): void;
  setMessageFiles(opts: MessageFiles): void;
  setTls(opts: { cert?: Der; key?: Der; extra?: Der[]; trusted?: Der[]; host?: string } | null): void;
  /** keySpec: a new key made on the transaction's thread ("EC:P-256", "RSA:2048", "ED25519"). */
  execCertReq(type: number, crm: Der | null, keySpec?: string | null): Promise<Uint8Array | null>;
  tryCertReq(type: number, crm: Der | null): Promise<{ done: boolean; cert?: Uint8Array | null; checkAfter?: number }>;
  execRR(): Promise<void>;
  execGENM(): Promise<NativeItav[]>;
  getCaCerts(): Promise<Der[]>;
  getRootCaKeyUpdate(oldWithOld: Der | null): Promise<{ newWithNew: Der | null; newWithOld?: Der; oldWithNew?: Der }>;
  getCertReqTemplate(): Promise<{ certTemplate: Buffer | null; keySpec: Buffer | null }>;
  getCrlUpdate(crlCert: Der | null, lastCrl: Buffer | null): Promise<Buffer | null>;
}

/** openssl cmp -reqout/-rspout/-reqin/-rspin, one file per message, in order. */
export interface MessageFiles {
  reqout?: string[];
  rspout?: string[];
  reqin?: string[];
  rspin?: string[];
  reqinNewTid?: boolean;
}

export interface LogEntry {
  level: number;
  component: string;
  message: string;
  file?: string;
  line?: number;
}

/** X509_VERIFY_PARAM settings, as the openssl apps' -verify_* options name them. */
export type NativeVerifyParam = VerifyOptions;

/** A certificate request as the server's callbacks see it: DER pieces. */
export interface NativeCertReq {
  type: 'ir' | 'cr' | 'p10cr' | 'kur';
  certReqId: number;
  subject: Buffer | null;
  publicKey: Buffer | null;
  /** publicKey decodes to the key the certificate is for (checked on the worker; never with centralKeyGen). */
  publicKeyUsable: boolean;
  extensions: Buffer | null;
  csr: Buffer | null;
  oldCertId: { issuer: Buffer | null; serial: Buffer | null } | null;
  oldCert: Buffer | null;
  notBefore: number | null;
  notAfter: number | null;
  centralKeyGen: boolean;
  message: Buffer | null;
}

/** One line of OpenSSL's log from a server context. */
export interface ServerLogLine {
  level: number;
  component: string;
  message: string;
  file?: string;
  line?: number;
}

/** What the server's OpenSSL callbacks hand to JS, by kind. */
export type NativeDispatchArgs =
  | [kind: 'certReq' | 'pollReq', info: NativeCertReq]
  | [kind: 'rr', info: { issuer: Buffer | null; serial: Buffer | null }]
  | [kind: 'genm', info: { itavs: NativeItav[] }]
  | [kind: 'certConf', info: { certReqId: number; certHash: Buffer | null; status: string | null }]
  | [kind: 'error', info: { status: string; errorCode: number; details: string[] }]
  | [kind: 'log', info: ServerLogLine];

/** CmpServer options after conversion: DER and bytes, as the addon reads them. */
export interface NativeServerOptions {
  ref?: Buffer | null;
  secret?: Buffer | null;
  cert?: Der | null;
  key?: Der | null;
  trusted?: Der[];
  untrusted?: Der[];
  grantImplicitConfirm: boolean;
  acceptUnprotected: boolean;
  acceptRaVerified: boolean;
  sendUnprotectedErrors: boolean;
  sendUnprotected: boolean;
  acceptUnprotectedErrors: boolean;
  transactionTimeout?: number;
  maxTransactions?: number;
  /** OpenSSL's log lines up to this level go to the dispatcher as 'log'; -1: none. */
  logVerbosity?: number;
}

export declare class NativeCmpServer {
  constructor(options: NativeServerOptions, dispatch: (...args: NativeDispatchArgs) => Promise<unknown>);
  handle(request: Buffer): Promise<Buffer>;
  openTransactions(): number;
  retained(): { sessions: number; untrustedCerts: number };
  cachedIntermediates(): number;
  close(): void;
}

/** An issuer's certificate and key, parsed once (certIssuer). */
export type IssuerHandle = { readonly __issuer: unique symbol };

export interface IssueOptions {
  issuer?: IssuerHandle;
  issuerCert?: Buffer;
  issuerKey?: Buffer;
  publicKey: Buffer;
  /** publicKey is a SubjectPublicKeyInfo decoded already: taken over as it is. */
  keyChecked?: boolean;
  /** The certificate goes into a CmpServer answer: kept, so that the thread sending it need not parse it again. */
  handOver?: boolean;
  subject: string | Buffer;
  serial: Buffer;
  notBefore: number;
  notAfter: number;
  extensions?: Buffer | null;
  ca?: boolean;
}

export type FeatureMode = 'native' | 'emulated' | false;

/** What the OpenSSL the addon runs on offers, and whether it is the addon's own. */
export interface Features {
  readonly [name: string]: FeatureMode | boolean;
  readonly caCerts: FeatureMode;
  readonly rootCaKeyUpdate: FeatureMode;
  readonly certReqTemplate: FeatureMode;
  readonly crlUpdate: FeatureMode;
  readonly centralKeyGen: FeatureMode;
  readonly validatedSrvCert: FeatureMode;
  readonly serialNumber: FeatureMode;
  readonly geninfoITAVs: FeatureMode;
  readonly noCacheExtraCerts: FeatureMode;
  /** True when the addon carries its own OpenSSL instead of using Node's. */
  readonly bundled: boolean;
}

/** What the transaction's thread made of an issued certificate and its new key. */
export interface IssuedDetails {
  pem: string;
  serial: string;
  subject: string;
  issuer: string;
  /** The authority key identifier, hex; '' without one. */
  akid: string;
  notAfter: string;
  sha256: string;
  keyPem?: string;
}

/** What a writeFilesDurably call left unflushed, and the descriptors its flushes go through. */
export type FlushToken = { readonly __flushToken: unique symbol };

/** One file of writeFilesDurably: its bytes, or a durable file to hard-link. */
export interface DurableFile {
  tmp: string;
  file: string;
  data?: Uint8Array | string;
  link?: string;
  mode?: number;
}

export interface NativeBinding {
  CmpContext: typeof NativeCmpContext;
  CmpServer: typeof NativeCmpServer;
  issueCertificate(options: IssueOptions): Buffer;
  certIssuer(issuerCert: Buffer | null, issuerKey: Buffer): IssuerHandle;
  nameFromDer(der: Buffer): string;
  nameToDer(name: string): Buffer;
  issueCrl(options: {
    issuer: IssuerHandle; thisUpdate: number; nextUpdate: number; crlNumber: number;
    revoked: Array<{ serial: Buffer; date: number }>;
  }): Buffer;
  readConfig(path: string): Record<string, Record<string, string>>;
  extensionsFromConfig(path: string, sections: string[]): Buffer;
  loadProvider(name: string): void;
  setProviderSearchPath(path: string): void;
  setDefaultProperties(query: string): void;
  randLoadFile(path: string): boolean;
  randWriteFile(path: string): boolean;
  /** Zeroes arguments in the process's own command line; null, or why it could not. */
  blankArgs(tail: string[], blanks: Array<[number, number]>): string | null;
  parsePkcs12(der: Buffer, passphrase: string): { key: Buffer | null; cert: Buffer | null; ca: Buffer[] };
  createPkcs12(key: Buffer, cert: Buffer, chain: Buffer[], passphrase: string, name?: string): Promise<Buffer>;
  /** Writes each entry under `tmp`, flushes, renames to `file`, flushes again with syncPaths. */
  writeFilesDurably(entries: DurableFile[], syncPaths: string[]): Promise<void>;
  /** As above, the renames and syncPaths left unflushed: the token's next call flushes them with its own data. */
  writeFilesDurably(entries: DurableFile[], syncPaths: string[], pending: FlushToken | null, leave: true): Promise<FlushToken>;
  /** `pending`'s renames are flushed by this call's first flush (with no entries, by its only one). */
  writeFilesDurably(entries: DurableFile[], syncPaths: string[], pending: FlushToken | null, leave?: false): Promise<void>;
  opensslVersion: string;
  features: Features;
  setErrorClass(cls: new (message: string) => Error): void;
  objectNid(name: string): number;
  objectOid(name: string): string | null;
  setMaxThreads(n: number): void;
  getMaxThreads(): number;
}

/** Which OpenSSL a build uses: the Node process's own, or one linked into the addon. */
export type OpenSslMode = 'node' | 'bundled';

// Node's OpenSSL is usable where the process exports its CMP symbols: not in
// Windows node.exe, not in Electron (BoringSSL).
function modes(): OpenSslMode[] {
  const wanted = process.env.OPENSSL_CMP_OPENSSL;
  if (wanted === 'node' || wanted === 'bundled') return [wanted];
  if (wanted) throw new Error(`openssl-cmp: OPENSSL_CMP_OPENSSL must be "node" or "bundled", not ${JSON.stringify(wanted)}`);
  return process.platform === 'win32' || process.versions.electron ? ['bundled'] : ['node', 'bundled'];
}

/**
 * Where the builds of the allowed modes may be, in the order they are tried:
 * a from-source build (a deliberate `npm rebuild`) before any prebuild.
 */
export function addonCandidates(root: string, modes: OpenSslMode[]): Array<{ mode: OpenSslMode; file: string }> {
  const gyp = (dir: string) => (mode: OpenSslMode) =>
    path.join(root, 'build', dir, mode === 'bundled' ? 'openssl_cmp_bundled.node' : 'openssl_cmp.node');
  const prebuild = (mode: OpenSslMode) =>
    path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, mode === 'bundled' ? 'openssl-cmp.bundled.node' : 'openssl-cmp.node');
  return [gyp('Release'), gyp('Debug'), prebuild].flatMap((where) => modes.map((mode) => ({ mode, file: where(mode) })));
}

function load(): { binding: NativeBinding; file: string } {
  const root = path.join(__dirname, '..');
  const failures: string[] = [];
  // a build of one's own, e.g. the sanitizer job's Debug build
  const chosen = process.env.OPENSSL_CMP_ADDON;
  if (chosen) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return { binding: require(path.resolve(chosen)) as NativeBinding, file: path.resolve(chosen) };
  }
  const allowed = modes();
  const present = addonCandidates(root, allowed).filter((c) => fs.existsSync(c.file));
  for (const mode of allowed) {
    if (!present.some((c) => c.mode === mode)) {
      failures.push(`${mode}: no build in build/ and no prebuild in prebuilds/${process.platform}-${process.arch}/`);
    }
  }
  for (const { mode, file } of present) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return { binding: require(file) as NativeBinding, file };
    } catch (err) {
      failures.push(`${mode}: ${path.relative(root, file)}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  const hints = [
    `openssl-cmp: could not load its native addon for ${process.platform}-${process.arch}, Node ${process.version} (N-API ${process.versions.napi}).`,
    ...failures.map((f) => `  - ${f}`),
    'Possible fixes:',
    '  - build it from source: npm rebuild openssl-cmp --build-from-source (needs python3, make and a C++ compiler)',
    "  - Node's OpenSSL serves only where the process exports OpenSSL's CMP symbols (official Linux and macOS builds do; Windows node.exe and Electron do not)",
    '  - the bundled build: npm rebuild openssl-cmp --build-from-source --openssl=bundled --openssl_dir=<a no-shared OpenSSL 3.5 build>; OPENSSL_CMP_OPENSSL=node|bundled picks one',
  ];
  throw new Error(hints.join('\n'));
}

const loaded = load();
export const binding: NativeBinding = loaded.binding;
/** The file the addon was loaded from. */
export const addonPath: string = loaded.file;
debug('loaded %s: %s OpenSSL, %s', addonPath, binding.features.bundled ? 'bundled' : "Node's", binding.opensslVersion);
// Native code throws instances of the facade's error class, whichever module loads first.
binding.setErrorClass(CmpError);
