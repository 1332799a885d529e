// Compiled with `tsc --noEmit -p test/types` against the generated dist/*.d.ts
// (what users get): the public shapes type-check, and wrong uses do not.
import { KeyObject, X509Certificate } from 'node:crypto';
import {
  CertReqType,
  CmpContext,
  CmpError,
  CmpServer,
  FailInfo,
  Itav,
  LogEntry,
  Option,
  PKIStatus,
  TestCa,
  TryCertReqResult,
  features,
  getMaxThreads,
  httpTransport,
  opensslVersion,
  setMaxThreads,
} from '../../dist';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_: T): void {}

async function client(): Promise<void> {
  const ctx = new CmpContext();
  ctx.setServer('127.0.0.1');
  ctx.setServerPort(80);
  ctx.setReferenceValue('ref');
  ctx.setSecretValue(Buffer.from('secret'));
  ctx.setOption(Option.MSG_TIMEOUT, 5);
  ctx.setTransferCallback(httpTransport('http://127.0.0.1/pkix/'));
  ctx.setCertConfCallback((cert, failInfo, text) => (cert.subject && text === null ? failInfo : 0));
  ctx.setLogCallback((e: LogEntry) => void e.message);
  const cert = await ctx.execIR({ signal: AbortSignal.timeout(1000) });
  assertType<Equals<typeof cert, X509Certificate>>(true);
  const tried: TryCertReqResult = await ctx.tryCertReq(CertReqType.IR);
  if (tried.done) assertType<Equals<typeof tried.cert, X509Certificate | null>>(true);
  else assertType<Equals<typeof tried.checkAfter, number>>(true);
  const itavs: Itav[] = await ctx.execGENM();
  assertType<Equals<typeof itavs[number]['value'], Buffer | undefined>>(true);
  assertType<Equals<Awaited<ReturnType<CmpContext['getCaCerts']>>, X509Certificate[]>>(true);
  assertType<Equals<Awaited<ReturnType<CmpContext['execRR']>>, void>>(true);
  // @ts-expect-error a port is a number
  ctx.setServerPort('80');
  // @ts-expect-error transfer callbacks take the request
  ctx.setTransferCallback(42);
  ctx.close();
}

async function server(): Promise<void> {
  const ca = await TestCa.create({ subject: '/CN=CA' });
  assertType<Equals<typeof ca.cert, X509Certificate>>(true);
  const srv = new CmpServer({
    ref: 'r', secret: 's', ca, maxPending: 8,
    handlers: { certReq: (req) => (req.publicKey instanceof KeyObject ? ca.handlers().certReq!(req) : { status: PKIStatus.rejection, failInfo: 1 << FailInfo.badCertTemplate }) },
  });
  const rsp: Buffer = await srv.handle(Buffer.alloc(0));
  const { url, port } = await srv.listen({ port: 0 });
  assertType<Equals<typeof url, string>>(true);
  assertType<Equals<typeof port, number>>(true);
  assertType<Equals<Awaited<ReturnType<CmpServer['retained']>>, { sessions: number; untrustedCerts: number }>>(true);
  // @ts-expect-error handle() takes bytes
  await srv.handle('request');
  void rsp;
  await srv.close();
}

function module(): void {
  const v: string = opensslVersion;
  const mode: 'native' | 'emulated' | false | undefined = features.caCerts;
  setMaxThreads(getMaxThreads() + 1);
  const err = new CmpError('x', { code: 'ERR_CMP_ABORTED' });
  const code: string = err.code;
  void [v, mode, code];
}

void [client, server, module];
