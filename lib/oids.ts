// The object identifiers the package writes or looks for itself, dotted.
export const OID = {
  // CMP InfoTypes (RFC 9810, id-it-*)
  caCerts: '1.3.6.1.5.5.7.4.17',
  rootCaKeyUpdate: '1.3.6.1.5.5.7.4.18',
  certReqTemplate: '1.3.6.1.5.5.7.4.19',
  rootCaCert: '1.3.6.1.5.5.7.4.20',
  certProfile: '1.3.6.1.5.5.7.4.21',
  crlStatusList: '1.3.6.1.5.5.7.4.22',
  crls: '1.3.6.1.5.5.7.4.23',
  // CRMF registration controls
  regCtrlAlgId: '1.3.6.1.5.5.7.5.1.11',
  regCtrlRsaKeyLen: '1.3.6.1.5.5.7.5.1.12',
  // extended key usages
  kpCodeSigning: '1.3.6.1.5.5.7.3.3',
  kpCmKGA: '1.3.6.1.5.5.7.3.32',
  // extensions
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  // key algorithms and curves
  ecPublicKey: '1.2.840.10045.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ed25519: '1.3.101.112',
  prime256v1: '1.2.840.10045.3.1.7',
  secp384r1: '1.3.132.0.34',
  secp521r1: '1.3.132.0.35',
} as const;
