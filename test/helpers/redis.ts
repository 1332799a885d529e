// A real redis-server for a test: 127.0.0.1, a free port, a directory of
// its own, every write fsynced before it is acknowledged. restart() comes
// back on the same port and directory, from the append-only file.
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

export const REDIS_SERVER = process.env.REDIS_SERVER || '/usr/bin/redis-server';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export class RedisServer {
  proc: ChildProcess | undefined;
  port = 0;
  constructor(readonly dir: string) {}

  /** `persistence` replaces the fsync-every-write settings (to test what happens without them). */
  async start(persistence = ['--appendonly', 'yes', '--appendfsync', 'always']): Promise<void> {
    if (!this.port) this.port = await freePort();
    fs.mkdirSync(this.dir, { recursive: true });
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, ...persistence, '--save', '', '--protected-mode', 'no'];
    const proc = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start within 20 s:\n${out}`)), 20000);
      proc.stdout!.on('data', (d) => {
        out += d;
        if (/Ready to accept connections/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}:\n${out}`));
      });
    });
    proc.stdout!.resume();
    proc.stderr!.resume();
  }

  /** SIGKILL; resolves once the process is gone. */
  kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  }

  /** Everything Redis ever wrote to its append-only files. */
  aof(): string {
    const dir = path.join(this.dir, 'appendonlydir');
    return fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f), 'latin1')).join('');
  }
}
