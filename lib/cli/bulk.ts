// `openssl-cmp bulk`: enrollMany from the command line. Connection,
// credentials and config sections are taken as `openssl-cmp` takes them.
import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { SingleBar } from 'cli-progress';
import { CmpContext } from '../context';
import { CmpError } from '../errors';
import { BulkItem, BulkOperation, OPERATIONS, keySpec, readItems } from '../bulk/items';
import { enrollMany, BulkResult } from '../bulk/engine';
import { enrollManyQueued } from '../bulk/distributed/coordinator';
import { BulkProgress, BulkSummary } from '../bulk/progress';
import { Registry, newRegistry, serveMetrics } from '../metrics';
import { UsageError, parseArgs } from '../options/args';
import { loadConfig } from '../options/config';
import { binding } from '../native';
import { CliError, readPass } from '../options/files';
import { OPTIONS, camel } from '../options/table';
import type { CliIo } from './main';

const PROG = 'bulk';
const DEFAULT_CONFIG = '/usr/lib/ssl/openssl.cnf';

/** Exit statuses: every item confirmed; some failed; stopped by a signal (run again with -resume). */
export const EXIT = { ok: 0, error: 1, partial: 2, stopped: 3 } as const;

const BULK_OPTIONS: Record<string, { type: 's' | 'p' | 'N' | '-'; help: string }> = {
  in: { type: 's', help: 'Items to enroll: CSV with a header row (id,subject,sans,operation,key,csr,oldCert,oldKey,policies) or JSONL' },
  out_dir: { type: 's', help: 'Directory for key, certificate and chain files per item and manifest.jsonl' },
  journal: { type: 's', help: 'SQLite journal of the job. Default: journal.sqlite in -out_dir' },
  resume: { type: '-', help: 'Continue the job of an existing journal (confirmed items are skipped)' },
  retry_failed: { type: '-', help: 'With -resume: try again the items that failed before' },
  revoke_orphans: { type: '-', help: 'At the end, revoke the certificates issued for items whose output holds a newer one' },
  concurrency: { type: 'p', help: 'Transactions in flight. Default 16' },
  rate: { type: 'p', help: 'Transactions started per second at most' },
  retries: { type: 'N', help: 'Retries of transient faults (no answer, server busy). Default 4' },
  key_type: { type: 's', help: 'Key for items that give none: ec[:P-256|P-384|P-521], rsa[:bits], ed25519, central (made by the CA; OpenSSL 3.5+). Default ec:P-256' },
  out_keypass: { type: 's', help: 'Pass phrase source (pass:, env:, file:, fd:, stdin) to encrypt the written keys' },
  key_name: { type: 's', help: 'Key file name in -out_dir, {id} for the item id. Default {id}.key.pem' },
  cert_name: { type: 's', help: 'Certificate file name. Default {id}.cert.pem' },
  chain_name: { type: 's', help: 'Chain file name. Default {id}.chain.pem' },
  out_p12: { type: '-', help: 'Write each new key with its certificate and chain as PKCS#12 (needs -out_keypass) instead of a PEM key file' },
  p12_name: { type: 's', help: 'PKCS#12 file name. Default {id}.p12' },
  json: { type: '-', help: 'JSON lines on stdout: progress, each result, the summary' },
  metrics_port: { type: 'N', help: 'While the job runs, serve its Prometheus metrics (cmp_bulk_*) over HTTP on this port (0: any free one)' },
  metrics_path: { type: 's', help: 'HTTP path of the metrics. Default /metrics' },
  queue: { type: 's', help: 'redis://HOST:PORT/NAME: run the transactions on openssl-cmp bulk-worker processes through this BullMQ queue' },
  queue_pass: { type: 's', help: 'Pass phrase source (pass:, env:, file:, fd:, stdin) of the Redis password' },
  seal_key: { type: 's', help: 'With -queue: the X25519 key workers seal private keys to. Default coordinator-key.pem beside the journal (made when absent)' },
  help: { type: '-', help: 'Display this summary' },
};

