#!/usr/bin/env node
// RSS over many transactions of every kind the addon bridges (HTTP, JS
// transport, failing callbacks, aborts, callbacks for log and certConf):
// fails (exit 1) when RSS grows by more than LEAK_BOUND_MIB (default 8 MiB)
// over the second half of LEAK_ROUNDS (default 3000) transactions, a bound
// that a leak of even 6 KiB per transaction crosses.
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { CmpContext, Option } = require('..');
const { childPort } = require('./child-port');

const ROUNDS = Number(process.env.LEAK_ROUNDS || 3000);
const BOUND_MIB = Number(process.env.LEAK_BOUND_MIB || 8);

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmp-leak-'));
  const run = (args) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'k.key']);
  run(['req', '-x509', '-new', '-key', 'k.key', '-subj', '/CN=k', '-days', '1', '-out', 'k.crt']);
  const mock = spawn('openssl', ['cmp', '-config', '', '-port', '0', '-srv_ref', '1', '-srv_secret', 'pass:s', '-rsp_cert', 'k.crt'],
    { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] });
  const port = await childPort(mock, /ACCEPT \S*:(\d+)/);
  const key = fs.readFileSync(path.join(dir, 'k.key'), 'utf8');
  const once = async (i) => {
    const ctx = new CmpContext();
    try {
      ctx.setServer('127.0.0.1');
      ctx.setServerPort(port);
      ctx.setReferenceValue('1');
      ctx.setSecretValue('s');
      ctx.setNewPkey(key);
      ctx.setSubjectName('/CN=k');
      ctx.setLogCallback(() => {});
      ctx.setCertConfCallback(() => 0);
      switch (i % 4) {
        case 0: await ctx.execIR(); break;
        case 1: ctx.setTransferCallback(() => Promise.reject(new Error('x'))); await ctx.execIR().catch(() => {}); break;
        case 2: ctx.setTransferCallback(async () => Buffer.from('junk')); await ctx.execIR().catch(() => {}); break;
        case 3: {
          ctx.setOption(Option.MSG_TIMEOUT, 5);
          ctx.setTransferCallback(() => new Promise(() => {}));
          const ac = new AbortController();
          const p = ctx.execIR({ signal: ac.signal }).catch(() => {});
          ac.abort();
          await p;
          break;
        }
      }
    } finally {
      ctx.close();
    }
  };
  const rss = () => process.memoryUsage().rss / 2 ** 20;
  const marks = [];
  for (let i = 0; i < ROUNDS; i++) {
    await once(i);
    if (i % (ROUNDS / 6) === 0) {
      if (global.gc) global.gc();
      marks.push(rss());
    }
  }
  if (global.gc) global.gc();
  marks.push(rss());
  mock.kill();
  fs.rmSync(dir, { recursive: true, force: true });
  const half = marks[Math.floor(marks.length / 2)];
  const last = marks[marks.length - 1];
  console.log(`RSS MiB at sixths of ${ROUNDS} transactions: ${marks.map((m) => m.toFixed(1)).join(' ')}`);
  console.log(`growth over the second half: ${(last - half).toFixed(1)} MiB (${(((last - half) * 2 ** 20) / (ROUNDS / 2)).toFixed(0)} bytes/transaction)`);
  if (!global.gc) throw new Error('run with --expose-gc (npm run bench:leak)');
  if (last - half > BOUND_MIB) {
    console.log(`FAIL: RSS grew ${(last - half).toFixed(1)} MiB over ${ROUNDS / 2} transactions, more than ${BOUND_MIB} MiB`);
    process.exitCode = 1;
  } else {
    console.log(`ok: within ${BOUND_MIB} MiB`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
