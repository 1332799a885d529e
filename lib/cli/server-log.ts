// The log of `openssl-cmp -port`: what `openssl cmp -port` prints to stderr
// at each -verbosity, from the same events. OpenSSL's own CMP lines come
// from the server's log hook as they are; the HTTP lines are worded as the
// openssl apps' HTTP server of the running OpenSSL words them (3.5 changed
// them: lower case, a line per response, header dumps at TRACE).
import { STATUS_CODES } from 'node:http';
import { LogLevel } from '../constants';
import { binding } from '../native';
import type { ServerLogEntry, ServerLogHook } from '../server';

const LEVEL_NAMES = ['EMERG', 'ALERT', 'CRIT', 'error', 'warning', 'NOTE', 'info', 'DEBUG'];
const PROG = 'cmp';

function newHttpWording(): boolean {
  const m = /OpenSSL (\d+)\.(\d+)/.exec(binding.opensslVersion);
  return !!m && (Number(m[1]) > 3 || Number(m[2]) >= 5);
}

/** The path as the mock compares it: without leading slashes and doubled trailing ones. */
function mockPath(url: string): string {
  return url.replace(/^\/+/, '').replace(/\/\/+$/, '/');
}

/** OSSL_CMP_print_to_bio's format, without the source location (as in release builds). */
export function cmpLine(level: number, message: string): string {
  return `CMP ${LEVEL_NAMES[level] ?? '(unknown level)'}: ${message}\n`;
}

/**
 * The CmpServer options that make it log as `openssl cmp -port` does at
 * `verbosity`, writing through `err`.
 */
export function mockServerLog(err: (text: string) => void, verbosity: number = LogLevel.INFO): { log: ServerLogHook; logVerbosity: number } {
  const v35 = newHttpWording();
  // OpenSSL 3.0's HTTP server logs at INFO whatever -verbosity says
  const httpVerbosity = v35 ? verbosity : LogLevel.INFO;
  const http = (level: number, text: string) => {
    if (level <= httpVerbosity) err(`${PROG}: ${text}\n`);
  };
  const trace = (lines: string[]) => lines.forEach((t) => http(LogLevel.TRACE, t));
  const log = (e: ServerLogEntry): void => {
    if (e.component !== 'http') {
      if (e.level <= verbosity) err(cmpLine(e.level, e.message));
      return;
    }
    if (!e.http) {
      if (v35) http(e.level, e.message); // waiting for a connection or request
      return;
    }
    const { method, url, version, status, headers = [], keepAlive } = e.http;
    const firstLine = `${method} ${url} HTTP/${version}`;
    if (status === undefined) {
      if (!v35) http(LogLevel.INFO, `Received request, 1st line: ${firstLine}`);
      else if (httpVerbosity >= LogLevel.TRACE) trace(['received request header:', firstLine, ...headers, ' ']);
      else http(LogLevel.INFO, `received request, 1st line: ${firstLine}`);
      return;
    }
    const statusLine = `HTTP/1.0 ${status} ${STATUS_CODES[status] ?? ''}`;
    const header = () => {
      if (v35 && httpVerbosity >= LogLevel.TRACE) trace(['sending response header:', statusLine, ...(keepAlive && status === 200 ? ['Connection: keep-alive'] : []), ...headers, '']);
    };
    if (status === 200) {
      header();
      if (v35 && httpVerbosity < LogLevel.TRACE) http(LogLevel.INFO, `sending response, 1st line: ${statusLine}`);
    } else if (status === 404) {
      header();
      // the app's own message, not the HTTP server's, written once the status is sent
      if (LogLevel.ERR <= verbosity) err(cmpLine(LogLevel.ERR, `expecting empty path or 'pkix/' but got '${mockPath(url)}'`));
    } else {
      if (status === 405) http(LogLevel.WARNING, `HTTP request does not begin with POST: ${firstLine}`);
      else if (status === 400 && /not a DER PKIMessage/.test(e.message)) http(LogLevel.WARNING, `${v35 ? 'e' : 'E'}rror parsing DER-encoded request content`);
      else http(e.level, e.message);
      header();
    }
  };
  return { log, logVerbosity: Math.max(verbosity, httpVerbosity, LogLevel.INFO) };
}
