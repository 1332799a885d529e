// `openssl-cmp -port` logs what `openssl cmp -port` logs: the same scenarios
// against both, each side with a fresh server, the same `openssl cmp` client,
// and the events compared line by line, ignoring prefixes and timestamps.
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { opensslVersion } from '../lib';
import { startServer, usePki } from './helpers/cli-procs';
import type { Pki } from './helpers/pki';

const exec = promisify(execFile);
const pkiOf = usePki();
let pki: Pki;
beforeAll(() => {
  pki = pkiOf();
});

const series = (text: string) => /(\d+\.\d+)\.\d+/.exec(text)?.[1];

/**
 * The mock (and client) of the OpenSSL series this runtime links: the
 * system's openssl, or the reference 3.5 build when present. Without one, only OpenSSL's CMP
 * library and app lines are compared (the HTTP server's were reworded in 3.5).
 */
function reference(): { bin: string; full: boolean } {
  const ours = series(opensslVersion);
  if (series(execFileSync('openssl', ['version'], { encoding: 'utf8' })) === ours) return { bin: 'openssl', full: true };
  const cache = process.env.OPENSSL_CMP_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'openssl-cmp');
  const tree = fs.existsSync(cache) ? fs.readdirSync(cache).filter((d) => d.startsWith(`openssl-${ours}.`)).sort().pop() : undefined;
  const bin = tree && path.join(cache, tree, 'apps', 'openssl');
  return bin && fs.existsSync(bin) ? { bin, full: true } : { bin: 'openssl', full: false };
}
const ref = reference();

/** "kind|message": CMP lines by level, the HTTP server's as "http"; locations, prefixes, ports and lengths dropped. */
function events(output: string): string[] {
  const out: string[] = [];
  for (let line of output.split('\n')) {
    line = line.replace(/\r$/, '');
    if (line === '' || line.startsWith('ACCEPT ')) continue;
    line = line.replace(/^[\w.]+:[^:\s]*:\d+:(?=CMP )/, '');
    const cmp = /^CMP (\w+|\(unknown level\)): (.*)$/.exec(line);
    if (cmp) out.push(`${cmp[1]}|${cmp[2]}`);
    else if (line.startsWith('cmp: ')) {
      if (!ref.full) continue;
      out.push(`http|${line.slice(5).replace(/port \d+/, 'port N').replace(/^(host: [\d.]+):\d+$/i, '$1:N').replace(/^(Content-Length:) \d+$/i, '$1 N')}`);
    } else out.push(`other|${line}`);
  }
  // a server killed while going back to accept() may or may not have said so
  while (out.length && /^http\|awaiting/.test(out[out.length - 1])) out.pop();
  return out;
}

/**
 * Where the two may differ, and why: [ours, theirs], a null side being a
 * line the other has alone.
 */
const ALLOWED: Array<[RegExp | null, RegExp | null, string]> = [
  // our handlers' failures say which handler failed; the mock raises the bare reason
  [/^error\|error processing message:certReq handler: /, /^error\|error processing message$/, 'handler detail'],
  // Node's HTTP server answers refusals with a body and keeps the connection; the mock's HTTP/1.0 status has neither
  [/^http\|Content-(type|Length): /i, null, 'refusal headers'],
  [null, /^http\|$/, 'refusal headers'],
  [/^http\|awaiting next request \.\.\.$/, /^http\|awaiting new connection on port N \.\.\.$/, 'connection kept after a refusal'],
  [/^http\|awaiting next request \.\.\.$/, null, 'connection kept after a refusal'],
];

function compare(ours: string[], theirs: string[], scenario: string): void {
  let i = 0;
  let j = 0;
  while (i < ours.length || j < theirs.length) {
    if (ours[i] === theirs[j]) {
      i++;
      j++;
      continue;
    }
    const a = ALLOWED.find(([o, t]) => (o === null || (ours[i] !== undefined && o.test(ours[i]))) && (t === null || (theirs[j] !== undefined && t.test(theirs[j]))));
    if (!a) {
      throw new Error(`${scenario}: logs differ at ours[${i}] / theirs[${j}]:\n  ours:   ${ours[i]}\n  theirs: ${theirs[j]}\n` +
        `ours:\n  ${ours.join('\n  ')}\ntheirs:\n  ${theirs.join('\n  ')}`);
    }
    if (a[0] !== null) i++;
    if (a[1] !== null) j++;
  }
}

const SRV = ['-srv_ref', '1234', '-srv_secret', 'pass:test', '-srv_cert', 'server.crt', '-srv_key', 'server.key', '-srv_trusted', 'ca.crt',
  '-rsp_cert', 'newkey.crt', '-rsp_capubs', 'ca.crt'];
