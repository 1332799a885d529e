// Per-item files and the manifest. Each file is written whole or not at all: a
// temporary file (in .partial/), a flush, a rename, a flush again; the items that
// finish while a batch is being written share the next batch and its two flushes
// (binding.writeFilesDurably).
import { KeyObject, X509Certificate, createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CmpError } from '../errors';
import { DurableFile, FlushToken, IssuedDetails, binding } from '../native';
import { JournalRow } from './journal';

/** An issued certificate as the output and the journal keep it: its DER and what was read from it. */
export interface Issued extends IssuedDetails {
  der: Buffer;
}

/** The same, read here from an X509Certificate (the native thread reads it when it can: see IssuedDetails). */
export function issuedFromCert(cert: X509Certificate): Issued {
  return {
    der: cert.raw,
    pem: cert.toString(),
    serial: cert.serialNumber,
    subject: cert.subject,
    issuer: cert.issuer,
    akid: '',
    notAfter: new Date(cert.validTo).toISOString(),
    sha256: cert.fingerprint256,
  };
}

export interface FileNames {
  /** Templates relative to the output directory; `{id}` stands for the item id. */
  key?: string;
  cert?: string;
  chain?: string;
  /** With pkcs12: the bundle of key, certificate and chain, in place of the key file. */
  p12?: string;
}

export interface ManifestLine {
  id: string;
  operation: string;
  serial?: string | null;
  subject?: string | null;
  notAfter?: string | null;
  sha256?: string | null;
  files?: Record<string, string>;
  attempts?: number;
  error?: Record<string, unknown>;
}

const DEFAULT_NAMES: Required<FileNames> = { key: '{id}.key.pem', cert: '{id}.cert.pem', chain: '{id}.chain.pem', p12: '{id}.p12' };
let tmpCounter = 0;
/** The manifest's lines are written when this many characters or this many ms have gathered. */
const MANIFEST_CHUNK = 16384;
const MANIFEST_DELAY_MS = 100;

/** An id that can be part of a file name: no separators, no NUL, not "." or "..". */
export function checkFileId(id: string): string | undefined {
  if (/[/\\\0]/.test(id) || id === '.' || id === '..' || id.length > 200) return `id '${id.slice(0, 40)}' cannot be used in a file name`;
  return undefined;
}

/** Files of an item waiting for a batch, and how to tell it they are durable. */
type Queued = { entries: DurableFile[]; resolve: () => void; reject: (err: unknown) => void };

export class Output {
  readonly dir: string;
  readonly #partial: string;
  readonly #names: Required<FileNames>;
  readonly #passphrase: string | undefined;
  readonly #pkcs12: boolean;
  /** Chain PEM -> its one durable copy in .chains/, which every item's chain file is a hard link of. */
  readonly #chains = new Map<string, Promise<string>>();
  #manifest: fs.WriteStream | undefined;
  #manifestError: Error | undefined;
  #lines = '';
  #linesTimer: NodeJS.Timeout | undefined;
  #queue: Queued[] = [];
  /** The batch written last, its renames not yet flushed: the next batch's first flush covers them. */
  #unflushed: { token: FlushToken; batch: Queued[] } | undefined;
  #queued = false;
  #writing: Promise<void> = Promise.resolve();
  #flushWith: () => string[] = () => [];
  #lingerMs = 0;
  /** Wall time of a batch's write (writes, flush, renames), a moving average: how long a batch lingers at most. */
  #batchMs: number | undefined;
  #couldJoin: () => number = () => 1;
  #latencyFirst: () => boolean = () => false;
  #release: (() => void) | undefined;

  constructor(dir: string, names: FileNames = {}, passphrase?: string, pkcs12 = false) {
    this.dir = path.resolve(dir);
    this.#partial = path.join(this.dir, '.partial');
    this.#names = { ...DEFAULT_NAMES, ...names };
    this.#passphrase = passphrase;
    this.#pkcs12 = pkcs12;
  }

