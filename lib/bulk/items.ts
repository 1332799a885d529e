// What one device asks for, where such items come from (any iterable, or a
// CSV/JSONL file streamed row by row), and how its key comes about.
import { KeyObject, generateKeyPair } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { promisify } from 'node:util';
import type { CertificateInput, CsrInput, KeyInput } from '../convert';
import { CmpError } from '../errors';

export type BulkOperation = 'ir' | 'cr' | 'p10cr' | 'kur' | 'rr';

/** How a new key is made when the item supplies none. */
export type KeySpec =
  | { type: 'ec'; curve?: 'P-256' | 'P-384' | 'P-521' }
  | { type: 'rsa'; bits?: number }
  | { type: 'ed25519' }
  /** The CA generates the key (OpenSSL 3.5+): it comes back encrypted in the answer. */
  | { type: 'central' };

export interface BulkItem {
  id: string;
  subject?: string;
  sans?: string[];
  operation?: BulkOperation;
  /** A key to certify, or how to generate one (default: a new EC P-256 key). */
  key?: KeyInput | KeySpec;
  csr?: CsrInput;
  oldCert?: CertificateInput;
  oldKey?: KeyInput;
  /** Certificate policy OIDs to request. */
  policies?: string[];
}

export type ItemSource = Iterable<BulkItem> | AsyncIterable<BulkItem>;

export const OPERATIONS: readonly BulkOperation[] = ['ir', 'cr', 'p10cr', 'kur', 'rr'];
const CURVES = new Set(['P-256', 'P-384', 'P-521']);
const FIELDS = new Set(['id', 'subject', 'sans', 'operation', 'key', 'csr', 'oldCert', 'oldKey', 'policies']);

export function badItem(message: string): CmpError {
  return new CmpError(message, { code: 'ERR_CMP_BULK_BAD_ITEM' });
}

export function isKeySpec(v: unknown): v is KeySpec {
  return v !== null && typeof v === 'object' && !(v instanceof KeyObject) && !Buffer.isBuffer(v) && 'type' in v && !('key' in v);
}

/** Checks a key spec; the text form is "ec", "ec:P-384", "rsa", "rsa:3072", "ed25519" or "central". */
export function keySpec(v: KeySpec | string, where: string): KeySpec {
  let spec: KeySpec;
  if (typeof v === 'string') {
    const [type, param] = v.split(':', 2);
    if (type === 'ec') spec = { type, curve: (param ?? 'P-256') as 'P-256' };
    else if (type === 'rsa') spec = { type, bits: param === undefined ? 2048 : Number(param) };
    else if ((type === 'ed25519' || type === 'central') && param === undefined) spec = { type };
    else throw badItem(`${where}: unknown key type '${v}' (ec[:P-256|P-384|P-521], rsa[:bits], ed25519, central, or a key)`);
  } else spec = v;
  if (spec.type === 'ec' && !CURVES.has(spec.curve ?? 'P-256')) throw badItem(`${where}: unsupported curve '${spec.curve}'`);
  if (spec.type === 'rsa') {
    const bits = spec.bits ?? 2048;
    if (!Number.isInteger(bits) || bits < 2048 || bits > 8192) throw badItem(`${where}: RSA key size must be 2048 to 8192 bits, not ${spec.bits}`);
  }
  if (!['ec', 'rsa', 'ed25519', 'central'].includes(spec.type)) throw badItem(`${where}: unknown key type '${(spec as { type: unknown }).type}'`);
  return spec;
}

const generate = promisify(generateKeyPair);

/** A new private key, made on libuv's thread pool so the event loop keeps serving transactions. */
export async function generateKey(spec: Exclude<KeySpec, { type: 'central' }>): Promise<KeyObject> {
  if (spec.type === 'rsa') return (await generate('rsa', { modulusLength: spec.bits ?? 2048 })).privateKey;
  if (spec.type === 'ed25519') return (await generate('ed25519')).privateKey;
  return (await generate('ec', { namedCurve: spec.curve ?? 'P-256' })).privateKey;
}

export interface ReadItemsOptions {
  /** Default: from the file name (.csv, else JSONL). */
  format?: 'csv' | 'jsonl';
}

/**
 * Streams items from a CSV file (a header row naming BulkItem fields; `sans`
 * and `policies` separated by ';') or a JSONL file (one item object per line).
 * `key` is a key spec ("ec:P-384", "rsa:3072", "ed25519") or a key file;
 * `csr`, `oldCert` and `oldKey` name files. Relative file names are taken
 * from the input file's directory. Nothing is held beyond the current row.
 */
