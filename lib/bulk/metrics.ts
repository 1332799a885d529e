// A bulk job's counters in a prom-client registry (the one of a CmpServer, or
// a process's own), for the same dashboards as the servers. Counters add up
// over every job that reports to the registry, as Prometheus expects.
import { Registry, metricsIn } from '../metrics';

export class BulkMetrics {
  readonly #done;
  readonly #confirmed;
  readonly #failed;
  readonly #skipped;
  readonly #inFlight;
  readonly #retries;
  readonly #latency;

  constructor(registry: Registry) {
    const m = metricsIn(registry, 'cmp_bulk_');
    this.#done = m.counter('items_done_total', 'Bulk items finished: confirmed, failed or skipped (confirmed in an earlier run)');
    this.#confirmed = m.counter('items_confirmed_total', 'Bulk items whose certificate was issued and confirmed (or revocation done)');
    this.#failed = m.counter('items_failed_total', 'Bulk items that failed: rejected by the CA, or transient faults beyond the retries');
    this.#skipped = m.counter('items_skipped_total', 'Bulk items skipped as confirmed in an earlier run of the journal');
    this.#inFlight = m.gauge('items_in_flight', 'Bulk items being enrolled (backoff between attempts included)');
    this.#retries = m.counter('retries_total', 'CMP transactions of bulk items started again after a transient fault');
    this.#latency = m.histogram('item_duration_seconds', 'Time from a bulk item\'s start to its end, all attempts included', undefined);
  }

  ok(ms: number): void {
    this.#confirmed.inc();
    this.#finished(ms);
  }

  fail(ms: number | undefined): void {
    this.#failed.inc();
    this.#finished(ms);
  }

  skipped(): void {
    this.#skipped.inc();
    this.#done.inc();
  }

  inFlight(delta: number): void {
    this.#inFlight.inc(delta);
  }

  retry(): void {
    this.#retries.inc();
  }

  #finished(ms: number | undefined): void {
    this.#done.inc();
    if (ms !== undefined) this.#latency.observe(ms / 1000);
  }
}
