// What enrollMany accepts, checked before anything starts, and which
// failures are worth another attempt.
import { CmpContext, TransferCallback } from '../context';
import { FailInfo } from '../constants';
import { CmpError } from '../errors';
import type { Registry } from '../metrics';
import { BulkItem, ItemSource } from './items';
import { FileNames } from './output';
import { checkExtensions } from './request';

export interface BulkOptions {
  /** `openssl cmp` options in camelCase, as CmpContext.fromOptions takes them. */
  options?: Record<string, string | number | boolean>;
  /** Makes one configured context; called once per pooled context (and again when one must be made anew). */
  context?: () => CmpContext;
  /** A transfer callback every transaction uses. */
  transfer?: TransferCallback;
  /**
   * DER Extensions every certificate request carries (as CmpContext.setReqExtensions takes them; the CLI's
   * -reqexts and -policies sections); an item's sans or policies replace the extension of that type.
   */
  reqExtensions?: Buffer;
  /** Transactions in flight (default 16). */
  concurrency?: number;
  /** Transactions started per second toward the CA, retries included (default: no limit). */
  rate?: number;
  /** SQLite file; running again with the same journal resumes the job. */
  journal?: string;
  /** Directory for per-item files and manifest.jsonl. */
  outDir?: string;
  /** File name templates within outDir ({id}). */
  names?: FileNames;
  /** Encrypts written private keys (PKCS#8, AES-256-CBC; PKCS#12 with OpenSSL's default algorithms). */
  passphrase?: string;
  /** Each new key goes into a PKCS#12 file ({id}.p12) with its certificate and chain, under passphrase, in place of the PEM key file. */
  pkcs12?: boolean;
  /** Retries of a transient failure (default 4); a rejection by the CA is never retried. */
  retries?: number;
  /** First backoff in ms (default 200), doubled per retry up to maxBackoff (default 10000), with jitter. */
  backoff?: number;
  maxBackoff?: number;
  /** Try again items that failed in earlier runs of the journal (default: they stay failed). */
  retryFailed?: boolean;
  /** At the end, revoke (RR) the orphans: certificates issued, over all runs, that the output does not hold. */
  revokeOrphans?: boolean;
  signal?: AbortSignal;
  /** A prom-client Registry (a CmpServer's metricsRegistry, say) to report the job's counters to, named cmp_bulk_*. */
  metrics?: Registry;
}

export function asIterator(items: ItemSource): AsyncIterator<BulkItem> | Iterator<BulkItem> {
  if (items != null && typeof (items as AsyncIterable<BulkItem>)[Symbol.asyncIterator] === 'function') {
    return (items as AsyncIterable<BulkItem>)[Symbol.asyncIterator]();
  }
  if (items != null && typeof (items as Iterable<BulkItem>)[Symbol.iterator] === 'function') return (items as Iterable<BulkItem>)[Symbol.iterator]();
  throw new TypeError('The "items" argument must be an iterable or async iterable of items');
}

export function checkOptions(o: BulkOptions): void {
  if (o === null || typeof o !== 'object') throw new TypeError('The "options" argument must be an object');
  if (!o.context && !o.options) throw new TypeError('enrollMany needs options.options (openssl cmp options) or options.context (a factory)');
  if (o.context !== undefined && typeof o.context !== 'function') throw new TypeError('The "options.context" option must be a function returning a CmpContext');
  if (o.transfer !== undefined && typeof o.transfer !== 'function') throw new TypeError('The "options.transfer" option must be a function');
  const positive = (name: 'concurrency' | 'rate' | 'backoff' | 'maxBackoff', int: boolean) => {
    const v = o[name];
    if (v !== undefined && (typeof v !== 'number' || !(v > 0) || (int && !Number.isInteger(v)))) {
      throw new RangeError(`The "options.${name}" option must be a positive ${int ? 'integer' : 'number'}. Received ${String(v)}`);
    }
  };
  positive('concurrency', true);
  positive('rate', false);
  positive('backoff', false);
  positive('maxBackoff', false);
  if (o.retries !== undefined && (!Number.isInteger(o.retries) || o.retries < 0)) throw new RangeError('The "options.retries" option must be a non-negative integer');
  for (const k of ['journal', 'outDir', 'passphrase'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'string') throw new TypeError(`The "options.${k}" option must be a string`);
  }
  if (o.reqExtensions !== undefined) checkExtensions(o.reqExtensions, 'The "options.reqExtensions" option');
  if (o.pkcs12 !== undefined && typeof o.pkcs12 !== 'boolean') throw new TypeError('The "options.pkcs12" option must be a boolean');
  if (o.pkcs12 && (o.passphrase === undefined || o.passphrase === '')) throw new TypeError('The "options.pkcs12" option needs options.passphrase to encrypt the PKCS#12 files');
  if (o.metrics !== undefined && (o.metrics === null || typeof o.metrics !== 'object' || typeof o.metrics.getSingleMetric !== 'function')) {
    throw new TypeError('The "options.metrics" option must be a prom-client Registry');
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new TypeError('The "options.signal" option must be an AbortSignal');
}

/** True for what may succeed when tried again: no answer from the server, or the server saying it is busy. */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof CmpError)) return false;
  const code = err.code ?? '';
  // no (complete) answer: the request or its confirmation may simply be sent again
  if (
    code === 'ERR_CMP_TRANSFER_FAILED' ||
    /^ERR_OSSL_(HTTP|BIO|SYS)_/.test(code) ||
    /^ERR_OSSL_CMP_(TRANSFER_ERROR|TOTAL_TIMEOUT|READ_TIMEOUT|ERROR_SENDING_REQUEST|FAILED_TO_RECEIVE_PKIMESSAGE|CONNECT_TIMEOUT)/.test(code)
  ) {
    return true;
  }
  // any other PKIStatus is the CA's decision; only "come back later" is not final
  const bits = err.failInfoCode ?? 0;
  return err.pkiStatus !== undefined && (bits & ((1 << FailInfo.systemUnavail) | (1 << FailInfo.transactionIdInUse))) !== 0;
}