export async function* readItems(file: string, options: ReadItemsOptions = {}): AsyncGenerator<BulkItem> {
  if (typeof file !== 'string') throw new TypeError('The "file" argument must be a string');
  const format = options.format ?? (/\.csv$/i.test(file) ? 'csv' : 'jsonl');
  const dir = path.dirname(path.resolve(file));
  const input = fs.createReadStream(file);
  const inputError = new Promise<never>((_, reject) => input.once('error', (err) => reject(inputFailure(file, err))));
  inputError.catch(() => {});
  try {
    const rows = format === 'csv' ? csvRows(input, file) : jsonlRows(input, file);
    for (;;) {
      const next = await Promise.race([rows.next(), inputError]);
      if (next.done) return;
      const { row, line } = next.value;
      yield itemFromRow(row, dir, `${file} line ${line}`, format === 'csv');
    }
  } finally {
    input.destroy();
  }
}

function inputFailure(file: string, err: NodeJS.ErrnoException): CmpError {
  return new CmpError(`cannot read items from '${file}': ${err.code === 'ENOENT' ? 'no such file' : err.message}`, {
    code: 'ERR_CMP_BULK_INPUT',
    cause: err,
  });
}

async function* csvRows(input: fs.ReadStream, file: string): AsyncGenerator<{ row: Record<string, unknown>; line: number }> {
  // loaded here: the package's other users never pay for it
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parse } = require('csv-parse') as typeof import('csv-parse');
  const parser = input.pipe(
    parse({
      columns: (header: string[]) => {
        const unknown = header.filter((h) => !FIELDS.has(h.trim()));
        if (unknown.length) throw new CmpError(`${file}: unknown column(s) ${unknown.join(', ')}; known: ${[...FIELDS].join(', ')}`, { code: 'ERR_CMP_BULK_INPUT' });
        if (!header.some((h) => h.trim() === 'id')) throw new CmpError(`${file}: the header row has no 'id' column`, { code: 'ERR_CMP_BULK_INPUT' });
        return header.map((h) => h.trim());
      },
      info: true,
      bom: true, // spreadsheets save CSV with one
      trim: true,
      skip_empty_lines: true,
      comment: '#',
    }),
  );
  input.once('error', (err) => parser.destroy(err));
  try {
    for await (const rec of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      yield { row: rec.record, line: rec.info.lines };
    }
  } catch (err) {
    if (err instanceof CmpError) throw err;
    throw new CmpError(`${file}: ${(err as Error).message}`, { code: 'ERR_CMP_BULK_INPUT', cause: err });
  }
}

async function* jsonlRows(input: fs.ReadStream, file: string): AsyncGenerator<{ row: Record<string, unknown>; line: number }> {
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  for await (const text of lines) {
    n++;
    if (text.trim() === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(text);
    } catch (err) {
      throw new CmpError(`${file} line ${n}: not a JSON object: ${(err as Error).message}`, { code: 'ERR_CMP_BULK_INPUT' });
    }
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      throw new CmpError(`${file} line ${n}: not a JSON object`, { code: 'ERR_CMP_BULK_INPUT' });
    }
    const unknown = Object.keys(row).filter((k) => !FIELDS.has(k));
    if (unknown.length) throw new CmpError(`${file} line ${n}: unknown field(s) ${unknown.join(', ')}`, { code: 'ERR_CMP_BULK_INPUT' });
    yield { row: row as Record<string, unknown>, line: n };
  }
}

function readRef(v: string, dir: string, where: string): Buffer {
  try {
    return fs.readFileSync(path.resolve(dir, v));
  } catch (err) {
    throw new CmpError(`${where}: cannot read '${v}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { code: 'ERR_CMP_BULK_INPUT' });
  }
}

function itemFromRow(row: Record<string, unknown>, dir: string, where: string, csv: boolean): BulkItem {
  const item: Record<string, unknown> = {};
  for (const [k, raw] of Object.entries(row)) {
    if (raw === '' || raw === null || raw === undefined) continue;
    if (k === 'sans' || k === 'policies') {
      item[k] = typeof raw === 'string' && csv ? raw.split(';').map((s) => s.trim()).filter(Boolean) : raw;
    } else if (k === 'key') {
      // a key spec, PEM text, or a key file
      item.key = typeof raw === 'string' && !/^(ec|rsa|ed25519|central)(:|$)/.test(raw) && !raw.startsWith('-----BEGIN') ? readRef(raw, dir, where) : raw;
    } else if (k === 'csr' || k === 'oldCert' || k === 'oldKey') {
      item[k] = typeof raw === 'string' && !raw.startsWith('-----BEGIN') ? readRef(raw, dir, where) : raw;
    } else {
      item[k] = raw;
    }
  }
  if (typeof item.id === 'number') item.id = String(item.id);
  if (typeof item.id !== 'string' || item.id === '') throw new CmpError(`${where}: no id`, { code: 'ERR_CMP_BULK_INPUT' });
  return item as unknown as BulkItem;
}
