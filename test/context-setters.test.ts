import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  CertReqType,
  CmpContext,
  CmpError,
  FailInfo,
  LogLevel,
  Option,
  PKIStatus,
  PopoMethod,
  features,
  opensslVersion,
} from '../lib';
import { Pki, makePki, removePki } from './helpers/pki';

let pki: Pki;
let ctx: CmpContext;

beforeAll(() => {
  pki = makePki();
});
afterAll(() => removePki(pki));
beforeEach(() => {
  ctx = new CmpContext();
});
afterEach(() => ctx.close());

describe('module', () => {
  test('opensslVersion is the OpenSSL inside this Node, or the bundled one', () => {
    if (features.bundled) expect(opensslVersion).toMatch(/^OpenSSL 3\.\d+\.\d+ /);
    else expect(opensslVersion).toContain(process.versions.openssl);
  });

  test('features follow the running OpenSSL, detected at run time', () => {
    const [major, minor] = opensslVersion.split(' ')[1].split('.').map(Number);
    const modern = major > 3 || (major === 3 && minor >= 2);
    expect(features.caCerts).toBe(modern ? 'native' : 'emulated');
    expect(features.rootCaKeyUpdate).toBe(modern ? 'native' : 'emulated');
    expect(features.validatedSrvCert).toBe(modern ? 'native' : false);
    expect(features.crlUpdate).toBe(major > 3 || minor >= 4 ? 'native' : false);
    expect(Object.isFrozen(features)).toBe(true);
  });

  test('constants carry OpenSSL values and are frozen', () => {
    expect(CertReqType).toEqual({ IR: 0, CR: 2, P10CR: 4, KUR: 7 });
    expect(Option.IMPLICIT_CONFIRM).toBe(25);
    expect(Option.PERMIT_TA_IN_EXTRACERTS_FOR_IR).toBe(36);
    expect(PKIStatus.keyUpdateWarning).toBe(6);
    expect(FailInfo.badAlg).toBe(0);
    expect(FailInfo.duplicateCertReq).toBe(26);
    expect(PopoMethod).toEqual({ NONE: -1, RAVERIFIED: 0, SIGNATURE: 1, KEYENC: 2 });
    expect(LogLevel.EMERG).toBe(0);
    expect(LogLevel.TRACE).toBe(8);
    for (const c of [CertReqType, Option, PKIStatus, FailInfo, PopoMethod, LogLevel]) expect(Object.isFrozen(c)).toBe(true);
  });
});

