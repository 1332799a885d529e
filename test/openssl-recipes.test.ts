// OpenSSL's own CLI test suite for `openssl cmp` (80-test_cmp_http.t with its CSV rows, from the
// release tarball of the OpenSSL this runtime runs on), in both directions: openssl-cmp as the client
// against OpenSSL's mock server, and `openssl cmp` as the client against `openssl-cmp -port`. Each
// run starts its own server; the verdict on every row must be the one of openssl's own pair, which
// runs alongside as the reference.
import { binding } from '../lib/native';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { runRecipes } = require('../scripts/openssl-recipes.js') as {
  runRecipes(o: { series: string; client: string; server: string }): Promise<{
    rows: Array<{ aspect: string; title: string; expected: number; actual: number; pass: boolean; cmd: string; stderr: string }>;
    passed: number;
    failed: number;
  }>;
};

const series = /^OpenSSL 3\.0\./.test(binding.opensslVersion) ? '3.0' : '3.5';
// rows of each release's data set
const ROWS: Record<string, number> = { '3.0': 265, '3.5': 360 };

jest.setTimeout(15 * 60 * 1000);

describe(`OpenSSL ${series} CLI recipes (80-test_cmp_http)`, () => {
  let reference: Awaited<ReturnType<typeof runRecipes>>;
  let oursClient: typeof reference;
  let oursServer: typeof reference;

  beforeAll(async () => {
    [reference, oursClient, oursServer] = await Promise.all([
      runRecipes({ series, client: 'openssl', server: 'openssl' }),
      runRecipes({ series, client: 'ours', server: 'openssl' }),
      runRecipes({ series, client: 'openssl', server: 'ours' }),
    ]);
  });

  test('the reference pair passes every row, with rows expected to succeed and to fail', () => {
    expect(reference.rows).toHaveLength(ROWS[series]);
    expect(reference.failed).toBe(0);
    expect(reference.rows.filter((r) => r.expected === 1).length).toBeGreaterThan(90);
    expect(reference.rows.filter((r) => r.expected === 0).length).toBeGreaterThan(50);
  });

  const mismatches = (run: typeof reference) =>
    run.rows
      .filter((r, i) => r.actual !== reference.rows[i].actual || r.title !== reference.rows[i].title)
      .map((r) => `${r.aspect} "${r.title}": expected ${r.expected}, got ${r.actual}\n  ${r.cmd}\n  ${r.stderr.split('\n').slice(-4).join('\n  ')}`);

  test('openssl-cmp as the client against openssl cmp -port: the same verdict on every row', () => {
    expect(oursClient.rows).toHaveLength(reference.rows.length);
    expect(mismatches(oursClient)).toEqual([]);
  });

  test('openssl cmp as the client against openssl-cmp -port: the same verdict on every row', () => {
    expect(oursServer.rows).toHaveLength(reference.rows.length);
    expect(mismatches(oursServer)).toEqual([]);
  });
});
