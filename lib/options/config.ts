// OpenSSL config files with `openssl cmp -section` semantics: for each option,
// the sections are searched from the last named to the first, and each lookup
// falls back to [default] as OpenSSL's NCONF_get_string does.
import { CmpError } from '../errors';
import { binding } from '../native';
import { OptMap, checkNumber } from './args';
import { OPTIONS, camel } from './table';

export type ConfigData = Record<string, Record<string, string>>;

export function readConfigFile(file: string): ConfigData {
  return binding.readConfig(file);
}

function lookup(conf: ConfigData, section: string, name: string): string | undefined {
  return conf[section]?.[name] ?? conf.default?.[name];
}

/** Splits -section's list as openssl does: commas and/or whitespace; "" means 'default'. */
export function sectionList(sections: string): string[] {
  const list = sections.split(/[,\s]+/).filter(Boolean);
  return list.length ? list : ['default'];
}

/** The option values a config file gives, by option name (OpenSSL's spelling). */
export function optionsFromConfig(conf: ConfigData, sections: string): OptMap {
  const out: OptMap = new Map();
  const list = sectionList(sections);
  for (const spec of OPTIONS.values()) {
    if (spec.cmdlineOnly) continue;
    let text: string | undefined;
    for (let i = list.length - 1; i >= 0 && text === undefined; i--) text = lookup(conf, list[i], spec.name);
    if (text === undefined) continue;
    if (spec.type === '-' || spec.type === 'n' || spec.type === 'N' || spec.type === 'p') {
      if (text === '' || !/^-?\d+$/.test(text)) continue; // as openssl: not a number, not provided
      const n = checkNumber(spec, text, '', true);
      out.set(spec.name, spec.type === '-' ? n !== 0 : n);
    } else {
      out.set(spec.name, text);
    }
  }
  return out;
}

/**
 * As openssl cmp: with the default section 'cmp' a missing [cmp] is only
 * noted; any other section named must exist (checked from the last one on).
 * Returns the complaint, or null.
 */
export function sectionProblem(conf: ConfigData, sections: string, file: string): { fatal: boolean; text: string } | null {
  const missing = sectionList(sections).reverse().find((s) => s !== 'default' && !(s in conf));
  if (missing === undefined) return null;
  if (sections === 'cmp') {
    return { fatal: false, text: `no [cmp] section found in config file '${file}'; will thus use just [default] and unnamed section if present` };
  }
  return { fatal: true, text: `no [${missing}] section found in config file '${file}'` };
}

/**
 * loadConfig(file, sections): the `openssl cmp` options an OpenSSL config
 * file gives for these sections, as an option object with camelCase names.
 * A file OpenSSL cannot load, a section named that is not there, or a value
 * that is not a number where one is due: CmpError.
 */
export function loadConfig(file: string, sections = 'cmp'): Record<string, string | number | boolean> {
  const conf = readConfigFile(file);
  const problem = sectionProblem(conf, sections, file);
  if (problem?.fatal) throw new CmpError(problem.text, { code: 'ERR_CMP_INVALID_CONFIG' });
  let options: OptMap;
  try {
    options = optionsFromConfig(conf, sections);
  } catch (err) {
    throw new CmpError((err as Error).message, { code: 'ERR_CMP_INVALID_CONFIG', cause: err });
  }
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of options) out[camel(k)] = v;
  return out;
}
