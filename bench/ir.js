#!/usr/bin/env node
// IR enrollments against OpenSSL's mock server. First the headline: CPU per
// IR of this package against the same serial loop written in C on the same
// OpenSSL series (bench/c-loop.c: PBM, certConf, one context reused with
// reinit), measured side by side in this run; the goal is at most 1.10x.
// Then this package vs `openssl cmp` spawned once per enrollment, serial and
// 4-way concurrent, and against its own CmpServer.
// BENCH_ONLY=c runs the headline alone; BENCH_N_C and BENCH_ROUNDS size it.
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { CmpContext, CmpServer, Option, TestCa, opensslVersion } = require('..');
const cLoop = require('./c-loop');
const { childPort } = require('./child-port');

const N_OURS = Number(process.env.BENCH_N || 400);
const N_CLI = Number(process.env.BENCH_N_CLI || 100);
const N_C = Number(process.env.BENCH_N_C || 1200);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 8);
const C_GOAL = 1.1;
const CLK_TCK = 100; // Linux USER_HZ

function makePki(dir) {
  const run = (args) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const key = (n) => run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${n}.key`]);
  key('ca');
  run(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=Bench CA', '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE', '-out', 'ca.crt']);
  key('new');
  run(['req', '-new', '-key', 'new.key', '-subj', '/CN=new', '-out', 'new.csr']);
  run(['x509', '-req', '-in', 'new.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', '2', '-days', '2', '-out', 'new.crt']);
}

function startMock(dir) {
  const child = spawn('openssl', ['cmp', '-config', '', '-port', '0', '-srv_ref', '1234', '-srv_secret', 'pass:bench',
    '-rsp_cert', 'new.crt', '-grant_implicitconf'], { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] });
  return childPort(child, /ACCEPT \S*:(\d+)/).then((port) => ({ port, child }));
}

function childCpuMs() {
  const fields = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLK_TCK; // cutime + cstime
}

function ownCpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function measure(name, n, concurrency, once, cpu) {
  let next = 0;
  const cpu0 = cpu();
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < n) await once();
  }));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const r = { name, n, perSec: n / s, cpuMs: (cpu() - cpu0) / n };
  console.log(`${name.padEnd(34)} ${String(n).padStart(5)} IR  ${r.perSec.toFixed(1).padStart(8)} IR/s  ${r.cpuMs.toFixed(2).padStart(7)} CPU ms/IR`);
  return r;
}

// One context reused with reinit, PBM, IR + certConf, serial: the loop the C
// reference runs, each side warmed up before it is measured.
async function againstCLoop(dir, port, newKey, caPem) {
  const bin = cLoop.build();
  const ctx = new CmpContext();
  ctx.setServer('127.0.0.1');
  ctx.setServerPort(port);
  ctx.setServerPath('pkix/');
  ctx.setReferenceValue('1234');
  ctx.setSecretValue('bench');
  ctx.setNewPkey(newKey);
  ctx.setSubjectName('/CN=new');
  ctx.setTrustedStore(caPem);
  const ours = async () => {
    ctx.reinit();
    await ctx.execIR();
  };
  const c = (n) => {
    const out = execFileSync(bin, ['--host', '127.0.0.1', '--port', String(port), '--path', 'pkix/', '--ref', '1234',
      '--secret', 'bench', '--trusted', path.join(dir, 'ca.crt'), '--threads', '1', '--count', String(n), '--reinit',
      '--warmup', '5', '--key', path.join(dir, 'new.key'), '--subject', '/CN=new'], { encoding: 'utf8' });
    return JSON.parse(out);
  };
  c(20);
  for (let i = 0; i < 20; i++) await ours();
  // Short alternating rounds, so that a burst of load from elsewhere on the
  // machine hits a round of each side rather than one side's whole run; the
  // median of the per-round ratios is the figure.
  const n = Math.ceil(N_C / ROUNDS);
  const rounds = [];
  for (let round = 0; round < ROUNDS; round++) {
    const cpu0 = ownCpuMs();
    for (let i = 0; i < n; i++) await ours();
    const o = (ownCpuMs() - cpu0) / n;
    rounds.push({ o, c: c(n).cpuMs / n });
  }
  ctx.close();
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const o = median(rounds.map((x) => x.o));
  const cMs = median(rounds.map((x) => x.c));
  const ratio = median(rounds.map((x) => x.o / x.c));
  console.log(`-- serial IR + certConf, one context reused with reinit (${ROUNDS} alternating rounds of ${n} IRs each side, C on OpenSSL ${cLoop.series()})`);
  console.log(`per round, openssl-cmp / C CPU ms/IR: ${rounds.map((x) => `${x.o.toFixed(3)}/${x.c.toFixed(3)}`).join(' ')}`);
  console.log(`openssl-cmp ${o.toFixed(3)} CPU ms/IR, C loop ${cMs.toFixed(3)} CPU ms/IR (medians)`);
  console.log(`ratio vs C loop: ${ratio.toFixed(2)}x CPU per IR, median of the rounds (goal <= ${C_GOAL.toFixed(2)}x)`);
  return ratio;
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmp-bench-'));
  makePki(dir);
  const { port, child } = await startMock(dir);
  const newKey = fs.readFileSync(path.join(dir, 'new.key'), 'utf8');
  const caPem = fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8');
  const cliArgs = ['cmp', '-config', '', '-cmd', 'ir', '-server', `127.0.0.1:${port}`, '-path', 'pkix/', '-ref', '1234',
    '-secret', 'pass:bench', '-newkey', 'new.key', '-subject', '/CN=new', '-implicit_confirm', '-certout', '/dev/null'];

  const ours = (implicitConfirm, target = { port, trusted: caPem }) => async () => {
    const ctx = new CmpContext();
    try {
      if (target.transfer) ctx.setTransferCallback(target.transfer);
      ctx.setServer('127.0.0.1');
      ctx.setServerPort(target.port ?? 1);
      ctx.setServerPath('pkix/');
      ctx.setReferenceValue('1234');
      ctx.setSecretValue('bench');
      ctx.setNewPkey(newKey);
      ctx.setSubjectName('/CN=new');
      ctx.setTrustedStore(target.trusted);
      ctx.setOption(Option.IMPLICIT_CONFIRM, implicitConfirm ? 1 : 0);
      await ctx.execIR();
    } finally {
      ctx.close();
    }
  };
  const cli = (implicitConfirm) => () => new Promise((resolve, reject) => {
    const args = implicitConfirm ? cliArgs : cliArgs.filter((a) => a !== '-implicit_confirm');
    const p = spawn('openssl', args, { cwd: dir, stdio: 'ignore' });
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`openssl cmp exited ${code}`))));
  });

  console.log(`openssl-cmp bench: ${opensslVersion}, Node ${process.version}, ${os.cpus().length} CPUs`);
  const vsC = await againstCLoop(dir, port, newKey, caPem);
  if (process.env.BENCH_ONLY === 'c') {
    child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    process.exitCode = vsC <= C_GOAL ? 0 : 1;
    return;
  }
  await measure('warm-up', 20, 1, ours(true), ownCpuMs);
  console.log('-- IR + certConf (two round trips on one kept-alive connection)');
  const osC = await measure('openssl-cmp serial', N_OURS, 1, ours(false), ownCpuMs);
  const cliC = await measure('openssl cmp (spawned) serial', Math.min(N_CLI, 50), 1, cli(false), childCpuMs);
  console.log('-- IR with implicit confirmation (one round trip)');
  const os1 = await measure('openssl-cmp serial', N_OURS, 1, ours(true), ownCpuMs);
  const cli1 = await measure('openssl cmp (spawned) serial', N_CLI, 1, cli(true), childCpuMs);
  const os4 = await measure('openssl-cmp 4 concurrent', N_OURS, 4, ours(true), ownCpuMs);
  const cli4 = await measure('openssl cmp (spawned) 4 concurrent', N_CLI, 4, cli(true), childCpuMs);
  console.log('-- against this package\'s CmpServer, issuing a real certificate per IR (IR + certConf;')
  console.log('   CPU counts client and server, both in this process)');
  const ca = await TestCa.create();
  const server = new CmpServer({ ref: '1234', secret: 'bench', ca });
  const { port: srvPort } = await server.listen();
  const overHttp = { port: srvPort, trusted: ca.cert };
  const inProcess = { transfer: server.transfer, trusted: ca.cert };
  await measure('CmpServer over HTTP, serial', N_OURS, 1, ours(false, overHttp), ownCpuMs);
  await measure('CmpServer over HTTP, 8 concurrent', N_OURS, 8, ours(false, overHttp), ownCpuMs);
  await measure('CmpServer in process, 8 concurrent', N_OURS, 8, ours(false, inProcess), ownCpuMs);
  await server.close();
  const ratio = (a, b) => `${(a.perSec / b.perSec).toFixed(2)}x throughput, ${(a.cpuMs / b.cpuMs).toFixed(2)}x CPU per IR`;
  console.log('\nratios (openssl-cmp / openssl cmp):');
  console.log(`  serial with certConf:   ${ratio(osC, cliC)}`);
  console.log(`  serial implicitConfirm: ${ratio(os1, cli1)}`);
  console.log(`  4 concurrent:           ${ratio(os4, cli4)}`);
  console.log('  (CPU: this process for openssl-cmp; the spawned openssl processes for openssl cmp; the mock server is not counted)');
  child.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
