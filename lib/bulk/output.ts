// Per-item files and the manifest. Each file is written whole or not at all:
// a temporary file (in .partial/), fsync, rename, and an fsync of the directory (shared by
// everyone who renamed during the same turn of the event loop).
import { KeyObject, X509Certificate, createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CmpError } from '../errors';
import { binding } from '../native';
import { JournalRow } from './journal';

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

/** An id that can be part of a file name: no separators, no NUL, not "." or "..". */
export function checkFileId(id: string): string | undefined {
  if (/[/\\\0]/.test(id) || id === '.' || id === '..' || id.length > 200) return `id '${id.slice(0, 40)}' cannot be used in a file name`;
  return undefined;
}

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
  #dirSync: { promise: Promise<void>; dirs: Set<string>; started: boolean } | undefined;

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
   * with the certificate and chain), certificate and, when known, chain durably.
   */
  async persist(id: string, files: Record<string, string>, key: KeyObject | null, cert: X509Certificate, chain?: X509Certificate[]): Promise<void> {
    const writes = [this.#writeFile(files.cert, cert.toString(), 0o644)];
    if (chain !== undefined) writes.push(this.#linkChain(files.chain, pemOf(chain)));
    if (key && files.key) {
      const pem = this.#passphrase === undefined
        ? key.export({ type: 'pkcs8', format: 'pem' })
        : key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: this.#passphrase });
      writes.push(this.#writeFile(files.key, pem as string, 0o600));
    }
    if (key && files.p12) writes.push(this.#writeP12(id, files.p12, key, cert, chain ?? []));
    await Promise.all(writes);
    await this.#syncDirs(Object.values(files).map((f) => path.dirname(f)));
  }

  /** The chain, learnt after the item was persisted: its file, and the PKCS#12 file again with it. */
  async writeChain(id: string, files: Record<string, string>, key: KeyObject | null, cert: X509Certificate, chain: X509Certificate[]): Promise<void> {
    const writes = [this.#linkChain(files.chain, pemOf(chain))];
    if (key && files.p12 && chain.length) writes.push(this.#writeP12(id, files.p12, key, cert, chain));
    await Promise.all(writes);
    await this.#syncDirs([path.dirname(files.chain)]);
  }

  async #writeP12(id: string, file: string, key: KeyObject, cert: X509Certificate, chain: X509Certificate[]): Promise<void> {
    let der: Buffer;
    try {
      der = await binding.createPkcs12(key.export({ type: 'pkcs8', format: 'der' }), cert.raw, chain.map((c) => c.raw), this.#passphrase ?? '', id);
    } catch (err) {
      throw outputError(file, err);
    }
    await this.#writeFile(file, der, 0o600);
  }

  manifest(line: ManifestLine): void {
    if (this.#manifestError) throw new CmpError(`cannot write the manifest: ${this.#manifestError.message}`, { code: 'ERR_CMP_BULK_OUTPUT' });
    this.#manifest?.write(`${JSON.stringify(line)}\n`);
  }

  async close(): Promise<void> {
    const m = this.#manifest;
    this.#manifest = undefined;
    if (m) await new Promise<void>((resolve) => m.end(() => resolve()));
    if (this.#manifestError) throw new CmpError(`cannot write the manifest: ${this.#manifestError.message}`, { code: 'ERR_CMP_BULK_OUTPUT' });
  }

  async #writeFile(file: string, data: string | Buffer, mode: number): Promise<void> {
    const tmp = path.join(this.#partial, `${++tmpCounter}.tmp`);
    let fh: fs.promises.FileHandle;
    try {
      fh = await fs.promises.open(tmp, 'w', mode);
    } catch (err) {
      throw outputError(file, err);
    }
    try {
      await fh.writeFile(data);
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => {});
      await fs.promises.rm(tmp, { force: true });
      throw outputError(file, err);
    }
    await fh.close();
    await this.#rename(tmp, file);
  }

  async #rename(tmp: string, file: string): Promise<void> {
    try {
      await fs.promises.rename(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw outputError(file, err);
      await fs.promises.mkdir(path.dirname(file), { recursive: true }).catch(() => {}); // a template with directories
      await fs.promises.rename(tmp, file).catch((e) => {
        throw outputError(file, e);
      });
    }
  }

  /**
   * The chain is the same for every certificate of an issuer: it is written and synced once, and each item's
   * chain file is a new name for it (no data of its own to sync; the directory sync makes the name durable).
   */
  async #linkChain(file: string, pem: string): Promise<void> {
    let shared = this.#chains.get(pem);
    if (!shared) {
      const dir = path.join(this.dir, '.chains');
      const one = path.join(dir, `${createHash('sha256').update(pem).digest('hex').slice(0, 32)}.pem`);
      shared = fs.promises.mkdir(dir, { recursive: true })
        .then(() => this.#writeFile(one, pem, 0o644))
        .then(() => fsyncDir(dir))
        .then(() => one);
      this.#chains.set(pem, shared);
      shared.catch(() => this.#chains.delete(pem));
    }
    const tmp = path.join(this.#partial, `${++tmpCounter}.tmp`);
    try {
      await fs.promises.link(await shared, tmp);
    } catch {
      // a file system without hard links (or a chain that could not be shared): a copy of its own
      return this.#writeFile(file, pem, 0o644);
    }
    await this.#rename(tmp, file);
  }

  #syncDirs(dirs: string[]): Promise<void> {
    if (!this.#dirSync || this.#dirSync.started) {
      const batch = { dirs: new Set<string>(), started: false, promise: Promise.resolve() };
      batch.promise = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
        batch.started = true;
        await Promise.all([...batch.dirs].map(fsyncDir));
      });
      this.#dirSync = batch;
    }
    for (const d of dirs) this.#dirSync.dirs.add(d);
    return this.#dirSync.promise;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.promises.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function outputError(file: string, err: unknown): CmpError {
  return new CmpError(`cannot write '${file}': ${(err as Error).message}`, { code: 'ERR_CMP_BULK_OUTPUT', cause: err });
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
