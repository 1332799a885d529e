// What a CmpServer does around each request when asked to: at most
// maxConcurrent processed at once and maxQueued waiting, one event per
// transaction, metrics.
import { CmpError } from './errors';
import { ServerMetrics } from './metrics';
import type { CmpServerOptions } from './server';
import { TransactionTracker } from './server-events';

export class RequestWatch {
  readonly metrics: ServerMetrics | undefined;
  readonly #tracker: TransactionTracker | undefined;
  readonly #maxConcurrent: number;
  readonly #maxQueued: number;
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  /** The watch the options ask for, if any. */
  static for(options: CmpServerOptions): RequestWatch | undefined {
    const wanted = options.metrics || options.onTransaction || options.maxConcurrent !== undefined;
    return wanted ? new RequestWatch(options) : undefined;
  }

  private constructor(options: CmpServerOptions) {
    if (options.metrics) this.metrics = new ServerMetrics(options.metrics === true ? {} : options.metrics);
    if (this.metrics || options.onTransaction) {
      this.#tracker = new TransactionTracker((e) => {
        this.metrics?.transaction(e);
        options.onTransaction?.(e);
      }, (options.transactionTimeout ?? 300) * 1000);
    }
    this.#maxConcurrent = options.maxConcurrent ?? Infinity;
    this.#maxQueued = options.maxQueued ?? Infinity;
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
    if (this.#running < this.#maxConcurrent) {
      this.#running++;
      return;
    }
    if (this.#waiting.length >= this.#maxQueued) {
      throw new CmpError('The CMP server is busy: too many requests waiting', { code: 'ERR_CMP_SERVER_BUSY' });
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
