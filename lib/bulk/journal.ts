// The journal: one SQLite row per item id, the truth about a job. Files and
// the manifest follow from it. SQLite comes from node:sqlite where Node has
// it (22.5+) and from better-sqlite3 otherwise; both are synchronous, so
// writes go straight into one open transaction and durability is bought in
// batches: whoever needs a row on disk awaits durable(), and one COMMIT
// answers everyone who asked during that turn of the event loop. The COMMIT
// itself only hands the WAL to the OS (synchronous = NORMAL); the fsync of
// the WAL file that makes it durable runs on libuv's pool, so a slow disk
// never stalls the event loop.
import * as fs from 'node:fs';
import { CmpError } from '../errors';

interface Statement {
  run(...params: unknown[]): unknown;
  get(...params: unknown[]): unknown;
  iterate(...params: unknown[]): IterableIterator<unknown>;
}

interface Database {
  exec(sql: string): void;
  prepare(sql: string): Statement;
  close(): void;
}

function openDatabase(file: string): Database {
  let sqlite: { DatabaseSync: new (file: string) => Database } | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    sqlite = require('node:sqlite');
  } catch {
    // Node before 22.5
  }
  if (sqlite) return new sqlite.DatabaseSync(file);
  let Better: new (file: string) => Database;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    Better = require('better-sqlite3');
  } catch (err) {
    throw new CmpError(`bulk journals need node:sqlite (Node 22.5+) or the package better-sqlite3 12.x (npm install better-sqlite3@12): ${(err as Error).message.split('\n')[0]}`, {
      code: 'ERR_CMP_BULK_JOURNAL',
      cause: err,
    });
  }
  return new Better(file);
}

export type ItemState = 'pending' | 'inflight' | 'written' | 'confirmed' | 'failed';

export interface JournalRow {
  id: string;
  state: ItemState;
  operation: string | null;
  attempts: number;
  serial: string | null;
  subject: string | null;
  not_after: string | null;
  fingerprint: string | null;
  files: string | null;
  error: string | null;
  run: number;
}