  /** Makes the directory and starts the manifest anew from the journal's confirmed rows (failures are reported per run). */
  async open(rows: Iterable<JournalRow>): Promise<void> {
    // temporary files live apart, so what a crash left of them goes in one sweep
    await fs.promises.rm(this.#partial, { recursive: true, force: true });
    await fs.promises.mkdir(this.#partial, { recursive: true });
    const file = path.join(this.dir, 'manifest.jsonl');
    const tmp = path.join(this.#partial, 'manifest.jsonl.tmp');
    const out = fs.createWriteStream(tmp);
    for (const row of rows) {
      if (!out.write(`${JSON.stringify(manifestFromRow(row))}\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    await fs.promises.rename(tmp, file);
    this.#manifest = fs.createWriteStream(file, { flags: 'a' });
    this.#manifest.on('error', (err) => (this.#manifestError = err));
  }

  files(id: string, withKey: boolean): Record<string, string> {
    const name = (t: string) => path.join(this.dir, t.split('{id}').join(id));
    const out: Record<string, string> = { cert: name(this.#names.cert), chain: name(this.#names.chain) };
    if (withKey) out[this.#pkcs12 ? 'p12' : 'key'] = name(this.#pkcs12 ? this.#names.p12 : this.#names.key);
    return out;
  }

  /**
   * Writes key (PKCS#8 PEM, mode 0600, encrypted under the job pass phrase, or a PKCS#12 file
   * with the certificate and chain), certificate and, when known, chain durably. A key given
   * as a string is that PEM.
   */
  async persist(id: string, files: Record<string, string>, key: KeyObject | string | null, cert: Issued, chain?: X509Certificate[]): Promise<void> {
    const entries: DurableFile[] = [this.#entry(files.cert, cert.pem, 0o644)];
    if (chain !== undefined) entries.push(await this.#chainEntry(files.chain, pemOf(chain)));
    if (typeof key === 'string' && files.key) {
      entries.push(this.#entry(files.key, key, 0o600)); // a PEM made natively, encrypted under the pass phrase already
    } else if (key instanceof KeyObject && files.key) {
      const pem = this.#passphrase === undefined
        ? key.export({ type: 'pkcs8', format: 'pem' })
        : key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: this.#passphrase });
      entries.push(this.#entry(files.key, pem as string, 0o600));
    }
    if (key instanceof KeyObject && files.p12) entries.push(this.#entry(files.p12, await this.#p12(id, files.p12, key, cert, chain ?? []), 0o600));
    await this.#write(entries);
  }

  /** The chain, learnt after the item was persisted: its file, and the PKCS#12 file again with it. */
  async writeChain(id: string, files: Record<string, string>, key: KeyObject | string | null, cert: Issued, chain: X509Certificate[]): Promise<void> {
    const entries = [await this.#chainEntry(files.chain, pemOf(chain))];
    if (key instanceof KeyObject && files.p12 && chain.length) entries.push(this.#entry(files.p12, await this.#p12(id, files.p12, key, cert, chain), 0o600));
    await this.#write(entries);
  }

  /**
   * How batches form. `paths()` runs just before a batch is written (a journal commits there
   * and names its WAL, which the batch's flush covers). A batch waits up to `lingerMs` for more
   * items, and no longer than writing a batch lately took, unless as many are waiting as
   * `couldJoin()` says could come (those in flight). While `latencyFirst()` says so, a batch
   * neither lingers nor leaves its renames to the next one's flush: each item then waits as
   * little as it can, for a flush or two more per batch.
   */
  batching(o: { paths?: () => string[]; lingerMs?: number; couldJoin?: () => number; latencyFirst?: () => boolean }): void {
    if (o.paths) this.#flushWith = o.paths;
    if (o.lingerMs !== undefined) this.#lingerMs = o.lingerMs;
    if (o.couldJoin) this.#couldJoin = o.couldJoin;
    if (o.latencyFirst) this.#latencyFirst = o.latencyFirst;
  }

  async #p12(id: string, file: string, key: KeyObject, cert: Issued, chain: X509Certificate[]): Promise<Buffer> {
    try {
      return await binding.createPkcs12(key.export({ type: 'pkcs8', format: 'der' }), cert.der, chain.map((c) => c.raw), this.#passphrase ?? '', id);
    } catch (err) {
      throw outputError(file, err);
    }
  }

  /**
   * A line of the manifest. Lines are written a few at a time (the manifest is made anew from
   * the journal when a job resumes, so nothing depends on a line being on disk before the next).
   */
  manifest(line: ManifestLine): void {
    if (this.#manifestError) throw new CmpError(`cannot write the manifest: ${this.#manifestError.message}`, { code: 'ERR_CMP_BULK_OUTPUT' });
    if (!this.#manifest) return;
    this.#lines += `${JSON.stringify(line)}\n`;
    if (this.#lines.length >= MANIFEST_CHUNK) this.#writeLines();
    else this.#linesTimer ??= setTimeout(() => this.#writeLines(), MANIFEST_DELAY_MS);
  }

  #writeLines(): void {
    clearTimeout(this.#linesTimer);
    this.#linesTimer = undefined;
    if (this.#lines) this.#manifest?.write(this.#lines);
    this.#lines = '';
  }

  async close(): Promise<void> {
    this.#writeLines();
    const m = this.#manifest;
    this.#manifest = undefined;
    if (m) await new Promise<void>((resolve) => m.end(() => resolve()));
    if (this.#manifestError) throw new CmpError(`cannot write the manifest: ${this.#manifestError.message}`, { code: 'ERR_CMP_BULK_OUTPUT' });
  }

  /** A file for writeFilesDurably: its bytes, or (`link`) a durable file it is a new name of. */
  #entry(file: string, data: string | Buffer | { link: string }, mode = 0o644): DurableFile {
    const tmp = path.join(this.#partial, `${++tmpCounter}.tmp`);
    return typeof data === 'object' && !Buffer.isBuffer(data) ? { tmp, file, link: data.link } : { tmp, file, data, mode };
  }

  /**
   * Group commit: the files of every item that asks while a batch is being written go
   * together in the next one, so that a batch costs two flushes of the file system
   * whatever its size. A batch that fails is tried again item by item, so that one item's
   * bad file name fails that item alone.
   */
  #write(entries: DurableFile[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ entries, resolve, reject });
      if (this.#queued) {
        if (this.#release && this.#queue.length >= this.#couldJoin()) this.#release();
        return;
      }
      this.#queued = true;
      const first = performance.now();
      this.#writing = this.#writing.then(() => this.#gather(first)).then(() => this.#writeBatch());
    });
  }

  /**
   * Resolves when the queued batch should be written: lingerMs after its first item came (time
   * spent waiting for the batch before it counts), or once nobody else could join.
   */
  #gather(first: number): Promise<void> {
    return new Promise<void>((resolve) => {
      // Lingering longer than writing a batch takes would cost the items waiting more than the
      // flush it may save costs them; while flushes are slow (a busy disk) batches grow.
      const linger = Math.min(this.#lingerMs, this.#batchMs ?? this.#lingerMs) - (performance.now() - first);
      // the batch before waits for this one's first flush: no lingering then
      if (linger <= 0 || this.#unflushed || this.#queue.length >= this.#couldJoin() || this.#latencyFirst()) return setImmediate(resolve);
      const done = () => {
        clearTimeout(timer);
        this.#release = undefined;
        resolve();
      };
      const timer = setTimeout(done, linger);
      this.#release = done;
    });
  }

  /**
   * Batches in a row share flushes: a batch's renames stay unflushed while another batch is waiting,
   * whose first flush (after its writes, before its renames) covers them; the last of a row is
   * flushed on its own. So a row of n batches costs n + 1 flushes, not 2n.
   */
  async #writeBatch(): Promise<void> {
    const batch = this.#queue;
    this.#queue = [];
    this.#queued = false;
    let before = this.#unflushed;
    this.#unflushed = undefined;
    let sync: string[];
    try {
      sync = this.#flushWith();
    } catch (err) {
      if (before) await this.#flush(before);
      return batch.forEach((b) => b.reject(err));
    }
    // latency first: this batch flushes its own renames. A batch before it left its renames only
    // while CPU came first: they get a flush of their own, through the descriptors they were
    // renamed under, so that a write-back error in between is still reported to their items.
    const leave = !this.#latencyFirst();
    if (!leave && before) {
      await this.#flush(before);
      before = undefined;
    }
    try {
      const started = performance.now();
      const entries = batch.flatMap((b) => b.entries);
      const token = leave
        ? await binding.writeFilesDurably(entries, sync, before?.token ?? null, true)
        : await binding.writeFilesDurably(entries, sync).then(() => undefined);
      // what a lingering batch's write costs: measured on those alone (latency first adds a flush)
      const ms = performance.now() - started;
      if (leave) this.#batchMs = this.#batchMs === undefined ? ms : 0.8 * this.#batchMs + 0.2 * ms;
      before?.batch.forEach((b) => b.resolve());
      if (!token) return batch.forEach((b) => b.resolve());
      this.#unflushed = { token, batch };
    } catch (err) {
      // what the batch before left is flushed on its own, and this batch tried again item by item
      if (before) await this.#flush(before);
      if (batch.length === 1) return batch[0].reject(outputError(null, err));
      await Promise.all(batch.map((b) => binding.writeFilesDurably(b.entries, sync).then(b.resolve, (e) => b.reject(outputError(null, e)))));
      return;
    }
    if (this.#queue.length === 0) {
      const last = this.#unflushed!;
      this.#unflushed = undefined;
      await this.#flush(last);
    }
  }

  /** Flushes what a batch left, and settles its items. */
  async #flush(left: { token: FlushToken; batch: Queued[] }): Promise<void> {
    try {
      await binding.writeFilesDurably([], [], left.token);
      left.batch.forEach((b) => b.resolve());
    } catch (err) {
      left.batch.forEach((b) => b.reject(outputError(null, err)));
    }
  }

  /**
   * The chain is the same for every certificate of an issuer: it is written and flushed once, and each
   * item's chain file is a new name for it (no data of its own to flush; the flush after the renames
   * makes the name durable).
   */
  async #chainEntry(file: string, pem: string): Promise<DurableFile> {
    let shared = this.#chains.get(pem);
    if (!shared) {
      const dir = path.join(this.dir, '.chains');
      const one = path.join(dir, `${createHash('sha256').update(pem).digest('hex').slice(0, 32)}.pem`);
      const e = this.#entry(one, pem, 0o644);
      shared = binding.writeFilesDurably([e], []).then(
        () => one,
        (err) => {
          throw outputError(null, err);
        },
      );
      this.#chains.set(pem, shared);
      shared.catch(() => this.#chains.delete(pem));
    }
    let link: string | undefined;
    try {
      link = await shared;
    } catch {
      // a chain that could not be shared: a copy of its own
    }
    return this.#entry(file, link === undefined ? pem : { link });
  }
}


/** The native writer's message names the file already. */
function outputError(file: string | null, err: unknown): CmpError {
  if (err instanceof CmpError) return err;
  const message = file === null ? (err as Error).message : `cannot write '${file}': ${(err as Error).message}`;
  return new CmpError(message, { code: 'ERR_CMP_BULK_OUTPUT', cause: err });
}

export function pemOf(chain: X509Certificate[]): string {
  return chain.map((c) => c.toString()).join('');
}

export function manifestFromRow(r: JournalRow): ManifestLine {
  const line: ManifestLine = { id: r.id, operation: r.operation ?? 'ir', serial: r.serial, subject: r.subject, notAfter: r.not_after, sha256: r.fingerprint };
  if (r.files) line.files = JSON.parse(r.files) as Record<string, string>;
  line.attempts = r.attempts;
  return line;
}
