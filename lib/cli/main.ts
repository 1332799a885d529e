// `openssl-cmp`: runs `openssl cmp` command lines and config files unchanged.
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import { CmpContext } from '../context';
import { toCrlDer } from '../convert';
import { OID } from '../oids';
import { CertReqType, FailInfo } from '../constants';
import type { ItavInput } from '../context';
import { CmpError } from '../errors';
import { binding } from '../native';
import { CmpServer, CmpServerHandlers, CmpServerOptions, HandlerResult } from '../server';
import { TestCa } from '../test-ca';
import { ConfigUsageError, OptMap, UsageError, parseArgs } from '../options/args';
import { optionsFromConfig, readConfigFile, sectionProblem } from '../options/config';
import { sequenceOf, tlv } from '../der';
import { MockRefusal, certIssuerDer, certReqTemplateFor, crlUpdateFor, mockCrl, profileAccepted, rootUpdateApplies } from './mock-answers';
import { CliError, loadBytes, loadCert, loadCerts, loadKey, saveCerts } from '../options/files';
import { Opts, centralKeyGenRequested, setupContext, specialInfoType } from '../options/setup';
import { helpText } from '../options/table';
import { mockServerLog } from './server-log';

const PROG = 'cmp';
const DEFAULT_CONFIG = '/usr/lib/ssl/openssl.cnf';

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const defaultIo: CliIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

function fail(io: CliIo, text: string): number {
  io.err(`CMP error: ${text}\n`);
  return 1;
}

/** Runs one `openssl cmp` command line; resolves to the exit status. */
export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const info = (t: string) => io.err(`CMP info: ${t}\n`);
  if (argv.length === 0) {
    io.err(helpText(PROG));
    return 1;
  }
  if (argv[0] === 'bulk') return (await import('./bulk')).bulkMain(argv.slice(1), io);
  try {
    // -config and -section take effect before anything else, as in openssl
    let configFile: string | undefined;
    let section = 'cmp';
    for (let i = 0; i < argv.length - 1; i++) {
      if (argv[i] === '-config') configFile = argv[++i];
      else if (argv[i] === '-section') section = argv[++i];
    }
    if (section === '') section = 'default';
    const merged: OptMap = new Map();
    let loadedConfig: string | undefined;
    const file = configFile ?? process.env.OPENSSL_CONF ?? DEFAULT_CONFIG;
    if (file !== '' && (configFile !== undefined || process.env.OPENSSL_CONF !== undefined || fs.existsSync(file))) {
      info(`using section(s) '${section}' of OpenSSL configuration file '${file}'`);
      let conf;
      try {
        conf = readConfigFile(file);
      } catch (err) {
        return fail(io, `cannot load config file '${file}': ${(err as Error).message}`);
      }
      const problem = sectionProblem(conf, section, file);
      if (problem?.fatal) return fail(io, problem.text);
      if (problem) info(problem.text);
      for (const [k, v] of optionsFromConfig(conf, section)) merged.set(k, v);
      loadedConfig = file;
    }
    for (const [k, v] of parseArgs(argv, PROG)) merged.set(k, v);
    const o = new Opts(merged, (t) => io.err(`${t}\n`));
    if (o.flag('help')) {
      io.err(helpText(PROG));
      return 0;
    }
    try {
      if (o.str('provider-path')) binding.setProviderSearchPath(o.str('provider-path')!);
      for (const name of (o.str('provider') ?? '').split('\n').filter(Boolean)) binding.loadProvider(name);
      if (o.str('propquery')) binding.setDefaultProperties(o.str('propquery')!);
    } catch (err) {
      io.err(`${PROG}: ${(err as Error).message}\nHint: use -provider-path option or OPENSSL_MODULES environment variable.\n`);
      return 1;
    }
    for (const file of (o.str('rand') ?? '').split(':').filter(Boolean)) {
      if (!binding.randLoadFile(file)) return fail(io, `Can't load ${file} into RNG`);
    }
    const status = await runMode(o, io, loadedConfig);
    const writerand = o.str('writerand');
    if (writerand && !binding.randWriteFile(writerand)) {
      io.err(`Cannot write random bytes:\n`);
      return 1;
    }
    return status;
  } catch (err) {
    if (err instanceof ConfigUsageError) {
      // openssl then prints a hint and, by a quirk of its exit logic, exits with 0
      io.err(`${err.message}\nUse -help for summary.\n`);
      return 0;
    }
    if (err instanceof UsageError) {
      io.err(`${err.message}\n`);
      return 1;
    }
    if (err instanceof CliError || err instanceof CmpError) return fail(io, err.message);
    throw err;
  }
}

