// The results of a bulk job as an async iterator: kept only while someone
// iterates (memory stays flat otherwise), and bounded, so that a slow reader
// holds back the job rather than letting results pile up.
import type { BulkResult } from './engine';

const HIGH_WATER = 256;

export class ResultQueue {
  #reading = false;
  #results: BulkResult[] = [];
  #wakeReader: (() => void) | undefined;
  #wakeWriters: Array<() => void> = [];
  #finished = false;
  #failure: Error | undefined;

  /** Someone iterates the results: only then are they worth making. */
  get reading(): boolean {
    return this.#reading;
  }

  push(r: BulkResult): void {
    if (!this.#reading) return;
    this.#results.push(r);
    this.#wakeReader?.();
    this.#wakeReader = undefined;
  }

  /** Resolves once the reader has room for more results (at once when nobody reads, or `stopped()`). */
  async room(stopped: () => boolean): Promise<void> {
    while (this.#reading && this.#results.length >= HIGH_WATER && !stopped()) {
      await new Promise<void>((resolve) => this.#wakeWriters.push(resolve));
    }
  }

  /** No more results: the reader drains what is left, then ends (with `failure`, if any). */
  end(failure?: Error): void {
    this.#failure ??= failure;
    this.#finished = true;
    this.#wakeReader?.();
  }

  iterator(): AsyncIterator<BulkResult> {
    this.#reading = true;
    const release = () => this.#wakeWriters.splice(0).forEach((w) => w());
    return {
      next: async () => {
        for (;;) {
          const r = this.#results.shift();
          if (r) {
            if (this.#results.length < HIGH_WATER) release();
            return { value: r, done: false };
          }
          if (this.#finished) {
            if (this.#failure) throw this.#failure;
            return { value: undefined, done: true };
          }
          await new Promise<void>((resolve) => (this.#wakeReader = resolve));
        }
      },
      return: async () => {
        this.#reading = false;
        this.#results = [];
        release();
        return { value: undefined, done: true };
      },
    };
  }
}
