// The coordinator of a distributed bulk job. It reads the items, consults
// the journal and enqueues what is left as BullMQ jobs keyed by item id (a
// second enqueue of an id adds nothing), and it alone writes the journal,
// the files and the manifest: from each finished job it takes the result
// that job's worker stored before accepting, opens the sealed key, writes
// the files, journals the item confirmed, and only then deletes job and
// result from Redis. A crash anywhere leaves either the job or the journal
// row, so a restart with the same journal picks up where it stopped.
// Results of attempts that stalled and were retried are orphans.
import { EventEmitter } from 'node:events';
import { KeyObject, X509Certificate, createPublicKey } from 'node:crypto';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { toCerts, toCertsDer } from '../../convert';
import { CmpError } from '../../errors';
import type { BulkResult } from '../engine';
import { BulkItem, ItemSource } from '../items';
import { Journal, JournalRow, errorFromRecord } from '../journal';
import { asIterator } from '../options';
import { ManifestLine, Output, FileNames, checkFileId, issuedFromCert } from '../output';
import { BulkProgress, BulkSummary, Tally } from '../progress';
import { prepareItem } from '../request';
import { ResultQueue } from '../results';
import { QueueAddress, connect, deadline, keys, loadModule, parseQueueUrl, persistenceWarning, queueError } from './redis';
import { coordinatorKey, unseal } from './sealing';
import { JobOutcome, ResultRecord, toJobData } from './wire';

export interface QueuedBulkOptions {
  /** redis://HOST:PORT/NAME: the BullMQ queue the workers serve. */
  queue: string;
  queuePassword?: string;
  /** SQLite file (required: it is what a restarted coordinator resumes from). */
  journal: string;
  outDir?: string;
  names?: FileNames;
  passphrase?: string;
  /** Also write {id}.p12 (key, certificate, chain) encrypted under `passphrase`. */
  pkcs12?: boolean;
  /** The coordinator's X25519 key (PKCS#8 PEM), made when absent. Default: coordinator-key.pem beside the journal. */
  sealKey?: string;
  /** Jobs started per second across all workers (BullMQ's global rate limit). */
  rate?: number;
  /** Retries of a transient failure (default 4), with BullMQ's exponential backoff from `backoff` ms (default 200). */
  retries?: number;
  backoff?: number;
  retryFailed?: boolean;
  /** Items enqueued and not yet finished, at most (default 5000): Redis holds a window of the job, not all of it. */
  window?: number;
  /** Ms Redis may stay unreachable before the job gives up, resumable (default 60000). */
  redisTimeout?: number;
  signal?: AbortSignal;
}

const CHUNK = 500;
// idle polls back off from IDLE_MS to IDLE_MAX_MS: a slow job costs the coordinator little, a fast one waits little
const IDLE_MS = 20;
const IDLE_MAX_MS = 500;
const SWEEP_MS = 1000;
const PROGRESS_MS = 250;

export class QueuedBulkJob extends EventEmitter implements AsyncIterable<BulkResult> {
  readonly done: Promise<BulkSummary>;
  readonly #o: QueuedBulkOptions;
  readonly #address: QueueAddress;
  readonly #tally = new Tally();
  readonly #chains = new Map<string, X509Certificate[]>(); // issuing chains as workers send them (PEM), parsed once
  readonly #stop = new AbortController();
  readonly #claimed = new Set<string>(); // enqueued in this run and not yet finished
  readonly #keys: { results: string; sealKey: string };
  readonly #results = new ResultQueue();
  #journal!: Journal;
  #output: Output | undefined;
  #redis!: Redis;
  #queue!: Queue;
  #own!: KeyObject;
  #fed = false;