async function runMode(o: Opts, io: CliIo, loadedConfig: string | undefined): Promise<number> {
  try {
    if (o.str('port') !== undefined) {
      if (o.flag('tls_used')) return fail(io, '-tls_used option not supported with -port option');
      if (o.str('server') !== undefined || o.flag('use_mock_srv')) return fail(io, 'The -port option excludes -server and -use_mock_srv');
      return await serve(o, io);
    }
    return await runClient(o, io, loadedConfig);
  } catch (err) {
    // failures of the run itself; -writerand is still honoured after them
    if (err instanceof CliError || err instanceof CmpError) return fail(io, err.message);
    throw err;
  }
}

// --- the mock server, here issuing real certificates when no -rsp_cert is given

async function mockServer(o: Opts, extra: Partial<CmpServerOptions> = {}): Promise<CmpServer> {
  const rspCert = o.str('rsp_cert') ? loadCert(o.str('rsp_cert')!, 'certificate to be returned by the mock server') : undefined;
  const rspExtra = o.str('rsp_extracerts') ? loadCerts(o.str('rsp_extracerts')!, 'CMP extra certificates for mock server') : undefined;
  const rspCaPubs = o.str('rsp_capubs') ? loadCerts(o.str('rsp_capubs')!, 'caPubs certificates for mock server') : undefined;
  let polls = o.num('poll_count') ?? 0;
  const checkAfter = o.num('check_after') ?? 1;
  const status = o.num('pkistatus') ?? 0;
  const failBits = (o.num('failurebits') ?? 0) | (o.num('failure') !== undefined ? 1 << o.num('failure')! : 0);
  const text = o.str('statusstring');
  const sendError = o.flag('send_error');
  const answer = (issue: () => HandlerResult | Promise<HandlerResult>): HandlerResult | Promise<HandlerResult> => {
    if (sendError) throw new Error('mock server is configured to send an error');
    if (status !== 0 && status !== 1) return { status, failInfo: failBits, text };
    return issue();
  };
  const rspKey = o.str('rsp_key') ? loadKey(o.str('rsp_key')!, 'private key for enrollment cert', o.pass('rsp_keypass')) : undefined;
  const rspCrl = o.str('rsp_crl') ? mockCrl(toCrlDer(loadBytes(o.str('rsp_crl')!, 'CRL to be returned by the mock server'), '-rsp_crl')!) : undefined;
  const rootUpdate = ['rsp_newwithnew', 'rsp_newwithold', 'rsp_oldwithnew'].map((n) => (o.str(n) ? loadCert(o.str(n)!, `-${n} certificate`) : undefined));
  const refCert = o.str('ref_cert') ? loadCert(o.str('ref_cert')!, 'reference cert to be expected by the mock server') : undefined;
  // the certReqTemplate answer depends on the reference certificate only: built once
  const refTemplate = refCert && certReqTemplateFor(refCert);
  // rr and kur are accepted only for the reference certificate: -ref_cert from OpenSSL 3.2 on,
  // before that the certificate the mock hands out
  const expected = binding.features.validatedSrvCert === 'native' ? refCert : rspCert;
  const expectedIssuer = expected && binding.nameFromDer(certIssuerDer(expected));
  const notRef = (issuer: string, serial: bigint) =>
    expected !== undefined && ((issuer !== '' && issuer !== expectedIssuer) || BigInt(`0x${expected.serialNumber}`) !== serial);
  const base: CmpServerHandlers | undefined = rspCert ? undefined : (await TestCa.create()).handlers();
  const handlers: CmpServerHandlers = {
    certReq: async (req) => {
      if (polls > 0) {
        polls--;
        return { waiting: true, checkAfter };
      }
      if (req.type === 'kur' && expected && !req.csr) {
        if (!req.oldCertId) return { status: 2, failInfo: 1 << FailInfo.badCertId, text: 'missing certid' };
        if (notRef(req.oldCertId.issuer, req.oldCertId.serial)) return { status: 2, failInfo: 1 << FailInfo.badCertId, text: 'wrong certid' };
      }
      if (binding.features.geninfoITAVs === 'native' && !profileAccepted(req.type, req.generalInfo)) {
        return { status: 2, failInfo: 1 << FailInfo.badCertTemplate, text: 'unexpected certProfile' };
      }
      return answer(() => {
        if (!rspCert) return base!.certReq!(req);
        if (req.centralKeyGen && !rspKey) return { status: 2, failInfo: 1 << FailInfo.badCertTemplate, text: 'no -rsp_key for central key generation' };
        return { cert: rspCert, chain: rspExtra, caPubs: rspCaPubs, key: req.centralKeyGen ? rspKey : undefined };
      });
    },
    rr: (req) => {
      // an rr derived from a CSR names no issuer and serial and is taken as it is
      const fromCsr = req.issuer === '' && req.serial === 0n;
      if (!fromCsr && notRef(req.issuer, req.serial)) return { status: 2, failInfo: 1 << FailInfo.badCertId, text: 'wrong certificate to revoke' };
      return answer(() => (rspCert ? { status: 0 } : (base!.rr!(req) as HandlerResult)));
    },
    genm: async (genm) => {
      if (sendError) throw new Error('mock server is configured to send an error');
      // as openssl's mock: one info type per genm, answered from the -rsp_* options
      if (!base && genm.itavs.length > 1) throw new MockRefusal('error processing message: more than one ITAV');
      const out: ItavInput[] = [];
      for (const itav of genm.itavs) {
        if (itav.type === OID.caCerts && (rspCaPubs || !base)) {
          out.push({ type: OID.caCerts, value: rspCaPubs ? sequenceOf(rspCaPubs.map((c) => c.raw)) : undefined });
        } else if (itav.type === OID.rootCaCert && (rootUpdate[0] || !base)) {
          const applies = rootUpdate[0] && rootUpdateApplies(itav.value, rootUpdate[0]);
          out.push({ type: OID.rootCaKeyUpdate, value: applies ? rootCaKeyUpdateDer(rootUpdate) : undefined });
        } else if (itav.type === OID.crlStatusList && (rspCrl || !base)) {
          const crl = crlUpdateFor(itav.value, rspCrl);
          out.push({ type: OID.crls, value: crl ? tlv(0x30, crl) : undefined });
        } else if (itav.type === OID.certReqTemplate && (refCert || !base)) {
          if (!refCert) throw new MockRefusal('no reference certificate for a certReqTemplate');
          out.push({ type: OID.certReqTemplate, value: refTemplate });
        } else if (base?.genm) {
          out.push(...(await base.genm({ itavs: [itav] })));
        } else {
          out.push(itav);
        }
      }
      return out;
    },
  };
  const keypass = o.pass('srv_keypass');
  const server = new CmpServer({
    ref: o.str('srv_ref'),
    secret: o.pass('srv_secret'),
    cert: o.str('srv_cert') ? loadCert(o.str('srv_cert')!, 'certificate of the mock server', keypass) : undefined,
    key: o.str('srv_key') ? loadKey(o.str('srv_key')!, 'private key of the mock server', keypass) : undefined,
    trusted: o.str('srv_trusted') ? loadCerts(o.str('srv_trusted')!, 'trusted certificates for mock server') : undefined,
    untrusted: o.str('srv_untrusted') ? loadCerts(o.str('srv_untrusted')!, 'untrusted certificates for mock server') : undefined,
    grantImplicitConfirm: o.flag('grant_implicitconf'),
    sendUnprotected: o.flag('send_unprotected'),
    sendUnprotectedErrors: o.flag('send_unprot_err'),
    acceptUnprotected: o.flag('accept_unprotected'),
    acceptUnprotectedErrors: o.flag('accept_unprot_err'),
    acceptRaVerified: o.flag('accept_raverified'),
    handlers,
    ...extra,
  });
  return server;
}

