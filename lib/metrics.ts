// Prometheus metrics of a CmpServer through prom-client, an optional
// dependency loaded only when metrics are asked for.
import type * as http from 'node:http';
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

/** A new prom-client Registry (throws ERR_CMP_MISSING_DEPENDENCY without prom-client). */
export function newRegistry(): Registry {
  return new (promClient().Registry)();
}

/** Answers a scrape with the registry's text exposition. */
export function serveMetrics(registry: Registry, res: http.ServerResponse): void {
  registry.metrics().then(
    (text) => {
      res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text) });
      res.end(text);
    },
    () => {
      res.writeHead(500);
      res.end();
    },
  );
}

/** The default latency buckets, in seconds. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Makes the metrics of one prefix in `registry`, or finds them there: a
 * registry shared by several servers or jobs holds each metric once.
 */
export function metricsIn(registry: Registry, prefix: string) {
  const prom = promClient();
  const registers = [registry as import('prom-client').Registry];
  const found = (name: string) => registry.getSingleMetric(prefix + name);
  return {
    counter: <L extends string = string>(name: string, help: string, labelNames: readonly L[] = []) =>
      (found(name) as import('prom-client').Counter<L> | undefined) ?? new prom.Counter<L>({ name: prefix + name, help, labelNames, registers }),
    gauge: (name: string, help: string) =>
      (found(name) as import('prom-client').Gauge | undefined) ?? new prom.Gauge({ name: prefix + name, help, registers }),
    histogram: <L extends string = string>(name: string, help: string, buckets: number[] | undefined, labelNames: readonly L[] = []) =>
      (found(name) as import('prom-client').Histogram<L> | undefined) ??
      new prom.Histogram<L>({ name: prefix + name, help, labelNames, buckets: buckets ?? LATENCY_BUCKETS, registers }),
  };
}

export class ServerMetrics {
  readonly registry: Registry;
  readonly #transactions;
  readonly #latency;
  readonly #inFlight;
  readonly #queued;
  readonly #refused;

  constructor(options: MetricsOptions = {}) {
    this.registry = options.registry ?? newRegistry();
    const m = metricsIn(this.registry, options.prefix ?? 'cmp_server_');
    this.#transactions = m.counter('transactions_total', 'CMP transactions finished, by the request that began them, final PKIStatus and outcome',
      ['type', 'status', 'outcome'] as const);
    this.#latency = m.histogram('request_duration_seconds', 'Time to answer one CMP request, by request body type', options.buckets, ['type'] as const);
    this.#inFlight = m.gauge('requests_in_flight', 'CMP requests being processed');
    this.#queued = m.gauge('requests_queued', 'CMP requests waiting for a processing slot (maxConcurrent)');
    this.#refused = m.counter('requests_refused_total',
      'CMP requests refused unprocessed, by reason ("load": queue full or too many open transactions; "bad_request")', ['reason'] as const);
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
