// What openssl's mock server (apps/lib/cmp_mock_srv.c) answers to the genm info types and
// certificate profiles it checks, worked out on DER so that `openssl-cmp -port` answers the same.
import { X509Certificate } from 'node:crypto';
import { Tlv, children, integerDer, oidDer, readTlv, sequenceOf, timeOf, tlv } from '../der';
import { OID } from '../oids';

export class MockRefusal extends Error {}

/** The DER of a certificate's issuer name (TBSCertificate: [0] version, serial, signature, issuer). */
export function certIssuerDer(cert: X509Certificate): Buffer {
  const der = cert.raw;
  const fields = children(der, children(der, readTlv(der, 0))[0]);
  const f: Tlv[] = fields[0].tag === 0xa0 ? fields.slice(1) : fields;
  return der.subarray(f[2].start, f[2].end);
}

/** What a crlStatusList answer compares: the CRL's issuer (DER) and its thisUpdate, read once. */
export interface MockCrl {
  der: Buffer;
  issuer: Buffer;
  lastUpdate: Date;
}

export function mockCrl(der: Buffer): MockCrl {
  // CertificateList: tbsCertList { [version,] signature, issuer, thisUpdate, ... }
  const fields = children(der, children(der, readTlv(der, 0))[0]);
  const f = fields[0].tag === 0x02 ? fields.slice(1) : fields;
  return { der, issuer: der.subarray(f[1].start, f[1].end), lastUpdate: timeOf(der, f[2]) };
}

/**
 * crlStatusList (RFC 9483 4.3.4): exactly one CRLStatus; an issuer given must be the CRL's issuer
 * as a directoryName. The CRL when the client's thisUpdate is older or absent, else no update (null).
 */
export function crlUpdateFor(request: Buffer | undefined, crl: MockCrl | undefined): Buffer | null {
  const list = request ? children(request, readTlv(request, 0)) : [];
  if (list.length !== 1) throw new MockRefusal('unexpected crlStatusList');
  if (!crl) return null;
  const [source, thisUpdate] = children(request!, list[0]);
  if (source.tag === 0xa1) {
    const names = children(request!, children(request!, source)[0]); // [1] EXPLICIT GeneralNames
    const first = names[0];
    if (!first || first.tag !== 0xa4) throw new MockRefusal('sender GeneralName type not supported');
    const name = children(request!, first)[0];
    if (!request!.subarray(name.start, name.end).equals(crl.issuer)) throw new MockRefusal('unknown CRL issuer');
  }
  return thisUpdate === undefined || timeOf(request!, thisUpdate) < crl.lastUpdate ? crl.der : null;
}

/** rootCaCert: the update only when the client's old root has the subject of the new one. */
export function rootUpdateApplies(request: Buffer | undefined, newWithNew: X509Certificate): boolean {
  if (!request || request.length === 0) return true;
  return new X509Certificate(request).subject === newWithNew.subject;
}

/**
 * certReqTemplate: a template naming the issuer of the reference certificate, with a keySpec
 * allowing an EC key or RSA with 4096 bits.
 */
export function certReqTemplateFor(refCert: X509Certificate): Buffer {
  const template = tlv(0x30, tlv(0xa3, certIssuerDer(refCert)));
  const ecAlg = sequenceOf([oidDer('1.2.840.10045.2.1', 'algorithm')]);
  const keySpec = sequenceOf([
    sequenceOf([oidDer('1.3.6.1.5.5.7.5.1.11', 'algId'), ecAlg]),
    sequenceOf([oidDer('1.3.6.1.5.5.7.5.1.12', 'rsaKeyLen'), integerDer(4096n)]),
  ]);
  return sequenceOf([template, keySpec]);
}

/** A CR's certProfile must be "profile1" (openssl's mock accepts that one name only). */
export function profileAccepted(type: string, generalInfo: Array<{ type: string; value?: Buffer }>): boolean {
  if (type !== 'cr') return true;
  const profile = generalInfo.find((g) => g.type === OID.certProfile);
  if (!profile) return true;
  const names = profile.value ? children(profile.value, readTlv(profile.value, 0)) : [];
  return names.length > 0 && profile.value!.toString('utf8', names[0].content, names[0].end) === 'profile1';
}
