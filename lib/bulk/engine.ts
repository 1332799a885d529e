// enrollMany: items in, certificates out, through a pool of CMP contexts.
// An issued certificate is written (key, certificate, journal row) and made
// durable inside the certConf callback, and only then accepted: a crash
// before that leaves the CA an unconfirmed certificate to drop, a crash after
// it leaves a complete item.
import { EventEmitter } from 'node:events';
import * as os from 'node:os';
import { KeyObject, X509Certificate, createPrivateKey } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CmpContext, kCertConfDetails } from '../context';
import { FailInfo } from '../constants';
import { CmpError } from '../errors';
import { BulkItem, ItemSource, generateKey } from './items';
import { BulkOptions, asIterator, checkOptions, isTransient } from './options';
import { Journal, errorFromRecord } from './journal';
import { Issued, ManifestLine, Output, checkFileId } from './output';
import { BulkMetrics } from './metrics';
import { BulkProgress, BulkSummary, Tally } from './progress';
import { PreparedItem, Slot, nativeKeySpec, prepareItem } from './request';
import { ResultQueue } from './results';

export interface BulkResult {
  id: string;
  ok: boolean;
  cert?: X509Certificate;
  key?: KeyObject;
  serial?: string;
  attempts: number;
  error?: CmpError;
}

/** What a transaction on a slot is doing, seen by the certConf callback and by stop(). */
interface Attempt {
  item: PreparedItem;
  key: KeyObject | null;
  /** The transaction makes the key (nativeKeySpec); its PEM comes with the certificate. */
  keySpec: string | null;
  slot: Slot;
  persisting: boolean;
  persisted?: { cert: Issued; files: Record<string, string>; chain: boolean };
  persistError?: CmpError;
}

/** A pooled context and the attempt it is running. */
interface Pooled {
  slot: Slot;
  attempt?: Attempt;
}

const PROGRESS_MS = 250;
/** How long a batch of files waits for other items' files before it is written (Output.batching). */
const FLUSH_LINGER_MS = 4;
/**
 * With at least this share of the machine's CPU time idle, batches of files go at once and flush
 * on their own (latency first); with less, they linger and share flushes (CPU first). Measured on
 * 2 cores: 36–45% idle through a 25 ms proxy at 32 in flight, where latency first gained 3–5% in
 * throughput; 8–11% idle on loopback at 8 in flight, where CPU first saves 0.07 ms of CPU per item.
 */
const IDLE_FOR_LATENCY = 0.3;

/** The share of the machine's CPU time spent idle, a moving average of samples (os.cpus()). */
export class IdleCpu {
  /** Until a second sample says otherwise, the machine counts as busy (CPU first). */
  share = 0;
  #last = IdleCpu.#ticks();

