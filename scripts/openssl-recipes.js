#!/usr/bin/env node
// Runs OpenSSL's own CLI test suite for `openssl cmp` (test/recipes/80-test_cmp_http.t with the
// CSV tables and Mock credentials of 80-test_cmp_http_data/, taken from the release tarball at run
// time) with any client against any server:
//
//   node scripts/openssl-recipes.js --series 3.0|3.5 --client openssl|ours --server openssl|ours
//        [--aspects "connection verification ..."] [--json FILE] [--quiet]
//
// Each row becomes a command line exactly as the recipe of that release builds it (its substitutions,
// the -no_proxy/-proxy/-certout/-config insertions, its field splitting and quoting) and runs through
// /bin/sh as OpenSSL::Test's run() does; a row passes when the exit status says what the CSV expects.
// Every run copies the data directory and starts its own server, so nothing carries over from
// another run.
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const root = path.join(__dirname, '..');
const ASPECTS = ['connection', 'verification', 'credentials', 'commands', 'enrollment'];

function refTree(series) {
  const mode = series === '3.5' ? 'build' : 'src';
  return execFileSync(path.join(__dirname, 'openssl-ref.sh'), [mode, series], { encoding: 'utf8' }).trim();
}

/** The argv prefix of `openssl cmp` for a series: 3.0 is the system openssl, 3.5 the reference build. */
function opensslCmp(series) {
  if (series === '3.5') return [path.join(refTree('3.5'), 'apps', 'openssl'), 'cmp'];
  const v = execFileSync('openssl', ['version'], { encoding: 'utf8' });
  if (!/^OpenSSL 3\.0\./.test(v)) throw new Error(`the system openssl is not 3.0: ${v.trim()}`);
  return ['openssl', 'cmp'];
}

function oursCmp(nodeBin) {
  return [nodeBin, path.join(root, 'bin', 'openssl-cmp.js')];
}

// OpenSSL::Util::fixup_cmd_elements on Unix: what the recipe's command string looks like.
function shellArg(s) {
  return s === '' || /\s|[{}\\$[\]*?|&:;<>]/.test(s) ? `'${s}'` : s;
}

/** load_config of the recipe: the server-dependent values of one section of Mock/test.cnf. */
function loadConfig(series, cnfText, section, cfg) {
  const keys = ['ca_dn', 'server_dn', 'server_host', 'server_port', 'server_tls', 'server_path', 'server_cert',
    'kur_port', 'pbm_port', 'pbm_ref', 'pbm_secret', 'column', 'sleep'];
  const pattern = (key) => {
    if (key === 'server_host' || (series !== '3.0' && key === 'server_port')) {
      return new RegExp(`^\\s*${key}\\s*=\\s*(\\S*)?\\s*(#.*)?$`);
    }
    return new RegExp(`^\\s*${key}\\s*=\\s*(.*)?\\s*$`);
  };
  const value = (v) => {
    v = v ?? '';
    if (v === '') return '""""';
    if (series !== '3.0') {
      const m = /^\$\{ENV::(\w+)}$/.exec(v);
      if (m) return process.env[m[1]];
    }
    return v;
  };
  let active = false;
  for (const line of cnfText.split('\n')) {
    if (new RegExp(`\\[\\s*${section}\\s*\\]`).test(line)) active = true;
    else if (/\[\s*.*?\s*\]/.test(line)) active = false;
    else if (active) {
      for (const key of keys) {
        const m = pattern(key).exec(line);
        if (m) cfg[key] = value(m[1]);
      }
    }
  }
  for (const key of keys) {
    if (cfg[key] === undefined) throw new Error(`no ${key} in [${section}] of the recipe's test.cnf`);
  }
  if (series !== '3.0' && !/^\d+$/.test(cfg.server_port)) throw new Error(`bad server_port ${cfg.server_port}`);
}