/** -help of a subcommand: its usage line, its own options, then what it takes from openssl-cmp. */
export function subcommandHelp(usage: string, title: string, options: Record<string, { type: string; help: string }>, footer: string[]): string {
  const lines = [`Usage: ${usage}`, '', title];
  for (const [name, o] of Object.entries(options)) lines.push(` -${(name + (o.type === '-' ? '' : ' val')).padEnd(24)} ${o.help}`);
  lines.push('', ...footer);
  return `${lines.join('\n')}\n`;
}

function helpText(): string {
  return subcommandHelp('openssl-cmp bulk -in FILE [bulk options] [openssl cmp options]', 'Bulk options:', BULK_OPTIONS, [
    'Connection, credentials and -config/-section as for openssl-cmp (see openssl-cmp -help);',
    '-cmd sets the operation of items that name none.',
  ]);
}

/** Splits bulk options from the `openssl cmp` ones. */
export function splitArgs(
  argv: string[],
  table: Record<string, { type: 's' | 'p' | 'N' | '-' }> = BULK_OPTIONS,
  prog = PROG,
): { bulk: Map<string, string | number | boolean>; rest: string[] } {
  const bulk = new Map<string, string | number | boolean>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const m = /^--?([^=]+)(?:=(.*))?$/.exec(argv[i]);
    const spec = m && Object.hasOwn(table, m[1]) ? table[m[1]] : undefined;
    if (!m || !spec) {
      rest.push(argv[i]);
      const cmp = m ? OPTIONS.get(m[1]) : undefined;
      if (cmp && cmp.type !== '-' && m![2] === undefined && i + 1 < argv.length) rest.push(argv[++i]);
      continue;
    }
    if (spec.type === '-') {
      bulk.set(m[1], true);
      continue;
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new UsageError(`${prog}: Option -${m[1]} needs a value`);
    if (spec.type !== 's') {
      const n = Number(value);
      if (!/^\d+$/.test(value) || (spec.type === 'p' && n <= 0)) throw new UsageError(`${prog}: Option -${m[1]} needs a ${spec.type === 'p' ? 'positive' : 'non-negative'} integer, not "${value}"`);
      bulk.set(m[1], n);
    } else bulk.set(m[1], value);
  }
  return { bulk, rest };
}

const BY_CAMEL = new Map([...OPTIONS.values()].map((o) => [camel(o.name), o]));

/** The `openssl cmp` options for the contexts: the config section(s), then the command line; and the config file read. */
export function contextOptions(
  rest: string[],
  io: CliIo,
  prog = PROG,
): { options: Record<string, string | number | boolean>; configFile?: string } {
  const args = parseArgs(rest, prog);
  const configArg = args.get('config') as string | undefined;
  const file = configArg ?? process.env.OPENSSL_CONF ?? DEFAULT_CONFIG;
  const section = (args.get('section') as string | undefined) || 'cmp';
  const out: Record<string, string | number | boolean> = {};
  const used = file !== '' && (configArg !== undefined || process.env.OPENSSL_CONF !== undefined || fs.existsSync(file));
  if (used) {
    io.err(`CMP info: using section(s) '${section}' of OpenSSL configuration file '${file}'\n`);
    for (const [k, v] of Object.entries(loadConfig(file, section))) {
      const spec = BY_CAMEL.get(k);
      if (spec && !spec.server && !spec.cmdlineOnly) out[k] = v; // a config shared with a server section may hold more
    }
  }
  for (const [name, v] of args) {
    const spec = OPTIONS.get(name)!;
    if (spec.cmdlineOnly) continue;
    if (spec.server) throw new UsageError(`${prog}: -${name} is a server option`);
    out[camel(name)] = v;
  }
  // every pooled context reads the options again, and a source like stdin or fd: gives its pass phrase once
  for (const name of PASS_OPTIONS) {
    const key = camel(name);
    if (typeof out[key] !== 'string') continue;
    out[key] = `pass:${readPass(out[key] as string, `-${name}`, (text) => io.err(`${text}\n`))}`;
  }
  return { options: out, configFile: used ? file : undefined };
}

