// What a CmpServer does around each request: the one overload limit
// (maxPending requests admitted, of which at most maxConcurrent are processed
// at once while the rest wait their turn), and when asked to, one event per
// transaction and metrics.
import { CmpError } from './errors';
import { ServerMetrics } from './metrics';
import type { CmpServerOptions } from './server';
import { TransactionTracker } from './server-events';

export const DEFAULT_MAX_PENDING = 256;

export class RequestWatch {
  readonly metrics: ServerMetrics | undefined;
  readonly #tracker: TransactionTracker | undefined;
  readonly #maxConcurrent: number;
  readonly #maxPending: number;
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(options: CmpServerOptions) {
    if (options.metrics) this.metrics = new ServerMetrics(options.metrics === true ? {} : options.metrics);
    if (this.metrics || options.onTransaction) {
      this.#tracker = new TransactionTracker((e) => {
        this.metrics?.transaction(e);
        options.onTransaction?.(e);
      }, (options.transactionTimeout ?? 300) * 1000);
    }
    this.#maxConcurrent = options.maxConcurrent ?? Infinity;
    this.#maxPending = options.maxPending ?? DEFAULT_MAX_PENDING;
  }

  async run(handle: (der: Buffer) => Promise<Buffer>, der: Buffer, remote: string | null): Promise<Buffer> {
    const began = performance.now();
    try {
      await this.#admit();
    } catch (err) {
      this.metrics?.refused('load');
      this.#tracker?.record(der, null, began, remote, (err as Error).message);
      throw err;
    }
    this.metrics?.inFlight(1);
    let rsp: Buffer | null = null;
    let failure: Error | undefined;
    try {
      rsp = await handle(der);
      return rsp;
    } catch (err) {
      failure = err as Error;
      throw err;
    } finally {
      this.#release();
      this.metrics?.inFlight(-1);
      if (failure) this.metrics?.refused(/too many open transactions/.test(failure.message) ? 'load' : 'bad_request');
      const type = this.#tracker?.record(der, rsp, began, remote, failure?.message);
      this.metrics?.request(type ?? 'unreadable', (performance.now() - began) / 1000);
    }
  }

  /** Transactions still open end as abandoned. */
  close(): void {
    this.#tracker?.sweep(undefined, true);
  }

  async #admit(): Promise<void> {
    const pending = this.#running + this.#waiting.length;
    if (pending >= this.#maxPending) {
      throw new CmpError(`The CMP server has ${pending} requests queued or running (maxPending); try again later`, { code: 'ERR_CMP_SERVER_BUSY' });
    }
    if (this.#running < this.#maxConcurrent) {
      this.#running++;
      return;
    }
    this.metrics?.queued(1);
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.metrics?.queued(-1);
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next(); // the slot passes on
    else this.#running--;
  }
}
