// What crosses Redis: a job per item (name: the operation; data: the item's
// public fields, readable in any queue dashboard), and per attempt that got
// a certificate, a result record with the key sealed to the coordinator.
import { X509Certificate } from 'node:crypto';
import type { CertificateInput, CsrInput } from '../../convert';
import { BulkItem, BulkOperation, KeySpec, badItem, isKeySpec, keySpec } from '../items';
import type { SealedKey } from './sealing';

export interface JobData {
  id: string;
  operation: BulkOperation;
  subject?: string;
  sans?: string[];
  policies?: string[];
  key?: KeySpec;
  /** PEM, or DER in base64. */
  csr?: string;
  oldCert?: string;
}

/** Written by a worker in its certConf callback, before it accepts the certificate. */
export interface ResultRecord {
  id: string;
  /** Names this attempt; the job's return value names the one the CA saw accepted. */
  token: string;
  serial: string;
  cert: string;
  key?: SealedKey;
  worker: string;
}

/** A job's return value: which attempt's result the CA saw accepted and the issuing chain it sent (PEM), or the failure. */
export type JobOutcome = { ok: true; token?: string; serial: string | null; subject?: string | null; chain?: string } | { ok: false; error: Record<string, unknown> };

function text(v: CsrInput | CertificateInput): string {
  if (v instanceof X509Certificate) return v.toString();
  if (typeof v === 'string') return v;
  return Buffer.from(v).toString('base64');
}

/** The job data of an item; supplied private keys are refused, for they would cross Redis in clear. */
export function toJobData(item: BulkItem): JobData {
  const where = `item '${item.id}'`;
  const op = item.operation ?? 'ir';
  const d: JobData = { id: item.id, operation: op };
  if (item.subject !== undefined) d.subject = item.subject;
  if (item.sans !== undefined) d.sans = item.sans;
  if (item.policies !== undefined) d.policies = item.policies;
  if (item.key !== undefined) {
    const spec = isKeySpec(item.key) ? item.key : typeof item.key === 'string' && /^(ec|rsa|ed25519|central)(:|$)/.test(item.key) ? item.key : undefined;
    if (spec === undefined) throw badItem(`${where}: a supplied private key is not sent through the queue; give a key spec (workers generate the key) or a csr`);
    d.key = keySpec(spec, `${where} key`);
    if (d.key.type === 'central') throw badItem(`${where}: central key generation does not go through the queue yet; run the job on one machine`);
  }
  if (item.oldKey !== undefined) throw badItem(`${where}: oldKey is not sent through the queue; workers sign with their own credentials`);
  if (item.csr !== undefined) d.csr = text(item.csr);
  if (item.oldCert !== undefined) d.oldCert = text(item.oldCert);
  return d;
}

export function fromJobData(d: JobData): BulkItem {
  const item: BulkItem = { id: d.id, operation: d.operation };
  if (d.subject !== undefined) item.subject = d.subject;
  if (d.sans !== undefined) item.sans = d.sans;
  if (d.policies !== undefined) item.policies = d.policies;
  if (d.key !== undefined) item.key = d.key;
  const bin = (s: string) => (s.startsWith('-----BEGIN') ? s : Buffer.from(s, 'base64'));
  if (d.csr !== undefined) item.csr = bin(d.csr);
  if (d.oldCert !== undefined) item.oldCert = bin(d.oldCert);
  return item;
}