const PASS_OPTIONS = ['secret', 'keypass', 'otherpass', 'tls_keypass', 'newkeypass'];

/**
 * -reqexts and -policies name sections of the config file: their extensions go into every request,
 * merged with each item's own sans and policies, in place of options the contexts cannot read.
 */
function requestExtensions(options: Record<string, string | number | boolean>, configFile: string | undefined): Buffer | undefined {
  const sections = [options.reqexts, options.policies].filter((x): x is string => typeof x === 'string');
  if (options.policies !== undefined && options.policyOids !== undefined) throw new CliError('cannot have policies both via -policies and via -policy_oids');
  delete options.reqexts;
  delete options.policies;
  if (!sections.length) return undefined;
  if (configFile === undefined) throw new CliError(`cannot load certificate request extension section '${sections[0]}': no -config file`);
  try {
    return binding.extensionsFromConfig(configFile, sections);
  } catch (err) {
    throw new CliError(`cannot load certificate request extension section '${sections.join(', ')}': ${(err as Error).message}`);
  }
}

async function countRows(file: string): Promise<number | undefined> {
  try {
    let n = 0;
    for await (const chunk of fs.createReadStream(file)) for (const b of chunk as Buffer) if (b === 10) n++;
    return /\.csv$/i.test(file) ? n - 1 : n;
  } catch {
    return undefined;
  }
}

function errorJson(e: CmpError): Record<string, unknown> {
  const r: Record<string, unknown> = { code: e.code, message: e.message };
  if (e.pkiStatus !== undefined) Object.assign(r, { pkiStatusName: e.pkiStatusName, failInfo: e.failInfo, statusString: e.statusString });
  return r;
}

function summaryText(s: BulkSummary): string {
  const lines = [
    `bulk: ${s.total} items: ${s.confirmed} confirmed, ${s.failed} failed, ${s.skipped} skipped (confirmed before) in ${s.seconds} s, ${s.rate} per second`,
    `bulk: latency per item p50 ${s.latency.p50} ms, p99 ${s.latency.p99} ms; ${s.attempts} transactions`,
  ];
  const errors = Object.entries(s.errors).sort((a, b) => b[1] - a[1]);
  if (errors.length) lines.push('bulk: failures by cause:', ...errors.map(([cause, n]) => `  ${String(n).padStart(7)}  ${cause}`));
  if (s.revoked.length) lines.push(`bulk: revoked ${s.revoked.length} orphaned certificate(s): ${s.revoked.slice(0, 5).join(', ')}${s.revoked.length > 5 ? ', ...' : ''}`);
  if (s.orphans.length) {
    lines.push(`bulk: ${s.orphans.length} certificate(s) issued but not in the output (superseded after an interruption; -revoke_orphans revokes them):`);
    lines.push(...s.orphans.slice(0, 20).map((o) => `  ${o}`));
    if (s.orphans.length > 20) lines.push(`  ... and ${s.orphans.length - 20} more`);
  }
  if (s.stopped) lines.push('bulk: stopped; run again with -resume to continue');
  return `${lines.join('\n')}\n`;
}

