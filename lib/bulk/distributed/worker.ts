// A worker of a distributed bulk job: a BullMQ Worker whose jobs are items.
// Each job runs one transaction on a pooled context, key generation
// included; in the certConf callback the result (certificate, chain, key
// sealed to the coordinator) goes durably into Redis under a key of this
// attempt, and only then is the certificate accepted. The job's return
// value names that attempt, so the coordinator knows which result the CA
// saw confirmed and which are orphans of attempts that stalled.
import { EventEmitter } from 'node:events';
import { KeyObject, X509Certificate, randomUUID } from 'node:crypto';
import * as os from 'node:os';
import type { Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { CmpContext, TransferCallback } from '../../context';
import { FailInfo } from '../../constants';
import { CmpError } from '../../errors';
import { chainOf } from '../engine';
import { generateKey } from '../items';
import { errorRecord } from '../journal';
import { isTransient } from '../options';
import { PreparedItem, Slot, prepareItem } from '../request';
import { QueueAddress, connect, deadline, keys, loadModule, parseQueueUrl, persistenceWarning, queueError } from './redis';
import { fingerprint, publicKeyFrom, seal } from './sealing';
import { JobData, JobOutcome, ResultRecord, fromJobData } from './wire';

export interface BulkWorkerOptions {
  /** redis://HOST:PORT/NAME of the coordinator's queue. */
  queue: string;
  queuePassword?: string;
  /** `openssl cmp` options in camelCase, as CmpContext.fromOptions takes them. */
  options?: Record<string, string | number | boolean>;
  context?: () => CmpContext;
  transfer?: TransferCallback;
  /** Jobs (transactions, key generation included) this worker runs at once (default 16). */
  concurrency?: number;
  /** Jobs per second across all workers of the queue (BullMQ's limiter); the coordinator's rate sets it too. */
  rate?: number;
  /** The coordinator's public key (PEM) to seal keys to; default: the one the coordinator published in Redis. */
  coordinatorKey?: string | Buffer;
  /** Ms a job's lock lasts without renewal: a killed worker's jobs go to another after about this long (default 30000). */
  lockDuration?: number;
  /** How often a job may stall (its worker died) before it fails (default 5). */
  maxStalledCount?: number;
  /** Ms a result may take to reach Redis before the certificate is refused (default 20000). */
  storeTimeout?: number;
}

interface Attempt {
  id: string;
  key: KeyObject | null;
  token: string;
  stored?: string;
  storeError?: CmpError;
}

interface Pooled {
  slot: Slot;
  attempt?: Attempt;
}

export class BulkWorker extends EventEmitter {
  /** Resolves once the worker is connected and taking jobs. */
  readonly ready: Promise<void>;
  readonly #o: BulkWorkerOptions;
  readonly #address: QueueAddress;
  readonly #redis: Redis;
  readonly #free: Pooled[] = [];
  readonly #all: Pooled[] = [];
  readonly #pinned: KeyObject | undefined;
  readonly #name = `${os.hostname()}:${process.pid}`;
  #worker: Worker | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: BulkWorkerOptions) {
    super();
    if (options === null || typeof options !== 'object') throw new TypeError('The "options" argument must be an object');
    if (!options.context && !options.options) throw new TypeError('bulkWorker needs options.options (openssl cmp options) or options.context (a factory)');
    for (const k of ['concurrency', 'rate', 'lockDuration', 'maxStalledCount', 'storeTimeout'] as const) {
      const v = options[k];
      if (v !== undefined && (typeof v !== 'number' || !(v > 0))) throw new RangeError(`The "options.${k}" option must be a positive number. Received ${String(v)}`);
    }
    this.#o = options;
    this.#address = parseQueueUrl(options.queue, options.queuePassword);
    if (options.coordinatorKey !== undefined) this.#pinned = publicKeyFrom(options.coordinatorKey, 'coordinatorKey');
    this.#redis = connect(this.#address);
    // a worker that failed to start must not go on taking jobs behind its caller's back
    this.ready = this.#start().catch(async (err) => {
      await this.#worker?.close(true).catch(() => {});
      this.#redis.disconnect();
      throw err;
    });
    this.ready.catch(() => {});
  }

  async #start(): Promise<void> {
    const warning = await persistenceWarning(this.#redis, this.#address.label);
    if (warning) this.emit('warning', warning);
    const { Worker } = loadModule<typeof import('bullmq')>('bullmq');
    const o = this.#o;
    const lockDuration = o.lockDuration ?? 30000;
    const worker = new Worker(this.#address.name, (job: Job, _token?: string, signal?: AbortSignal) => this.#process(job, signal), {
      connection: this.#redis,
      concurrency: o.concurrency ?? 16,
      lockDuration,
      stalledInterval: Math.max(1000, Math.floor(lockDuration / 2)),
      maxStalledCount: o.maxStalledCount ?? 5,
      ...(o.rate ? { limiter: { max: o.rate, duration: 1000 } } : {}),
    });
    // one warning per outage, not one per reconnect attempt
    let down = false;
    worker.on('error', (err) => {
      // a job whose lock ran out (its heartbeat came later than lockDuration): Redis is there, the job goes to a worker again
      if (/missing lock|lock mismatch/i.test(err.message)) {
        return this.emit('warning', `a job's lock expired before it finished (${err.message}); the queue runs it again, and a certificate issued meanwhile is an orphan: raise -lock_duration on a machine this loaded`);
      }
      if (!down) this.emit('warning', `lost Redis at ${this.#address.label} (${err.message}); reconnecting`);
      down = true;
    });
    this.#redis.on('ready', () => (down = false));
    this.#worker = worker;
    await deadline(worker.waitUntilReady(), 60000, `queue ${this.#address.label}`);
  }

  /** Takes no more jobs, lets those running finish (each has the CMP timeouts), disconnects. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.ready.catch(() => {});
      // jobs in hand finish within the CMP timeouts; a Redis that stays away must not hold the close forever
      const grace = (this.#o.lockDuration ?? 30000) + 120000;
      await deadline(this.#worker?.close() ?? Promise.resolve(), grace, `closing the worker of ${this.#address.label}`).catch(() => this.#worker?.close(true));
      for (const p of this.#all) p.slot.ctx.close();
      this.#redis.disconnect();
    })();
    return this.#closing;
  }

  #take(): Pooled {
    const free = this.#free.pop();
    if (free) return free;
    const pooled = {} as Pooled;
    pooled.slot = new Slot(() => {
      const ctx = this.#o.context ? this.#o.context() : CmpContext.fromOptions(this.#o.options!);
      if (!(ctx instanceof CmpContext)) throw new TypeError('options.context must return a CmpContext');
      if (this.#o.transfer) ctx.setTransferCallback(this.#o.transfer);
      ctx.setCertConfCallback((cert, failInfo) => this.#certConf(pooled, cert, failInfo));
      return ctx;
    });
    this.#all.push(pooled);
    return pooled;
  }

  async #process(job: Job, signal?: AbortSignal): Promise<JobOutcome> {
    let item: PreparedItem;
    try {
      item = prepareItem(fromJobData(job.data as JobData));
    } catch (err) {
      if (err instanceof CmpError) return { ok: false, error: errorRecord(err) };
      throw err;
    }
    const key = item.keySource && !(item.keySource instanceof KeyObject) ? await generateKey(item.keySource) : null;
    const pooled = this.#take();
    const a: Attempt = { id: item.id, key, token: `${item.id}/${randomUUID()}` };
    pooled.attempt = a;
    try {
      try {
        pooled.slot.configure(item, key);
      } catch (err) {
        const e = err instanceof CmpError ? err : new CmpError(String(err), { code: 'ERR_CMP_BULK_BAD_ITEM', cause: err });
        return { ok: false, error: errorRecord(e) };
      }
      const der = await pooled.slot.exec(item.operation, signal);
      if (!der) return { ok: true, serial: item.oldCert?.serialNumber ?? null, subject: item.oldCert ? `/${item.oldCert.subject.split('\n').join('/')}` : null };
      // OpenSSL hands every certificate it accepts to the certConf callback, implicit confirmation or not
      if (!a.stored) throw new Error(`item '${item.id}': a certificate came without its certConf callback`);
      const cert = new X509Certificate(der);
      // the context answers questions only between transactions: the chain travels with the job's outcome
      const chain = chainOf(cert, [...pooled.slot.ctx.getExtraCertsIn(), ...pooled.slot.ctx.getCaPubs()]);
      return { ok: true, token: a.token, serial: cert.serialNumber, chain: chain.map((c) => c.toString()).join('') };
    } catch (err) {
      const e = a.storeError ?? (err instanceof CmpError ? err : new CmpError(String(err), { code: 'ERR_CMP_UNKNOWN', cause: err }));
      const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if ((a.storeError || isTransient(e)) && !last) throw new Error(`${e.code}: ${e.message}`); // BullMQ tries again after its backoff
      if (item.operation === 'rr' && job.attemptsMade > 0 && e.failInfo?.includes('certRevoked')) {
        return { ok: true, serial: item.oldCert?.serialNumber ?? null }; // an earlier attempt's revocation went through
      }
      return { ok: false, error: errorRecord(e) };
    } finally {
      pooled.attempt = undefined;
      this.#free.push(pooled);
    }
  }

  async #certConf(pooled: Pooled, cert: X509Certificate, failInfo: number): Promise<number> {
    if (failInfo !== 0) return failInfo;
    const a = pooled.attempt!;
    try {
      await this.#store(a, cert);
      return 0;
    } catch (err) {
      a.storeError = err instanceof CmpError ? err : queueError(`cannot store the result in Redis: ${(err as Error).message}`, err);
      return 1 << FailInfo.systemFailure; // the CA is to drop it
    }
  }

  /** Puts the result into Redis; with appendfsync always it is on Redis's disk when this resolves. */
  async #store(a: Attempt, cert: X509Certificate): Promise<void> {
    const serial = cert.serialNumber;
    const rec: ResultRecord = {
      id: a.id,
      token: a.token,
      serial,
      cert: cert.toString(),
      worker: this.#name,
    };
    const k = keys(this.#address.name);
    const timeout = this.#o.storeTimeout ?? 20000;
    if (a.key) rec.key = seal(await this.#coordinatorKey(k.sealKey, timeout), a.key, a.id, serial);
    await deadline(this.#redis.hset(k.results, a.token, JSON.stringify(rec)), timeout, `storing the result of '${a.id}'`);
    a.stored = a.token;
  }

  async #coordinatorKey(name: string, timeout: number): Promise<KeyObject> {
    const pem = await deadline(this.#redis.get(name), timeout, 'reading the coordinator key');
    if (pem === null && this.#pinned) return this.#pinned;
    if (pem === null) throw queueError(`no coordinator key in Redis at ${this.#address.label} (is the coordinator running?)`);
    const published = publicKeyFrom(pem, 'the coordinator key in Redis');
    if (this.#pinned && fingerprint(published) !== fingerprint(this.#pinned)) {
      throw queueError(`the coordinator key in Redis (sha256 ${fingerprint(published).slice(0, 16)}...) is not the one this worker was given; refusing to seal keys to it`);
    }
    return published;
  }
}

/** Starts a worker on a distributed bulk job's queue; close() ends it. */
export function bulkWorker(options: BulkWorkerOptions): BulkWorker {
  return new BulkWorker(options);
}