  constructor(items: ItemSource, options: QueuedBulkOptions) {
    super();
    if (options === null || typeof options !== 'object') throw new TypeError('The "options" argument must be an object');
    if (typeof options.journal !== 'string') throw new TypeError('A distributed job needs options.journal: a restarted coordinator resumes from it');
    for (const k of ['rate', 'backoff', 'window', 'redisTimeout'] as const) {
      const v = options[k];
      if (v !== undefined && (typeof v !== 'number' || !(v > 0))) throw new RangeError(`The "options.${k}" option must be a positive number. Received ${String(v)}`);
    }
    if (options.retries !== undefined && (!Number.isInteger(options.retries) || options.retries < 0)) throw new RangeError('The "options.retries" option must be a non-negative integer');
    this.#o = options;
    this.#address = parseQueueUrl(options.queue, options.queuePassword);
    this.#keys = keys(this.#address.name);
    const source = asIterator(items);
    if (Array.isArray(items)) this.#tally.total = items.length;
    this.done = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#run(source));
    this.done.catch(() => {});
  }

  /** Stops enqueuing and ingesting; what workers do meanwhile waits in Redis for the next run. */
  stop(): void {
    this.#stop.abort();
  }

  get progress(): BulkProgress {
    return this.#tally.progress();
  }

  [Symbol.asyncIterator](): AsyncIterator<BulkResult> {
    return this.#results.iterator();
  }


  /** A Redis call with the job's deadline. */
  #r<T>(p: Promise<T>, what: string): Promise<T> {
    return deadline(p, this.#o.redisTimeout ?? 60000, `queue ${this.#address.label}: ${what}`);
  }

