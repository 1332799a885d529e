// The addon's native surface, declared once; the public classes wrap it.
import * as path from 'node:path';
import { CmpError } from './errors';

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
  setCertConfCallback(fn: ((cert: Buffer, failInfo: number, text: string | null) => Promise<unknown>) | null): void;
  setCertConfTrusted(certs: Der[] | null): void;
  setLogCallback(fn: ((entry: LogEntry) => void) | null): void;
  setVerifyParam(opts: NativeVerifyParam): void;
  setMessageFiles(opts: MessageFiles): void;
  setTls(opts: { cert?: Der; key?: Der; extra?: Der[]; trusted?: Der[]; host?: string } | null): void;
  execCertReq(type: number, crm: Der | null): Promise<Der | null>;
  tryCertReq(type: number, crm: Der | null): Promise<{ done: boolean; cert?: Der | null; checkAfter?: number }>;
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
export interface NativeVerifyParam {
  policy?: string[];
  purpose?: string;
  verifyName?: string;
  depth?: number;
  authLevel?: number;
  attime?: number;
  host?: string;
  email?: string;
  ip?: string;
  flags?: string[];
}

/** A certificate request as the server's callbacks see it: DER pieces. */
export interface NativeCertReq {
  type: 'ir' | 'cr' | 'p10cr' | 'kur';
  certReqId: number;
  subject: Buffer | null;
  publicKey: Buffer | null;
  extensions: Buffer | null;
  csr: Buffer | null;
  oldCertId: { issuer: Buffer | null; serial: Buffer | null } | null;
  oldCert: Buffer | null;
  notBefore: number | null;
  notAfter: number | null;
  centralKeyGen: boolean;
}

/** What the server's OpenSSL callbacks hand to JS, by kind. */
export type NativeDispatchArgs =
  | [kind: 'certReq' | 'pollReq', info: NativeCertReq]
  | [kind: 'rr', info: { issuer: Buffer | null; serial: Buffer | null }]
  | [kind: 'genm', info: { itavs: NativeItav[] }]
  | [kind: 'certConf', info: { certReqId: number; certHash: Buffer | null; status: string | null }]
  | [kind: 'error', info: { status: string; errorCode: number; details: string[] }];

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
  maxPending?: number;
}

export declare class NativeCmpServer {
  constructor(options: NativeServerOptions, dispatch: (...args: NativeDispatchArgs) => Promise<unknown>);
  handle(request: Buffer): Promise<Buffer>;
  openTransactions(): number;
  retained(): { sessions: number; untrustedCerts: number };
  close(): void;
}

export interface IssueOptions {
  issuerCert?: Buffer;
  issuerKey: Buffer;
  publicKey: Buffer;
  subject: string | Buffer;
  serial: Buffer;
  notBefore: number;
  notAfter: number;
  extensions?: Buffer | null;
  ca?: boolean;
}

export type FeatureMode = 'native' | 'emulated' | false;

export interface NativeBinding {
  CmpContext: typeof NativeCmpContext;
  CmpServer: typeof NativeCmpServer;
  issueCertificate(options: IssueOptions): Buffer;
  nameFromDer(der: Buffer): string;
  nameToDer(name: string): Buffer;
  issueCrl(options: {
    issuerCert: Der; issuerKey: Der; thisUpdate: number; nextUpdate: number; crlNumber: number;
    revoked: Array<{ serial: Buffer; date: number }>;
  }): Buffer;
  readConfig(path: string): Record<string, Record<string, string>>;
  extensionsFromConfig(path: string, sections: string[]): Buffer;
  loadProvider(name: string): void;
  setProviderSearchPath(path: string): void;
  setDefaultProperties(query: string): void;
  randLoadFile(path: string): boolean;
  randWriteFile(path: string): boolean;
  parsePkcs12(der: Buffer, passphrase: string): { key: Buffer | null; cert: Buffer | null; ca: Buffer[] };
  opensslVersion: string;
  features: Record<string, FeatureMode>;
  setErrorClass(cls: new (message: string) => Error): void;
  objectNid(name: string): number;
  objectOid(name: string): string | null;
  setMaxThreads(n: number): void;
  getMaxThreads(): number;
}

function load(): NativeBinding {
  const root = path.join(__dirname, '..');
  const failures: string[] = [];
  // a build of one's own, e.g. the sanitizer job's Debug build
  const chosen = process.env.OPENSSL_CMP_ADDON;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (chosen ? require(path.resolve(chosen)) : require('node-gyp-build')(root)) as NativeBinding;
  } catch (err) {
    failures.push((err as Error).message);
  }
  const hints = [
    `openssl-cmp: could not load its native addon for ${process.platform}-${process.arch}, Node ${process.version} (N-API ${process.versions.napi}).`,
    ...failures.map((f) => `  - ${f.split('\n')[0]}`),
    'Possible fixes:',
    '  - build it from source: npm rebuild openssl-cmp (needs python3, make and a C++ compiler)',
    '  - this Node must export OpenSSL\'s CMP symbols (official Linux and macOS builds do; Windows node.exe and Electron do not)',
  ];
  throw new Error(hints.join('\n'));
}

export const binding: NativeBinding = load();
// Native code throws instances of the facade's error class, whichever module loads first.
binding.setErrorClass(CmpError);
