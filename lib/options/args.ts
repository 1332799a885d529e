// Command-line syntax as OpenSSL's option parser takes it: -opt value,
// -opt=value, --opt; numbers checked per type; later options override.
import { OPTIONS, OptSpec } from './table';

export type OptValue = string | number | boolean;
export type OptMap = Map<string, OptValue>;

export class UsageError extends Error {}
/** A bad value in a config file (openssl reports it and exits with 0). */
export class ConfigUsageError extends UsageError {}

export function checkNumber(spec: OptSpec, text: string, where: string, fromConfig = false): number {
  const E = fromConfig ? ConfigUsageError : UsageError;
  const what = fromConfig ? 'config option' : 'option';
  if (!/^-?\d+$/.test(text)) throw new E(`${where}Non-numeric value "${text}" for ${what} -${spec.name}`);
  const n = Number(text);
  if (spec.type === 'N' && n < 0) throw new E(`${where}Negative number "${text}" for ${what} -${spec.name}`);
  if (spec.type === 'p' && n <= 0) throw new E(`${where}Non-positive number "${text}" for ${what} -${spec.name}`);
  return n;
}

// Values openssl refuses on the command line (not in config files, where it takes them as given).
const COMMAND_LINE_RANGES: Record<string, { ok: (n: number) => boolean; text: string }> = {
  keep_alive: { ok: (n) => n <= 2, text: '-keep_alive argument must be 0, 1, or 2' },
  popo: { ok: (n) => n >= -1 && n <= 2, text: 'invalid popo spec. Valid values are -1 .. 2' },
  revreason: { ok: (n) => n >= -1 && n <= 10 && n !== 7, text: 'invalid revreason. Valid values are -1 .. 6, 8 .. 10' },
};

/** Parses argv (without the program name); throws UsageError as OpenSSL would complain. */
export function parseArgs(argv: string[], prog: string): OptMap {
  const out: OptMap = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('-') || arg === '-') {
      throw new UsageError(`${prog}: Unknown option: ${arg}\n${prog}: Use -help for summary.`);
    }
    let name = arg.replace(/^--?/, '');
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const spec = OPTIONS.get(name);
    if (!spec) throw new UsageError(`${prog}: Unknown option: -${name}\n${prog}: Use -help for summary.`);
    if (spec.type === '-') {
      if (value !== undefined) throw new UsageError(`${prog}: Option -${name} does not take a value`);
      out.set(name, true);
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`${prog}: Option -${name} needs a value`);
      value = argv[++i];
    }
    if (name === 'provider' && out.has(name)) value = `${out.get(name)}\n${value}`; // several, in order
    const v = spec.type === 's' ? value : checkNumber(spec, value, `${prog}: `);
    const range = COMMAND_LINE_RANGES[name];
    if (range && !range.ok(v as number)) throw new UsageError(`CMP error: ${range.text}\n${prog}: Use -help for summary.`);
    out.set(name, v);
  }
  return out;
}
