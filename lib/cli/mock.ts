// `openssl cmp -port` and `-use_mock_srv`: OpenSSL's mock server, answering
// from the -rsp_* options, and issuing real certificates from a test CA when
// no -rsp_cert is given.
import { X509Certificate } from 'node:crypto';
import { toCrlDer } from '../convert';
import { FailInfo } from '../constants';
import type { ItavInput } from '../context';
import { sequenceOf, tlv } from '../der';
import { binding } from '../native';
import { OID } from '../oids';
import { CmpServer, CmpServerHandlers, CmpServerOptions, HandlerResult } from '../server';
import { TestCa, kDerHandlers } from '../test-ca';
import { CliError, loadBytes, loadCert, loadCerts, loadKey } from '../options/files';
import type { Opts } from '../options/setup';
import type { CliIo } from './io';
import { MockRefusal, certIssuerDer, certReqTemplateFor, crlUpdateFor, mockCrl, profileAccepted, rootUpdateApplies } from './mock-answers';
import { mockServerLog } from './server-log';

/** The mock's server: after each message it answered or refused, `afterMessage` learns how many that makes. */
class MockServer extends CmpServer {
  #handled = 0;

  constructor(options: CmpServerOptions, private readonly afterMessage?: (handled: number) => void) {
    super(options);
  }

  override async handle(request: Buffer | Uint8Array, meta?: { remote?: string }): Promise<Buffer> {
    try {
      return await super.handle(request, meta);
    } finally {
      this.afterMessage?.(++this.#handled);
    }
  }
}

export async function mockServer(o: Opts, extra: Partial<CmpServerOptions> = {}, afterMessage?: (handled: number) => void): Promise<CmpServer> {
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
  const base: CmpServerHandlers | undefined = rspCert ? undefined : (await TestCa.create())[kDerHandlers]();
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
  const server = new MockServer({
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
  }, afterMessage);
  return server;
}

// RootCaKeyUpdateContent ::= SEQUENCE { newWithNew, newWithOld [0] OPTIONAL, oldWithNew [1] OPTIONAL }
function rootCaKeyUpdateDer([newWithNew, newWithOld, oldWithNew]: Array<X509Certificate | undefined>): Buffer {
  return tlv(0x30, Buffer.concat([newWithNew!.raw, ...(newWithOld ? [tlv(0xa0, newWithOld.raw)] : []), ...(oldWithNew ? [tlv(0xa1, oldWithNew.raw)] : [])]));
}

export async function serve(o: Opts, io: CliIo): Promise<number> {
  if (o.str('srv_secret') === undefined && o.str('srv_key') === undefined) {
    throw new CliError('must give both -srv_cert and -srv_key options or -srv_secret');
  }
  const port = Number(o.str('port'));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`invalid port '${o.str('port')}'`);
  const metricsPath = o.str('metrics_path');
  const maxMsgs = o.num('max_msgs') ?? 0;
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const server = await mockServer(o, {
    ...mockServerLog(io.err, o.num('verbosity')),
    onTransaction: o.flag('json_events') ? (e) => io.out(`${JSON.stringify(e)}\n`) : undefined,
    metrics: metricsPath !== undefined,
  }, (handled) => {
    if (maxMsgs > 0 && handled >= maxMsgs) setImmediate(stop);
  });
  // openssl's mock takes an empty path or 'pkix/'
  const { port: actual } = await server.listen({ host: '::', port, path: ['/', '/pkix/'], metricsPath });
  io.out(`ACCEPT [::]:${actual} PID=${process.pid}\n`);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await stopped;
  await server.close();
  return 0;
}
