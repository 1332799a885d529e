// Prometheus metrics of a CmpServer through prom-client, an optional
// dependency loaded only when metrics are asked for.
import { CmpError } from './errors';
import type { TransactionEvent } from './server-events';

type PromClient = typeof import('prom-client');
/** A prom-client Registry (structurally, so the types do not need prom-client installed). */
export interface Registry {
  metrics(): Promise<string>;
  readonly contentType: string;
  getSingleMetric(name: string): unknown;
}

export interface MetricsOptions {
  /** Where the metrics go (default: a registry of this server's own). */
  registry?: Registry;
  /** Name prefix (default "cmp_server_"). */
  prefix?: string;
  /** Latency histogram buckets, in seconds. */
  buckets?: number[];
}

function promClient(): PromClient {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('prom-client') as PromClient;
  } catch (err) {
    throw new CmpError('metrics need the optional dependency prom-client: npm install prom-client@15.1.3', {
      code: 'ERR_CMP_MISSING_DEPENDENCY',
      cause: err,
    });
  }
}

export class ServerMetrics {
  readonly registry: Registry;
  readonly #transactions;
  readonly #latency;
  readonly #inFlight;
  readonly #queued;
  readonly #refused;

  constructor(options: MetricsOptions = {}) {
    const prom = promClient();
    this.registry = options.registry ?? new prom.Registry();
    const registers = [this.registry as import('prom-client').Registry];
    const p = options.prefix ?? 'cmp_server_';
    // a registry shared by several servers holds each metric once
    const get = <T>(name: string, make: () => T): T => (this.registry.getSingleMetric(p + name) as T | undefined) ?? make();
    this.#transactions = get('transactions_total', () => new prom.Counter({
      name: `${p}transactions_total`, help: 'CMP transactions finished, by the request that began them, final PKIStatus and outcome',
      labelNames: ['type', 'status', 'outcome'] as const, registers,
    }));
    this.#latency = get('request_duration_seconds', () => new prom.Histogram({
      name: `${p}request_duration_seconds`, help: 'Time to answer one CMP request, by request body type',
      labelNames: ['type'] as const, buckets: options.buckets ?? [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers,
    }));
    this.#inFlight = get('requests_in_flight', () => new prom.Gauge({
      name: `${p}requests_in_flight`, help: 'CMP requests being processed', registers,
    }));
    this.#queued = get('requests_queued', () => new prom.Gauge({
      name: `${p}requests_queued`, help: 'CMP requests waiting for a processing slot (maxConcurrent)', registers,
    }));
    this.#refused = get('requests_refused_total', () => new prom.Counter({
      name: `${p}requests_refused_total`, help: 'CMP requests refused unprocessed, by reason ("load": queue full or too many open transactions; "bad_request")',
      labelNames: ['reason'] as const, registers,
    }));
  }

  transaction(e: TransactionEvent): void {
    this.#transactions.inc({ type: e.type, status: e.status ?? 'none', outcome: e.outcome });
  }

  request(type: string, seconds: number): void {
    this.#latency.observe({ type }, seconds);
  }

  inFlight(delta: number): void {
    this.#inFlight.inc(delta);
  }

  queued(delta: number): void {
    this.#queued.inc(delta);
  }

  refused(reason: 'load' | 'bad_request'): void {
    this.#refused.inc({ reason });
  }

  /** The text exposition format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
