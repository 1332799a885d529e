// Where a distributed job lives: a BullMQ queue named by a URL
// redis[s]://[user@]HOST:PORT/[DB/]NAME, the Redis connections to it, and
// the persistence Redis must have for the persist-then-confirm rule to
// hold (a result acknowledged by Redis is on its disk before the CA hears
// the worker accept it).
import type { Redis, RedisOptions } from 'ioredis';
import { CmpError } from '../../errors';

export interface QueueAddress {
  name: string;
  options: RedisOptions;
  /** host:port/name, for messages (never the password). */
  label: string;
}

export function queueError(message: string, cause?: unknown): CmpError {
  return new CmpError(message, { code: 'ERR_CMP_BULK_QUEUE', cause });
}

/** Parses the queue URL; a password belongs in `password`, not in the URL (the process list shows URLs). */
export function parseQueueUrl(url: string, password?: string): QueueAddress {
  if (typeof url !== 'string') throw new TypeError('The "queue" option must be a string like redis://HOST:PORT/NAME');
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // not repeated: a URL that does not parse may still carry a password
    throw queueError('the queue is not a URL like redis://HOST:PORT/NAME');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw queueError(`queue URL must start with redis:// or rediss://, not ${u.protocol}//`);
  if (u.password) throw queueError('the queue URL must not hold a password (the process list shows it); give it with -queue_pass or options.queuePassword');
  const parts = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const db = parts.length === 2 && /^\d+$/.test(parts[0]) ? Number(parts.shift()) : 0;
  if (parts.length !== 1 || !/^[\w.-]+$/.test(parts[0])) throw queueError(`queue URL '${url}' must end in /NAME (letters, digits, '.', '_', '-'), optionally /DB/NAME`);
  const options: RedisOptions = { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : 6379, db };
  if (u.username) options.username = decodeURIComponent(u.username);
  if (password !== undefined) options.password = password;
  if (u.protocol === 'rediss:') options.tls = {};
  return { name: parts[0], options, label: `${options.host}:${options.port}/${db ? `${db}/` : ''}${parts[0]}` };
}

/**
 * A connection for BullMQ. Commands wait across a Redis restart (BullMQ
 * requires that of workers) and reconnects back off up to 2 s; callers put
 * their own deadlines on what they wait for.
 */
export function connect(address: QueueAddress): Redis {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const IORedis = loadModule<typeof import('ioredis')>('ioredis').default;
  const redis = new IORedis({
    ...address.options,
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => Math.min(50 * times, 2000),
    lazyConnect: false,
  });
  redis.on('error', () => {}); // reconnects on its own; waits have deadlines
  return redis;
}

export function loadModule<T>(name: string): T {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(name) as T;
  } catch (err) {
    throw queueError(`bulk enrollment across machines needs the packages bullmq and ioredis (npm install bullmq ioredis): ${(err as Error).message.split('\n')[0]}`, err);
  }
}

/** Rejects after `ms` with a clear error unless `p` settles first. */
export function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(queueError(`${what}: no answer from Redis within ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** A warning when Redis may lose an acknowledged write (not appendonly yes with appendfsync always), else undefined. */
export async function persistenceWarning(redis: Redis, label: string): Promise<string | undefined> {
  let aof: string | undefined;
  let fsync: string | undefined;
  try {
    const a = (await deadline(redis.config('GET', 'appendonly'), 10000, label)) as string[];
    const f = (await deadline(redis.config('GET', 'appendfsync'), 10000, label)) as string[];
    aof = a[1];
    fsync = f[1];
  } catch (err) {
    return `cannot check the persistence of Redis at ${label} (CONFIG GET: ${(err as Error).message}); it must run with appendonly yes and appendfsync always, or results acknowledged to the CA can be lost`;
  }
  if (aof === 'yes' && fsync === 'always') return undefined;
  return `Redis at ${label} runs with appendonly ${aof} and appendfsync ${fsync}: a crash of Redis can lose results that workers already confirmed to the CA (their certificates become orphans); run it with appendonly yes and appendfsync always`;
}

/** Redis keys of a queue's results and coordinator key, beside BullMQ's own ("bull:NAME:..."). */
export function keys(name: string): { results: string; sealKey: string } {
  return { results: `bull:${name}:cmp:results`, sealKey: `bull:${name}:cmp:coordinator-key` };
}