  sample(): void {
    const now = IdleCpu.#ticks();
    const total = now.total - this.#last.total;
    // (a CPU going off line between samples can take a sample out of [0, 1])
    if (total > 0) this.share = 0.5 * this.share + 0.5 * Math.min(1, Math.max(0, (now.idle - this.#last.idle) / total));
    this.#last = now;
  }

  static #ticks(): { idle: number; total: number } {
    let idle = 0;
    let total = 0;
    for (const { times: t } of os.cpus()) {
      idle += t.idle;
      total += t.user + t.nice + t.sys + t.idle + t.irq;
    }
    return { idle, total };
  }
}

export class BulkJob extends EventEmitter implements AsyncIterable<BulkResult> {
  /** Resolves to the summary once every item is finished or the job stopped. */
  readonly done: Promise<BulkSummary>;
  readonly #o: BulkOptions;
  readonly #tally = new Tally();
  readonly #metrics: BulkMetrics | undefined;
  /**
   * The pooled contexts, each with the attempt it runs. (Not a Set of attempts: a Set that takes
   * and drops an entry per item replaces its table now and then, and each replaced table points to
   * the next; once one of them is in the old generation, that chain keeps every in-flight item of
   * the job alive past the young generation, and V8 grows the young generation to its cap.)
   */
  readonly #pooled: Pooled[] = [];
  readonly #stop = new AbortController();
  readonly #results = new ResultQueue();
  #journal!: Journal;
  #output: Output | undefined;
  #nextStart = 0;
  /** Issuer name -> its chain, and the key identifier of the issuer's key that chain was learnt for. */
  readonly #chains = new Map<string, { chain: X509Certificate[]; akid: string }>();

  constructor(items: ItemSource, options: BulkOptions) {
    super();
    checkOptions(options);
    this.#o = options;
    if (options.metrics) this.#metrics = new BulkMetrics(options.metrics);
    const source = asIterator(items);
    if (Array.isArray(items)) this.#tally.total = items.length;
    this.done = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#run(source));
    this.done.catch(() => {}); // reported through done and the iterator, never as an unhandled rejection
  }

  /** Stops as options.signal does: no new transactions; those not yet persisting are withdrawn. */
  stop(): void {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort();
    for (const { attempt: a } of this.#pooled) if (a && !a.persisting) a.slot.withdraw();
  }

  get progress(): BulkProgress {
    return this.#tally.progress();
  }

  [Symbol.asyncIterator](): AsyncIterator<BulkResult> {
    return this.#results.iterator();
  }

  async #run(source: AsyncIterator<BulkItem> | Iterator<BulkItem>): Promise<BulkSummary> {
    const o = this.#o;
    const signal = o.signal;
    const onAbort = () => this.stop();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) this.stop();
    let idle: IdleCpu | undefined; // what batches of files ask, when the job writes files
    const timer = setInterval(() => {
      idle?.sample();
      this.emit('progress', this.#tally.progress());
    }, PROGRESS_MS);
    timer.unref();
    const slots = this.#pooled;
    let status = 'failed';
    let failure: Error | undefined;
    try {
      this.#journal = new Journal(o.journal);
      if (o.outDir !== undefined) {
        this.#output = new Output(o.outDir, o.names, o.passphrase, o.pkcs12);
        const journal = this.#journal;
        const machine = (idle = new IdleCpu());
        // items that finish within a few ms of each other share a batch and its flushes
        this.#output.batching({
          paths: () => journal.commitForFlush(),
          lingerMs: FLUSH_LINGER_MS,
          couldJoin: () => this.#tally.inFlight,
          latencyFirst: () => machine.share >= IDLE_FOR_LATENCY,
        });
        await this.#output.open(this.#journal.confirmedRows());
      }
      let pulling: Promise<unknown> = Promise.resolve();
      let exhausted = false;
      const pull = (): Promise<IteratorResult<BulkItem>> => {
        const next = pulling.then(() => (exhausted ? { done: true as const, value: undefined } : source.next()));
        pulling = next.catch(() => {});
        return next.then((r) => {
          if (r.done) exhausted = true;
          return r;
        });
      };
      const worker = async (slot: Pooled) => {
        while (!this.#stop.signal.aborted) {
          await this.#results.room(() => this.#stop.signal.aborted);
          const next = await pull();
          if (next.done) return;
          await this.#process(slot, next.value);
        }
      };
      const n = o.concurrency ?? 16;
      for (let i = 0; i < n; i++) slots.push(this.#newSlot());
      const outcomes = await Promise.allSettled(slots.map(worker));
      const bad = outcomes.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
      if (bad) {
        this.stop();
        throw bad.reason;
      }
      if (!exhausted) await (source.return?.() as Promise<unknown> | undefined);
      await this.#output?.close();
      status = this.#stop.signal.aborted ? 'stopped' : 'finished';
      const revoked = o.revokeOrphans && !this.#stop.signal.aborted ? await this.#revokeOrphans(slots[0].slot) : [];
      const summary = this.#tally.summary(this.#journal.orphans().map((x) => x.serial), this.#stop.signal.aborted);
      summary.revoked = revoked;
      this.#journal.close(status);
      this.emit('progress', this.#tally.progress());
      return summary;
    } catch (err) {
      failure = err as Error;
      throw err;
    } finally {
      clearInterval(timer);
      signal?.removeEventListener('abort', onAbort);
      for (const s of slots) s.slot.ctx.close();
      try {
        this.#journal?.close(status);
      } catch {
        // the first failure is the one reported
      }
      await this.#output?.close().catch(() => {});
      this.#results.end(failure);
    }
  }

  /** RR for each orphan the journal holds the certificate of; the serials revoked (or found revoked already). */
  async #revokeOrphans(slot: Slot): Promise<string[]> {
    const done: string[] = [];
    for (const { serial, cert } of this.#journal.orphans()) {
      if (!cert || this.#stop.signal.aborted) continue;
      try {
        slot.configure({ id: serial, operation: 'rr', oldCert: new X509Certificate(cert) }, null);
        await slot.exec('rr', this.#stop.signal);
      } catch (err) {
        if (!(err instanceof CmpError && err.failInfo?.includes('certRevoked'))) continue; // stays an orphan, reported
      }
      this.#journal.revoked(serial);
      done.push(serial);
    }
    await this.#journal.durable();
    return done;
  }

  #newSlot(): Pooled {
    const o = this.#o;
    const pooled: Pooled = {} as Pooled;
    pooled.slot = new Slot(() => {
      const ctx = o.context ? o.context() : CmpContext.fromOptions(o.options!);
      if (!(ctx instanceof CmpContext)) throw new TypeError('options.context must return a CmpContext');
      if (o.transfer) ctx.setTransferCallback(o.transfer);
      ctx[kCertConfDetails]((der, failInfo, details) => this.#certConf(pooled.attempt!, { der, ...details }, failInfo), o.passphrase);
      return ctx;
    }, o.reqExtensions && Buffer.from(o.reqExtensions));
    return pooled;
  }



  #fail(id: string, err: CmpError, attempts: number, started: number | undefined, manifestOp?: string): void {
    const ms = started === undefined ? undefined : performance.now() - started;
    this.#tally.fail(err, ms);
    this.#metrics?.fail(ms);
    if (manifestOp && this.#output) {
      this.#output.manifest({ id, operation: manifestOp, attempts, error: { code: err.code, message: err.message, failInfo: err.failInfo } });
    }
    this.#results.push({ id, ok: false, attempts, error: err });
  }

  async #process(slot: Pooled, raw: BulkItem): Promise<void> {
    const started = performance.now();
    const journal = this.#journal;
    let item: PreparedItem;
    try {
      item = prepareItem(raw);
      const bad = this.#output ? checkFileId(item.id) : undefined;
      if (bad) throw new CmpError(bad, { code: 'ERR_CMP_BULK_BAD_ITEM' });
    } catch (err) {
      const id = raw && typeof raw === 'object' && typeof raw.id === 'string' ? raw.id : '';
      if (!(err instanceof CmpError)) throw err;
      if (id && !journal.lookup(id)) {
        journal.claim(id, String(raw.operation ?? 'ir'));
        journal.failed(id, err);
        return this.#fail(id, err, 0, undefined, String(raw.operation ?? 'ir'));
      }
      return this.#fail(id, err, 0, undefined);
    }
    const id = item.id;
    // a new journal takes an item in one statement; anything else is looked at first
    const claimed = journal.claimFirstAttempt(id, item.operation);
    const row = claimed ? undefined : journal.lookup(id);
    if (row) {
      if (row.run === journal.run) {
        return this.#fail(id, new CmpError(`item '${id}' appears twice in the input`, { code: 'ERR_CMP_BULK_DUPLICATE_ID' }), 0, undefined);
      }
      if (row.state === 'confirmed') {
        this.#tally.skipped++;
        this.#metrics?.skipped();
        return;
      }
      if (row.state === 'failed' && !this.#o.retryFailed) {
        journal.claim(id, row.operation ?? item.operation);
        journal.failed(id, errorFromRecord(row.error));
        return this.#fail(id, errorFromRecord(row.error), 0, undefined, item.operation);
      }
    }
    if (!claimed) journal.claim(id, item.operation);
    this.#tally.inFlight++;
    this.#metrics?.inFlight(1);
    try {
      await this.#enroll(slot, item, started, claimed);
    } finally {
      this.#tally.inFlight--;
      this.#metrics?.inFlight(-1);
    }
  }

  /** `counted`: the journal counted the first attempt when it took the item in. */
  async #enroll(pooled: Pooled, item: PreparedItem, started: number, counted: boolean): Promise<void> {
    const journal = this.#journal;
    const id = item.id;
    let key: KeyObject | null = null;
    let keySpec: string | null = null;
    if (item.keySource instanceof KeyObject) key = item.keySource;
    else if (item.keySource && this.#o.pkcs12) key = await generateKey(item.keySource); // the PKCS#12 file is made from a KeyObject
    else if (item.keySource) keySpec = nativeKeySpec(item.keySource); // made by the transaction, its PEM by the same thread
    const retries = this.#o.retries ?? 4;
    for (let attempt = 1; ; attempt++) {
      if (!(await this.#startSlot())) return journal.pending(id);
      if (attempt > 1 || !counted) journal.attempt(id);
      this.#tally.attempts++;
      if (attempt > 1) this.#metrics?.retry();
      const a: Attempt = { item, key, keySpec, slot: pooled.slot, persisting: false };
      try {
        pooled.slot.configure(item, key, keySpec !== null);
      } catch (err) {
        // OpenSSL refused a value of the item (a malformed name, say): the item's failure, not the job's
        const e = err instanceof CmpError ? err : new CmpError(String(err), { code: 'ERR_CMP_BULK_BAD_ITEM', cause: err });
        e.message = `item '${id}': ${e.message}`;
        journal.failed(id, e);
        return this.#fail(id, e, attempt, started, item.operation);
      }
      pooled.attempt = a;
      let der: Uint8Array | null = null;
      try {
        der = await pooled.slot.exec(item.operation, undefined, keySpec);
      } catch (err) {
        const e = a.persistError ?? (err instanceof CmpError ? err : new CmpError(String(err), { code: 'ERR_CMP_UNKNOWN', cause: err }));
        if (this.#stop.signal.aborted && !a.persistError) return journal.pending(id); // withdrawn; a new run takes it up
        if (!a.persistError && isTransient(e) && attempt <= retries) {
          if (await this.#backoff(attempt)) continue;
          return journal.pending(id);
        }
        if (item.operation === 'rr' && attempt > 1 && e.failInfo?.includes('certRevoked')) {
          der = null; // an earlier attempt's revocation went through; its answer was lost
        } else {
          journal.failed(id, e);
          return this.#fail(id, e, attempt, started, item.operation);
        }
      } finally {
        pooled.attempt = undefined;
      }
      return this.#finish(pooled.slot.ctx, a, der, attempt, started);
    }
  }

  async #finish(ctx: CmpContext, a: Attempt, der: Uint8Array | null, attempts: number, started: number): Promise<void> {
    const { item } = a;
    const line: ManifestLine = { id: item.id, operation: item.operation, attempts };
    let issued: Issued | undefined;
    let key: KeyObject | string | null = a.key;
    if (der) {
      // OpenSSL hands every certificate it accepts to the certConf callback, implicit confirmation or not
      if (!a.persisted) throw new Error(`item '${item.id}': a certificate came without its certConf callback`);
      issued = a.persisted.cert;
      const files = a.persisted!.files;
      if (item.central) {
        // the context hands out the CA's key only once the transaction is over: it is written now, after certConf;
        // a crash before this leaves the item "written", enrolled again on resume, its first serial an orphan
        const central = ctx.getNewPkey(true);
        if (!central || central.type !== 'private') {
          const e = new CmpError(`item '${item.id}': no centrally generated key received`, { code: 'ERR_CMP_BULK_CENTRAL_KEY' });
          this.#journal.failed(item.id, e);
          return this.#fail(item.id, e, attempts, started, item.operation);
        }
        key = central;
        if (this.#output) await this.#output.persist(item.id, files, central, issued, this.#knownChain(issued)?.chain);
      }
      if (this.#output && !a.persisted!.chain) {
        // the first certificate of an issuer: its chain comes from what the server sent, and is kept for the next ones
        const chain = chainOf(new X509Certificate(issued.der), [...ctx.getExtraCertsIn(), ...ctx.getCaPubs()]);
        this.#chains.set(issued.issuer, { chain, akid: issued.akid });
        await this.#output.writeChain(item.id, files, key, issued, chain);
      }
      this.#journal.confirmed(item.id);
      Object.assign(line, describe(issued), { files });
    } else {
      const serial = item.oldCert?.serialNumber ?? null;
      this.#journal.done(item.id, serial, item.oldCert ? oneLine(item.oldCert.subject) : null);
      Object.assign(line, { serial, subject: item.oldCert ? oneLine(item.oldCert.subject) : null });
    }
    this.#output?.manifest(line);
    const ms = performance.now() - started;
    this.#tally.ok(ms);
    this.#metrics?.ok(ms);
    if (this.#results.reading) this.#results.push(result(item.id, attempts, issued, key ?? issued?.keyPem ?? null, this.#o.passphrase));
  }

  async #certConf(a: Attempt, cert: Issued, failInfo: number): Promise<number> {
    if (failInfo !== 0) return failInfo; // OpenSSL's own checks failed
    if (this.#stop.signal.aborted) return 1 << FailInfo.systemUnavail; // stopping: the CA is to drop it
    a.persisting = true;
    try {
      await this.#persist(a, cert);
      return 0;
    } catch (err) {
      a.persistError = err instanceof CmpError ? err : new CmpError(String(err), { code: 'ERR_CMP_BULK_OUTPUT', cause: err });
      return 1 << FailInfo.systemFailure;
    }
  }

  async #persist(a: Attempt, cert: Issued): Promise<void> {
    const withKey = a.key !== null || a.keySpec !== null || a.item.central === true;
    const files = this.#output ? this.#output.files(a.item.id, withKey) : {};
    const known = this.#knownChain(cert);
    const d = describe(cert);
    // The row may reach the disk before the files do: an item found "written" is enrolled again on resume.
    this.#journal.written(a.item.id, { serial: d.serial, der: cert.der, subject: d.subject, notAfter: d.notAfter, fingerprint: d.sha256, files });
    // the output's flush covers the journal's row too
    const key = this.#o.pkcs12 ? a.key : (cert.keyPem ?? a.key);
    if (this.#output) await this.#output.persist(a.item.id, files, key, cert, known?.chain);
    else await this.#journal.durable();
    a.persisted = { cert, files, chain: known !== undefined };
  }

  /** The chain learnt for the certificate's issuer, if it is the chain of the key that signed it. */
  #knownChain(cert: Issued): { chain: X509Certificate[] } | undefined {
    const known = this.#chains.get(cert.issuer);
    if (!known) return undefined;
    if (known.chain.length === 0 || (cert.akid !== '' && cert.akid === known.akid)) return known;
    return new X509Certificate(cert.der).checkIssued(known.chain[0]) ? known : undefined;
  }

  /** Waits for the rate limit; false when the job is stopping. */
  async #startSlot(): Promise<boolean> {
    if (this.#stop.signal.aborted) return false;
    const rate = this.#o.rate;
    if (!rate) return true;
    const now = performance.now();
    const at = Math.max(now, this.#nextStart);
    this.#nextStart = at + 1000 / rate;
    if (at > now) await sleep(at - now, undefined, { signal: this.#stop.signal }).catch(() => {});
    return !this.#stop.signal.aborted;
  }

  /** Exponential backoff with jitter; false when the job is stopping. */
  async #backoff(attempt: number): Promise<boolean> {
    const base = this.#o.backoff ?? 200;
    const cap = Math.min(this.#o.maxBackoff ?? 10000, base * 2 ** (attempt - 1));
    const ms = cap / 2 + Math.random() * (cap / 2);
    await sleep(ms, undefined, { signal: this.#stop.signal }).catch(() => {});
    return !this.#stop.signal.aborted;
  }
}

function oneLine(subject: string): string {
  return `/${subject.split('\n').join('/')}`;
}

function describe(cert: Issued): { serial: string; subject: string; notAfter: string; sha256: string } {
  return { serial: cert.serial, subject: oneLine(cert.subject), notAfter: cert.notAfter, sha256: cert.sha256 };
}

/** What a result makes its certificate and key from, on first read. */
interface Deferred {
  der?: Uint8Array;
  cert?: X509Certificate;
  pem?: string;
  passphrase?: string;
  key?: KeyObject;
}
const kDeferred = Symbol('deferred');
type WithDeferred = BulkResult & { [kDeferred]: Deferred };

// Getters shared by every result, reading what the result keeps (so they need the result as `this`).
// With closures made per result, a sixth of all a job allocated outlived the young generation and
// V8 grew that to its cap (measured on Node 24, nobody reading the results).
const certProperty: PropertyDescriptor = {
  enumerable: true,
  configurable: true,
  get(this: WithDeferred) {
    const d = this[kDeferred];
    return (d.cert ??= new X509Certificate(d.der!));
  },
};
const keyProperty: PropertyDescriptor = {
  enumerable: true,
  configurable: true,
  get(this: WithDeferred) {
    const d = this[kDeferred];
    return (d.key ??= createPrivateKey(d.passphrase === undefined ? d.pem! : { key: d.pem!, passphrase: d.passphrase }));
  },
};

/**
 * A job's result. Its certificate and key are made into an X509Certificate and a KeyObject when
 * first read: a job that only writes files never pays for parsing them again.
 */
function result(id: string, attempts: number, issued: Issued | undefined, key: KeyObject | string | null, passphrase: string | undefined): BulkResult {
  const r: BulkResult = { id, ok: true, attempts };
  if (issued) r.serial = issued.serial;
  if (!issued && typeof key !== 'string') {
    if (key) r.key = key;
    return r;
  }
  const d: Deferred = {};
  Object.defineProperty(r, kDeferred, { value: d });
  if (issued) {
    d.der = issued.der;
    Object.defineProperty(r, 'cert', certProperty);
  }
  if (typeof key === 'string') {
    d.pem = key;
    d.passphrase = passphrase;
    Object.defineProperty(r, 'key', keyProperty);
  } else if (key) r.key = key;
  return r;
}

/** The issuing chain of `cert` among the certificates the server sent, up to a self-signed one. */
export function chainOf(cert: X509Certificate, pool: X509Certificate[]): X509Certificate[] {
  const chain: X509Certificate[] = [];
  let current = cert;
  while (chain.length < 10) {
    const issuer = pool.find((c) => !chain.includes(c) && c.subject === current.issuer && current.checkIssued(c));
    if (!issuer) break;
    chain.push(issuer);
    if (issuer.subject === issuer.issuer) break;
    current = issuer;
  }
  return chain;
}

/**
 * Enrolls (or renews, or revokes) every item, `concurrency` transactions at
 * a time, with a journal to resume from and files per item.
 */
export function enrollMany(items: ItemSource, options: BulkOptions): BulkJob {
  return new BulkJob(items, options);
}