/** What the journal keeps of an issued certificate and where it went. */
export interface WrittenItem {
  serial: string;
  /** The certificate (DER): an orphan can still be revoked when its files were replaced. */
  der: Buffer;
  subject: string;
  notAfter: string;
  fingerprint: string;
  files: Record<string, string>;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS items (
  id TEXT PRIMARY KEY, state TEXT NOT NULL, operation TEXT, attempts INTEGER NOT NULL DEFAULT 0,
  serial TEXT, subject TEXT, not_after TEXT, fingerprint TEXT, files TEXT, error TEXT,
  run INTEGER NOT NULL, updated INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS issued (serial TEXT PRIMARY KEY, id TEXT NOT NULL, run INTEGER NOT NULL, at INTEGER NOT NULL, cert BLOB, revoked INTEGER);
CREATE TABLE IF NOT EXISTS runs (run INTEGER PRIMARY KEY AUTOINCREMENT, started INTEGER NOT NULL, finished INTEGER, status TEXT);
`;

export class Journal {
  readonly run: number;
  /** The journal held no item when opened: an item's first claim needs no lookup (claimFirstAttempt). */
  readonly #fresh: boolean;
  readonly #db: Database;
  readonly #s: Record<string, Statement>;
  #inTransaction = false;
  #waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  #flushScheduled = false;
  #lazyTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #wal: number | undefined;
  #walPath: string | undefined;
  /** Committed rows whose WAL no fsync of ours has covered yet. */
  #unsynced = false;
  // the WAL fsync running now, and the one that will follow it for commits made meanwhile
  #syncing: Promise<void> = Promise.resolve();
  #nextSync: Promise<void> | undefined;

  /** Opens (or creates) a journal; `undefined` keeps it in memory for a job without one. */
  constructor(file: string | undefined) {
    try {
      this.#db = openDatabase(file ?? ':memory:');
    } catch (err) {
      if (err instanceof CmpError) throw err;
      throw journalError(`cannot open journal '${file}'`, err);
    }
    try {
      // exclusive: a second job on the same journal fails at once instead of interleaving
      this.#db.exec('PRAGMA busy_timeout = 0; PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
      this.#db.exec(`BEGIN IMMEDIATE; ${SCHEMA}`);
      this.#db.prepare('INSERT INTO runs (started) VALUES (?)').run(Date.now());
      this.run = Number((this.#db.prepare('SELECT max(run) AS run FROM runs').get() as { run: number }).run);
      this.#fresh = this.#db.prepare('SELECT 1 FROM items LIMIT 1').get() === undefined;
      this.#db.exec('COMMIT');
      if (file !== undefined && file !== ':memory:') {
        this.#walPath = `${file}-wal`;
        this.#wal = fs.openSync(this.#walPath, 'r');
      }
    } catch (err) {
      this.#db.close();
      const busy = /locked|busy/i.test((err as Error).message);
      throw journalError(busy ? `journal '${file}' is in use by another job` : `cannot open journal '${file}'`, err);
    }
    const p = (sql: string) => this.#db.prepare(sql);
    this.#s = {
      lookup: p('SELECT * FROM items WHERE id = ?'),
      claim: p(`INSERT INTO items (id, state, operation, run, updated) VALUES (?, 'pending', ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET state = 'pending', operation = excluded.operation, run = excluded.run, updated = excluded.updated`),
      attempt: p(`UPDATE items SET state = 'inflight', attempts = attempts + 1, updated = ? WHERE id = ?`),
      firstAttempt: p(`INSERT INTO items (id, state, operation, run, updated, attempts) VALUES (?, 'inflight', ?, ?, ?, 1)`),
      written: p(`UPDATE items SET state = 'written', serial = ?, subject = ?, not_after = ?, fingerprint = ?, files = ?, error = NULL, updated = ? WHERE id = ?`),
      issued: p('INSERT OR IGNORE INTO issued (serial, id, run, at, cert) VALUES (?, ?, ?, ?, ?)'),
      revoked: p('UPDATE issued SET revoked = ? WHERE serial = ?'),
      confirmed: p(`UPDATE items SET state = 'confirmed', error = NULL, updated = ? WHERE id = ?`),
      done: p(`UPDATE items SET state = 'confirmed', serial = ?, subject = ?, error = NULL, updated = ? WHERE id = ?`),
      failed: p(`UPDATE items SET state = 'failed', error = ?, updated = ? WHERE id = ?`),
      pending: p(`UPDATE items SET state = 'pending', updated = ? WHERE id = ?`),
      orphans: p(`SELECT serial, cert FROM issued WHERE revoked IS NULL
                  AND serial NOT IN (SELECT serial FROM items WHERE state = 'confirmed' AND serial IS NOT NULL) ORDER BY at`),
      rows: p(`SELECT * FROM items WHERE state = 'confirmed' ORDER BY rowid`),
      finish: p('UPDATE runs SET finished = ?, status = ? WHERE run = ?'),
    };
  }

  lookup(id: string): JournalRow | undefined {
    return this.#s.lookup.get(id) as JournalRow | undefined;
  }

  /** Takes an item into this run (a second claim of one id in a run is a duplicate, seen by lookup). */
  claim(id: string, operation: string): void {
    this.#write(() => this.#s.claim.run(id, operation, this.run, Date.now()));
  }

  /**
   * Claim and first attempt in one statement, for a journal that was empty when opened; false, with
   * nothing written, when it cannot be used or the id is there already (a duplicate, for lookup to tell).
   */
  claimFirstAttempt(id: string, operation: string): boolean {
    if (!this.#fresh) return false;
    try {
      this.#write(() => this.#s.firstAttempt.run(id, operation, this.run, Date.now()));
      return true;
    } catch (err) {
      if (/constraint/i.test((err as Error).message)) return false;
      throw err;
    }
  }

  attempt(id: string): void {
    this.#write(() => this.#s.attempt.run(Date.now(), id));
  }

  /** Records an issued certificate; the caller awaits durable() before accepting it. */
  written(id: string, w: WrittenItem): void {
    this.#write(() => {
      this.#s.written.run(w.serial, w.subject, w.notAfter, w.fingerprint, JSON.stringify(w.files), Date.now(), id);
      this.#s.issued.run(w.serial, id, this.run, Date.now(), w.der);
    });
  }

  /** A certificate issued for `id` that the job does not keep (its attempt was superseded): it counts among the orphans. */
  superseded(id: string, serial: string, der: Buffer | null): void {
    this.#write(() => this.#s.issued.run(serial, id, this.run, Date.now(), der));
  }

  confirmed(id: string): void {
    this.#write(() => this.#s.confirmed.run(Date.now(), id));
  }

  /** An operation with nothing to persist first (revocation) that succeeded. */
  done(id: string, serial: string | null, subject: string | null): void {
    this.#write(() => this.#s.done.run(serial, subject, Date.now(), id));
  }

  failed(id: string, error: CmpError): void {
    this.#write(() => this.#s.failed.run(JSON.stringify(errorRecord(error)), Date.now(), id));
  }

  pending(id: string): void {
    this.#write(() => this.#s.pending.run(Date.now(), id));
  }

  /** Certificates this journal saw issued, over all its runs, that no confirmed item holds and the job did not revoke. */
  orphans(): Array<{ serial: string; cert: Buffer | null }> {
    return [...this.#s.orphans.iterate()].map((r) => {
      const { serial, cert } = r as { serial: string; cert: Uint8Array | null };
      return { serial, cert: cert ? Buffer.from(cert) : null };
    });
  }

  revoked(serial: string): void {
    this.#write(() => this.#s.revoked.run(Date.now(), serial));
  }

  /** Confirmed items, in the order first seen. */
  *confirmedRows(): Generator<JournalRow> {
    for (const r of this.#s.rows.iterate()) yield r as JournalRow;
  }

  /** Resolves once everything written so far is on disk. */
  durable(): Promise<void> {
    if (!this.#inTransaction && !this.#unsynced) return this.#lastSync();
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  /**
   * Commits what was written so far without syncing it, for a caller that flushes the file
   * system the journal lives on itself, after this returns (the output's batches); the path
   * to flush, none for a journal in memory.
   */
  commitForFlush(): string[] {
    if (this.#inTransaction) {
      this.#db.exec('COMMIT');
      this.#inTransaction = false;
      this.#unsynced = true;
      clearTimeout(this.#lazyTimer);
    }
    return this.#walPath === undefined ? [] : [this.#walPath];
  }

  close(status: string): void {
    if (this.#closed) return;
    this.#write(() => this.#s.finish.run(Date.now(), status, this.run));
    this.#flush();
    this.#closed = true;
    this.#db.close(); // checkpoints with fsync
    if (this.#wal !== undefined) fs.closeSync(this.#wal);
  }

  /** The WAL sync that covers every commit so far (the one waiting to start, else the one running). */
  #lastSync(): Promise<void> {
    return this.#nextSync ?? this.#syncing;
  }

  #syncWal(): Promise<void> {
    if (this.#wal === undefined) return Promise.resolve();
    if (!this.#nextSync) {
      const fd = this.#wal;
      const next = this.#syncing.then(() => {
        this.#nextSync = undefined;
        return new Promise<void>((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(journalError('cannot sync the journal', err)) : resolve())));
      });
      this.#nextSync = next;
      this.#syncing = next.catch(() => {});
    }
    return this.#nextSync;
  }

  #write(fn: () => void): void {
    if (this.#closed) throw journalError('the journal is closed', undefined);
    if (!this.#inTransaction) {
      this.#db.exec('BEGIN IMMEDIATE');
      this.#inTransaction = true;
      // rows nobody awaits still reach the disk soon
      this.#lazyTimer = setTimeout(() => this.#flush(), 200);
      this.#lazyTimer.unref();
    }
    fn();
  }

  #flush(): void {
    this.#flushScheduled = false;
    clearTimeout(this.#lazyTimer);
    const waiters = this.#waiters;
    this.#waiters = [];
    if (this.#inTransaction) {
      try {
        this.#db.exec('COMMIT');
        this.#inTransaction = false;
        this.#unsynced = true;
      } catch (err) {
        const e = journalError('cannot commit to the journal', err);
        for (const w of waiters) w.reject(e);
        return;
      }
    }
    if (waiters.length) {
      // committed rows are durable once the next sync has run; one under way may have started before them
      const synced = this.#unsynced ? this.#syncWal() : this.#lastSync();
      this.#unsynced = false;
      synced.then(
        () => waiters.forEach((w) => w.resolve()),
        (err: Error) => waiters.forEach((w) => w.reject(err)),
      );
    }
  }
}

function journalError(message: string, cause: unknown): CmpError {
  return new CmpError(cause ? `${message}: ${(cause as Error).message}` : message, { code: 'ERR_CMP_BULK_JOURNAL', cause });
}

/** What the journal and manifest keep of an error: CmpError's fields, never inputs. */
export function errorRecord(e: CmpError): Record<string, unknown> {
  const r: Record<string, unknown> = { code: e.code, message: e.message };
  if (e.pkiStatus !== undefined) {
    r.pkiStatus = e.pkiStatus;
    r.pkiStatusName = e.pkiStatusName;
    r.failInfo = e.failInfo;
    r.statusString = e.statusString;
  }
  return r;
}

/** A CmpError again from what errorRecord kept. */
export function errorFromRecord(json: string | null): CmpError {
  const r = json ? (JSON.parse(json) as Record<string, unknown>) : { code: 'ERR_CMP_UNKNOWN', message: 'failed in an earlier run' };
  const e = new CmpError(String(r.message), { code: String(r.code) });
  for (const k of ['pkiStatus', 'pkiStatusName', 'failInfo', 'statusString']) if (r[k] !== undefined) Object.assign(e, { [k]: r[k] });
  return e;
}
