// Shared by the bulk tests: a CA behind an in-process CmpServer that records
// what it was asked, and readers for what a job leaves on disk.
import { X509Certificate, createPublicKey } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CmpContext, CmpServer, CmpServerHandlers, TestCa } from '../../lib';

export const REF = 'bulk-ref';
export const SECRET = 'bulk-secret-value';

export interface BulkCa {
  ca: TestCa;
  server: CmpServer;
  /** Subjects of the certificate requests the CA got, in order. */
  requests: string[];
  context: () => CmpContext;
}

export async function bulkCa(handlers: (base: CmpServerHandlers) => CmpServerHandlers = (b) => b): Promise<BulkCa> {
  const ca = await TestCa.create();
  const requests: string[] = [];
  const inner = handlers(ca.handlers());
  const counted: CmpServerHandlers = {
    ...inner,
    certReq: (req) => {
      requests.push(req.subject ?? '');
      return inner.certReq!(req);
    },
  };
  const server = new CmpServer({ ca, ref: REF, secret: SECRET, handlers: counted });
  const context = () => {
    const ctx = new CmpContext();
    ctx.setReferenceValue(REF);
    ctx.setSecretValue(SECRET);
    return ctx;
  };
  return { ca, server, requests, context };
}

export function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'cmp-bulk-'));
}

export function manifest(dir: string): Array<Record<string, any>> {
  const text = fs.readFileSync(path.join(dir, 'manifest.jsonl'), 'utf8');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** The certificate and key files of a manifest line, checked to belong together. */
export function checkPair(line: Record<string, any>, passphrase?: string): X509Certificate {
  const cert = new X509Certificate(fs.readFileSync(line.files.cert));
  const keyPem = fs.readFileSync(line.files.key, 'utf8');
  const pub = createPublicKey(passphrase ? { key: keyPem, passphrase } : keyPem);
  if (!pub.equals(cert.publicKey)) throw new Error(`${line.id}: key does not match its certificate`);
  if ((fs.statSync(line.files.key).mode & 0o777) !== 0o600) throw new Error(`${line.id}: key file is not mode 0600`);
  return cert;
}

/** Rows of a journal, read with the SQLite this Node offers. */
export function journalRows(file: string, sql = 'SELECT * FROM items'): Array<Record<string, any>> {
  let db: { prepare(s: string): { all(): unknown[] }; close(): void };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    db = new (require('node:sqlite').DatabaseSync)(file);
  } catch {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    db = new (require('better-sqlite3'))(file);
  }
  try {
    return db.prepare(sql).all().map((r) => ({ ...(r as object) }));
  } finally {
    db.close();
  }
}

/**
 * A finished job's output: `count` items, each confirmed once in the journal and once in the manifest,
 * with the journal's serial, and a key file that belongs to its certificate.
 */
export function checkJobOutput(journalFile: string, outDir: string, count: number): { rows: Array<Record<string, any>>; lines: Array<Record<string, any>> } {
  const rows = journalRows(journalFile);
  expect(rows).toHaveLength(count);
  expect(rows.filter((r) => r.state !== 'confirmed')).toEqual([]);
  const lines = manifest(outDir);
  expect(lines).toHaveLength(count);
  expect(new Set(lines.map((l) => l.id)).size).toBe(count);
  const serialOf = new Map(rows.map((r) => [r.id, r.serial]));
  for (const line of lines) {
    expect(line.serial).toBe(serialOf.get(line.id));
    expect(checkPair(line).serialNumber).toBe(line.serial);
  }
  return { rows, lines };
}
