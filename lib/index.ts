import { Features, binding } from './native';

export { CmpError } from './errors';
export { CmpContext } from './context';
export type {
  Itav,
  ItavInput,
  TransactionOptions,
  TryCertReqResult,
  RootCaKeyUpdate,
  CertReqTemplate,
  ExtensionInput,
  TransferCallback,
  CertConfCallback,
  LogCallback,
  LogEntry,
  MessageFiles,
  TlsOptions,
  VerifyOptions,
} from './context';
export { httpTransport } from './transport';
export { CmpServer } from './server';
export type { CmpServerOptions, CmpServerHandlers, CertRequest, RevocationRequest, HandlerResult, ListenOptions } from './server';
export type { ServerLogEntry, ServerLogHook, HttpLogInfo } from './server';
export type { TransactionEvent } from './server-events';
export type { MetricsOptions } from './metrics';
export { TestCa } from './test-ca';
export type { TestCaOptions } from './test-ca';
export { loadConfig } from './options/config';
export type { HttpTransportOptions } from './transport';
export type { CertificateInput, CertificateListInput, KeyInput, CsrInput, SecretInput, CrlInput } from './convert';
export { enrollMany, readItems, BulkJob, enrollManyQueued, QueuedBulkJob, bulkWorker, BulkWorker } from './bulk';
export type { BulkOptions, BulkResult, BulkItem, BulkOperation, KeySpec, BulkProgress, BulkSummary, FileNames, ManifestLine, QueuedBulkOptions, BulkWorkerOptions } from './bulk';
export { CertReqType, Option, PKIStatus, FailInfo, PopoMethod, LogLevel } from './constants';

/** The text of the OpenSSL the addon runs on: Node's own, or the bundled one (`features.bundled`). */
export const opensslVersion: string = binding.opensslVersion;

/** What this OpenSSL offers, detected at run time. */
export const features: Features = Object.freeze({ ...binding.features });
export type { Features, FeatureMode } from './native';

/**
 * Caps the threads that run transactions, per kind: at most `n` client
 * transactions and `n` server requests run at once in this thread or worker
 * (default 64); the rest wait in order. A transaction parked on a JS
 * transport holds its thread, so bulk runs against a slow CA may want more.
 */
export function setMaxThreads(n: number): void {
  binding.setMaxThreads(n);
}

/** The current cap set by setMaxThreads. */
export function getMaxThreads(): number {
  return binding.getMaxThreads();
}