/** load_tests of the recipe: the rows of one aspect as [title, argv, expected]. */
function loadTests(series, dataDir, aspect, cfg, resultDir) {
  const rows = [];
  const text = fs.readFileSync(path.join(dataDir, `test_${aspect}.csv`), 'utf8');
  const num = (v) => Number.parseFloat(v) || 0; // Perl's numeric view of a string
  for (let line of text.split('\n')) {
    line = line.replace(/\r$/, '');
    const subst = [['_CA_DN', cfg.ca_dn], ['_SERVER_DN', cfg.server_dn], ['_SERVER_HOST', cfg.server_host],
      ['_SERVER_PORT', cfg.server_port], ['_SERVER_TLS', cfg.server_tls], ['_SERVER_PATH', cfg.server_path],
      ['_SERVER_CERT', cfg.server_cert], ['_KUR_PORT', cfg.kur_port], ['_PBM_PORT', cfg.pbm_port],
      ['_PBM_REF', cfg.pbm_ref], ['_PBM_SECRET', cfg.pbm_secret], ['_RESULT_DIR', resultDir]];
    for (const [k, v] of subst) line = line.split(k).join(String(v));
    if (num(cfg.server_tls) === 0 && /,\s*-tls_used\s*,/.test(line)) continue;
    const plain = series === '3.0' ? cfg.server_host : (/^\[(.*)\]$/.exec(cfg.server_host)?.[1] ?? cfg.server_host);
    const noProxyEnv = process.env.no_proxy ?? process.env.NO_PROXY;
    let noproxy = noProxyEnv;
    const np = /,\s*-no_proxy\s*,(.*?)(,|$)/.exec(line);
    if (np) noproxy = np[1];
    else if (plain === '127.0.0.1' || (series !== '3.0' && plain === '::1')) {
      line = line.replace('-section,,', `-section,,-no_proxy,${plain},`);
    }
    if (/,\s*-proxy\s*,/.test(line)) {
      if (noProxyEnv && new RegExp(plain).test(noproxy)) continue;
    } else {
      line = line.replace('-section,,', `-section,,-proxy,${cfg.proxy},`);
    }
    if (series === '3.0' || aspect !== 'commands' || /,\s*-cmd\s*,\s*(ir|cr|p10cr|kur)\s*,/.test(line)) {
      line = line.replace('-section,,', `-section,,-certout,${resultDir}/test.cert.pem,`);
    }
    line = line.replace('-section,,', `-config,../Mock/test.cnf,-section,Mock ${aspect},`);
    let fields = line.split(',').filter((f) => /\S/.test(f));
    fields = fields.map((f) => (f === '<EMPTY>' ? '' : f).replace(/^\s+/, '').replace(/\s+$/, ''));
    fields = fields.map((f) => f.replace(/^"(".*?")"$/, '$1'));
    const expected = fields[Number(cfg.column)];
    if (expected !== '0' && expected !== '1') continue;
    if (series !== '3.0' && /-server,\[.*:.*\]/.test(line) && !hasIPv6()) continue;
    rows.push({ aspect, title: fields[1], args: fields.slice(2).filter((f) => f !== 'BLANK'), expected: Number(expected) });
  }
  return rows;
}

function hasIPv6() {
  return Object.values(os.networkInterfaces()).flat().some((i) => i && i.family === 'IPv6' && i.internal);
}

/** Starts a server in dir with `-config server.cnf`; resolves once it printed its ACCEPT line. */
function startServer(argv0, dir, logFile) {
  return new Promise((resolve, reject) => {
    const err = fs.openSync(logFile, 'w');
    const child = spawn(argv0[0], [...argv0.slice(1), '-config', 'server.cnf'], {
      cwd: dir, stdio: ['ignore', 'pipe', err],
    });
    fs.closeSync(err);
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('server printed no ACCEPT line within 30 s')); }, 30000);
    const rl = readline.createInterface({ input: child.stdout });
    let done = false;
    rl.on('line', (l) => {
      if (done || /using section/.test(l)) return;
      done = true;
      clearTimeout(timer);
      const m = /^ACCEPT\s(.*?):(\d+) PID=(\d+)$/.exec(l);
      if (!m) { child.kill('SIGKILL'); reject(new Error(`unexpected server output: ${l}`)); return; }
      child.stdout.resume();
      resolve({ child, host: m[1], port: m[2] });
    });
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      if (!done) reject(new Error(`server exited (${code ?? sig}) before ACCEPT; see ${logFile}`));
    });
  });
}

function runRow(cmdPrefix, args, cwd, timeoutMs) {
  const cmd = [...cmdPrefix, ...args].map(shellArg).join(' ');
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn('/bin/sh', ['-c', cmd], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => { if (stderr.length < 20000) stderr += d; });
    let stderr = '';
    child.stderr.on('data', (d) => { if (stderr.length < 20000) stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ cmd, status: signal ? 128 + os.constants.signals[signal] : code, stderr, ms: Date.now() - started });
    });
  });
}

/**
 * Runs the recipe. opts: { series: '3.0'|'3.5', client: 'openssl'|'ours', server: 'openssl'|'ours',
 * node?: the Node binary for 'ours' (default this one), aspects?, rowTimeoutMs?, onRow? }.
 * Resolves to { rows: [{ aspect, title, expected, actual, pass, cmd, stderr }], passed, failed }.
 */
