// The `openssl cmp` client: one configured context, the command run (with
// -repeat), and the output files openssl writes after it.
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import { CertReqType } from '../constants';
import { CmpContext } from '../context';
import { CmpError } from '../errors';
import { binding } from '../native';
import type { CmpServer } from '../server';
import { CliError, loadBytes, loadCert, saveCerts } from '../options/files';
import { Opts, centralKeyGenRequested, setupContext, specialInfoType } from '../options/setup';
import { CliIo, fail } from './io';
import { mockServer } from './mock';

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

export async function runClient(o: Opts, io: CliIo, configFile: string | undefined): Promise<number> {
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
