// The `openssl cmp` option model applied to a CmpContext: what each option
// sets, checks and loads, as `openssl cmp` configures its own context. The
// CLI and CmpContext.fromOptions both go through setupContext.
import type { X509Certificate } from 'node:crypto';
import type { CmpContext } from '../context';
import { LogLevel, Option } from '../constants';
import { integerDer, tlv } from '../der';
import { CmpError } from '../errors';
import { binding } from '../native';
import { OID } from '../oids';
import type { OptMap } from './args';
import { CliError, appName, loadBytes, loadCert, loadCerts, loadKey, readPass } from './files';
import { OPTIONS, camel } from './table';

/** Option values by OpenSSL name, read the way openssl reads each kind. */
export class Opts {
  // a pass phrase source is read once: one like stdin or fd: cannot be read twice
  readonly #passes = new Map<string, string | undefined>();
  constructor(private readonly m: OptMap, private readonly warn: (text: string) => void = () => {}) {}
  /** The pass phrase an option's source (pass:, env:, file:, fd:, stdin) gives. */
  pass(name: string): string | undefined {
    if (!this.#passes.has(name)) this.#passes.set(name, readPass(this.str(name), `-${name}`, this.warn));
    return this.#passes.get(name);
  }
  /** A name option as openssl reads it (unknown attribute types skipped with a warning). */
  name(name: string, desc: string): string | undefined {
    const v = this.str(name);
    return v === undefined ? undefined : appName(v, desc, this.warn);
  }
  /** A list option: names separated by commas and/or whitespace. */
  list(name: string): string[] {
    return (this.str(name) ?? '').split(/[,\s]+/).filter(Boolean);
  }
  str(name: string): string | undefined {
    const v = this.m.get(name);
    return typeof v === 'string' && v !== '' ? v : undefined; // an empty value resets the option
  }
  num(name: string): number | undefined {
    const v = this.m.get(name);
    return typeof v === 'number' ? v : undefined;
  }
  flag(name: string): boolean {
    return this.m.get(name) === true;
  }
}

function parseServer(url: string): { tls: boolean; host: string; port: number; path: string } {
  const m = /^(?:(https?):\/\/)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?(\/.*)?$/.exec(url);
  if (!m) throw new CliError(`cannot parse -server URL: ${url}`);
  const tls = m[1] === 'https';
  // an IPv6 address keeps its brackets, as OSSL_HTTP_parse_url leaves them for OpenSSL's BIO lookup
  return { tls, host: m[2], port: m[3] ? Number(m[3]) : tls ? 443 : 80, path: (m[4] ?? '/').replace(/^\//, '') };
}

/** Configures a context from `openssl cmp` options (OpenSSL spelling), as openssl does. */
export function setupContext(ctx: CmpContext, o: Opts, cmd: string | undefined, configFile?: string): void {
  const keypass = o.pass('keypass');
  const otherpass = o.pass('otherpass');
  const verbosity = o.num('verbosity');
  if (verbosity !== undefined) {
    if (verbosity > LogLevel.TRACE) throw new CliError(`Logging verbosity level ${verbosity} out of range (0 .. 8)`);
    ctx.setLogVerbosity(verbosity);
  }
  if (o.str('engine') !== undefined) throw new CliError('-engine is not supported: engines are not available to this implementation');

  if (o.str('server') !== undefined || (!o.flag('use_mock_srv') && o.str('rspin') === undefined && o.str('reqout_only') === undefined)) {
    const server = o.str('server');
    if (server === undefined) throw new CliError('missing -server or -use_mock_srv or -rspin option');
    const s = parseServer(server);
    if (s.tls && !o.flag('tls_used')) throw new CliError('missing -tls_used option since -server URL indicates https');
    ctx.setServer(s.host);
    ctx.setServerPort(s.port);
    ctx.setServerPath(o.str('path') ?? s.path);
    if (o.str('proxy')) ctx.setProxy(o.str('proxy')!);
    if (o.str('no_proxy')) ctx.setNoProxy(o.str('no_proxy')!);
  }
  for (const [name, opt] of [['keep_alive', Option.KEEP_ALIVE], ['msg_timeout', Option.MSG_TIMEOUT], ['total_timeout', Option.TOTAL_TIMEOUT]] as const) {
    if (o.num(name) !== undefined) ctx.setOption(opt, o.num(name)!);
  }
  if (o.flag('tls_used')) {
    const tlsPass = o.pass('tls_keypass');
    ctx.setTls({
      cert: o.str('tls_cert') ? loadCerts(o.str('tls_cert')!, 'TLS client certificate', tlsPass)[0] : undefined,
      key: o.str('tls_key') ? loadKey(o.str('tls_key')!, 'TLS client private key', tlsPass) : undefined,
      extra: o.str('tls_extra') ? loadCerts(o.str('tls_extra')!, 'extra certificates for TLS', otherpass) : undefined,
      trusted: o.str('tls_trusted') ? loadCerts(o.str('tls_trusted')!, 'trusted TLS certificates', otherpass) : undefined,
      host: o.str('tls_host'),
    });
  }

  // server authentication
  if (o.str('srvcert')) ctx.setSrvCert(loadCert(o.str('srvcert')!, 'directly trusted CMP server certificate', otherpass));
  if (o.str('trusted')) ctx.setTrustedStore(loadCerts(o.str('trusted')!, 'trusted certificates', otherpass));
  const untrusted = o.str('untrusted') ? loadCerts(o.str('untrusted')!, 'untrusted certificates', otherpass) : null;
  if (untrusted) ctx.setUntrusted(untrusted);
  if (o.str('expect_sender')) ctx.setExpectedSender(o.name('expect_sender', 'expected sender')!);
  if (o.flag('ignore_keyusage')) ctx.setOption(Option.IGNORE_KEYUSAGE, 1);
  if (o.flag('no_cache_extracerts')) ctx.setOption(Option.NO_CACHE_EXTRACERTS, 1);
  if (o.flag('unprotected_errors')) ctx.setOption(Option.UNPROTECTED_ERRORS, 1);
  if (o.str('out_trusted')) ctx.setCertConfTrusted(loadCerts(o.str('out_trusted')!, 'trusted certs for verifying newly enrolled cert', otherpass));

  // client authentication
  const secret = o.pass('secret');
  if (o.str('ref')) ctx.setReferenceValue(o.str('ref')!);
  if (secret !== undefined) ctx.setSecretValue(secret);
  let clientCert: X509Certificate | undefined;
  if (o.str('cert')) {
    // as openssl: the first certificate is the client's, the rest help build its chain
    const [first, ...chain] = loadCerts(o.str('cert')!, 'CMP client certificate (optionally with chain)', keypass);
    clientCert = first;
    ctx.setCert(clientCert);
    const ownTrusted = o.str('own_trusted') ? loadCerts(o.str('own_trusted')!, 'trusted certs for verifying own CMP signer cert', otherpass) : null;
    ctx.buildCertChain(ownTrusted, chain);
  }
  if (o.str('key')) ctx.setPkey(loadKey(o.str('key')!, 'private key for CMP client certificate', keypass));
  if (secret === undefined && !o.str('cert') && !o.flag('unprotected_requests') && !o.flag('use_mock_srv') && cmd !== undefined) {
    throw new CliError('missing -secret, or -cert and -key, or -unprotected_requests');
  }
  if (o.str('cert') && !o.str('key') && secret === undefined) throw new CliError('missing -key option');
  if (o.str('digest')) ctx.setOption(Option.DIGEST_ALGNID, o.str('digest')!);
  if (o.str('mac')) ctx.setOption(Option.MAC_ALGNID, o.str('mac')!);
  if (o.str('extracerts')) ctx.setExtraCertsOut(loadCerts(o.str('extracerts')!, 'extra certificates for CMP', otherpass));
  if (o.flag('unprotected_requests')) ctx.setOption(Option.UNPROTECTED_SEND, 1);
  if (o.str('recipient')) ctx.setRecipient(o.name('recipient', 'recipient')!);

  // the request
  if (o.str('subject')) ctx.setSubjectName(o.name('subject', 'subject')!);
  if (o.str('issuer')) ctx.setIssuer(o.name('issuer', 'issuer')!);
  if (o.num('days') !== undefined) ctx.setOption(Option.VALIDITY_DAYS, o.num('days')!);
  if (o.str('policies') && o.str('policy_oids')) throw new CliError('cannot have policies both via -policies and via -policy_oids');
  const extSections = [o.str('reqexts'), o.str('policies')].filter((x): x is string => x !== undefined);
  if (extSections.length) {
    if (configFile === undefined) throw new CliError(`cannot load certificate request extension section '${extSections[0]}'`);
    try {
      ctx.setReqExtensions(binding.extensionsFromConfig(configFile, extSections));
    } catch (err) {
      throw new CliError(`cannot load certificate request extension section '${extSections.join(', ')}': ${(err as Error).message}`);
    }
    if (ctx.reqExtensionsHaveSAN() && o.str('sans')) throw new CliError('cannot have Subject Alternative Names both via -reqexts and via -sans');
  }
  if (o.flag('san_nodefault')) ctx.setOption(Option.SUBJECTALTNAME_NODEFAULT, 1);
  for (const san of o.list('sans')) {
    if (san === 'critical') ctx.setOption(Option.SUBJECTALTNAME_CRITICAL, 1);
    else ctx.pushSubjectAltName(san);
  }
  for (const oid of o.list('policy_oids')) ctx.pushPolicy(oid);
  if (o.flag('policy_oids_critical')) ctx.setOption(Option.POLICIES_CRITICAL, 1);
  const enrolling = cmd === 'ir' || cmd === 'cr' || cmd === 'kur';
  let popo = o.num('popo');
  const centralKeyGen = centralKeyGenRequested(o, cmd);
  if (centralKeyGen) {
    if (popo !== undefined && popo > -1) throw new CliError(`-popo value ${popo} is inconsistent with -centralkeygen`);
    if (!o.str('newkeyout')) throw new CliError('-newkeyout not given, nowhere to save centrally generated key');
    popo = -1;
  }
  if (popo !== undefined) ctx.setOption(Option.POPO_METHOD, popo);
  if (o.flag('implicit_confirm')) ctx.setOption(Option.IMPLICIT_CONFIRM, 1);
  if (o.flag('disable_confirm')) ctx.setOption(Option.DISABLE_CONFIRM, 1);
  if (o.num('revreason') !== undefined) ctx.setOption(Option.REVOCATION_REASON, o.num('revreason')!);
  if (o.str('newkey')) ctx.setNewPkey(loadKey(o.str('newkey')!, 'new private key for cert to be enrolled', o.pass('newkeypass'), true));
  if (o.str('csr')) ctx.setP10CSR(loadBytes(o.str('csr')!, 'PKCS#10 CSR'));
  if (o.str('oldcert')) ctx.setOldCert(loadCert(o.str('oldcert')!, 'certificate to be updated/revoked', keypass));
  if (cmd === 'p10cr' && !o.str('csr')) throw new CliError('missing PKCS#10 CSR for p10cr');
  if (cmd === 'rr') {
    const serial = o.str('serial');
    // before OpenSSL 3.2 there is no -serial, and -issuer alone is only a template field
    if (binding.features.validatedSrvCert !== 'native' || (o.str('issuer') === undefined && serial === undefined)) {
      if (!o.str('oldcert') && !o.str('csr')) throw new CliError('missing -oldcert or -issuer and -serial for certificate to be revoked and no -csr given');
    } else if (o.str('issuer') === undefined || serial === undefined) {
      throw new CliError('Must give both -issuer and -serial options or neither');
    } else {
      if (!/^(-?0x[0-9a-f]+|-?\d+)$/i.test(serial)) throw new CliError(`cannot read serial number: '${serial}'`);
      ctx.setSerialNumber(BigInt(serial));
    }
  }
  if (cmd === 'kur' && !o.str('oldcert') && !clientCert) throw new CliError('missing certificate to be updated');
  if (enrolling) {
    if (!o.str('newkey') && !o.str('key') && !o.str('csr') && !o.str('oldcert') && !centralKeyGen) {
      throw new CliError('missing -newkey (or -key) to be certified and no -csr, -oldcert, or -cert given for fallback public key');
    }
    if (!o.str('newkey') && popo !== -1 && popo !== 0) {
      if (o.str('csr')) throw new CliError('no -newkey option given with private key for POPO, -csr option only provides public key');
      if (!o.str('key')) throw new CliError('missing -newkey (or -key) option for POPO');
    }
    if (!o.str('certout') && !o.str('reqout_only')) throw new CliError('-certout not given, nowhere to save newly enrolled certificate');
  }
  // OpenSSL 3.4+ also takes text values and several comma-separated entries
  const geninfoStr = binding.features.certReqTemplate === 'native';
  for (const gi of geninfoStr ? (o.str('geninfo') ?? '').split(',').map((x) => x.trim()).filter(Boolean) : o.list('geninfo')) {
    const m = /^([\w.-]+):(int|str):(.*)$/i.exec(gi);
    if (!m || (m[2].toLowerCase() === 'int' && !/^-?\d+$/.test(m[3])) || (m[2].toLowerCase() === 'str' && !geninfoStr)) {
      throw new CliError(`invalid -geninfo '${gi}': expected OID:int:number${geninfoStr ? ' or OID:str:text' : ''}`);
    }
    const value = m[2].toLowerCase() === 'int' ? integerDer(BigInt(m[3])) : tlv(0x0c, Buffer.from(m[3], 'utf8'));
    ctx.pushGeninfoITAV({ type: m[1], value });
  }
  if (o.str('profile')) ctx.pushGeninfoITAV({ type: OID.certProfile, value: tlv(0x30, tlv(0x0c, Buffer.from(o.str('profile')!, 'utf8'))) });
  if (o.str('infotype') && cmd === 'genm' && !specialInfoType(o.str('infotype')!)) ctx.pushGenmITAV({ type: o.str('infotype')! });
  applyVerifyOptions(ctx, o);
}

/** -centralkeygen, or (OpenSSL 3.5+) -popo -1 implying it, for ir/cr/kur. */
export function centralKeyGenRequested(o: Opts, cmd: string | undefined): boolean {
  if (cmd !== 'ir' && cmd !== 'cr' && cmd !== 'kur') return false;
  return o.flag('centralkeygen') || (o.num('popo') === -1 && binding.features.centralKeyGen === 'native');
}

/** The genm info types that `openssl cmp` of this OpenSSL handles itself, with the function behind each. */
export function specialInfoType(name: string): boolean {
  const f = binding.features;
  switch (name) {
    case 'caCerts':
    case 'rootCaCert':
      return f.validatedSrvCert === 'native';
    case 'crlStatusList':
      return f.crlUpdate === 'native';
    case 'certReqTemplate':
      return f.certReqTemplate === 'native';
    default:
      return false;
  }
}

/** The -verify_* family, applied (as openssl does) to every trust store loaded. */
function applyVerifyOptions(ctx: CmpContext, o: Opts): void {
  const v: Record<string, unknown> = {};
  if (o.str('policy')) v.policy = [o.str('policy')];
  if (o.str('purpose')) v.purpose = o.str('purpose');
  if (o.str('verify_name')) v.verifyName = o.str('verify_name');
  if (o.num('verify_depth') !== undefined) v.depth = o.num('verify_depth');
  if (o.num('auth_level') !== undefined) v.authLevel = o.num('auth_level');
  if (o.num('attime') !== undefined) v.attime = o.num('attime');
  if (o.str('verify_hostname')) v.host = o.str('verify_hostname');
  if (o.str('verify_email')) v.email = o.str('verify_email');
  if (o.str('verify_ip')) v.ip = o.str('verify_ip');
  const flags = [...OPTIONS.values()].filter((x) => x.verifyFlag && o.flag(x.name)).map((x) => x.name);
  if (flags.length) v.flags = flags;
  if (Object.keys(v).length === 0) return;
  try {
    ctx.setVerifyParam(v);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

const BY_CAMEL: ReadonlyMap<string, string> = new Map([...OPTIONS.keys()].map((n) => [camel(n), n]));

/**
 * The option object of CmpContext.fromOptions (`openssl cmp` options in
 * camelCase: `srvcert`, `expectSender`, `implicitConfirm`, ...), checked by
 * name and type before any context exists.
 */
export function optionMap(options: Record<string, string | number | boolean>): OptMap {
  if (options === null || typeof options !== 'object') throw new TypeError('The "options" argument must be an object');
  const m: OptMap = new Map();
  for (const [key, value] of Object.entries(options)) {
    const name = BY_CAMEL.get(key);
    const spec = name === undefined ? undefined : OPTIONS.get(name);
    if (!spec || spec.cmdlineOnly || spec.server) throw new TypeError(`Unknown openssl cmp client option "${key}"`);
    const ok = spec.type === '-' ? typeof value === 'boolean' : spec.type === 's' ? typeof value === 'string' : typeof value === 'number';
    if (!ok) throw new TypeError(`Option "${key}" must be a ${spec.type === '-' ? 'boolean' : spec.type === 's' ? 'string' : 'number'}`);
    m.set(name!, value);
  }
  return m;
}

/** Configures ctx from an optionMap; files are read as openssl reads them. Invalid options: CmpError. */
export function applyOptions(ctx: CmpContext, m: OptMap): void {
  const cmd = m.get('cmd');
  try {
    setupContext(ctx, new Opts(m), typeof cmd === 'string' ? cmd : undefined);
  } catch (err) {
    if (err instanceof CliError) throw new CmpError(err.message, { code: 'ERR_CMP_INVALID_OPTIONS' });
    throw err;
  }
}
