#!/usr/bin/env node
// Bulk enrollment: enrollMany (keys generated per item, files and journal on)
// against a CMP server in another process (`openssl-cmp -port`, PBM,
// certConf), beside the C reference loop (bench/c-loop.c, built by c-loop.js) and
// `openssl cmp` spawned once per enrollment (xargs -P), all in one run.
//   1. CPU per enrollment on loopback.
//   2. Network-bound: through a proxy adding 25 ms each way (bench/delay-proxy.c), against the
//      bound, with the C loop on the same path beside it.
//   3. Memory: RSS after 10% of the items and at the end.
//   4. Chart (bench/bulk-chart.svg): throughput and p99 latency against concurrency.
// Event-loop lag p99 is printed for 1 and 2, beside that of an idle process running meanwhile.
// Sizes: BENCH_N (split into BENCH_ROUNDS alternating rounds), BENCH_N_CLI, BENCH_NET_N, BENCH_NET_CONC, BENCH_MEM_N,
// BENCH_CHART_N;
// BENCH_ONLY=13 runs sections 1 and 3 only; BENCH_KEEP=1 keeps the run's files (deleting them slows
// file creation for minutes on ext4 without a journal, so back-to-back runs keep theirs).
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { monitorEventLoopDelay } = require('node:perf_hooks');
const { enrollMany } = require('..');
const { svgChart } = require('./svg-chart');
const { childPort } = require('./child-port');

const env = (name, dflt) => Number(process.env[name] || dflt);
const N_CPU = env('BENCH_N', 5000);
const CPU_ROUNDS = env('BENCH_ROUNDS', 5);
const N_CLI = env('BENCH_N_CLI', 300);
const N_NET = env('BENCH_NET_N', 10000);
const NET_CONC = env('BENCH_NET_CONC', 32);
const N_MEM = env('BENCH_MEM_N', 100000);
const CHART_N = env('BENCH_CHART_N', 300);
const ONLY = process.env.BENCH_ONLY || '1234';
const CONC = 8;
const DELAY_MS = 25;
const REF = 'bench';
const SECRET = require('node:crypto').randomBytes(12).toString('hex');
process.env.BENCH_SECRET = SECRET;
const CLK_TCK = 100; // Linux USER_HZ
const ROOT = path.join(__dirname, '..');
// the reference loop on the running Node's OpenSSL series, built on first use
const C_LOOP = (() => {
  if (process.env.C_LOOP) return process.env.C_LOOP;
  try {
    return require('./c-loop').build();
  } catch (err) {
    console.error(`C loop not built: ${err.message}`);
    return path.join(__dirname, 'c-loop-missing');
  }
})();

/** Listening port -> pid of the child serving it (the server, the proxy). */
const pidOf = new Map();
/** CPU time of another process so far, from /proc. */
const procCpuMs = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
};
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-bulk-'));
const children = [];

async function startChild(args, pattern, command = process.execPath) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'ignore'], env: process.env });
  children.push(child);
  const port = await childPort(child, pattern);
  pidOf.set(port, child.pid);
  return port;
}

const startServer = () =>
  startChild([path.join(ROOT, 'bin', 'openssl-cmp.js'), '-config', '', '-port', '0', '-srv_ref', REF, '-srv_secret', 'env:BENCH_SECRET'], /ACCEPT \S*:(\d+)/);
/** A second process doing nothing but measuring its own event-loop lag: what the machine alone does to timers, meanwhile. */
function startLagProbe() {
  const code = `const h = require('node:perf_hooks').monitorEventLoopDelay({ resolution: 10 }); h.enable();
    process.on('message', () => { process.send(h.percentile(99) / 1e6); h.reset(); });`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  children.push(child);
  return { read: () => new Promise((resolve) => { child.once('message', resolve); child.send(0); }) };
}
const startProxy = (port) => startChild([String(port), String(DELAY_MS)], /PROXY (\d+)/, require('./delay-proxy').build());

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const childCpuMs = () => {
  const f = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return ((Number(f[13]) + Number(f[14])) * 1000) / CLK_TCK;
};