// RootCaKeyUpdateContent ::= SEQUENCE { newWithNew, newWithOld [0] OPTIONAL, oldWithNew [1] OPTIONAL }
function rootCaKeyUpdateDer([newWithNew, newWithOld, oldWithNew]: Array<X509Certificate | undefined>): Buffer {
  return tlv(0x30, Buffer.concat([newWithNew!.raw, ...(newWithOld ? [tlv(0xa0, newWithOld.raw)] : []), ...(oldWithNew ? [tlv(0xa1, oldWithNew.raw)] : [])]));
}

async function serve(o: Opts, io: CliIo): Promise<number> {
  if (o.str('srv_secret') === undefined && o.str('srv_key') === undefined) {
    throw new CliError('must give both -srv_cert and -srv_key options or -srv_secret');
  }
  const port = Number(o.str('port'));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`invalid port '${o.str('port')}'`);
  const metricsPath = o.str('metrics_path');
  const server = await mockServer(o, {
    ...mockServerLog(io.err, o.num('verbosity')),
    onTransaction: o.flag('json_events') ? (e) => io.out(`${JSON.stringify(e)}\n`) : undefined,
    metrics: metricsPath !== undefined,
  });
  const maxMsgs = o.num('max_msgs') ?? 0;
  let handled = 0;
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const handle = server.handle.bind(server);
  server.handle = async (req, meta) => {
    try {
      return await handle(req, meta);
    } finally {
      if (maxMsgs > 0 && ++handled >= maxMsgs) setImmediate(stop);
    }
  };
  // openssl's mock takes an empty path or 'pkix/'
  const { port: actual } = await server.listen({ host: '::', port, path: ['/', '/pkix/'], metricsPath });
  io.out(`ACCEPT [::]:${actual} PID=${process.pid}\n`);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await stopped;
  await server.close();
  return 0;
}