class Display {
  #bar: SingleBar | undefined;
  #lastLine = 0;
  constructor(private readonly io: CliIo, private readonly json: boolean, tty: boolean, total: number | undefined) {
    if (!json && tty) {
      this.#bar = new SingleBar({
        stream: process.stderr,
        format: ' {bar} {value}/{total} | failed {failed} | in flight {inFlight} | {rate}/s | ETA {eta_formatted}',
        hideCursor: true,
        etaBuffer: 200,
      });
      this.#bar.start(total ?? 0, 0, { failed: 0, inFlight: 0, rate: 0 });
    }
  }

  progress(p: BulkProgress): void {
    if (this.#bar) {
      if (p.done > this.#bar.getTotal()) this.#bar.setTotal(p.done);
      this.#bar.update(p.done, { failed: p.failed, inFlight: p.inFlight, rate: p.rate });
    } else if (this.json) {
      this.io.out(`${JSON.stringify({ event: 'progress', ...p })}\n`);
    } else if (Date.now() - this.#lastLine >= 2000) {
      this.#lastLine = Date.now();
      this.io.err(`bulk: ${p.done} done (${p.confirmed} confirmed, ${p.failed} failed, ${p.skipped} skipped), ${p.inFlight} in flight, ${p.rate}/s\n`);
    }
  }

  result(r: BulkResult): void {
    if (this.json) {
      const line: Record<string, unknown> = { event: 'result', id: r.id, ok: r.ok, attempts: r.attempts };
      if (r.serial) line.serial = r.serial;
      if (r.error) line.error = errorJson(r.error);
      this.io.out(`${JSON.stringify(line)}\n`);
    } else if (!r.ok && !this.#bar) {
      this.io.err(`bulk: ${r.id} failed: ${r.error!.message}\n`);
    }
  }

  close(): void {
    this.#bar?.stop();
    this.#bar = undefined;
  }

  end(s: BulkSummary): void {
    this.close();
    this.io.out(this.json ? `${JSON.stringify({ event: 'summary', ...s })}\n` : summaryText(s));
  }
}

/** Serves a registry to scrapes on `path` until closed; says on stderr which port it took. */
async function metricsEndpoint(port: number, path: string, io: CliIo): Promise<{ registry: Registry; close: () => void }> {
  const registry = newRegistry();
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && (req.url ?? '').split('?')[0] === path) return serveMetrics(registry, res);
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new CliError(`-metrics_port ${port}: ${err.message}`)));
    server.listen(port, '::', () => resolve());
  });
  io.err(`bulk: metrics on port ${(server.address() as AddressInfo).port}, path ${path}\n`);
  return {
    registry,
    close: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}

