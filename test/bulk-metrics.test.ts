// A bulk job's counters in the registry of the CmpServer it enrolls from,
// scraped over HTTP as Prometheus would, during and after the job.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CmpContext, CmpServer, FailInfo, PKIStatus, TestCa, enrollMany } from '../lib';
import { REF, SECRET, tmpDir } from './helpers/bulk';
import { BIN, start, stopAll } from './helpers/cli-procs';
import { sample } from './helpers/metrics';

let server: CmpServer;
let scrape: () => Promise<string>;
let gate: { arrived: boolean; open: () => void };
let url: string;

beforeEach(async () => {
  const ca = await TestCa.create();
  const base = ca.handlers();
  let release!: () => void;
  const opened = new Promise<void>((resolve) => (release = resolve));
  gate = { arrived: false, open: release };
  server = new CmpServer({
    ca, ref: REF, secret: SECRET, metrics: true,
    handlers: {
      ...base,
      certReq: async (req) => {
        if (req.subject === '/CN=dev-0') {
          gate.arrived = true;
          await opened; // held until the test has looked at the job mid-way
        }
        if (/^\/CN=bad/.test(req.subject ?? '')) return { status: PKIStatus.rejection, failInfo: 1 << FailInfo.badCertTemplate, text: 'unknown device' };
        return base.certReq!(req);
      },
    },
  });
  const listening = await server.listen({ metricsPath: '/metrics' });
  const port = listening.port;
  url = listening.url;
  scrape = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
});

afterEach(async () => {
  gate.open();
  await stopAll();
  await server.close();
});

async function gateReached(what: () => string): Promise<void> {
  for (const deadline = Date.now() + 15000; !gate.arrived; await new Promise((r) => setTimeout(r, 10))) {
    if (Date.now() > deadline) throw new Error(`dev-0 never reached the CA: ${what()}`);
  }
}

const context = () => {
  const ctx = new CmpContext();
  ctx.setReferenceValue(REF);
  ctx.setSecretValue(SECRET);
  return ctx;
};

test('metrics: done, confirmed, failed, in flight, retries and latency of the job, next to the server\'s', async () => {
  let faults = 3;
  // the first transfers of the job fail as a dropped connection does: retried
  const transfer = async (req: Buffer) => {
    if (faults > 0) {
      faults--;
      throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
    }
    return server.transfer(req);
  };
  const items = [
    ...Array.from({ length: 18 }, (_, i) => ({ id: `dev-${i}`, subject: `/CN=dev-${i}` })),
    { id: 'bad-1', subject: '/CN=bad-1' },
    { id: 'bad-2', subject: '/CN=bad-2' },
  ];
  const job = enrollMany(items, { context, transfer, concurrency: 4, backoff: 5, metrics: server.metricsRegistry });

  await gateReached(() => JSON.stringify(job.progress));
  const during = await scrape();
  expect(sample(during, 'cmp_bulk_items_in_flight')).toBeGreaterThanOrEqual(1);
  expect(sample(during, 'cmp_bulk_items_done_total')).toBeLessThan(20);
  gate.open();

  const summary = await job.done;
  expect(summary).toMatchObject({ confirmed: 18, failed: 2, attempts: 23 });
  const text = await scrape();
  expect(sample(text, 'cmp_bulk_items_done_total')).toBe(20);
  expect(sample(text, 'cmp_bulk_items_confirmed_total')).toBe(18);
  expect(sample(text, 'cmp_bulk_items_failed_total')).toBe(2);
  expect(sample(text, 'cmp_bulk_items_skipped_total')).toBe(0);
  expect(sample(text, 'cmp_bulk_items_in_flight')).toBe(0);
  expect(sample(text, 'cmp_bulk_retries_total')).toBe(3);
  expect(sample(text, 'cmp_bulk_item_duration_seconds_count')).toBe(20);
  expect(sample(text, 'cmp_bulk_item_duration_seconds_sum')).toBeGreaterThan(0);
  expect(sample(text, 'cmp_bulk_item_duration_seconds_bucket', { le: '+Inf' })).toBe(20);
  // the server's own view of the same transactions, in the same registry
  expect(sample(text, 'cmp_server_transactions_total', { type: 'ir', status: 'accepted' })).toBe(18);
  expect(text).toMatch(/# HELP cmp_bulk_items_done_total /);

  // a second job reporting to the registry adds to the counters, as Prometheus expects
  await enrollMany([{ id: 'dev-x', subject: '/CN=dev-x' }], { context, transfer: server.transfer, metrics: server.metricsRegistry }).done;
  expect(sample(await scrape(), 'cmp_bulk_items_done_total')).toBe(21);
});

test('metrics: anything but a registry is refused before the job starts', () => {
  expect(() => enrollMany([], { context, metrics: {} as never })).toThrow(/"options.metrics" option must be a prom-client Registry/);
  expect(() => enrollMany([], { context, metrics: 'yes' as never })).toThrow(TypeError);
});

test('openssl-cmp bulk -metrics_port 0 -metrics_path: the job\'s metrics served while it runs', async () => {
  const dir = tmpDir();
  try {
    fs.writeFileSync(path.join(dir, 'devices.csv'), `id,subject\n${Array.from({ length: 5 }, (_, i) => `dev-${i},/CN=dev-${i}`).join('\n')}\n`);
    const p = start(process.execPath, [BIN, 'bulk', '-in', 'devices.csv', '-json', '-concurrency', '2', '-metrics_port', '0', '-metrics_path', '/m',
      '-config', '', '-server', url.replace(/^http:\/\//, ''), '-ref', REF, '-secret', `pass:${SECRET}`], dir);
    const port = Number((await p.waitFor(/bulk: metrics on port (\d+), path \/m\n/))[1]);
    await gateReached(p.output);
    const text = await (await fetch(`http://127.0.0.1:${port}/m`)).text();
    expect(sample(text, 'cmp_bulk_items_in_flight')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'cmp_bulk_items_done_total')).toBeLessThan(5);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
    gate.open();
    expect(await p.exited).toBe(0);
    expect(p.output()).toMatch(/"event":"summary".*"confirmed":5/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 30000);