const IR = ['-cmd', 'ir', '-newkey', 'newkey.key', '-subject', '/CN=logged', '-certout', 'logged.pem'];
const PBM = ['-ref', '1234', '-secret', 'pass:test'];

type Drive = (port: number) => Promise<unknown>;
const client = (args: string[]): Drive => (port) =>
  exec(ref.bin, ['cmp', '-config', '', '-server', `127.0.0.1:${port}`, '-path', 'pkix/', ...args], { cwd: pki.dir }).catch((e) => e);
const post = (body: Buffer, method = 'POST'): Drive => (port) =>
  fetch(`http://127.0.0.1:${port}/pkix/`, { method, body: method === 'POST' ? body : undefined,
    // OpenSSL 3.0's mock logs its 400 but leaves the client waiting: not awaited for long
    headers: { 'content-type': 'application/pkixcmp', connection: 'close' }, signal: AbortSignal.timeout(1500) }).then((r) => r.text()).catch((e) => e);

const SCENARIOS: Array<[string, string[], Drive]> = [
  ['success', [], client([...PBM, ...IR])],
  ['wrong secret', [], client(['-ref', '1234', '-secret', 'pass:wrong', ...IR])],
  ['wrong path', [], client([...PBM, ...IR, '-path', 'other/'])],
  ['unprotected request', [], client(['-unprotected_requests', ...IR])],
  ['unprotected request, -accept_unprotected', ['-accept_unprotected'], client(['-unprotected_requests', ...IR])],
  // (without certConf: OpenSSL 3.5's mock makes the client poll for the PKIConf too, a protocol difference logged elsewhere)
  ['polling', ['-poll_count', '2', '-check_after', '0'], client([...PBM, ...IR, '-disable_confirm'])],
  ['-pkistatus -failure -statusstring', ['-pkistatus', '2', '-failure', '9', '-statusstring', 'no today'], client([...PBM, ...IR])],
  ['-failurebits', ['-pkistatus', '2', '-failurebits', '6'], client([...PBM, ...IR])],
  ['-send_error', ['-send_error'], client([...PBM, ...IR])],
  ['-send_unprotected', ['-send_unprotected'], client([...PBM, ...IR, '-unprotected_errors'])],
  ['-send_unprot_err', ['-send_unprot_err', '-send_error'], client([...PBM, ...IR, '-unprotected_errors'])],
  ['-grant_implicitconf', ['-grant_implicitconf'], client([...PBM, ...IR, '-implicit_confirm'])],
  ['rr', [], client([...PBM, '-cmd', 'rr', '-oldcert', 'newkey.crt'])],
  ['genm', [], client([...PBM, '-cmd', 'genm'])],
  ['not DER', [], post(Buffer.from('3003020101', 'hex'))],
];

async function logOf(which: 'ours' | 'openssl', extra: string[], verbosity: number, drive: Drive): Promise<string[]> {
  const srv = await startServer(which, [...SRV, ...extra, '-verbosity', String(verbosity)], pki.dir, { openssl: ref.bin });
  await drive(srv.port);
  // a server may log after its answer reached the client (the mock's wrong-path line does): wait until it is quiet
  for (let seen = -1, deadline = Date.now() + 3000; srv.output().length !== seen && Date.now() < deadline;) {
    seen = srv.output().length;
    await new Promise((r) => setTimeout(r, 150));
  }
  await srv.stop();
  return events(srv.output());
}

// a scenario only the HTTP server logs needs a mock of the same series to compare with
const COMPARABLE = SCENARIOS.filter(([name]) => ref.full || name !== 'not DER');

describe.each([7, 8])('-verbosity %i', (verbosity) => {
  test.each(COMPARABLE)('%s', async (name, extra, drive) => {
    const theirs = await logOf('openssl', extra, verbosity, drive);
    const ours = await logOf('ours', extra, verbosity, drive);
    expect(theirs.length).toBeGreaterThan(0);
    compare(ours, theirs, name);
  });
});

test.each([3, 4, 6])('-verbosity %i: success, wrong secret, wrong path', async (verbosity) => {
  for (const [name, extra, drive] of SCENARIOS.slice(0, 3)) {
    compare(await logOf('ours', extra, verbosity, drive), await logOf('openssl', extra, verbosity, drive), `${name} at ${verbosity}`);
  }
});

test('a request that is no PKIMessage is logged as refused, whatever the reference', async () => {
  const srv = await startServer('ours', SRV, pki.dir);
  await SCENARIOS.find(([name]) => name === 'not DER')![2](srv.port);
  await srv.waitFor(/^cmp: [Ee]rror parsing DER-encoded request content$/m);
});
