// The library prints nothing unless asked; asked, its log hook gets OpenSSL's
// own lines of each request and the HTTP server's.
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const FIXTURE = path.join(__dirname, 'fixtures', 'server-scenarios.js');

test('without a log hook a CmpServer writes nothing to stdout or stderr, whatever goes wrong', async () => {
  const { stdout, stderr } = await exec(process.execPath, [FIXTURE, 'quiet']);
  expect(stdout).toBe('');
  expect(stderr).toBe('');
});

test('with a log hook: OpenSSL\'s lines and reasons, and the HTTP server\'s, and still nothing on stdout/stderr of its own', async () => {
  const { stdout, stderr } = await exec(process.execPath, [FIXTURE, 'hook']);
  expect(stderr).toBe('');
  const entries = stdout.trim().split('\n').map((l) => JSON.parse(l));
  const messages = entries.map((e) => `${e.component === 'http' ? 'http' : e.level}|${e.message}`);
  for (const line of ['7|received IR', '7|sending IP', '7|received CERTCONF', '7|sending PKICONF', '3|wrong pbm value', '3|missing protection',
    '7|sending ERROR', '7|received POLLREQ', '7|sending POLLREP']) {
    expect(messages).toContain(line);
  }
  // a failing handler is an error line of its own
  expect(messages.some((m) => /^3\|error processing message:certReq handler/.test(m))).toBe(true);
  const http = entries.filter((e) => e.component === 'http' && e.http);
  expect(http.map((e) => e.http.status).filter(Boolean)).toEqual(expect.arrayContaining([200, 400, 404, 405]));
  expect(http.every((e) => e.http.remote === '127.0.0.1')).toBe(true);
  expect(entries.some((e) => e.component === 'http' && /awaiting new connection on port \d+/.test(e.message))).toBe(true);
});
