// `openssl-cmp bulk-worker`: serves the queue of an `openssl-cmp bulk
// -queue` job until stopped (SIGINT/SIGTERM: running jobs finish first).
// Connection, credentials and config sections as `openssl-cmp` takes them.
import * as fs from 'node:fs';
import { CmpContext } from '../context';
import { CmpError } from '../errors';
import { bulkWorker } from '../bulk/distributed/worker';
import { UsageError } from '../options/args';
import { contextOptions, splitArgs, subcommandHelp } from './bulk';
import { CliError, readPass } from '../options/files';
import type { CliIo } from './main';

const PROG = 'bulk-worker';

const WORKER_OPTIONS: Record<string, { type: 's' | 'p' | 'N' | '-'; help: string }> = {
  queue: { type: 's', help: 'redis://HOST:PORT/NAME of the job (as given to openssl-cmp bulk -queue)' },
  queue_pass: { type: 's', help: 'Pass phrase source (pass:, env:, file:, fd:, stdin) of the Redis password' },
  concurrency: { type: 'p', help: 'Jobs (transactions, key generation included) at once on this worker. Default 16' },
  rate: { type: 'p', help: 'Jobs started per second across all workers (BullMQ limiter)' },
  coordinator_key: { type: 's', help: "PEM file with the coordinator's public key (openssl pkey -pubout -in coordinator-key.pem) to seal keys to. Default: the one it published in Redis" },
  lock_duration: { type: 'p', help: "Milliseconds without a heartbeat after which a worker's job goes to another. Default 30000" },
  help: { type: '-', help: 'Display this summary' },
};

function helpText(): string {
  return subcommandHelp('openssl-cmp bulk-worker -queue redis://HOST:PORT/NAME [worker options] [openssl cmp options]', 'Worker options:', WORKER_OPTIONS, [
    'Connection, credentials and -config/-section as for openssl-cmp (see openssl-cmp -help).',
  ]);
}

/** `openssl-cmp bulk-worker ARGS`; resolves to the exit status once stopped. */
export async function bulkWorkerMain(argv: string[], io: CliIo): Promise<number> {
  try {
    const { bulk, rest } = splitArgs(argv, WORKER_OPTIONS, PROG);
    if (bulk.get('help')) {
      io.err(helpText());
      return 0;
    }
    const queue = bulk.get('queue') as string | undefined;
    if (!queue) throw new CliError('missing -queue redis://HOST:PORT/NAME');
    const { options } = contextOptions(rest, io, PROG);
    delete options.cmd; // each job names its operation
    CmpContext.fromOptions(options).close(); // option errors now, not once per context
    const keyFile = bulk.get('coordinator_key') as string | undefined;
    let coordinatorKey: Buffer | undefined;
    try {
      if (keyFile !== undefined) coordinatorKey = fs.readFileSync(keyFile);
    } catch (err) {
      throw new CliError(`cannot read -coordinator_key '${keyFile}': ${(err as Error).message}`);
    }
    const worker = bulkWorker({
      queue,
      queuePassword: readPass(bulk.get('queue_pass') as string | undefined, '-queue_pass'),
      options,
      concurrency: bulk.get('concurrency') as number | undefined,
      rate: bulk.get('rate') as number | undefined,
      lockDuration: bulk.get('lock_duration') as number | undefined,
      coordinatorKey,
    });
    worker.on('warning', (text: string) => io.err(`bulk-worker: warning: ${text}\n`));
    const stopped = new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await worker.ready;
    io.err(`bulk-worker: serving ${queue}\n`);
    await stopped;
    io.err('bulk-worker: stopping after the jobs in hand\n');
    await worker.close();
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${err.message}\n`);
      return 1;
    }
    if (err instanceof CliError || err instanceof CmpError || err instanceof TypeError || err instanceof RangeError) {
      io.err(`CMP error: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