// --- the client

const COMMANDS: Record<string, number | 'rr' | 'genm'> = {
  ir: CertReqType.IR,
  cr: CertReqType.CR,
  kur: CertReqType.KUR,
  p10cr: CertReqType.P10CR,
  rr: 'rr',
  genm: 'genm',
};

/** Saves a file that openssl writes when there is something, and deletes when there is nothing. */
function saveOrDelete(file: string | undefined, data: Buffer | string | null): void {
  if (!file) return;
  if (data !== null) fs.writeFileSync(file, data);
  else fs.rmSync(file, { force: true });
}

function crlText(der: Buffer, pem: boolean): Buffer | string {
  if (!pem) return der;
  return `-----BEGIN X509 CRL-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END X509 CRL-----\n`;
}

/** A genm of an info type openssl handles itself (OpenSSL 3.2+ / 3.4+); false: a plain genm. */
async function specialGenm(ctx: CmpContext, o: Opts, io: CliIo, pem: boolean): Promise<boolean> {
  const infotype = o.str('infotype');
  if (infotype === undefined || !specialInfoType(infotype)) return false;
  const otherpass = o.pass('otherpass');
  if (infotype === 'caCerts') {
    const out = o.str('cacertsout');
    if (!out) throw new CliError('Missing -cacertsout option for -infotype caCerts');
    const certs = await ctx.getCaCerts();
    if (certs.length === 0) io.err('CMP warning: no CA certificates provided by server\n');
    else saveCerts(out, certs, pem);
  } else if (infotype === 'rootCaCert') {
    if (!o.str('newwithnew')) throw new CliError('Missing -newwithnew option for -infotype rootCaCert');
    const old = o.str('oldwithold') ? loadCert(o.str('oldwithold')!, 'OldWithOld cert for genm with -infotype rootCaCert', otherpass) : null;
    const r = await ctx.getRootCaKeyUpdate(old);
    if (!r.newWithNew) io.err('CMP info: no root CA certificate update available\n');
    const text = (c: X509Certificate | null | undefined) => (c ? (pem ? c.toString() : c.raw) : null);
    saveOrDelete(o.str('newwithnew'), text(r.newWithNew));
    saveOrDelete(o.str('newwithold'), text(r.newWithOld));
    saveOrDelete(o.str('oldwithnew'), text(r.oldWithNew));
  } else if (infotype === 'crlStatusList') {
    if (!o.str('oldcrl') && !o.str('crlcert')) throw new CliError('Missing -oldcrl and no -crlcert given for -infotype crlStatusList');
    if (!o.str('crlout')) throw new CliError('Missing -crlout for -infotype crlStatusList');
    const crlform = (o.str('crlform') ?? 'DER').toUpperCase();
    if (crlform !== 'PEM' && crlform !== 'DER') throw new CliError('unknown option given for CRL storing format');
    const cert = o.str('crlcert') ? loadCert(o.str('crlcert')!, 'Cert for genm with -infotype crlStatusList', otherpass) : null;
    const old = o.str('oldcrl') ? loadBytes(o.str('oldcrl')!, 'CRL for genm with -infotype crlStatusList') : null;
    const crl = await ctx.getCrlUpdate(cert, old);
    if (!crl) io.err('CMP info: no CRL update available\n');
    saveOrDelete(o.str('crlout'), crl && crlText(crl, crlform === 'PEM'));
  } else {
    if (!o.str('template')) throw new CliError('missing -template option for genm with infotype certReqTemplate');
    const t = await ctx.getCertReqTemplate();
    if (!t.certTemplate) io.err('CMP warning: no certificate request template available\n');
    saveOrDelete(o.str('template'), t.certTemplate);
    saveOrDelete(o.str('keyspec'), t.certTemplate ? t.keySpec : null);
  }
  return true;
}

/** Thrown by the -reqout_only transfer once the first request is saved. */
class RequestSaved extends Error {}