/** `openssl-cmp bulk ARGS`; resolves to the exit status. */
export async function bulkMain(argv: string[], io: CliIo, tty = !!process.stderr.isTTY): Promise<number> {
  let display: Display | undefined;
  let metrics: { registry: Registry; close: () => void } | undefined;
  try {
    const { bulk, rest } = splitArgs(argv);
    if (bulk.get('help')) {
      io.err(helpText());
      return EXIT.ok;
    }
    const input = bulk.get('in') as string | undefined;
    if (!input) throw new CliError('missing -in FILE with the items to enroll');
    const outDir = bulk.get('out_dir') as string | undefined;
    const journal = (bulk.get('journal') as string | undefined) ?? (outDir ? `${outDir}/journal.sqlite` : undefined);
    if (journal && fs.existsSync(journal) && !bulk.get('resume')) throw new CliError(`journal '${journal}' exists already; use -resume to continue its job`);
    if (outDir && !bulk.get('journal')) fs.mkdirSync(outDir, { recursive: true });
    if (bulk.get('retry_failed') && !bulk.get('resume')) throw new CliError('-retry_failed goes with -resume');
    const { options, configFile } = contextOptions(rest, io);
    const reqExtensions = requestExtensions(options, configFile);
    const cmd = options.cmd as string | undefined;
    delete options.cmd;
    if (cmd !== undefined && !OPERATIONS.includes(cmd as BulkOperation)) throw new CliError(`-cmd ${cmd} is not a bulk operation (${OPERATIONS.join(', ')})`);
    const defaultKey = bulk.get('key_type') ? keySpec(bulk.get('key_type') as string, '-key_type') : undefined;
    const queue = bulk.get('queue') as string | undefined;
    if (queue === undefined) CmpContext.fromOptions(options).close(); // option errors now, not once per context
    else if (!journal) throw new CliError('-queue needs -journal or -out_dir: a restarted coordinator resumes from the journal');
    else if (bulk.get('revoke_orphans')) throw new CliError('-revoke_orphans does not go with -queue (the coordinator holds no CMP credentials)');
    else if (bulk.get('metrics_port') !== undefined) throw new CliError('-metrics_port does not go with -queue; watch the queue with BullMQ tools');
    else if (reqExtensions !== undefined) throw new CliError('-reqexts and -policies do not go with -queue yet: give the items sans and policies');
    const passphrase = readPass(bulk.get('out_keypass') as string | undefined, '-out_keypass');
    const names = {
      key: bulk.get('key_name') as string | undefined,
      cert: bulk.get('cert_name') as string | undefined,
      chain: bulk.get('chain_name') as string | undefined,
      p12: bulk.get('p12_name') as string | undefined,
    };
    if (bulk.get('out_p12') && passphrase === undefined) throw new CliError('-out_p12 needs -out_keypass to encrypt the PKCS#12 files');
    for (const k of Object.keys(names) as Array<keyof typeof names>) if (names[k] === undefined) delete names[k];
    if (bulk.get('metrics_path') !== undefined && bulk.get('metrics_port') === undefined) throw new CliError('-metrics_path goes with -metrics_port');
    if (bulk.get('metrics_port') !== undefined) {
      metrics = await metricsEndpoint(bulk.get('metrics_port') as number, (bulk.get('metrics_path') as string | undefined) ?? '/metrics', io);
    }

    async function* items(): AsyncGenerator<BulkItem> {
      for await (const item of readItems(input!)) {
        const op = item.operation ?? (cmd as BulkOperation | undefined);
        yield { ...item, ...(op ? { operation: op } : {}), ...(item.key === undefined && defaultKey ? { key: defaultKey } : {}) };
      }
    }
    // what a local job and a queued one take alike
    const common = {
      rate: bulk.get('rate') as number | undefined,
      retries: bulk.get('retries') as number | undefined,
      retryFailed: !!bulk.get('retry_failed'),
      journal,
      outDir,
      names,
      passphrase,
      pkcs12: !!bulk.get('out_p12'),
    };
    const job =
      queue !== undefined
        ? enrollManyQueued(items(), {
            ...common,
            journal: journal!,
            queue,
            queuePassword: readPass(bulk.get('queue_pass') as string | undefined, '-queue_pass'),
            sealKey: bulk.get('seal_key') as string | undefined,
          })
        : enrollMany(items(), {
            ...common,
            options,
            concurrency: bulk.get('concurrency') as number | undefined,
            revokeOrphans: !!bulk.get('revoke_orphans'),
            reqExtensions,
            metrics: metrics?.registry,
          });
    // read from now on: results that come while the rows are counted are shown too
    const results = job[Symbol.asyncIterator]();
    display = new Display(io, !!bulk.get('json'), tty, tty ? await countRows(input) : undefined);
    const d = display;
    job.on('progress', (p) => d.progress(p));
    job.on('warning', (text: string) => io.err(`bulk: warning: ${text}\n`));
    const stop = () => job.stop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      for await (const r of { [Symbol.asyncIterator]: () => results }) d.result(r);
      const summary = await job.done;
      d.end(summary);
      return summary.stopped ? EXIT.stopped : summary.failed > 0 ? EXIT.partial : EXIT.ok;
    } finally {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
    }
  } catch (err) {
    display?.close();
    if (err instanceof UsageError) {
      io.err(`${err.message}\n`);
      return EXIT.error;
    }
    if (err instanceof CliError || err instanceof CmpError || err instanceof TypeError) {
      io.err(`CMP error: ${err.message}\n`);
      return EXIT.error;
    }
    throw err;
  } finally {
    metrics?.close();
  }
}