/**
 * CPU per file created, written and renamed, as the output does it. On ext4 without a journal (this
 * machine's root) every new inode passes over the ones freed in the last 1 to 6 minutes, so the cost
 * depends on what was deleted lately; the files stay until the end, like the runs'.
 */
function fileCreationUs(n = 500) {
  const dir = path.join(work, 'probe');
  fs.mkdirSync(dir);
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    fs.writeFileSync(path.join(dir, `${i}.tmp`), 'x'.repeat(700));
    fs.renameSync(path.join(dir, `${i}.tmp`), path.join(dir, `${i}.pem`));
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

let runNo = 0;
let probe;
/** enrollMany over n items; files and journal on unless `bare`. */
async function ours(port, n, concurrency, { bare = false, transfer } = {}) {
  const dir = path.join(work, `run${++runNo}`);
  function* items() {
    for (let i = 0; i < n; i++) yield { id: `d${i}`, subject: `/CN=device-${i}/O=Bench` };
  }
  const lag = monitorEventLoopDelay({ resolution: 10 });
  await probe?.read(); // starts the idle process's interval with ours
  lag.enable();
  const c0 = cpuMs();
  const t0 = performance.now();
  const job = enrollMany(items(), {
    options: { server: `127.0.0.1:${port}/pkix/`, ref: REF, secret: 'env:BENCH_SECRET' },
    transfer,
    concurrency,
    ...(bare ? {} : { journal: path.join(dir, 'journal.sqlite'), outDir: dir }),
  });
  if (!bare) fs.mkdirSync(dir, { recursive: true });
  const s = await job.done;
  const seconds = (performance.now() - t0) / 1000;
  lag.disable();
  const idleLagP99 = await probe?.read();
  if (s.confirmed !== n) throw new Error(`only ${s.confirmed} of ${n} confirmed: ${JSON.stringify(s.errors)}`);
  // The run's files stay until the end: deleting thousands of files just before a measured run makes
  // ext4 skip their recently freed inodes at every file the next run creates (find_inode_bit), a cost
  // the next run would be charged for.
  return { perSec: n / seconds, cpuMs: (cpuMs() - c0) / n, p99: s.latency.p99, lagP99: lag.percentile(99) / 1e6, idleLagP99 };
}

function cLoop(port, n, threads, caFile) {
  if (!fs.existsSync(C_LOOP)) return null;
  const out = execFileSync(C_LOOP, ['--host', '127.0.0.1', '--port', String(port), '--path', 'pkix/', '--ref', REF, '--secret', SECRET,
    '--trusted', caFile, '--threads', String(threads), '--count', String(n)], { encoding: 'utf8' });
  const r = JSON.parse(out.trim().split('\n').pop());
  return { perSec: r.count / r.seconds, cpuMs: r.cpuMs / r.count, p99: NaN };
}

function cliArgs(port, i) {
  return ['cmp', '-config', '', '-cmd', 'ir', '-server', `127.0.0.1:${port}`, '-path', 'pkix/', '-ref', REF, '-secret', 'env:BENCH_SECRET',
    '-newkey', path.join(work, 'key.pem'), '-subject', `/CN=cli-${i}`, '-certout', path.join(work, 'cli', `${i}.pem`)];
}

/** `seq n | xargs -P conc openssl cmp ...`: CPU of the whole tree, from this process's reaped-children times. */
function xargs(port, n, conc) {
  fs.mkdirSync(path.join(work, 'cli'), { recursive: true });
  const cmd = `seq 1 ${n} | xargs -P ${conc} -I{} openssl ${cliArgs(port, '{}').map((a) => `'${a}'`).join(' ')} 2>/dev/null`;
  const c0 = childCpuMs();
  const t0 = performance.now();
  execFileSync('sh', ['-c', cmd], { stdio: 'ignore', env: process.env });
  const seconds = (performance.now() - t0) / 1000;
  return { perSec: n / seconds, cpuMs: (childCpuMs() - c0) / n, p99: NaN };
}

/** As xargs -P conc, driven from here to time each enrollment (for the chart's latency). */
async function spawnPool(port, n, conc) {
  fs.mkdirSync(path.join(work, 'cli'), { recursive: true });
  const times = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: conc }, async () => {
    while (next < n) {
      const i = next++;
      const s = performance.now();
      await new Promise((resolve) => spawn('openssl', cliArgs(port, i), { stdio: 'ignore' }).once('exit', resolve));
      times.push(performance.now() - s);
    }
  }));
  times.sort((a, b) => a - b);
  return { perSec: n / ((performance.now() - t0) / 1000), p99: times[Math.min(times.length - 1, Math.ceil(0.99 * times.length) - 1)] };
}

