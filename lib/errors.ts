/** Error raised for every failure that OpenSSL or the CMP server reported. */
export class CmpError extends Error {
  /** `ERR_OSSL_<LIB>_<REASON>` or a package code such as `ERR_CMP_CONTEXT_BUSY`. */
  declare code: string;
  /** OpenSSL library of the main error, e.g. "CMP routines". */
  declare library?: string;
  /** OpenSSL reason text of the main error. */
  declare reason?: string;
  /** The whole drained OpenSSL error queue, oldest first. */
  declare opensslErrorStack: string[];
  /** PKIStatus the server sent, when it sent one. */
  declare pkiStatus?: number;
  declare pkiStatusName?: string;
  /** PKIFailureInfo bit field. */
  declare failInfoCode?: number;
  /** Names of the bits set in failInfoCode. */
  declare failInfo?: string[];
  declare statusString?: string[];

  constructor(message: string, options?: { code?: string; cause?: unknown }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = options?.code ?? 'ERR_CMP_UNKNOWN';
    this.opensslErrorStack = [];
  }

  get name(): string {
    return 'CmpError';
  }
}
