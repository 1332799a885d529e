// Counters, rates and latency percentiles of a job, in constant memory
// however many items pass.
import { PKIStatus } from '../constants';
import { CmpError } from '../errors';

export interface BulkProgress {
  /** Items finished in this run: confirmed, failed or skipped. */
  done: number;
  confirmed: number;
  failed: number;
  skipped: number;
  inFlight: number;
  /** Confirmed items per second over the last few seconds. */
  rate: number;
  /** Known only when the item count is (an array): seconds to go at the current rate. */
  total?: number;
  eta?: number;
}

export interface BulkSummary {
  total: number;
  confirmed: number;
  failed: number;
  skipped: number;
  /** Serial numbers (hex, as X509Certificate.serialNumber prints them) issued over all runs of the journal, not in the output and not revoked by the job. */
  orphans: string[];
  /** Orphans revoked by this run (revokeOrphans); they are no longer listed as orphans. */
  revoked: string[];
  /** True when the job was stopped by its signal; running it again with the same journal resumes it. */
  stopped: boolean;
  seconds: number;
  /** Confirmed items per second over the whole run. */
  rate: number;
  /** Milliseconds from an item's start to its end, all attempts included. */
  latency: { p50: number; p99: number; max: number };
  attempts: number;
  /** Failures by cause: the server's status and failure info, or the error code. */
  errors: Record<string, number>;
}

// log-spaced buckets, 2% apart, from 0.1 ms up: relative error under 1%
const BASE = 0.1;
const GROWTH = Math.log(1.02);

class Histogram {
  readonly #counts: number[] = [];
  #n = 0;
  #max = 0;

  add(ms: number): void {
    const i = ms <= BASE ? 0 : Math.ceil(Math.log(ms / BASE) / GROWTH);
    this.#counts[i] = (this.#counts[i] ?? 0) + 1;
    this.#n++;
    if (ms > this.#max) this.#max = ms;
  }

  quantile(q: number): number {
    if (this.#n === 0) return 0;
    const rank = Math.ceil(q * this.#n);
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i] ?? 0;
      if (seen >= rank) return Math.min(this.#max, BASE * Math.exp(i * GROWTH));
    }
    return this.#max;
  }

  get max(): number {
    return this.#max;
  }
}

/** The cause a failure is grouped under in the summary. */
export function causeOf(err: CmpError): string {
  if (err.pkiStatus !== undefined && err.pkiStatusName && err.pkiStatus !== PKIStatus.accepted && err.pkiStatus !== PKIStatus.grantedWithMods) {
    return [err.pkiStatusName, ...(err.failInfo ?? [])].join(': ');
  }
  return err.code ?? 'ERR_CMP_UNKNOWN';
}

const WINDOW_MS = 5000;

export class Tally {
  confirmed = 0;
  failed = 0;
  skipped = 0;
  inFlight = 0;
  attempts = 0;
  total: number | undefined;
  readonly #started = performance.now();
  readonly #latency = new Histogram();
  readonly #errors = new Map<string, number>();
  // confirmations per 250 ms slot over the window
  readonly #slots: Array<{ at: number; n: number }> = [];

  ok(ms: number): void {
    this.confirmed++;
    this.#latency.add(ms);
    const now = performance.now();
    const slot = Math.floor(now / 250);
    const last = this.#slots[this.#slots.length - 1];
    if (last && last.at === slot) last.n++;
    else this.#slots.push({ at: slot, n: 1 });
    while (this.#slots.length && (this.#slots[0].at + 1) * 250 < now - WINDOW_MS) this.#slots.shift();
  }

  fail(err: CmpError, ms: number | undefined): void {
    this.failed++;
    if (ms !== undefined) this.#latency.add(ms);
    const cause = causeOf(err);
    this.#errors.set(cause, (this.#errors.get(cause) ?? 0) + 1);
  }

  rate(): number {
    const now = performance.now();
    const since = Math.max(now - WINDOW_MS, this.#started);
    const n = this.#slots.filter((s) => (s.at + 1) * 250 >= since).reduce((a, s) => a + s.n, 0);
    const span = (now - since) / 1000;
    return span > 0.05 ? n / span : 0;
  }

  progress(): BulkProgress {
    const done = this.confirmed + this.failed + this.skipped;
    const p: BulkProgress = { done, confirmed: this.confirmed, failed: this.failed, skipped: this.skipped, inFlight: this.inFlight, rate: round(this.rate()) };
    if (this.total !== undefined) {
      p.total = this.total;
      if (p.rate > 0) p.eta = Math.round((this.total - done) / p.rate);
    }
    return p;
  }

  summary(orphans: string[], stopped: boolean): BulkSummary {
    const seconds = (performance.now() - this.#started) / 1000;
    return {
      total: this.confirmed + this.failed + this.skipped,
      confirmed: this.confirmed,
      failed: this.failed,
      skipped: this.skipped,
      orphans,
      revoked: [],
      stopped,
      seconds: round(seconds),
      rate: round(seconds > 0 ? this.confirmed / seconds : 0),
      latency: { p50: round(this.#latency.quantile(0.5)), p99: round(this.#latency.quantile(0.99)), max: round(this.#latency.max) },
      attempts: this.attempts,
      errors: Object.fromEntries(this.#errors),
    };
  }
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
