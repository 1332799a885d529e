#!/usr/bin/env node
// Bulk enrollment across processes: the bench:bulk job (RSA-2048 keys made
// per item, files and journal on) with its transactions on 1, 2 and 4
// `openssl-cmp bulk-worker` processes through BullMQ on a local
// redis-server (appendfsync always), against a CA in its own process;
// beside it, the same job in one process (enrollMany) as the reference.
// Prints items per second per worker count, the ratio to the reference and
// to one worker, and the coordinator's CPU per item (what bounds how many
// machines one coordinator can feed).
//   node bench/distributed.js [--count N] [--workers 1,2,4] [--concurrency C] [--key rsa|ec]
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { enrollMany, enrollManyQueued } = require('..');

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const COUNT = Number(arg('count', 10000));
const WORKERS = arg('workers', '1,2,4').split(',').map(Number);
const CONC = Number(arg('concurrency', 8));
// --key ec: P-256 keys, so that workers are not CPU-bound and the coordinator's cost per item shows
const KEY = arg('key', 'rsa') === 'ec' ? { type: 'ec', curve: 'P-256' } : { type: 'rsa', bits: 2048 };
const REF = 'bench';
process.env.BENCH_SECRET = require('node:crypto').randomBytes(12).toString('hex');
const ROOT = path.join(__dirname, '..');
const CLI = path.join(ROOT, 'bin', 'openssl-cmp.js');
const REDIS = process.env.REDIS_SERVER || '/usr/bin/redis-server';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-dist-'));
const children = new Set();

function start(cmd, args, pattern, stream = 'stdout') {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    let out = '';
    child[stream].on('data', (d) => {
      out += d;
      const m = pattern.exec(out);
      if (m) resolve({ child, m });
    });
    child.once('exit', (c) => reject(new Error(`${path.basename(args[0] || cmd)} exited with ${c}: ${out}`)));
  });
}

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

function* items() {
  for (let i = 0; i < COUNT; i++) yield { id: `d${i}`, subject: `/CN=device-${i}/O=Bench`, key: KEY };
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function measure(label, makeJob) {
  const c0 = cpuMs();
  const t0 = performance.now();
  const s = await makeJob().done;
  const seconds = (performance.now() - t0) / 1000;
  if (s.confirmed !== COUNT) throw new Error(`${label}: only ${s.confirmed} of ${COUNT} confirmed: ${JSON.stringify(s.errors)}`);
  return { label, perSec: COUNT / seconds, cpuMs: (cpuMs() - c0) / COUNT, seconds };
}

(async () => {
  const { m: caM } = await start(process.execPath, [CLI, '-config', '', '-port', '0', '-srv_ref', REF, '-srv_secret', 'env:BENCH_SECRET'], /ACCEPT \S*:(\d+)/);
  const caPort = Number(caM[1]);
  const redisPort = await freePort();
  await start(REDIS, ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', work, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], /Ready to accept/);
  const server = `127.0.0.1:${caPort}/pkix/`;
  console.log(`${COUNT} items, ${KEY.type === 'rsa' ? 'RSA-2048' : 'P-256'} keys made per item, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}, concurrency ${CONC} per process`);

  const rows = [];
  const localDir = path.join(work, 'local');
  fs.mkdirSync(localDir);
  rows.push(await measure('one process (enrollMany)', () =>
    enrollMany(items(), { options: { server, ref: REF, secret: 'env:BENCH_SECRET' }, concurrency: CONC, journal: path.join(localDir, 'j.sqlite'), outDir: localDir }),
  ));
  for (const n of WORKERS) {
    const queue = `bench-${n}`;
    const workers = await Promise.all(Array.from({ length: n }, () =>
      start(process.execPath, [CLI, 'bulk-worker', '-config', '', '-queue', `redis://127.0.0.1:${redisPort}/${queue}`, '-server', server, '-ref', REF,
        '-secret', 'env:BENCH_SECRET', '-concurrency', String(CONC)], /serving/, 'stderr'),
    ));
    const dir = path.join(work, queue);
    fs.mkdirSync(dir);
    rows.push(await measure(`${n} worker process${n > 1 ? 'es' : ''}`, () =>
      enrollManyQueued(items(), { queue: `redis://127.0.0.1:${redisPort}/${queue}`, journal: path.join(dir, 'j.sqlite'), outDir: dir }),
    ));
    for (const { child } of workers) child.kill('SIGTERM');
    await Promise.all(workers.map(({ child }) => new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)))));
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const ref = rows[0].perSec;
  const one = rows[1]?.perSec;
  console.log(`${'run'.padEnd(28)} ${'items/s'.padStart(8)} ${'vs local'.padStart(9)} ${'vs 1 wk'.padStart(8)} ${'coord CPU ms/item'.padStart(18)}`);
  for (const r of rows) {
    const vsOne = r === rows[0] || !one ? '' : `${(r.perSec / one).toFixed(2)}x`;
    console.log(`${r.label.padEnd(28)} ${r.perSec.toFixed(1).padStart(8)} ${`${(r.perSec / ref).toFixed(2)}x`.padStart(9)} ${vsOne.padStart(8)} ${r.cpuMs.toFixed(2).padStart(18)}`);
  }
  const coord = rows.slice(1).map((r) => r.cpuMs);
  if (coord.length) {
    const per = Math.min(...coord);
    console.log(`coordinator: ${per.toFixed(2)} ms CPU per item, so one coordinator core keeps up with about ${Math.round(1000 / per)} items/s of workers`);
  }
})()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of children) c.kill('SIGKILL');
    fs.rmSync(work, { recursive: true, force: true });
  });