async function runRecipes(opts) {
  const series = opts.series;
  const tree = refTree(series);
  const nodeBin = opts.node ?? process.execPath;
  const client = opts.client === 'ours' ? oursCmp(nodeBin) : opensslCmp(series);
  const server = opts.server === 'ours' ? oursCmp(nodeBin) : opensslCmp(series);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `cmp-recipes-${series}-`));
  const dataDir = path.join(work, 'data');
  fs.cpSync(path.join(tree, 'test', 'recipes', '80-test_cmp_http_data'), dataDir, { recursive: true });
  const mockDir = path.join(dataDir, 'Mock');
  const resultDir = path.join(work, 'results');
  fs.mkdirSync(resultDir);
  const cnf = fs.readFileSync(path.join(mockDir, 'test.cnf'), 'utf8');
  let proxy = (process.env.http_proxy ?? process.env.HTTP_PROXY ?? '').replace(/^"(.*?)"$/, '$1');
  if (proxy === '') proxy = '<EMPTY>';
  proxy = proxy.replace(/^https?:\/\//i, '');
  const cfg = { proxy };
  loadConfig(series, cnf, 'Mock', cfg);
  const srv = await startServer(server, mockDir, path.join(work, 'server-stderr.txt'));
  const result = { rows: [], passed: 0, failed: 0, work };
  try {
    if (series === '3.0') {
      cfg.server_port = srv.port;
      cfg.server_tls = cfg.kur_port = cfg.pbm_port = srv.port;
    } else {
      if (cfg.server_host === '*') cfg.server_host = srv.host === '[::]' ? '[::1]' : srv.host === '0.0.0.0' ? '127.0.0.1' : cfg.server_host;
      if (Number(cfg.server_port) === 0) cfg.server_port = srv.port;
      if (cfg.kur_port === '$server_port') cfg.kur_port = cfg.server_port;
      if (cfg.pbm_port === '$server_port') cfg.pbm_port = cfg.server_port;
      if (cfg.server_tls && cfg.server_tls !== '0') cfg.server_tls = cfg.server_port;
    }
    for (const aspect of opts.aspects ?? ASPECTS) {
      loadConfig(series, cnf, aspect, cfg);
      for (const row of loadTests(series, path.join(dataDir), aspect, cfg, resultDir)) {
        let args = row.args;
        if (!args.includes('-server')) {
          args = ['-server', `${series === '3.0' ? '127.0.0.1' : cfg.server_host}:${cfg.server_port}`, ...args];
        }
        const r = await runRow(client, args, mockDir, opts.rowTimeoutMs ?? 120000);
        const actual = r.status === 0 ? 1 : 0;
        const rec = { aspect, title: row.title, expected: row.expected, actual, pass: actual === row.expected,
          cmd: r.cmd, stderr: r.stderr, ms: r.ms };
        result.rows.push(rec);
        if (rec.pass) result.passed += 1;
        else result.failed += 1;
        opts.onRow?.(rec);
        if (Number(cfg.sleep) > 0 && (series === '3.0' || row.expected === 1)) {
          await new Promise((res) => setTimeout(res, Number(cfg.sleep) * 1000));
        }
      }
    }
  } finally {
    srv.child.kill('SIGKILL');
    await new Promise((res) => (srv.child.exitCode !== null || srv.child.signalCode ? res() : srv.child.once('exit', res)));
  }
  result.serverLog = fs.readFileSync(path.join(work, 'server-stderr.txt'), 'utf8');
  if (!opts.keep) fs.rmSync(work, { recursive: true, force: true });
  return result;
}

module.exports = { runRecipes };

if (require.main === module) {
  const args = process.argv.slice(2);
  const get = (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : dflt;
  };
  const opts = {
    series: get('series', process.versions.openssl.startsWith('3.0') ? '3.0' : '3.5'),
    client: get('client', 'ours'),
    server: get('server', 'openssl'),
    aspects: get('aspects') ? get('aspects').split(/\s+/) : undefined,
    keep: args.includes('--keep'),
    onRow: (r) => {
      if (!r.pass || !args.includes('--quiet')) {
        process.stdout.write(`${r.pass ? 'ok  ' : 'FAIL'} ${r.aspect} "${r.title}" expected=${r.expected} (${r.ms} ms)\n`);
        if (!r.pass) process.stdout.write(`     ${r.cmd}\n${r.stderr.split('\n').slice(0, 12).map((l) => `     | ${l}`).join('\n')}\n`);
      }
    },
  };
  runRecipes(opts).then((res) => {
    const json = get('json');
    if (json) fs.writeFileSync(json, JSON.stringify(res, null, 1));
    if (opts.keep) console.log(`work dir: ${res.work}`);
    console.log(`${opts.series} client=${opts.client} server=${opts.server}: ${res.passed} passed, ${res.failed} failed of ${res.rows.length}`);
    process.exit(res.failed === 0 ? 0 : 1);
  }, (e) => { console.error(e); process.exit(2); });
}
