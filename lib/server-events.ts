// One structured event per CMP transaction a CmpServer serves: what an
// operator's log pipeline and metrics want from it, read from the DER of each
// request and response (transactionID, body types, sender, PKIStatusInfo).
import { FailInfo, PKIStatus } from './constants';
import { Tlv, children, readTlv } from './der';
import { binding } from './native';

const BODIES = ['ir', 'ip', 'cr', 'cp', 'p10cr', 'popdecc', 'popdecr', 'kur', 'kup', 'krr', 'krp', 'rr', 'rp', 'ccr', 'ccp', 'ckuann',
  'cann', 'rann', 'crlann', 'pkiconf', 'nested', 'genm', 'genp', 'error', 'certConf', 'pollReq', 'pollRep'];
const STATUS_NAMES = Object.fromEntries(Object.entries(PKIStatus).map(([k, v]) => [v, k])) as Record<number, string>;
const FAIL_NAMES = Object.fromEntries(Object.entries(FailInfo).map(([k, v]) => [v, k])) as Record<number, string>;
const IMPLICIT_CONFIRM = Buffer.from('06082b060105050704 0d'.replace(/ /g, ''), 'hex'); // id-it-implicitConfirm

export interface TransactionEvent {
  /** transactionID, hex; null when the request had none or could not be read. */
  transactionId: string | null;
  /** Body types of the transaction's requests and responses, in order: "ir", "ip", "certConf", "pkiconf". */
  messages: string[];
  /** The request that began it. */
  type: string;
  /** The requester's name ("/CN=..."), as its header says. */
  sender: string | null;
  /** PKIStatus of the last response that carried one ("accepted", "rejection", ...). */
  status: string | null;
  failInfo: string[];
  /**
   * "completed": the transaction ended as CMP ends it; "error": an error
   * message ended it; "abandoned": no message came within the transaction
   * timeout; "refused": the request was not processed (unreadable, or load).
   */
  outcome: 'completed' | 'error' | 'abandoned' | 'refused';
  /** From the first request received to the last response sent, in milliseconds. */
  durationMs: number;
  /** Where the requests came from (HTTP), if known. */
  remote: string | null;
  /** When the first request arrived. */
  start: string;
  /** Why a request was refused. */
  reason?: string;
}

interface Message {
  tid: string | null;
  body: string;
  sender: string | null;
  status: number | null;
  failInfo: string[];
  implicitConfirm: boolean;
}

function pkiStatusInfo(der: Buffer, si: Tlv): { status: number; failInfo: string[] } {
  const parts = children(der, si);
  const status = der.readIntBE(parts[0].content, Math.min(6, parts[0].end - parts[0].content));
  const failInfo: string[] = [];
  const bits = parts.find((p) => p.tag === 0x03);
  if (bits) {
    for (let i = 0; i < (bits.end - bits.content - 1) * 8; i++) {
      if (der[bits.content + 1 + (i >> 3)] & (0x80 >> (i & 7))) failInfo.push(FAIL_NAMES[i] ?? `bit${i}`);
    }
  }
  return { status, failInfo };
}

/** What an event needs of one PKIMessage; null when it cannot be read. */
export function readMessage(der: Buffer): Message | null {
  try {
    const [header, body] = children(der, readTlv(der, 0));
    const h = children(der, header);
    const optional = h.slice(3); // after pvno, sender and recipient, whose directoryName is [4] too
    const tidField = optional.find((f) => f.tag === 0xa4);
    const tid = tidField ? der.subarray(readTlv(der, tidField.content).content, tidField.end).toString('hex') : null;
    const sender = h[1].tag === 0xa4 ? binding.nameFromDer(der.subarray(h[1].content, h[1].end)) : null;
    const info = optional.find((f) => f.tag === 0xa8);
    const m: Message = {
      tid, sender, body: BODIES[body.tag - 0xa0] ?? `body${body.tag - 0xa0}`, status: null, failInfo: [],
      implicitConfirm: !!info && der.subarray(info.content, info.end).includes(IMPLICIT_CONFIRM),
    };
    const content = readTlv(der, body.content);
    let si: Tlv | undefined;
    if (['ip', 'cp', 'kup'].includes(m.body)) {
      const responses = children(der, content).filter((c) => c.tag === 0x30).pop();
      const first = responses && children(der, responses)[0];
      si = first && children(der, first)[1];
    } else if (m.body === 'rp') {
      si = children(der, children(der, content)[0])[0];
    } else if (m.body === 'error') {
      si = children(der, content)[0];
    }
    if (si) Object.assign(m, pkiStatusInfo(der, si));
    return m;
  } catch {
    return null;
  }
}

interface Open {
  event: TransactionEvent;
  began: number;
  last: number;
}

/** Follows transactions message by message and hands each finished one to `emit`. */
export class TransactionTracker {
  readonly #open = new Map<string, Open>();
  constructor(
    private readonly emit: (event: TransactionEvent) => void,
    private readonly timeoutMs: number,
  ) {}

  /** One request and what became of it: the response, or the reason it was refused. Returns the request's body type. */
  record(request: Buffer, response: Buffer | null, began: number, remote: string | null, refused?: string): string {
    const now = performance.now();
    this.sweep(now);
    const req = readMessage(request);
    const key = req?.tid ?? null;
    let open = key === null ? undefined : this.#open.get(key);
    if (!open) {
      open = {
        began,
        last: now,
        event: {
          transactionId: key, messages: [], type: req?.body ?? 'unreadable', sender: req?.sender ?? null, status: null, failInfo: [],
          outcome: 'completed', durationMs: 0, remote, start: new Date(Date.now() - (now - began)).toISOString(),
        },
      };
    }
    open.last = now;
    const e = open.event;
    if (req) e.messages.push(req.body);
    const rsp = response && readMessage(response);
    if (rsp) {
      e.messages.push(rsp.body);
      if (rsp.status !== null) {
        e.status = STATUS_NAMES[rsp.status] ?? String(rsp.status);
        e.failInfo = rsp.failInfo;
      }
    }
    const done = refused !== undefined || !rsp || ['pkiconf', 'rp', 'genp', 'error'].includes(rsp.body) ||
      (['ip', 'cp', 'kup'].includes(rsp.body) && (rsp.implicitConfirm || rsp.status === PKIStatus.rejection));
    if (refused !== undefined) {
      e.outcome = 'refused';
      e.reason = refused;
    } else if (rsp?.body === 'error') {
      e.outcome = 'error';
    }
    if (done) {
      if (key !== null) this.#open.delete(key);
      this.#finish(open, now);
    } else if (key !== null) {
      this.#open.set(key, open);
    }
    return req?.body ?? 'unreadable';
  }

  /** Transactions open longer than the timeout end as abandoned; all of them when closing. */
  sweep(now = performance.now(), all = false): void {
    for (const [key, open] of this.#open) {
      if (!all && now - open.last <= this.timeoutMs) continue;
      this.#open.delete(key);
      open.event.outcome = 'abandoned';
      this.#finish(open, open.last);
    }
  }

  #finish(open: Open, end: number): void {
    open.event.durationMs = Math.round((end - open.began) * 1000) / 1000;
    try {
      this.emit(open.event);
    } catch {
      // an observer's failure is not the server's
    }
  }
}
