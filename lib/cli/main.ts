// `openssl-cmp`: runs `openssl cmp` command lines and config files unchanged.
import * as fs from 'node:fs';
import { CmpError } from '../errors';
import { binding } from '../native';
import { ConfigUsageError, OptMap, UsageError, parseArgs } from '../options/args';
import { optionsFromConfig, readConfigFile, sectionProblem } from '../options/config';
import { CliError } from '../options/files';
import { Opts } from '../options/setup';
import { helpText } from '../options/table';
import { runClient } from './client';
import { CliIo, defaultIo, fail } from './io';
import { serve } from './mock';

export type { CliIo } from './io';

const PROG = 'cmp';
const DEFAULT_CONFIG = '/usr/lib/ssl/openssl.cnf';

/** Runs one `openssl cmp` command line; resolves to the exit status. */
export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const info = (t: string) => io.err(`CMP info: ${t}\n`);
  if (argv.length === 0) {
    io.err(helpText(PROG));
    return 1;
  }
  if (argv[0] === 'bulk') return (await import('./bulk')).bulkMain(argv.slice(1), io);
  if (argv[0] === 'bulk-worker') return (await import('./bulk-worker')).bulkWorkerMain(argv.slice(1), io);
  try {
    // -config and -section take effect before anything else, as in openssl
    let configFile: string | undefined;
    let section = 'cmp';
    for (let i = 0; i < argv.length - 1; i++) {
      if (argv[i] === '-config') configFile = argv[++i];
      else if (argv[i] === '-section') section = argv[++i];
    }
    if (section === '') section = 'default';
    const merged: OptMap = new Map();
    let loadedConfig: string | undefined;
    const file = configFile ?? process.env.OPENSSL_CONF ?? DEFAULT_CONFIG;
    if (file !== '' && (configFile !== undefined || process.env.OPENSSL_CONF !== undefined || fs.existsSync(file))) {
      info(`using section(s) '${section}' of OpenSSL configuration file '${file}'`);
      let conf;
      try {
        conf = readConfigFile(file);
      } catch (err) {
        return fail(io, `cannot load config file '${file}': ${(err as Error).message}`);
      }
      const problem = sectionProblem(conf, section, file);
      if (problem?.fatal) return fail(io, problem.text);
      if (problem) info(problem.text);
      for (const [k, v] of optionsFromConfig(conf, section)) merged.set(k, v);
      loadedConfig = file;
    }
    for (const [k, v] of parseArgs(argv, PROG)) merged.set(k, v);
    const o = new Opts(merged, (t) => io.err(`${t}\n`));
    if (o.flag('help')) {
      io.err(helpText(PROG));
      return 0;
    }
    try {
      if (o.str('provider-path')) binding.setProviderSearchPath(o.str('provider-path')!);
      for (const name of (o.str('provider') ?? '').split('\n').filter(Boolean)) binding.loadProvider(name);
      if (o.str('propquery')) binding.setDefaultProperties(o.str('propquery')!);
    } catch (err) {
      io.err(`${PROG}: ${(err as Error).message}\nHint: use -provider-path option or OPENSSL_MODULES environment variable.\n`);
      return 1;
    }
    for (const file of (o.str('rand') ?? '').split(':').filter(Boolean)) {
      if (!binding.randLoadFile(file)) return fail(io, `Can't load ${file} into RNG`);
    }
    const status = await runMode(o, io, loadedConfig);
    const writerand = o.str('writerand');
    if (writerand && !binding.randWriteFile(writerand)) {
      io.err(`Cannot write random bytes:\n`);
      return 1;
    }
    return status;
  } catch (err) {
    if (err instanceof ConfigUsageError) {
      // openssl then prints a hint and, by a quirk of its exit logic, exits with 0
      io.err(`${err.message}\nUse -help for summary.\n`);
      return 0;
    }
    if (err instanceof UsageError) {
      io.err(`${err.message}\n`);
      return 1;
    }
    if (err instanceof CliError || err instanceof CmpError) return fail(io, err.message);
    throw err;
  }
}

async function runMode(o: Opts, io: CliIo, loadedConfig: string | undefined): Promise<number> {
  try {
    if (o.str('port') !== undefined) {
      if (o.flag('tls_used')) return fail(io, '-tls_used option not supported with -port option');
      if (o.str('server') !== undefined || o.flag('use_mock_srv')) return fail(io, 'The -port option excludes -server and -use_mock_srv');
      return await serve(o, io);
    }
    return await runClient(o, io, loadedConfig);
  } catch (err) {
    // failures of the run itself; -writerand is still honoured after them
    if (err instanceof CliError || err instanceof CmpError) return fail(io, err.message);
    throw err;
  }
}