async function runClient(o: Opts, io: CliIo, configFile: string | undefined): Promise<number> {
  const cmdName = o.str('cmd');
  if (cmdName === undefined) return fail(io, 'no cmp command to execute');
  const cmd = COMMANDS[cmdName];
  if (cmd === undefined) return fail(io, `unknown cmp command '${cmdName}'`);
  const certform = (o.str('certform') ?? 'PEM').toUpperCase();
  if (certform !== 'PEM' && certform !== 'DER') return fail(io, `unknown option given for certificate output format: ${o.str('certform')}`);
  const keyform = (o.str('keyform') ?? 'PEM').toUpperCase();
  if (keyform === 'ENGINE') return fail(io, '-keyform ENGINE is not supported');
  const pem = certform === 'PEM';
  const reqoutOnly = o.str('reqout_only');
  const centralKeyGen = centralKeyGenRequested(o, cmdName);

  const ctx = new CmpContext();
  let mock: CmpServer | undefined;
  try {
    setupContext(ctx, o, cmdName, configFile);
    if (reqoutOnly) {
      // the first request is saved and nothing is sent
      ctx.setTransferCallback((req) => {
        fs.writeFileSync(reqoutOnly, req);
        throw new RequestSaved();
      });
    } else {
      if (o.flag('use_mock_srv')) mock = await mockServer(o);
      if (mock) ctx.setTransferCallback(mock.transfer);
      ctx.setMessageFiles({
        reqout: o.list('reqout'), rspout: o.list('rspout'), reqin: o.list('reqin'), rspin: o.list('rspin'), reqinNewTid: o.flag('reqin_new_tid'),
      });
    }
    const repeat = o.num('repeat') ?? 1;
    for (let i = 0; i < repeat; i++) {
      let newCert: X509Certificate | null = null;
      let failure: CmpError | undefined;
      let special = false;
      try {
        if (cmd === 'rr') await ctx.execRR();
        else if (cmd === 'genm') {
          special = await specialGenm(ctx, o, io, pem);
          if (!special) {
            const itavs = await ctx.execGENM();
            if (itavs.length === 0) io.err('CMP info: genp contains no ITAV\n');
            for (const itav of itavs) io.err(`CMP info: genp contains InfoType '${itav.name ?? itav.type}'\n`);
          }
        } else newCert = await ctx.execCertReq(cmd);
      } catch (err) {
        if (err instanceof CmpError && err.cause instanceof RequestSaved) return 0;
        if (!(err instanceof CmpError)) throw err;
        failure = err;
      }
      // as openssl: without any response, nothing is saved; extraCerts are saved even from a failure
      if (ctx.getStatus() < 0) return fail(io, failure?.message ?? 'transaction failed');
      if (o.str('srvcertout')) {
        const srv = ctx.getValidatedSrvCert();
        saveOrDelete(o.str('srvcertout'), srv && (pem ? srv.toString() : srv.raw));
      }
      // OpenSSL 3.0 saves the extraCerts of a failed transaction too, 3.2 and later only on success
      const extraOut = o.str('extracertsout');
      const extraOnFailure = binding.features.validatedSrvCert !== 'native';
      if (extraOut && (extraOnFailure || !failure)) saveCerts(extraOut, ctx.getExtraCertsIn(), pem);
      if (failure) return fail(io, failure.message);
      const caOut = o.str('cacertsout');
      if (caOut && !special) saveCerts(caOut, ctx.getCaPubs(), pem);
      const certOut = o.str('certout');
      const chainOut = o.str('chainout');
      if (newCert && certOut && certOut === chainOut && binding.features.centralKeyGen === 'native') {
        // OpenSSL 3.5 writes both into one file, the certificate first; 3.0 overwrites one with the other
        saveCerts(certOut, [newCert, ...ctx.getNewChain()], pem);
      } else {
        if (newCert && certOut) saveCerts(certOut, [newCert], pem);
        if (chainOut) saveCerts(chainOut, ctx.getNewChain(), pem);
      }
      if (newCert && centralKeyGen) saveNewKey(ctx, o.str('newkeyout')!, o.pass('newkeypass'));
      ctx.reinit();
    }
    return 0;
  } finally {
    ctx.close();
    await mock?.close();
  }
}

/** -newkeyout: the centrally generated key, PEM, encrypted with AES-256-CBC under -newkeypass. */
function saveNewKey(ctx: CmpContext, file: string, pass: string | undefined): void {
  const key = ctx.getNewPkey(true);
  if (!key || key.type !== 'private') throw new CliError('no centrally generated key received');
  const pem = key.export(pass === undefined ? { type: 'pkcs8', format: 'pem' } : { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: pass });
  fs.writeFileSync(file, pem, { mode: 0o600 });
}
