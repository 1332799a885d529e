// OpenSSL's CMP macros, by name without prefix, with OpenSSL's values.

/** OSSL_CMP_IR, OSSL_CMP_CR, OSSL_CMP_P10CR, OSSL_CMP_KUR (PKIBody types). */
export const CertReqType = Object.freeze({ IR: 0, CR: 2, P10CR: 4, KUR: 7 } as const);

/** OSSL_CMP_OPT_* */
export const Option = Object.freeze({
  LOG_VERBOSITY: 0,
  KEEP_ALIVE: 10,
  MSG_TIMEOUT: 11,
  TOTAL_TIMEOUT: 12,
  USE_TLS: 13,
  VALIDITY_DAYS: 20,
  SUBJECTALTNAME_NODEFAULT: 21,
  SUBJECTALTNAME_CRITICAL: 22,
  POLICIES_CRITICAL: 23,
  POPO_METHOD: 24,
  IMPLICIT_CONFIRM: 25,
  DISABLE_CONFIRM: 26,
  REVOCATION_REASON: 27,
  UNPROTECTED_SEND: 30,
  UNPROTECTED_ERRORS: 31,
  OWF_ALGNID: 32,
  MAC_ALGNID: 33,
  DIGEST_ALGNID: 34,
  IGNORE_KEYUSAGE: 35,
  PERMIT_TA_IN_EXTRACERTS_FOR_IR: 36,
  NO_CACHE_EXTRACERTS: 37,
} as const);

/** OSSL_CMP_PKISTATUS_* */
export const PKIStatus = Object.freeze({
  accepted: 0,
  grantedWithMods: 1,
  rejection: 2,
  waiting: 3,
  revocationWarning: 4,
  revocationNotification: 5,
  keyUpdateWarning: 6,
} as const);

/** OSSL_CMP_PKIFAILUREINFO_* bit numbers. */
export const FailInfo = Object.freeze({
  badAlg: 0,
  badMessageCheck: 1,
  badRequest: 2,
  badTime: 3,
  badCertId: 4,
  badDataFormat: 5,
  wrongAuthority: 6,
  incorrectData: 7,
  missingTimeStamp: 8,
  badPOP: 9,
  certRevoked: 10,
  certConfirmed: 11,
  wrongIntegrity: 12,
  badRecipientNonce: 13,
  timeNotAvailable: 14,
  unacceptedPolicy: 15,
  unacceptedExtension: 16,
  addInfoNotAvailable: 17,
  badSenderNonce: 18,
  badCertTemplate: 19,
  signerNotTrusted: 20,
  transactionIdInUse: 21,
  unsupportedVersion: 22,
  notAuthorized: 23,
  systemUnavail: 24,
  systemFailure: 25,
  duplicateCertReq: 26,
} as const);

/** OSSL_CRMF_POPO_* */
export const PopoMethod = Object.freeze({ NONE: -1, RAVERIFIED: 0, SIGNATURE: 1, KEYENC: 2 } as const);

/** OSSL_CMP_LOG_* */
export const LogLevel = Object.freeze({
  EMERG: 0,
  ALERT: 1,
  CRIT: 2,
  ERR: 3,
  WARNING: 4,
  NOTICE: 5,
  INFO: 6,
  DEBUG: 7,
  TRACE: 8,
} as const);

export type CertReqTypeValue = (typeof CertReqType)[keyof typeof CertReqType];
export type OptionValue = (typeof Option)[keyof typeof Option];