describe('options', () => {
  test('every option round-trips through setOption/getOption', () => {
    const values: Array<[number, number]> = [
      [Option.LOG_VERBOSITY, LogLevel.DEBUG],
      [Option.KEEP_ALIVE, 2],
      [Option.MSG_TIMEOUT, 7],
      [Option.TOTAL_TIMEOUT, 9],
      [Option.VALIDITY_DAYS, 30],
      [Option.SUBJECTALTNAME_NODEFAULT, 1],
      [Option.SUBJECTALTNAME_CRITICAL, 1],
      [Option.POLICIES_CRITICAL, 1],
      [Option.POPO_METHOD, PopoMethod.RAVERIFIED],
      [Option.IMPLICIT_CONFIRM, 1],
      [Option.DISABLE_CONFIRM, 1],
      [Option.REVOCATION_REASON, 4],
      [Option.UNPROTECTED_SEND, 1],
      [Option.UNPROTECTED_ERRORS, 1],
      [Option.IGNORE_KEYUSAGE, 1],
      [Option.PERMIT_TA_IN_EXTRACERTS_FOR_IR, 1],
    ];
    for (const [opt, v] of values) {
      ctx.setOption(opt, v);
      expect([opt, ctx.getOption(opt)]).toEqual([opt, v]);
    }
    ctx.setOption(Option.IMPLICIT_CONFIRM, false);
    expect(ctx.getOption(Option.IMPLICIT_CONFIRM)).toBe(0);
    ctx.setLogVerbosity(LogLevel.ERR);
    expect(ctx.getOption(Option.LOG_VERBOSITY)).toBe(LogLevel.ERR);
  });

  test('*_ALGNID options take digest and MAC names', () => {
    ctx.setOption(Option.DIGEST_ALGNID, 'sha512');
    const sha512 = ctx.getOption(Option.DIGEST_ALGNID);
    ctx.setOption(Option.DIGEST_ALGNID, 'sha256');
    expect(ctx.getOption(Option.DIGEST_ALGNID)).not.toBe(sha512);
    ctx.setOption(Option.OWF_ALGNID, 'sha384');
    ctx.setOption(Option.MAC_ALGNID, 'hmac-sha1');
    expect(ctx.getOption(Option.MAC_ALGNID)).toBeGreaterThan(0);
    expect(() => ctx.setOption(Option.MAC_ALGNID, 'no-such-mac')).toThrow(CmpError);
  });

  test('bad option values are refused by OpenSSL with a CmpError', () => {
    expect(() => ctx.setOption(Option.POPO_METHOD, 17)).toThrow(CmpError);
    expect(() => ctx.setOption(9999, 1)).toThrow(CmpError);
    expect(() => ctx.getOption(9999)).toThrow(CmpError);
    expect(() => ctx.setOption(Option.MSG_TIMEOUT, 1.5)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });
});

describe('certificates, keys and names', () => {
  test('trusted store and untrusted certs: every input form, returned as X509Certificate', () => {
    const pem = pki.read('ca.crt');
    const x = new X509Certificate(pem);
    for (const input of [pem, Buffer.from(pem), x.raw, x, [x], [pem, x.raw]]) {
      ctx.setTrustedStore(input);
      const got = ctx.getTrustedStore();
      expect(got[0]).toBeInstanceOf(X509Certificate);
      expect(got[0].raw.equals(x.raw)).toBe(true);
    }
    const bundle = pki.read('ca.crt') + pki.read('server.crt');
    ctx.setUntrusted(bundle);
    expect(ctx.getUntrusted().map((c) => c.subject)).toEqual(['CN=Test Root CA', 'CN=server\nO=Test']);
    ctx.setUntrusted(null);
    expect(ctx.getUntrusted()).toEqual([]);
  });

  test('new key: private, public (central key generation) and fallback to the client key', () => {
    expect(ctx.getNewPkey()).toBeNull();
    ctx.setPkey(pki.read('client.key'));
    const clientPub = createPublicKey(createPrivateKey(pki.read('client.key')));
    expect(ctx.getNewPkey()!.equals(createPrivateKey(pki.read('client.key')))).toBe(true);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    ctx.setNewPkey(privateKey);
    expect(ctx.getNewPkey(true)!.equals(privateKey)).toBe(true);
    ctx.setNewPkey(false, publicKey);
    expect(ctx.getNewPkey(true)).toBeNull();
    expect(ctx.getNewPkey(false)!.equals(publicKey)).toBe(true);
    ctx.setNewPkey(true, privateKey.export({ format: 'der', type: 'pkcs8' }));
    expect(ctx.getNewPkey(true)!.equals(privateKey)).toBe(true);
    ctx.setNewPkey(null);
    expect(ctx.getNewPkey(false)!.equals(clientPub)).toBe(true);
  });

  test('encrypted PEM keys take { key, passphrase }', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const enc = privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-128-cbc', passphrase: 'pw' }) as string;
    ctx.setNewPkey({ key: enc, passphrase: 'pw' });
    expect(ctx.getNewPkey()!.equals(privateKey)).toBe(true);
    const err = (() => {
      try {
        ctx.setNewPkey({ key: enc, passphrase: 'wrong' });
      } catch (e) {
        return e as CmpError;
      }
    })();
    expect(err).toBeInstanceOf(CmpError);
    expect(err!.message).not.toContain('wrong');
  });

  test('names in openssl one-line form, with escapes and multi-valued RDNs', () => {
    for (const setter of ['setSubjectName', 'setIssuer', 'setRecipient', 'setExpectedSender'] as const) {
      ctx[setter]('/CN=a\\/b/O=Org+OU=Unit');
    }
    expect(() => ctx.setSubjectName('CN=missing-slash')).toThrow(expect.objectContaining({ code: 'ERR_CMP_INVALID_NAME' }));
    expect(() => ctx.setSubjectName('/CN')).toThrow(expect.objectContaining({ code: 'ERR_CMP_INVALID_NAME' }));
    expect(() => ctx.setSubjectName('/XX=1')).toThrow(/unknown attribute type 'XX'/);
    expect(() => ctx.setSubjectName('/CN=trailing\\')).toThrow(/escape/);
    ctx.setSubjectName(null);
  });

  test('subject alt names: prefixed forms and bare detection as openssl cmp -sans', () => {
    expect(ctx.reqExtensionsHaveSAN()).toBe(false);
    for (const n of ['DNS:example.com', 'IP:10.0.0.1', 'URI:https://x/y', 'email:a@b.c', '192.168.1.1', 'host.example', 'urn:x:y', '::1']) {
      ctx.pushSubjectAltName(n);
    }
    expect(() => ctx.pushSubjectAltName('IP:not-an-ip')).toThrow(CmpError);
  });

  test('request extensions as DER or as a list; SAN detection', () => {
    // subjectAltName with DNS:a.example
    const san = Buffer.from('300b8209612e6578616d706c65', 'hex');
    ctx.setReqExtensions([{ oid: 'subjectAltName', value: san }, { oid: '2.5.29.15', value: Buffer.from('03020780', 'hex'), critical: true }]);
    expect(ctx.reqExtensionsHaveSAN()).toBe(true);
    ctx.setReqExtensions(null);
    expect(ctx.reqExtensionsHaveSAN()).toBe(false);
    const der = Buffer.from('3016' + '3014' + '0603551d11' + '040d' + '300b8209612e6578616d706c65', 'hex');
    ctx.setReqExtensions(der);
    expect(ctx.reqExtensionsHaveSAN()).toBe(true);
    expect(() => ctx.setReqExtensions(Buffer.from('3003020101', 'hex'))).toThrow(CmpError);
  });

  test('old cert, client cert, srv cert, extraCertsOut, CSR, policies, chain building', () => {
    ctx.setOldCert(pki.read('client.crt'));
    ctx.setCert(pki.read('client.crt'));
    ctx.setPkey(pki.read('client.key'));
    ctx.setSrvCert(pki.read('server.crt'));
    ctx.setExtraCertsOut([pki.read('ca.crt')]);
    ctx.setP10CSR(pki.read('newkey.csr'));
    ctx.pushPolicy('2.5.29.32.0');
    ctx.pushPolicy('anyPolicy');
    expect(() => ctx.pushPolicy('no such policy')).toThrow(CmpError);
    ctx.buildCertChain([pki.read('ca.crt')], []);
    expect(() => ctx.setP10CSR(Buffer.from('3003020101', 'hex'))).toThrow(CmpError);
  });

  test('header fields and secrets', () => {
    ctx.setTransactionID(Buffer.alloc(16, 1));
    ctx.setSenderNonce(Buffer.alloc(16, 2));
    ctx.setReferenceValue('ref');
    ctx.setSecretValue(Buffer.from('s3cret'));
    ctx.setSecretValue(null);
    ctx.pushGeninfoITAV({ type: 'implicitConfirm', value: Buffer.from([0x05, 0x00]) });
    if (features.geninfoITAVs === 'native') {
      expect(ctx.getGeninfoITAVs()).toEqual([{ type: '1.3.6.1.5.5.7.4.13', name: 'id-it-implicitConfirm', value: Buffer.from([0x05, 0x00]) }]);
    } else {
      expect(() => ctx.getGeninfoITAVs()).toThrow(expect.objectContaining({ code: 'ERR_CMP_NOT_SUPPORTED' }));
    }
    ctx.resetGeninfoITAVs();
    if (features.serialNumber === 'native') {
      ctx.setSerialNumber(12345n);
    } else {
      expect(() => ctx.setSerialNumber(1)).toThrow(expect.objectContaining({ code: 'ERR_CMP_NOT_SUPPORTED' }));
    }
  });

  test('server address, port, path and proxy settings', () => {
    ctx.setServer('ca.example');
    ctx.setServerPort(8080);
    ctx.setServerPath('/pkix/');
    ctx.setProxy('http://proxy:3128');
    ctx.setNoProxy('localhost,127.0.0.1');
    ctx.setProxy(null);
    expect(() => ctx.setServerPort(70000)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });

  test('result getters on a fresh context', () => {
    expect(ctx.getStatus()).toBe(-1);
    expect(ctx.getFailInfoCode()).toBe(-1);
    expect(ctx.getStatusString()).toEqual([]);
    expect(ctx.getNewCert()).toBeNull();
    expect(ctx.getNewChain()).toEqual([]);
    expect(ctx.getCaPubs()).toEqual([]);
    expect(ctx.getExtraCertsIn()).toEqual([]);
    if (features.validatedSrvCert === 'native') expect(ctx.getValidatedSrvCert()).toBeNull();
  });
});

describe('bad input', () => {
  test('wrong JS types throw TypeError naming the parameter', () => {
    const cases: Array<[() => void, string]> = [
      [() => ctx.setServer(42 as never), 'address'],
      [() => ctx.setServerPort('80' as never), 'port'],
      [() => ctx.setSrvCert(42 as never), 'cert'],
      [() => ctx.setTrustedStore({} as never), 'certs'],
      [() => ctx.setPkey(42 as never), 'key'],
      [() => ctx.setSecretValue(42 as never), 'secret'],
      [() => ctx.setSubjectName(42 as never), 'name'],
      [() => ctx.pushGenmITAV('x' as never), 'itav'],
      [() => ctx.pushGenmITAV({ type: 1 } as never), 'itav.type'],
      [() => ctx.setOption('x' as never, 1), 'opt'],
      [() => ctx.setTransactionID('abc' as never as Buffer), ''],
      [() => ctx.execCertReq('IR' as never), 'type'],
    ];
    for (const [fn, param] of cases) {
      let thrown: unknown;
      try {
        fn();
      } catch (e) {
        thrown = e;
      }
      if (param === '') continue; // strings are accepted as bytes there
      expect(thrown).toBeInstanceOf(TypeError);
      expect((thrown as Error).message).toContain(param);
    }
  });

  test('right type, unparsable content: CmpError', () => {
    expect(() => ctx.setSrvCert('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----')).toThrow(CmpError);
    expect(() => ctx.setSrvCert(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]))).toThrow(CmpError);
    expect(() => ctx.setSrvCert('not a pem')).toThrow(CmpError);
    expect(() => ctx.setTrustedStore('no certs here')).toThrow(CmpError);
    expect(() => ctx.setPkey('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----')).toThrow(CmpError);
    expect(() => ctx.setPkey(Buffer.from([1, 2, 3]))).toThrow(CmpError);
    expect(() => ctx.pushGenmITAV({ type: 'no-such-info-type' })).toThrow(CmpError);
    expect(() => ctx.execCertReq(99)).toThrow(CmpError);
  });

  test('a bad DER CertReqMsg is refused before the transaction starts', async () => {
    expect(() => ctx.execCertReq(CertReqType.IR, Buffer.from([0x30, 0x00]))).toThrow(CmpError);
    expect(ctx.busy).toBe(false);
  });
});
