// Long-running command-line processes for tests: `openssl-cmp -port` and
// `openssl cmp -port` as servers, with their whole output kept, and what the
// kernel shows of their command lines.
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Pki, makePki, removePki } from './pki';

export const BIN = path.join(__dirname, '..', '..', 'bin', 'openssl-cmp.js');

export interface Proc {
  child: ChildProcess;
  /** stdout and stderr so far, interleaved as they arrived. */
  output(): string;
  /** Resolves once `re` matches the output; rejects at the deadline or on exit. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpExecArray>;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running: Proc[] = [];

/** Kills whatever a test left running. */
export async function stopAll(): Promise<void> {
  await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL')));
}

export function start(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Proc {
  const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of [...waiters]) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const proc: Proc = {
    child,
    output: () => out,
    exited,
    waitFor: (re, ms = 15000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = re.exec(out);
          if (m) {
            done();
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${re} within ${ms} ms in:\n${out}`));
        }, ms);
        const gone = () => {
          done();
          reject(new Error(`exited before ${re}:\n${out}`));
        };
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('exit', gone);
        };
        waiters.add(check);
        child.once('exit', gone);
        check();
      }),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  running.push(proc);
  return proc;
}

/**
 * A CMP server on a free port: ours (`openssl-cmp -port 0`, run by `node`)
 * or OpenSSL's mock (`openssl cmp -port 0`, the `openssl` binary given).
 */
export async function startServer(which: 'ours' | 'openssl', args: string[], cwd: string,
  bin: { node?: string; openssl?: string } = {}): Promise<Proc & { port: number }> {
  const p = which === 'ours'
    ? start(bin.node ?? process.execPath, [BIN, '-config', '', '-port', '0', ...args], cwd)
    : start(bin.openssl ?? 'openssl', ['cmp', '-config', '', '-port', '0', ...args], cwd);
  const m = await p.waitFor(/ACCEPT \S*:(\d+)/);
  return Object.assign(p, { port: Number(m[1]) });
}

/** The arguments of a running process as /proc shows them to every local user. */
export function cmdline(pid: number): string[] {
  return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0$/, '').split('\0');
}

/** A fresh PKI for the test file, and whatever a test leaves running killed after it. */
export function usePki(): () => Pki {
  let pki: Pki;
  beforeAll(() => {
    pki = makePki();
  });
  afterEach(stopAll);
  afterAll(() => removePki(pki));
  return () => pki;
}
