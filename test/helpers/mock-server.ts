// OpenSSL's own mock CMP server (`openssl cmp -port 0 ...`) on loopback.
import { ChildProcess, spawn } from 'node:child_process';
import { Pki } from './pki';

export interface MockServer {
  port: number;
  /** What the server printed so far (its own log). */
  output(): string;
  stop(): Promise<void>;
}

/** Default credentials: PBM ref 1234 / secret "test", or the server's cert for signatures. */
export const REF = '1234';
export const SECRET = 'test';

/** PBM-protected answers when `pbm`, else signed with the server's key. */
export function mockArgs(pki: Pki, pbm = true): string[] {
  return [
    ...(pbm ? ['-srv_ref', REF, '-srv_secret', `pass:${SECRET}`] : []),
    '-srv_cert', pki.file('server.crt'), '-srv_key', pki.file('server.key'),
    '-srv_trusted', pki.file('ca.crt'),
    '-rsp_cert', pki.file('newkey.crt'), '-rsp_capubs', pki.file('ca.crt'),
  ];
}

/** `bin`: the openssl command (the system's by default; the differential suite passes the runtime's). */
export function startMock(pki: Pki, extra: string[] = [], base: string[] = mockArgs(pki), bin = 'openssl'): Promise<MockServer> {
  const child: ChildProcess = spawn(bin, ['cmp', '-config', '', '-port', '0', ...base, ...extra], {
    cwd: pki.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let started = false;
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /ACCEPT \S*:(\d+)/.exec(out);
      if (m && !started) {
        started = true;
        resolve({
          port: Number(m[1]),
          output: () => out,
          stop: () =>
            new Promise<void>((done) => {
              if (child.exitCode !== null) return done();
              child.once('exit', () => done());
              child.kill('SIGKILL');
            }),
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`mock server exited (${code}): ${out}`)));
    child.once('error', reject);
  });
}