/** RSS of a journal-backed job after a tenth of the items and at the end; the CA (which keeps all it issued) runs elsewhere. */
async function memory(port, n) {
  const dir = path.join(work, 'mem');
  fs.mkdirSync(dir);
  function* items() {
    for (let i = 0; i < n; i++) yield { id: `m${i}`, subject: `/CN=m-${i}` };
  }
  const job = enrollMany(items(), { options: { server: `127.0.0.1:${port}/pkix/`, ref: REF, secret: 'env:BENCH_SECRET' },
    concurrency: 16, journal: path.join(dir, 'journal.sqlite') });
  // RSS, and the part of it V8's young generation takes: V8 grows that (up to 128 MiB on Node 24 on a
  // machine this size) when much of what the job allocates outlives minor collections
  const sample = () => ({ rss: process.memoryUsage().rss / 2 ** 20, young: youngMiB() });
  let early;
  let third;
  job.on('progress', (p) => {
    if (early === undefined && p.done >= n / 10) early = sample();
    if (third === undefined && p.done >= (n * 3) / 10) third = sample();
  });
  const s = await job.done;
  return { n, early, third, late: sample(), confirmed: s.confirmed };
}
const youngMiB = () => require('node:v8').getHeapSpaceStatistics().find((sp) => sp.space_name === 'new_space').space_size / 2 ** 20;

const fmt = (x, d = 1) => (x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(d));
function row(name, r) {
  console.log(`${name.padEnd(46)} ${fmt(r?.perSec).padStart(8)} /s ${fmt(r?.cpuMs, 2).padStart(8)} CPU ms/IR ${fmt(r?.p99, 0).padStart(7)} ms p99`);
}

async function main() {
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path.join(work, 'key.pem')]);
  const port = await startServer();
  probe = startLagProbe();
  // the CA certificate, for the C loop's --trusted: the chain of a first enrollment
  const caDir = path.join(work, 'ca');
  await enrollMany([{ id: 'ca-probe', subject: '/CN=probe' }], { options: { server: `127.0.0.1:${port}/pkix/`, ref: REF, secret: 'env:BENCH_SECRET' }, outDir: caDir }).done;
  const caFile = path.join(caDir, 'ca-probe.chain.pem');
  console.log(`openssl-cmp bulk benchmark (node ${process.version}, OpenSSL ${process.versions.openssl}, ${os.cpus().length} CPUs); server: openssl-cmp -port, PBM, certConf`);
  if (!fs.existsSync(C_LOOP)) console.log(`C loop: ${C_LOOP} not built; its column stays empty`);

  // what this machine's scheduler alone does to timers, for comparison with the lag under load
  const idle = monitorEventLoopDelay({ resolution: 10 });
  idle.enable();
  await new Promise((r) => setTimeout(r, 3000));
  idle.disable();
  const idleLag = idle.percentile(99) / 1e6;
  console.log(`event-loop lag p99 of this process idle for 3 s: ${fmt(idleLag)} ms (load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  const create = fileCreationUs();
  console.log(`creating a file in ${os.tmpdir()} costs ${fmt(create, 0)} µs of CPU now`
    + (create > 150 ? ' (high: an ext4 without a journal passes over inodes freed in the last minutes; files+journal figures suffer)' : ''));

  await ours(port, 200, CONC); // warm-up
  if (ONLY.includes('1')) await cpuSection(port, caFile);
  let proxy;
  if (ONLY.includes('2')) proxy = await networkSection(port, caFile);
  if (ONLY.includes('3')) {
    console.log(`\n3. Memory, ${N_MEM} items, journal on, server in its own process`);
    const m = await memory(port, N_MEM);
    console.log(`   RSS after ${N_MEM / 10}: ${fmt(m.early.rss)} MiB; after ${N_MEM}: ${fmt(m.late.rss)} MiB; growth ${fmt(m.late.rss - m.early.rss)} MiB (goal <= 50)`);
    console.log(`   of which V8's young generation: ${fmt(m.early.young)} -> ${fmt(m.late.young)} MiB; from ${(N_MEM * 3) / 10} to ${N_MEM} items RSS grew ${fmt(m.late.rss - m.third.rss)} MiB`);
  }
  if (ONLY.includes('4')) await chartSection(proxy ?? (await startProxy(port)), caFile);
}