  async #run(source: AsyncIterator<BulkItem> | Iterator<BulkItem>): Promise<BulkSummary> {
    const o = this.#o;
    const onAbort = () => this.stop();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    if (o.signal?.aborted) this.stop();
    const timer = setInterval(() => this.emit('progress', this.#tally.progress()), PROGRESS_MS);
    timer.unref();
    let status = 'failed';
    let failure: Error | undefined;
    let feeding: Promise<void> | undefined;
    try {
      this.#journal = new Journal(o.journal);
      this.#own = coordinatorKey(o.sealKey ?? path.join(path.dirname(path.resolve(o.journal)), 'coordinator-key.pem'));
      if (o.outDir !== undefined) {
        this.#output = new Output(o.outDir, o.names, o.passphrase, o.pkcs12);
        await this.#output.open(this.#journal.confirmedRows());
      }
      this.#redis = connect(this.#address);
      const warning = await persistenceWarning(this.#redis, this.#address.label);
      if (warning) this.emit('warning', warning);
      const publicPem = createPublicKey(this.#own).export({ type: 'spki', format: 'pem' }) as string;
      await this.#r(this.#redis.set(this.#keys.sealKey, publicPem), 'publishing the coordinator key');
      const { Queue } = loadModule<typeof import('bullmq')>('bullmq');
      this.#queue = new Queue(this.#address.name, {
        connection: this.#redis,
        defaultJobOptions: { attempts: (o.retries ?? 4) + 1, backoff: { type: 'exponential', delay: o.backoff ?? 200 } },
      });
      this.#queue.on('error', () => {}); // the calls below carry deadlines
      await this.#r(o.rate ? this.#queue.setGlobalRateLimit(o.rate, 1000) : this.#queue.removeGlobalRateLimit(), 'setting the rate limit');
      await this.#forgetSettled();
      feeding = this.#feed(source);
      feeding.catch(() => this.stop());
      let lastSweep = 0;
      let idle = IDLE_MS;
      while (!this.#stop.signal.aborted && !(this.#fed && this.#claimed.size === 0)) {
        const n = await this.#ingest();
        if (performance.now() - lastSweep > SWEEP_MS) {
          await this.#sweep();
          lastSweep = performance.now();
        }
        idle = n === 0 ? Math.min(idle * 2, IDLE_MAX_MS) : IDLE_MS;
        if (n === 0) await sleep(idle, undefined, { signal: this.#stop.signal }).catch(() => {});
      }
      await feeding;
      await this.#sweep();
      await this.#journal.durable();
      await this.#output?.close();
      const stopped = this.#stop.signal.aborted;
      status = stopped ? 'stopped' : 'finished';
      const summary = this.#tally.summary(this.#journal.orphans().map((x) => x.serial), stopped);
      this.#journal.close(status);
      this.emit('progress', this.#tally.progress());
      return summary;
    } catch (err) {
      failure = err as Error;
      // the feeder may be waiting for a window that can no longer drain
      this.#stop.abort();
      await feeding?.catch(() => {});
      throw err;
    } finally {
      clearInterval(timer);
      o.signal?.removeEventListener('abort', onAbort);
      try {
        this.#journal?.close(status);
      } catch {
        // the first failure is the one reported
      }
      await this.#output?.close().catch(() => {});
      await this.#queue?.close().catch(() => {});
      this.#redis?.disconnect();
      this.#results.end(failure);
    }
  }

  /** Reads the items; journals and enqueues those not finished before, `window` at most outstanding. */
  async #feed(source: AsyncIterator<BulkItem> | Iterator<BulkItem>): Promise<void> {
    const window = this.#o.window ?? 5000;
    let batch: Array<{ name: string; data: unknown; opts: { jobId: string } }> = [];
    const flush = async () => {
      if (!batch.length) return;
      const jobs = batch;
      batch = [];
      await this.#journal.durable(); // a job never exists without its journal row
      await this.#r(this.#queue.addBulk(jobs), 'enqueuing items');
    };
    try {
      while (!this.#stop.signal.aborted) {
        while (this.#claimed.size >= window && !this.#stop.signal.aborted) {
          await flush();
          await sleep(IDLE_MS, undefined, { signal: this.#stop.signal }).catch(() => {});
        }
        const next = await source.next();
        if (next.done) break;
        const job = this.#admit(next.value);
        if (job) batch.push(job);
        if (batch.length >= CHUNK) await flush();
      }
      await flush();
      if (this.#stop.signal.aborted) await (source.return?.() as Promise<unknown> | undefined);
    } finally {
      this.#fed = true;
    }
  }

  #chainCerts(pem: string | undefined): X509Certificate[] | undefined {
    if (pem === undefined) return undefined;
    if (pem === '') return [];
    let chain = this.#chains.get(pem);
    if (!chain) {
      chain = toCerts(toCertsDer(pem, 'chain') ?? []);
      this.#chains.set(pem, chain);
    }
    return chain;
  }

  /** The job of an item, or undefined when the journal settles it (or it is bad). */
  #admit(raw: BulkItem): { name: string; data: unknown; opts: { jobId: string } } | undefined {
    const journal = this.#journal;
    const id = raw && typeof raw === 'object' && typeof raw.id === 'string' ? raw.id : '';
    const op = String(raw?.operation ?? 'ir');
    let data;
    try {
      const p = prepareItem(raw);
      const bad = this.#output ? checkFileId(p.id) : undefined;
      if (bad) throw new CmpError(bad, { code: 'ERR_CMP_BULK_BAD_ITEM' });
      data = toJobData(raw);
    } catch (err) {
      if (!(err instanceof CmpError)) throw err;
      if (id && !journal.lookup(id)) {
        journal.claim(id, op);
        journal.failed(id, err);
        this.#fail(id, op, err, 0);
      } else this.#fail(id, undefined, err, 0);
      return undefined;
    }
    const row = journal.lookup(id);
    if (row) {
      if (row.run === journal.run) {
        this.#fail(id, undefined, new CmpError(`item '${id}' appears twice in the input`, { code: 'ERR_CMP_BULK_DUPLICATE_ID' }), 0);
        return undefined;
      }
      if (row.state === 'confirmed') {
        this.#tally.skipped++;
        return undefined;
      }
      if (row.state === 'failed' && !this.#o.retryFailed) {
        journal.claim(id, row.operation ?? op);
        journal.failed(id, errorFromRecord(row.error));
        this.#fail(id, op, errorFromRecord(row.error), 0);
        return undefined;
      }
    }
    journal.claim(id, data.operation);
    this.#claimed.add(id);
    this.#tally.inFlight = this.#claimed.size;
    return { name: data.operation, data, opts: { jobId: id } };
  }

  #fail(id: string, manifestOp: string | undefined, err: CmpError, attempts: number, ms?: number): void {
    this.#tally.fail(err, ms);
    if (manifestOp && this.#output) {
      this.#output.manifest({ id, operation: manifestOp, attempts, error: { code: err.code, message: err.message, failInfo: err.failInfo } });
    }
    this.#results.push({ id, ok: false, attempts, error: err });
  }

  /** Takes in finished jobs of items of this run; the number taken. */
  async #ingest(): Promise<number> {
    const jobs = (await this.#r(this.#queue.getJobs(['completed', 'failed'], 0, CHUNK - 1, true), 'reading finished jobs')) as Job[];
    const mine = jobs.filter((j) => j && this.#claimed.has(String(j.id)));
    if (!mine.length) {
      // finished jobs of items this run has not read yet stay for later; look past them
      if (jobs.length < CHUNK) return 0;
      const more = (await this.#r(this.#queue.getJobs(['completed', 'failed'], 0, -1, true), 'reading finished jobs')) as Job[];
      mine.push(...more.filter((j) => j && this.#claimed.has(String(j.id))).slice(0, CHUNK));
      if (!mine.length) return 0;
    }
    const tokens = mine.map((j) => (j.returnvalue as { token?: string } | null)?.token ?? '-');
    const records = await this.#r(this.#redis.hmget(this.#keys.results, ...tokens), 'reading results');
    const done = await Promise.all(mine.map((job, i) => this.#take(job, records[i])));
    await this.#journal.durable();
    // only now that the journal holds them may Redis forget them
    await this.#r(Promise.all(done.map(({ job }) => job.remove())), 'removing finished jobs');
    const taken = done.map((d) => d.token).filter((t): t is string => !!t);
    if (taken.length) await this.#r(this.#redis.hdel(this.#keys.results, ...taken), 'removing results');
    for (const { job } of done) this.#claimed.delete(String(job.id));
    this.#tally.inFlight = this.#claimed.size;
    return done.length;
  }

  /** Journals (and writes the files of) one finished job. */
  async #take(job: Job, record: string | null): Promise<{ job: Job; token?: string }> {
    const id = String(job.id);
    const out: JobOutcome | null = job.returnvalue ?? null;
    const attempts = Math.max(job.attemptsStarted ?? 0, job.attemptsMade, 1); // a stalled attempt counts too
    const ms = job.finishedOn && job.timestamp ? job.finishedOn - job.timestamp : undefined;
    this.#tally.attempts += attempts;
    const op = job.name;
    if (!out) {
      const err = queueError(`item '${id}': ${job.failedReason || 'the job failed'}`);
      this.#journal.failed(id, err);
      this.#fail(id, op, err, attempts, ms);
      return { job };
    }
    if (!out.ok) {
      const err = errorFromRecord(JSON.stringify(out.error));
      this.#journal.failed(id, err);
      this.#fail(id, op, err, attempts, ms);
      return { job };
    }
    const line: ManifestLine = { id, operation: op, attempts };
    const result: BulkResult = { id, ok: true, attempts };
    if (out.token) {
      let rec: ResultRecord | undefined;
      let cert: X509Certificate | undefined;
      let key: KeyObject | null;
      try {
        rec = record ? readRecord(record, id) : undefined;
        cert = rec ? new X509Certificate(rec.cert) : undefined;
        if (!rec || !cert) throw queueError(`item '${id}': its result is not in Redis (was Redis run without appendfsync always?)`);
        key = rec.key ? unseal(this.#own, rec.key, id, rec.serial) : null;
        if (key && !createPublicKey(key).equals(cert.publicKey)) throw queueError(`item '${id}': the sealed key does not belong to its certificate`);
      } catch (err) {
        // the CA confirmed a certificate whose key is lost: an orphan, and the item failed (-retry_failed enrolls it anew)
        this.#journal.superseded(id, out.serial ?? rec?.serial ?? 'unknown', cert?.raw ?? null);
        this.#journal.failed(id, err as CmpError);
        this.#fail(id, op, err as CmpError, attempts, ms);
        return { job, token: out.token };
      }
      const files = this.#output ? this.#output.files(id, key !== null) : {};
      if (this.#output) await this.#output.persist(id, files, key, issuedFromCert(cert), this.#chainCerts(out.chain));
      const d = { serial: cert.serialNumber, subject: `/${cert.subject.split('\n').join('/')}`, notAfter: new Date(cert.validTo).toISOString(), sha256: cert.fingerprint256 };
      this.#journal.written(id, { serial: d.serial, der: cert.raw, subject: d.subject, notAfter: d.notAfter, fingerprint: d.sha256, files });
      this.#journal.confirmed(id);
      Object.assign(line, d, { files });
      Object.assign(result, { cert, serial: d.serial, ...(key ? { key } : {}) });
    } else {
      this.#journal.done(id, out.serial, out.subject ?? null);
      Object.assign(line, { serial: out.serial, subject: out.subject ?? null });
    }
    this.#output?.manifest(line);
    this.#tally.ok(ms ?? 0);
    this.#results.push(result);
    return { job, token: out.token };
  }

  /**
   * Finished jobs of items the journal settled already (a crash came between
   * journal and cleanup): removed before anything is enqueued, or they would
   * swallow the enqueue of an item tried again.
   */
  async #forgetSettled(): Promise<void> {
    const jobs = (await this.#r(this.#queue.getJobs(['completed', 'failed'], 0, -1, true), 'reading finished jobs')) as Job[];
    const settled = jobs.filter((j) => {
      const row = j && this.#journal.lookup(String(j.id));
      return row && (row.state === 'confirmed' || row.state === 'failed');
    });
    await this.#r(Promise.all(settled.map((j) => j.remove())), 'removing finished jobs');
  }

  /** Results whose item is finished under another attempt: journaled as orphans, then dropped from Redis. */
  async #sweep(): Promise<void> {
    let cursor = '0';
    do {
      const [next, flat] = await this.#r(this.#redis.hscan(this.#keys.results, cursor, 'COUNT', 500), 'scanning results');
      cursor = next;
      const gone: string[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        let rec: ResultRecord;
        let der: Buffer | null;
        try {
          rec = readRecord(flat[i + 1], flat[i]);
          der = new X509Certificate(rec.cert).raw;
        } catch (err) {
          this.emit('warning', `dropping an unreadable result record from Redis: ${(err as Error).message}`);
          gone.push(flat[i]);
          continue;
        }
        const row: JournalRow | undefined = this.#journal.lookup(rec.id);
        const settled = row && (row.state === 'confirmed' || row.state === 'failed') && !this.#claimed.has(rec.id);
        if (!settled) continue; // its job may still name it
        if (row.serial !== rec.serial) this.#journal.superseded(rec.id, rec.serial, der);
        gone.push(flat[i]);
      }
      if (gone.length) {
        await this.#journal.durable();
        await this.#r(this.#redis.hdel(this.#keys.results, ...gone), 'removing results');
      }
    } while (cursor !== '0' && !this.#stop.signal.aborted);
  }
}

function readRecord(text: string, where: string): ResultRecord {
  let rec: ResultRecord;
  try {
    rec = JSON.parse(text) as ResultRecord;
  } catch {
    throw queueError(`result '${where}' in Redis is not JSON`);
  }
  if (!rec || typeof rec.id !== 'string' || typeof rec.cert !== 'string' || typeof rec.serial !== 'string') {
    throw queueError(`result '${where}' in Redis lacks its id, serial or certificate`);
  }
  return rec;
}

/**
 * A bulk job whose transactions run on bulkWorker()s anywhere, through a
 * BullMQ queue on Redis; this process keeps the journal, files and manifest.
 */
export function enrollManyQueued(items: ItemSource, options: QueuedBulkOptions): QueuedBulkJob {
  return new QueuedBulkJob(items, options);
}
