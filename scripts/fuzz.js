#!/usr/bin/env node
// npm run fuzz -- [N] [SEED]
// N mutated responses into the client, through a JS transport that relays
// each request to an in-process CmpServer and mutates its answer, and N
// mutated requests into CmpServer.handle(). Every call must settle (resolve,
// or reject with a CmpError) within its deadline; a crash ends the process.
// Prints one JSON line of counts; exits 1 on a hang or an unexpected result.
'use strict';
const { generateKeyPairSync } = require('node:crypto');
const { CmpContext, CmpError, CmpServer, Option, TestCa } = require('..');

const N = Number(process.argv[2] || 2000);
const SEED = Number(process.argv[3] || Date.now() % 2 ** 31);
const PARALLEL = 8;
const DEADLINE_MS = 20000; // client MSG_TIMEOUT is 5 s

// mulberry32: a small seeded generator, so a failing run can be replayed
let state = SEED >>> 0;
function rand() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
}
const int = (n) => Math.floor(rand() * n);

function mutate(input) {
  let b = Buffer.from(input);
  for (let k = 1 + int(3); k > 0; k--) {
    const at = int(b.length);
    switch (int(7)) {
      case 0: b[at] ^= 1 << int(8); break;
      case 1: b[at] = [0x00, 0xff, 0x80, 0x7f, 0x30, 0x81, 0x82][int(7)]; break;
      case 2: b = b.subarray(0, at); break;
      case 3: b = Buffer.concat([b.subarray(0, at), Buffer.from([int(256), int(256)]), b.subarray(at)]); break;
      case 4: b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(8))]); break;
      case 5: { const from = int(b.length); b = Buffer.concat([b.subarray(0, at), b.subarray(from, from + 1 + int(64)), b.subarray(at)]); break; }
      default: if (b[at + 1] !== undefined) b[at + 1] = (b[at + 1] + 1 + int(3)) & 0xff; // a DER length, nudged
    }
    if (b.length === 0) b = Buffer.from([0x30]);
  }
  return b;
}

function settleWithin(p, what) {
  let timer;
  return Promise.race([
    p.then((v) => ({ ok: true, v }), (e) => ({ ok: false, e })),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not settle within ${DEADLINE_MS} ms (seed ${SEED})`)), DEADLINE_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function main() {
  const ca = await TestCa.create();
  const server = new CmpServer({ ref: 'ref', secret: 'sec', ca });
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const kinds = ['execIR', 'execGENM', 'execCR'];
  const requests = [];
  const counts = { client: { runs: 0, resolved: 0, rejected: 0 }, server: { runs: 0, resolved: 0, rejected: 0 }, seed: SEED };

  const client = (transfer, implicit) => {
    const ctx = new CmpContext();
    ctx.setTransferCallback(transfer);
    ctx.setReferenceValue('ref');
    ctx.setSecretValue('sec');
    ctx.setTrustedStore(ca.cert);
    ctx.setNewPkey(key);
    ctx.setSubjectName('/CN=fuzz');
    ctx.setOption(Option.MSG_TIMEOUT, 5);
    ctx.setOption(Option.IMPLICIT_CONFIRM, implicit ? 1 : 0);
    return ctx;
  };
  // a corpus of real requests of every kind, and the round trips to mutate
  for (const kind of kinds) {
    for (const implicit of [false, true]) {
      const ctx = client(async (req) => {
        requests.push(req);
        return server.handle(req);
      }, implicit);
      await ctx[kind]();
      ctx.close();
    }
  }

  const check = (side, r) => {
    counts[side].runs++;
    if (r.ok) counts[side].resolved++;
    else if (r.e instanceof CmpError) counts[side].rejected++;
    else throw new Error(`${side}: rejected with something other than a CmpError: ${r.e && r.e.stack} (seed ${SEED})`);
  };
  const clientRun = async () => {
    const which = int(2); // mutate the first or the second answer of the transaction
    let n = 0;
    const ctx = client(async (req) => {
      const rsp = await server.handle(req);
      return n++ === which ? mutate(rsp) : rsp;
    }, rand() < 0.5);
    try {
      check('client', await settleWithin(ctx[kinds[int(kinds.length)]](), 'a client transaction'));
    } finally {
      ctx.close();
    }
  };
  const serverRun = async () => {
    const r = await settleWithin(server.handle(mutate(requests[int(requests.length)])), 'server.handle()');
    if (r.ok && !Buffer.isBuffer(r.v)) throw new Error(`server.handle() resolved with a non-Buffer (seed ${SEED})`);
    check('server', r);
  };
  for (const [run, total] of [[clientRun, N], [serverRun, N]]) {
    let next = 0;
    await Promise.all(Array.from({ length: PARALLEL }, async () => {
      while (next++ < total) await run();
    }));
  }
  await server.close();
  counts.crashes = 0; // a crash would not have reached this line
  console.log(JSON.stringify(counts));
}

main().catch((err) => {
  console.error(err.stack || String(err));
  process.exit(1);
});