async function cpuSection(port, caFile) {
  const n = Math.ceil(N_CPU / CPU_ROUNDS);
  console.log(`\n1. CPU per enrollment, loopback, ${CONC} in flight (${CPU_ROUNDS} alternating rounds of ${n} enrollments each side)`);
  // Alternating rounds, so that a burst of load from elsewhere on the machine hits a round of each side rather than one
  // side's whole run; the median of the per-round ratios is the figure.
  const rounds = [];
  for (let round = 0; round < CPU_ROUNDS; round++) {
    const o = await ours(port, n, CONC);
    const c = cLoop(port, n, CONC, caFile);
    rounds.push({ o, c });
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const pick = (side) => ({
    perSec: median(rounds.map((r) => r[side].perSec)),
    cpuMs: median(rounds.map((r) => r[side].cpuMs)),
    p99: median(rounds.map((r) => r[side].p99)),
  });
  const o = { ...pick('o'), lagP99: Math.max(...rounds.map((r) => r.o.lagP99)), idleLagP99: Math.max(...rounds.map((r) => r.o.idleLagP99 ?? NaN)) };
  const c = rounds[0].c ? pick('c') : null;
  row(`enrollMany, files + journal (medians)`, o);
  row(`C loop, ${CONC} threads (medians)`, c);
  const x = xargs(port, N_CLI, CONC);
  row(`xargs -P ${CONC} openssl cmp (${N_CLI})`, x);
  if (c) console.log(`   per round, enrollMany / C loop CPU ms/IR: ${rounds.map((r) => `${fmt(r.o.cpuMs, 2)}/${fmt(r.c.cpuMs, 2)}`).join(' ')}`);
  const ratio = c ? median(rounds.map((r) => r.o.cpuMs / r.c.cpuMs)) : NaN;
  console.log(`   ratios: CPU/IR vs C loop ${c ? fmt(ratio, 2) + 'x, median of the rounds (goal <= 1.3x)' : '—'}; openssl cmp / ours ${fmt(x.cpuMs / o.cpuMs, 1)}x (goal >= 5x); event-loop lag p99 ${fmt(o.lagP99)} ms, the highest round (an idle process beside it: ${fmt(o.idleLagP99)} ms)`);
}

/** The server's maximum now: enrollMany without files, 32 in flight on loopback. */
const serverNow = async (port) => (await ours(port, Math.min(N_CPU, 1000), 32, { bare: true })).perSec;

async function networkSection(port, caFile) {
  console.log(`\n2. Network-bound: proxy adding ${DELAY_MS} ms each way`);
  const proxy = await startProxy(port);
  const single = await ours(proxy, 20, 1);
  const netTime = 1 / single.perSec;
  // the server shares this machine's cores with the client and everything else running: its maximum is taken right
  // before and right after the run, so that the bound describes the same minutes
  const before = await serverNow(port);
  const cpu0 = [procCpuMs(pidOf.get(port)), procCpuMs(pidOf.get(proxy))];
  const net = await ours(proxy, N_NET, NET_CONC);
  const [serverMs, proxyMs] = [pidOf.get(port), pidOf.get(proxy)].map((pid, i) => (procCpuMs(pid) - cpu0[i]) / N_NET);
  const after = await serverNow(port);
  const serverMax = (before + after) / 2;
  console.log(`   server maximum (enrollMany without files, 32 in flight, loopback): ${fmt(before)} IR/s before, ${fmt(after)} IR/s after`);
  const bound = Math.min(NET_CONC / netTime, serverMax);
  row(`enrollMany, ${NET_CONC} in flight (${N_NET})`, net);
  // the reference on the same path: what a client with no files or journal reaches on this machine
  const cnet = cLoop(proxy, Math.min(N_NET, 4000), NET_CONC, caFile);
  row(`C loop, ${NET_CONC} threads`, cnet);
  const xnet = xargs(proxy, Math.min(N_CLI, 200), NET_CONC);
  row(`xargs -P ${NET_CONC} openssl cmp`, xnet);
  console.log(`   network time per enrollment ${fmt(netTime * 1000, 0)} ms; bound min(${NET_CONC}/${fmt(netTime, 3)} s, server ${fmt(serverMax)}/s) = ${fmt(bound)}/s; `
    + `enrollMany reaches ${fmt(net.perSec / bound, 2)}x of it (goal >= 0.9x), the C loop ${cnet ? fmt(cnet.perSec / bound, 2) + 'x' : '—'}; `
    + `event-loop lag p99 ${fmt(net.lagP99)} ms (an idle process beside it: ${fmt(net.idleLagP99)} ms)`);
  // on a machine where client, server and proxy share the cores, the run is bound by their CPU together
  console.log(`   CPU ms per enrollment during that run: enrollMany ${fmt(net.cpuMs, 2)}, server ${fmt(serverMs, 2)}, proxy ${fmt(proxyMs, 2)}; `
    + `together ${fmt(net.cpuMs + serverMs + proxyMs, 2)} on ${os.cpus().length} cores`);
  return proxy;
}

async function chartSection(proxy, caFile) {
  console.log(`\n4. Chart: throughput and p99 latency against concurrency, through the proxy`);
  const xs = [1, 2, 4, 8, 16, 32, 64, 128];
  const series = { ours: [], c: [], cli: [] };
  for (const k of xs) {
    const n = Math.max(CHART_N, k * 4);
    const r = await ours(proxy, n, k);
    const cr = cLoop(proxy, n, k, caFile);
    const xr = await spawnPool(proxy, Math.min(n, Math.max(50, k * 3)), k);
    series.ours.push({ x: k, ...r });
    series.c.push({ x: k, ...(cr ?? { perSec: NaN, p99: NaN }) });
    series.cli.push({ x: k, ...xr });
    console.log(`   ${String(k).padStart(3)} in flight: enrollMany ${fmt(r.perSec)}/s p99 ${fmt(r.p99, 0)} ms; C loop ${fmt(cr?.perSec)}/s; openssl cmp ${fmt(xr.perSec)}/s p99 ${fmt(xr.p99, 0)} ms`);
  }
  const mk = (key) => [
    { name: 'enrollMany (this package)', colour: '#1f77b4', points: series.ours.map((p) => ({ x: p.x, y: p[key] })) },
    { name: 'C loop on libcrypto', colour: '#2ca02c', points: series.c.map((p) => ({ x: p.x, y: p[key] })) },
    { name: 'openssl cmp per enrollment', colour: '#d62728', points: series.cli.map((p) => ({ x: p.x, y: p[key] })) },
  ];
  const svg = svgChart([{ title: 'Throughput', yLabel: 'enrollments per second', series: mk('perSec') }, { title: 'Latency p99', yLabel: 'ms', series: mk('p99') }], xs,
    `IR + certConf, PBM, ${DELAY_MS} ms added each way; node ${process.version}, OpenSSL ${process.versions.openssl}`);
  fs.writeFileSync(path.join(__dirname, 'bulk-chart.svg'), svg);
  console.log('   written: bench/bulk-chart.svg');
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of children) c.kill();
    // on ext4 without a journal, deleting the run's files slows file creation for the next minutes
    if (process.env.BENCH_KEEP) console.log(`kept: ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  });
