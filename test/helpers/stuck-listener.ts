import { spawn } from 'node:child_process';
import * as path from 'node:path';

/** A port whose accept queue is full: a connect() to it hangs in SYN_SENT (test/fixtures/stuck-listener.py). */
export interface StuckListener {
  port: number;
  stop(): void;
}

export async function startStuckListener(): Promise<StuckListener> {
  const child = spawn('python3', [path.join(__dirname, '..', 'fixtures', 'stuck-listener.py')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', (c) => reject(new Error(`stuck-listener exited ${c}`)));
  });
  return {
    port,
    stop() {
      child.stdin!.end();
      child.kill();
    },
  };
}
